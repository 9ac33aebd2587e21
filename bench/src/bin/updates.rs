//! The frequent-updates benchmark: R rooms of C clients each sending M
//! small updates a second, relayed by generic rooms to every member, once
//! over UDP (`send_unreliable` on bound channels) and once over TCP, on the
//! same server process. Reports deliveries per second, loss, latency
//! percentiles and server CPU per million deliveries for each.
//!
//! Run: `cargo run --release -p vampire-bench --bin updates`.

use std::time::Duration;

use clap::Parser;
use vampire_bench::updates::{self, Transport, UpdateParams};
use vampire_bench::{servers, stats};

/// Frequent-updates benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Rooms (R).
    #[arg(long, default_value_t = 12)]
    rooms: usize,
    /// Clients per room (C).
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Updates each client sends per second (M).
    #[arg(long, default_value_t = 30.0)]
    rate: f64,
    /// Measured seconds per transport.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    let release = servers::build_release()?;
    let config = serde_json::json!({
        "bindAddress": "127.0.0.1",
        "tcpPort": 0,
        "wsPort": 0,
        "enableUDP": true,
        "udpPort": 0,
        "logLevel": "warn",
        "limits": { "maxConnections": 10_000 },
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!(
        "R={} rooms x C={} clients, M={} updates/s per client (~40-byte MessagePack map), {} s window after {} s warm-up; each transport on a fresh server",
        args.rooms, args.clients, args.rate, args.duration, args.warmup
    );
    println!();
    println!(
        "| transport | offered deliveries/s | delivered/s | loss | p50 | p99 | p99.9 | server CPU-s per 1M delivered |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for transport in [Transport::Udp, Transport::Tcp] {
        let server = servers::start_vampire(&release.join("vampiretcp"), &config)?;
        let params = UpdateParams {
            rooms: args.rooms,
            clients_per_room: args.clients,
            rate: args.rate,
            warmup: Duration::from_secs(args.warmup),
            window: Duration::from_secs(args.duration),
            transport,
        };
        let result = runtime.block_on(updates::run(server.addr, server.pid(), params))?;
        let q = |quantile: f64| stats::human(result.latency.value_at_quantile(quantile));
        println!(
            "| {} | {:.0} | {:.0} | {:.3}% | {} | {} | {} | {:.2} |",
            transport.name(),
            result.expected as f64 / result.window.as_secs_f64(),
            result.delivered_per_second(),
            result.loss_percent(),
            q(0.5),
            q(0.99),
            q(0.999),
            result.cpu_per_million()
        );
    }
    Ok(())
}
