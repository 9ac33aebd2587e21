//! Structured logging with `tracing`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `RUST_LOG` when set, else the
/// configured `logLevel`. Logs go to standard error, so that standard
/// output carries only what scripts read (the `listening on` line).
///
/// # Errors
/// When the configured filter is invalid (validation catches that first)
/// or a subscriber is already installed.
pub fn init(log_level: &str) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives)?,
        _ => EnvFilter::try_new(log_level)?,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|err| anyhow::anyhow!(err))
}
