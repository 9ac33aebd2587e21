//! Structured logging with `tracing`, and [`Throttle`] for warnings a
//! client or plugin could otherwise repeat without end.

use std::io::IsTerminal;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

/// `logFormat`: how log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One line per event for people (colour only on a terminal).
    Text,
    /// One JSON object per line, with the fields the text form has, for
    /// log shippers.
    Json,
}

/// Longest log line a plugin or a client can cause, in bytes; longer text
/// is cut (see [`vampire_protocol::error::one_line`]).
pub const MAX_LOGGED_TEXT_BYTES: usize = 512;

/// Installs the global subscriber: `RUST_LOG` when set, else the
/// configured `logLevel`, in `logFormat` (text for people, one JSON object
/// a line for log shippers). Logs go to standard error, so that standard
/// output carries only what scripts read (the `listening on` line), and
/// carry colour codes only when standard error is a terminal.
///
/// # Errors
/// When the configured filter is invalid (validation catches that first)
/// or a subscriber is already installed.
pub fn init(log_level: &str, format: LogFormat) -> anyhow::Result<()> {
    let parse = |text: &str| parse_filter(text).map_err(anyhow::Error::msg);
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => parse(&directives)?,
        _ => parse(log_level)?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        // One object a line: the time, the level, the message and every
        // field at the top level, the spans' fields under `spans`.
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).try_init(),
    };
    installed.map_err(|err| anyhow::anyhow!(err))
}

/// Longest log filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 1024;

/// Parses a log filter (`info`, `vampiretcp=debug,warn`, …). Two guards
/// stand before tracing-subscriber's parser, both found by the `config`
/// fuzz target: field-value regular expressions are turned off (a filter
/// never needs them, and compiling the one a mistyped filter holds took
/// 2.2 GB), and a filter must be ASCII (targets are Rust paths; the
/// parser of tracing-subscriber 0.3.20 and later panics on some non-ASCII
/// text, slicing inside a character).
///
/// # Errors
/// When the filter is too long, not ASCII, or not a filter.
pub fn parse_filter(directives: &str) -> Result<EnvFilter, String> {
    if directives.len() > MAX_FILTER_BYTES {
        return Err(format!("longer than {MAX_FILTER_BYTES} bytes"));
    }
    if !directives.is_ascii() {
        return Err("a log filter is ASCII (levels and Rust module paths)".to_owned());
    }
    EnvFilter::builder().with_regex(false).parse(directives).map_err(|err| err.to_string())
}

/// A rate limit on one source of log lines (one client, one room): at
/// most `n` lines a second; the lines held back are counted and the count
/// is handed to the next line let through.
#[derive(Debug)]
pub struct Throttle {
    limiter: DefaultDirectRateLimiter,
    suppressed: AtomicU64,
}

impl Throttle {
    /// At most `lines` lines a second (at least one).
    pub fn per_second(lines: u32) -> Throttle {
        let lines = NonZeroU32::new(lines).unwrap_or(NonZeroU32::MIN);
        Throttle {
            limiter: RateLimiter::direct(Quota::per_second(lines)),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Runs `log` with the number of lines suppressed since the last one,
    /// unless the limit is reached (then the line is only counted).
    /// Returns whether it ran.
    pub fn warn(&self, log: impl FnOnce(u64)) -> bool {
        match self.allow() {
            Some(suppressed) => {
                log(suppressed);
                true
            }
            None => false,
        }
    }

    /// Takes one line's place: `Some(lines suppressed since the last one)`
    /// when the line may be written, `None` (and the line counted) when
    /// the limit is reached.
    pub fn allow(&self) -> Option<u64> {
        if self.limiter.check().is_ok() {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Lines suppressed and not yet reported.
    pub fn suppressed(&self) -> u64 {
        self.suppressed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `config` fuzz target: this filter made the regex
    /// compiler take 2.2 GB.
    #[test]
    fn a_filter_never_compiles_a_regular_expression() {
        let filter = "qaaa;;a;ai-[;;;&;;;;';;{=.........`......................................HHHHHHHHHTHH+++++++o*********s}ea";
        let _ = parse_filter(filter);
        assert!(parse_filter(&"a".repeat(MAX_FILTER_BYTES + 1)).is_err());
        // Also found by the fuzz target: a panic inside tracing-subscriber.
        assert!(parse_filter(" a\u{5e4}\u{2c4}=sa}a").is_err());
        assert!(parse_filter("vampiretcp=debug,warn").is_ok());
    }

    #[test]
    fn a_flood_is_cut_to_the_rate_and_counted() {
        let throttle = Throttle::per_second(3);
        let mut logged = Vec::new();
        for _ in 0..1000 {
            throttle.warn(|suppressed| logged.push(suppressed));
        }
        assert_eq!(logged, vec![0, 0, 0]);
        assert_eq!(throttle.suppressed(), 997);
    }
}
