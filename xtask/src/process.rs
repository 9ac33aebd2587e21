//! [`usage`]: what a process uses (CPU time, memory), read from `/proc`,
//! for the benchmarks and the tests that watch the server's memory.

use std::time::Duration;

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
pub fn usage(pid: &str) -> anyhow::Result<ProcessUsage> {
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
