//! The idle-connections benchmark: how much server memory a connected,
//! quiet client costs. Opens `--clients` connections, each of which reads
//! its welcome and sends one `ping`, spread over `--sources` loopback
//! source addresses (127.0.0.1, 127.0.0.2, …: one address has about
//! 28 000 ephemeral ports towards one server), then reads the server's
//! resident memory against its idle figure before them.
//!
//! Both processes need a descriptor per connection: the count a machine
//! allows is its open-files limit (`ulimit -n`; raise the hard limit to
//! run 100 000).
//!
//! Run: `cargo run --release -p vampire-bench --bin idle [-- --clients 19000]`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use vampire_bench::load::Conn;
use vampire_bench::{servers, stats};
use vampire_protocol::{Request, ServerOp};

/// Idle-connections benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Connections to hold.
    #[arg(long, default_value_t = 19_000)]
    clients: usize,
    /// Loopback source addresses to spread them over (default: one per
    /// 25 000 connections).
    #[arg(long)]
    sources: Option<usize>,
    /// Connections opened at once.
    #[arg(long, default_value_t = 256)]
    parallel: usize,
    /// The server binary (default: the release build of this workspace).
    #[arg(long)]
    server: Option<PathBuf>,
}

const KIB: f64 = 1024.0;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", stats::machine());
    let files = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let limit = files.lines().find(|l| l.starts_with("Max open files")).unwrap_or("").to_owned();
    println!("{}", limit.split_whitespace().collect::<Vec<_>>().join(" "));
    let binary = servers::server_binary(args.server.as_deref())?;
    let plugins = servers::plugins_folder(&[xtask::EXAMPLE_PLUGINS])?;
    let config = servers::bench_config(
        &plugins,
        serde_json::json!({
            "maxConnections": args.clients + 100,
            "maxConnectionsPerAddress": args.clients + 100,
            "handshakeTimeoutSecs": 600,
            "idleTimeoutSecs": 600,
        }),
    );
    let server = servers::start_vampire(&binary, &config)?;
    let pid = server.pid().to_string();
    let rss = || stats::process_usage(&pid).map(|usage| usage.rss_bytes as f64);
    let sources = args.sources.unwrap_or(args.clients.div_ceil(25_000)).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = rss()?;
        let mut held = Vec::with_capacity(args.clients);
        let mut opened = 0;
        while opened < args.clients {
            let batch = args.parallel.min(args.clients - opened);
            let mut tasks = Vec::with_capacity(batch);
            for i in opened..opened + batch {
                let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % sources) as u8));
                let addr = server.addr;
                tasks.push(tokio::spawn(async move {
                    let mut conn = Conn::open_from(addr, source).await?;
                    conn.request(Request::Server(ServerOp::Ping {})).await?;
                    anyhow::Ok(conn)
                }));
            }
            for task in tasks {
                held.push(task.await??);
            }
            opened += batch;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let loaded = rss()?;
        let per_client = (loaded - idle) / args.clients as f64;
        println!();
        println!("| connections | sources | server RSS idle | with them | per connection |");
        println!("| ---: | ---: | ---: | ---: | ---: |");
        println!(
            "| {} | {sources} | {:.1} MiB | {:.1} MiB | {:.2} KiB |",
            args.clients,
            idle / KIB / KIB,
            loaded / KIB / KIB,
            per_client / KIB
        );
        println!(
            "100 000 such connections: about {:.0} MiB (idle plus 100 000 times the figure)",
            (idle + 100_000.0 * per_client) / KIB / KIB
        );
        drop(held);
        anyhow::Ok(())
    })
}
