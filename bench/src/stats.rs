//! Measurements: latency percentiles (HDR histogram) and a process's CPU
//! time and memory, read from `/proc`.

use std::time::Duration;

use hdrhistogram::Histogram;

/// A latency histogram in nanoseconds, 1 ns to 60 s, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// Records `elapsed` in `histogram` (clamped to its range).
pub fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let nanos = (elapsed.as_nanos() as u64).clamp(1, 60_000_000_000);
    histogram.record(nanos).expect("value within bounds");
}

/// `p50 / p99 / p99.9` of a nanosecond histogram, in a readable unit.
pub fn percentiles(histogram: &Histogram<u64>) -> String {
    format!(
        "p50 {} / p99 {} / p99.9 {}",
        human(histogram.value_at_quantile(0.50)),
        human(histogram.value_at_quantile(0.99)),
        human(histogram.value_at_quantile(0.999))
    )
}

/// Nanoseconds as `123 ns`, `4.5 µs` or `6.7 ms`.
pub fn human(nanos: u64) -> String {
    match nanos {
        0..1_000 => format!("{nanos} ns"),
        1_000..1_000_000 => format!("{:.1} µs", nanos as f64 / 1e3),
        _ => format!("{:.2} ms", nanos as f64 / 1e6),
    }
}

/// CPU time (user + system) and memory of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessUsage {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Resident set size now, in bytes.
    pub rss_bytes: u64,
    /// Peak resident set size, in bytes.
    pub peak_rss_bytes: u64,
}

/// Reads `pid`'s usage from `/proc` (`"self"` for this process).
///
/// # Errors
/// When `/proc` cannot be read (the process is gone, or not Linux).
pub fn process_usage(pid: &str) -> anyhow::Result<ProcessUsage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: utime and stime are fields 14 and 15 of the whole line.
    let after_name = &stat[stat.rfind(')').ok_or_else(|| anyhow::anyhow!("bad stat"))? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    let cpu = Duration::from_millis(ticks * 10);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find(|line| line.starts_with(key))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    Ok(ProcessUsage { cpu, rss_bytes: kib("VmRSS:") * 1024, peak_rss_bytes: kib("VmHWM:") * 1024 })
}
