//! What the admin listener costs and withstands: a `/metrics` scrape and
//! a page of `GET /admin/rooms` of a node holding 10,000 rooms, and the
//! game's latency (chat fan-out p99) alone against the same load beside
//! hostile admin traffic: 10,000 parallel requests, huge bodies, bad JSON,
//! path tricks and clients that send half their headers and stop.
//!
//! Run: `cargo run --release -p vampire-bench --bin admin`.

#[path = "../../../tests/src/http.rs"]
#[allow(dead_code)]
mod http;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vampire_bench::load::{self, ChatParams, Conn, kept_room};
use vampire_bench::{servers, stats};

/// Admin listener benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Rooms the node holds while it is scraped.
    #[arg(long, default_value_t = 10_000)]
    rooms: usize,
    /// Scrapes timed.
    #[arg(long, default_value_t = 50)]
    scrapes: usize,
    /// Parallel hostile admin requests per wave.
    #[arg(long, default_value_t = 10_000)]
    parallel: usize,
    /// Seconds of chat load measured per run.
    #[arg(long, default_value_t = 8)]
    duration: u64,
}

const TOKEN: &str = "admin-bench-token";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    let binary = servers::build_release()?.join("vampiretcp");
    let plugins = servers::plugins_folder(&[xtask::EXAMPLE_PLUGINS])?;
    let token_file =
        std::env::temp_dir().join(format!("vampire-admin-bench-{}", std::process::id()));
    std::fs::write(&token_file, TOKEN)?;
    let admin_port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut config = servers::bench_config(
        &plugins,
        serde_json::json!({ "maxRooms": 100_000, "maxRoomsPerConnection": 100_000 }),
    );
    config["admin"] = serde_json::json!({
        "port": admin_port,
        "tokenFile": token_file,
        "maxConnections": 64,
        "requestTimeoutSecs": 2,
    });
    let server = servers::start_vampire(&binary, &config)?;
    let admin: SocketAddr = ([127, 0, 0, 1], admin_port).into();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let params = ChatParams {
            rooms: 4,
            clients: 25,
            rate: 20.0,
            duration: Duration::from_secs(args.duration),
            warmup: Duration::from_secs(1),
        };
        let quiet = load::chat(server.addr, params, server.pid()).await?;
        // The control: the same traffic at a listener outside the server
        // (it reads each request and answers 400), so what the traffic
        // costs the machine's two cores shows apart from what it costs
        // the server.
        let outside = servers::outside_listener(servers::OutsideRead::FirstChunk)?;
        let (hostile, stop) = hostile_traffic(outside, args.parallel);
        let control = load::chat(server.addr, params, server.pid()).await?;
        stop.cancel();
        hostile.join().map_err(|_| anyhow::anyhow!("the hostile traffic panicked"))?;
        let (hostile, stop) = hostile_traffic(admin, args.parallel);
        let noisy = load::chat(server.addr, params, server.pid()).await?;
        stop.cancel();
        let waves = hostile.join().map_err(|_| anyhow::anyhow!("the hostile traffic panicked"))?;
        println!("## Game latency beside hostile admin traffic (chat: 4 rooms x 25 clients x 20 msg/s)");
        println!("| admin traffic | delivered/s | server CPU | p50 | p99 | p99.9 |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for (what, r) in
            [("none", &quiet), ("hostile, at a listener outside the server", &control), ("hostile, at the admin listener", &noisy)]
        {
            println!(
                "| {what} | {:.0} | {:.0}% | {} | {} | {} |",
                r.delivered_per_s,
                r.server_cpu_s / r.window_s * 100.0,
                stats::human(r.p50_ns),
                stats::human(r.p99_ns),
                stats::human(r.p999_ns)
            );
        }
        println!(
            "p99 at the admin listener / at the outside listener: {:.2}x; hostile / none: {:.2}x; {} waves of {} parallel requests, {} answered, {} refused at the door; plus huge bodies, bad JSON, path tricks, half headers",
            noisy.p99_ns as f64 / control.p99_ns as f64,
            noisy.p99_ns as f64 / quiet.p99_ns as f64,
            waves.waves,
            args.parallel,
            waves.answered,
            waves.refused
        );

        let mut owner = Conn::open(server.addr).await?;
        let created = Instant::now();
        for _ in 0..args.rooms {
            owner.create_room(kept_room("generic")).await?;
        }
        eprintln!("{} rooms created in {:.1?}", args.rooms, created.elapsed());
        let metrics = time_gets(admin, "/metrics", args.scrapes).await;
        let page = time_gets(admin, "/admin/rooms?limit=1000", args.scrapes).await;
        println!("\n## A node holding {} rooms", args.rooms);
        println!("| request | bytes | p50 | p99 | max |");
        println!("| --- | --- | --- | --- | --- |");
        for (what, (bytes, histogram)) in [("GET /metrics", &metrics), ("GET /admin/rooms?limit=1000", &page)] {
            println!(
                "| {what} | {bytes} | {} | {} | {} |",
                stats::human(histogram.value_at_quantile(0.5)),
                stats::human(histogram.value_at_quantile(0.99)),
                stats::human(histogram.max())
            );
        }
        anyhow::Ok(())
    })?;
    Ok(())
}

