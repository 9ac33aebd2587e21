//! The `vampiretcp` server binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vampiretcp::{Config, RunningServer, Server};

/// jemalloc, whose background thread gives pages freed after load back to
/// the system within about a second; glibc's per-thread arenas kept them
/// (bench `memory`).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts: a background purging thread,
/// dirty pages returned after one second, none kept as "muzzy".
#[cfg(feature = "jemalloc")]
#[allow(non_upper_case_globals)]
// SAFETY: jemalloc reads this symbol once, as a NUL-terminated string of
// options, before the first allocation; nothing else defines it.
#[allow(unsafe_code)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// VampireTCP: multiplayer rooms with WebAssembly room plugins.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Configuration file (JSON). Without it, the embedded default
    /// (config/server.json) is used.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,

    /// Check the configuration and exit.
    #[arg(long)]
    check_config: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => Config::load(path),
        None => Ok(Config::embedded_default()),
    };
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: invalid configuration: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = vampiretcp::server::check_config_files(&config) {
        eprintln!("error: invalid configuration: {err:#}");
        return ExitCode::from(2);
    }
    if args.check_config {
        println!("configuration is valid");
        return ExitCode::SUCCESS;
    }
    if let Err(err) = vampiretcp::logging::init(&config.log_level, config.log_format) {
        eprintln!("error: cannot set up logging: {err}");
        return ExitCode::from(2);
    }
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let server = Server::bind(config).await?;
    // Installed before the address is printed: whoever reads it may
    // signal at once (SIGUSR1's default action would end the process).
    let signals = Signals::install()?;
    // Printed on stdout as well as logged, so scripts and tests can read
    // the port when tcpPort is 0.
    println!("listening on {}", server.local_addr());
    let running = server.start();
    if let Some(websocket) = running.ws_addr {
        println!("websocket listening on {websocket}");
    }
    if let Some(admin) = running.admin_addr {
        println!("admin listening on {admin}");
    }
    let why = signals.stop_reason(&running).await?;
    tracing::info!(why, "shutting down");
    running.shutdown().await;
    Ok(())
}

/// The signals the server acts on: SIGINT (Ctrl-C) and SIGTERM (what
/// service managers and container runtimes send) stop it; SIGUSR1 starts a
/// drain.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    drain: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
                drain: signal(SignalKind::user_defined1())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Waits for a stop signal, or for a drain to end (started by SIGUSR1
    /// or the admin API), and says which.
    async fn stop_reason(mut self, running: &RunningServer) -> anyhow::Result<&'static str> {
        #[cfg(unix)]
        loop {
            tokio::select! {
                _ = self.terminate.recv() => return Ok("SIGTERM"),
                _ = self.interrupt.recv() => return Ok("SIGINT"),
                _ = self.drain.recv() => {
                    running.drain("SIGUSR1");
                }
                () = running.drained() => return Ok("drained"),
            }
        }
        #[cfg(not(unix))]
        tokio::select! {
            signal = tokio::signal::ctrl_c() => signal.map(|()| "Ctrl-C").map_err(Into::into),
            () = running.drained() => Ok("drained"),
        }
    }
}
