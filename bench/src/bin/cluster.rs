//! The cluster benchmark: one Redis (`redis-server`, started here on a
//! free port) and three release nodes on 127.0.0.1.
//!
//! - Join latency: a client of the room's own node joining directly,
//!   against a client of another node whose join is redirected (the seat
//!   reservation round trip through Redis, a new connection to the owning
//!   node, and the join there).
//! - Listing latency with `--rooms` rooms spread over the three nodes (a
//!   page of 1000 and a page of 50), against one node alone holding as
//!   many rooms in memory.
//!
//! Run: `cargo run --release -p vampire-bench --bin cluster`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use vampire_bench::load::kept_room;
use vampire_bench::{servers, stats};
use vampire_client::Client;

/// Cluster benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Joins timed each way.
    #[arg(long, default_value_t = 500)]
    joins: usize,
    /// Rooms listed.
    #[arg(long, default_value_t = 10_000)]
    rooms: usize,
    /// Listings timed per page size.
    #[arg(long, default_value_t = 200)]
    listings: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    let binary = servers::build_release()?.join("vampiretcp");
    let redis_port = servers::free_port()?;
    let _redis = servers::start_redis(redis_port)?;
    let limits = serde_json::json!({
        "maxRoomsPerConnection": 100_000,
        "maxRooms": 100_000,
        "requestsPerSecond": 1_000_000,
        "requestBurst": 1_000_000,
    });
    let mut nodes = Vec::new();
    for id in ["a", "b", "c"] {
        let port = servers::free_port()?;
        let config = serde_json::json!({
            "bindAddress": "127.0.0.1",
            "tcpPort": port,
            "wsPort": 0,
            "enableUDP": false,
            "pluginsDir": "no-plugins",
            "logLevel": "warn",
            "limits": limits,
            "cluster": {
                "redisUrl": format!("redis://127.0.0.1:{redis_port}"),
                "advertiseAddress": format!("127.0.0.1:{port}"),
                "nodeId": id,
            },
        });
        nodes.push(servers::start_vampire(&binary, &config)?);
    }
    let alone = servers::start_vampire(
        &binary,
        &serde_json::json!({
            "bindAddress": "127.0.0.1",
            "tcpPort": 0,
            "wsPort": 0,
            "enableUDP": false,
            "pluginsDir": "no-plugins",
            "logLevel": "warn",
            "limits": limits,
        }),
    )?;
    let addrs: Vec<SocketAddr> = nodes.iter().map(|node| node.addr).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(&args, &addrs, alone.addr))
}

async fn run(args: &Args, nodes: &[SocketAddr], alone: SocketAddr) -> anyhow::Result<()> {
    let kept = kept_room("generic");
    // A room on node c, made by a client of c (placement keeps a room on
    // its creator's node while loads are even).
    let owner = Client::connect(nodes[2]).await?;
    let room = owner.create_room(kept.clone()).await?.id;
    anyhow::ensure!(room.starts_with("c-"), "the room went to {room}");

    let direct = Client::connect(nodes[2]).await?;
    let redirected = Client::connect(nodes[0]).await?;
    let mut direct_joins = stats::latency_histogram();
    let mut redirected_joins = stats::latency_histogram();
    for _ in 0..args.joins {
        let started = Instant::now();
        direct.join(&room, None).await?;
        stats::record(&mut direct_joins, started.elapsed());
        direct.leave(&room).await?;
        let started = Instant::now();
        redirected.join(&room, None).await?;
        stats::record(&mut redirected_joins, started.elapsed());
        redirected.leave(&room).await?;
    }
    println!("join latency, {} joins each (the room on node c):", args.joins);
    println!();
    println!("| join | p50 | p99 | p99.9 |");
    println!("| --- | --- | --- | --- |");
    for (name, histogram) in
        [("direct (client of c)", &direct_joins), ("redirected (client of a)", &redirected_joins)]
    {
        println!(
            "| {name} | {} | {} | {} |",
            stats::human(histogram.value_at_quantile(0.5)),
            stats::human(histogram.value_at_quantile(0.99)),
            stats::human(histogram.value_at_quantile(0.999))
        );
    }
    println!(
        "\nredirected / direct at p50: {:.2}x",
        redirected_joins.value_at_quantile(0.5) as f64
            / direct_joins.value_at_quantile(0.5).max(1) as f64
    );

    // Rooms spread over the cluster by placement, created through all
    // three nodes at once; and as many on the lone node.
    let per_node = args.rooms / nodes.len();
    let mut creators = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        let count = if index == 0 { args.rooms - per_node * 2 - 1 } else { per_node };
        let (node, kept) = (*node, kept.clone());
        creators.push(tokio::spawn(async move {
            let client = Client::connect(node).await?;
            for _ in 0..count {
                client.create_room(kept.clone()).await?;
            }
            anyhow::Ok(())
        }));
    }
    for creator in creators {
        creator.await??;
    }
    let lone_client = Client::connect(alone).await?;
    for _ in 0..args.rooms {
        lone_client.create_room(kept.clone()).await?;
    }
    let lister = Client::connect(nodes[0]).await?;
    // The writer copies listings every 50 ms: wait for all of them.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = lister.list_rooms_page(None, Some(0), Some(1)).await?;
        if page.total >= args.rooms as u64 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {} rooms listed", page.total);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut per_prefix = std::collections::BTreeMap::new();
    for room in lister.list_rooms_page(None, Some(0), Some(1000)).await?.rooms {
        *per_prefix.entry(room.id.split('-').next().unwrap_or("").to_owned()).or_insert(0) += 1;
    }
    println!();
    println!(
        "listing latency, {} rooms (first page's rooms by node: {per_prefix:?}), {} listings each:",
        args.rooms, args.listings
    );
    println!();
    println!("| listing | page | p50 | p99 | p99.9 |");
    println!("| --- | --- | --- | --- | --- |");
    for limit in [1000, 50] {
        for (name, client) in
            [("cluster (3 nodes, Redis)", &lister), ("one node alone", &lone_client)]
        {
            let mut histogram = stats::latency_histogram();
            for listing in 0..args.listings {
                let offset = (listing * 997) % (args.rooms - limit);
                let started = Instant::now();
                let page =
                    client.list_rooms_page(None, Some(offset as u32), Some(limit as u32)).await?;
                stats::record(&mut histogram, started.elapsed());
                anyhow::ensure!(page.rooms.len() == limit, "a short page");
            }
            println!(
                "| {name} | {limit} | {} | {} | {} |",
                stats::human(histogram.value_at_quantile(0.5)),
                stats::human(histogram.value_at_quantile(0.99)),
                stats::human(histogram.value_at_quantile(0.999))
            );
        }
    }
    Ok(())
}
