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

pub use xtask::process::{ProcessUsage, usage as process_usage};

/// The machine a figure was measured on, to print beside it: the CPU
/// model, its cores, and the build profile of the benchmark.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name").and_then(|rest| rest.split(':').nth(1)))
        .map_or("an unknown CPU", str::trim);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    format!("{model}, {cores} cores, {profile} build")
}