/// Times `count` GETs of `path`: the answer's size and the latencies.
async fn time_gets(
    admin: SocketAddr,
    path: &str,
    count: usize,
) -> (usize, hdrhistogram::Histogram<u64>) {
    let mut histogram = stats::latency_histogram();
    let mut bytes = 0;
    for _ in 0..count {
        let started = Instant::now();
        let answer = http::get(admin, path, TOKEN).await;
        stats::record(&mut histogram, started.elapsed());
        assert_eq!(answer.status, 200, "{path}: {}", answer.text());
        bytes = answer.body.len();
    }
    (bytes, histogram)
}

/// What the hostile traffic did.
#[derive(Debug, Default)]
struct Waves {
    waves: usize,
    answered: usize,
    refused: usize,
}

/// Sends waves of hostile admin requests until stopped, from a thread
/// and runtime of its own, so its work does not delay the chat clients'
/// runtime (both still share the machine's cores with the server).
fn hostile_traffic(
    admin: SocketAddr,
    parallel: usize,
) -> (std::thread::JoinHandle<Waves>, tokio_util::sync::CancellationToken) {
    let stop = tokio_util::sync::CancellationToken::new();
    let handle = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the hostile traffic");
            runtime.block_on(async move {
                let mut waves = Waves::default();
                while !stop.is_cancelled() {
                    let mut requests = tokio::task::JoinSet::new();
                    for n in 0..parallel {
                        requests.spawn(hostile_request(admin, n));
                    }
                    while let Some(outcome) = requests.join_next().await {
                        match outcome {
                            Ok(true) => waves.answered += 1,
                            _ => waves.refused += 1,
                        }
                    }
                    waves.waves += 1;
                }
                waves
            })
        }
    });
    (handle, stop)
}

/// One hostile request, of a kind chosen by `n`; whether it was answered.
async fn hostile_request(admin: SocketAddr, n: usize) -> bool {
    let Ok(mut socket) = tokio::net::TcpStream::connect(admin).await else { return false };
    let huge = "x".repeat(200_000);
    let request = match n % 5 {
        0 => format!(
            "GET /admin/rooms?offset={n} HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        ),
        1 => format!(
            "POST /admin/rooms/r1/dispose HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{huge}",
            huge.len()
        ),
        2 => format!(
            "POST /admin/rooms/r1/kick HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{{not json"
        ),
        3 => "GET /admin/../../etc/passwd HTTP/1.1\r\nConnection: close\r\n\r\n".to_owned(),
        _ => "GET /admin/rooms HTTP/1.1\r\nHost: half".to_owned(),
    };
    if socket.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer)).await;
    read.is_ok() && answer.starts_with(b"HTTP/1.1 ")
}
