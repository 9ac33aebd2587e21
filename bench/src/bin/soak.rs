//! The soak run: healthy clients in generic and `chat` rooms beside
//! hostile `faulty` rooms and members that never read, for ten minutes by
//! default. It reports lost and duplicated healthy messages (which must be
//! zero), healthy latency percentiles, and the server's resident memory
//! over time (which must stay flat).
//!
//! Run: `cargo run --release -p vampire-bench --bin soak [-- --minutes 10]`.

use std::time::Duration;

use clap::Parser;
use vampire_bench::soak::{self, SoakParams};
use vampire_bench::{servers, stats};

/// Soak run.
#[derive(Debug, Parser)]
struct Args {
    /// Minutes to run.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Generic rooms of healthy clients.
    #[arg(long, default_value_t = 8)]
    generic_rooms: usize,
    /// `chat` plugin rooms of healthy clients.
    #[arg(long, default_value_t = 4)]
    chat_rooms: usize,
    /// Healthy clients per room.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Messages each healthy client sends per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Hostile rooms.
    #[arg(long, default_value_t = 2)]
    hostile_rooms: usize,
    /// The server's `limits.pluginThreads` (0: its default).
    #[arg(long, default_value_t = 0)]
    plugin_threads: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    let release = servers::build_release()?;
    let plugins = servers::plugins_folder(&[xtask::EXAMPLE_PLUGINS, xtask::TEST_PLUGINS])?;
    let config = serde_json::json!({
        "bindAddress": "127.0.0.1",
        "tcpPort": 0,
        "wsPort": 0,
        "udpPort": 0,
        "pluginsDir": plugins,
        "logLevel": "warn",
        "limits": { "pluginThreads": args.plugin_threads },
    });
    let server = servers::start_vampire(&release.join("vampiretcp"), &config)?;
    let params = SoakParams {
        duration: Duration::from_secs_f64(args.minutes * 60.0),
        generic_rooms: args.generic_rooms,
        chat_rooms: args.chat_rooms,
        clients_per_room: args.clients,
        rate: args.rate,
        hostile_rooms: args.hostile_rooms,
    };
    println!(
        "soak: {} min; {} generic + {} chat rooms x {} healthy clients at {} msg/s; {} hostile rooms; never-reading members",
        args.minutes,
        args.generic_rooms,
        args.chat_rooms,
        args.clients,
        args.rate,
        args.hostile_rooms
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(soak::run(server.addr, server.pid(), params))?;
    println!();
    println!("| healthy sent | deliveries | lost | duplicated | healthy clients dropped |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {} | {} | {} | {} | {} |",
        report.sent, report.delivered, report.lost, report.duplicated, report.healthy_dropped
    );
    println!();
    println!("| healthy latency | p50 | p99 | p99.9 |");
    println!("| --- | ---: | ---: | ---: |");
    for (rooms, latency) in
        [("generic rooms", &report.generic_latency), ("chat plugin rooms", &report.plugin_latency)]
    {
        let latency = latency.as_ref().expect("a finished run has latencies");
        println!(
            "| {rooms} | {} | {} | {} |",
            stats::human(latency.value_at_quantile(0.5)),
            stats::human(latency.value_at_quantile(0.99)),
            stats::human(latency.value_at_quantile(0.999))
        );
    }
    println!();
    println!(
        "hostile calls: {}; hostile rooms closed by the server: {}",
        report.hostile_calls, report.rooms_closed
    );
    let mib = |bytes: u64| bytes as f64 / 1048576.0;
    let samples: Vec<String> =
        report.rss.iter().map(|(s, rss)| format!("{s}s {:.1}", mib(*rss))).collect();
    println!("server RSS (MiB) over time: {}", samples.join(", "));
    if let (Some(first), Some(last)) = (report.rss.get(1).or(report.rss.first()), report.rss.last())
    {
        let max = report.rss.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
        println!(
            "server RSS from {} s to the end: {:.1} -> {:.1} MiB (max {:.1})",
            first.0,
            mib(first.1),
            mib(last.1),
            mib(max)
        );
    }
    Ok(())
}
