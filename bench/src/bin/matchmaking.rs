//! The matchmaking benchmark, on one release server and on a cluster of
//! three release nodes sharing a Redis (`redis-server`, started here).
//!
//! - `join_or_create` round trip: `--clients` tasks each place
//!   `--rounds` players, one after another, in rooms of 8 (one filter);
//!   each call joins the fullest room with a seat or creates one. Clustered, the
//!   clients are spread over the nodes, and a room on another node costs
//!   the redirect and the join there, as a client sees it.
//! - The matchmaker: `--waiting` tickets that match nobody wait in a
//!   queue of two players; then the first tickets of `--pairs` pairs, and
//!   then every pair's second ticket at once. Reported: the tickets
//!   matched per second with that many waiting, and the latency from a
//!   pair's second ticket (the last one its match needs) to its `matched`
//!   event (matches form every `matchmaking.intervalMs`, 100 ms).
//!
//! Run: `cargo run --release -p vampire-bench --bin matchmaking`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use vampire_bench::{servers, stats};
use vampire_client::{Client, Condition, CreateRoom, Event, Incoming, ListQuery, Payload, Value};

/// Matchmaking benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Tasks placing players with `join_or_create` at once.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Players each task places, one after another.
    #[arg(long, default_value_t = 32)]
    rounds: usize,
    /// Tickets waiting that match nobody.
    #[arg(long, default_value_t = 10_000)]
    waiting: usize,
    /// Pairs of tickets matched while they wait.
    #[arg(long, default_value_t = 2_000)]
    pairs: usize,
    /// Only the lone server (no Redis needed).
    #[arg(long)]
    alone: bool,
}

/// The config of one server or node: the bench's limits, and a queue of
/// two players with a `rating`.
fn config(cluster: Option<(u16, &str, u16)>) -> serde_json::Value {
    let folder = std::path::Path::new("no-plugins");
    let limits = serde_json::json!({
        "maxConnections": 20_000,
        "maxConnectionsPerAddress": 20_000,
        "maxRooms": 100_000,
        "maxRoomsPerConnection": 100_000,
    });
    let mut config = servers::bench_config(folder, limits);
    config["matchmaking"] = serde_json::json!({
        "maxTickets": 1_000_000,
        "queues": [{"name": "duel", "minPlayers": 2, "maxPlayers": 2,
                    "ticketTimeoutMs": 3_600_000, "properties": {"rating": "number"}}],
    });
    if let Some((port, id, redis_port)) = cluster {
        config["tcpPort"] = port.into();
        config["cluster"] = serde_json::json!({
            "redisUrl": format!("redis://127.0.0.1:{redis_port}"),
            "advertiseAddress": format!("127.0.0.1:{port}"),
            "nodeId": id,
        });
    }
    config
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = servers::build_release()?.join("vampiretcp");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!("matchmaking ({}):", stats::machine());
    let alone = servers::start_vampire(&binary, &config(None))?;
    runtime.block_on(run(&args, "one server", &[alone.addr]))?;
    drop(alone);
    if args.alone {
        return Ok(());
    }
    let redis_port = servers::free_port()?;
    let _redis = servers::start_redis(redis_port)?;
    let mut nodes = Vec::new();
    for id in ["a", "b", "c"] {
        let port = servers::free_port()?;
        nodes.push(servers::start_vampire(&binary, &config(Some((port, id, redis_port))))?);
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|node| node.addr).collect();
    runtime.block_on(run(&args, "three nodes, one Redis", &addrs))
}

async fn run(args: &Args, name: &str, nodes: &[SocketAddr]) -> anyhow::Result<()> {
    let placements = join_or_create(args, nodes).await?;
    println!("\n{name}:");
    println!(
        "  join_or_create round trip, {} clients x {} (rooms of 8): {}",
        args.clients,
        args.rounds,
        stats::percentiles(&placements)
    );
    let (rate, latency) = matchmaker(args, nodes).await?;
    println!(
        "  matchmaker, {} tickets waiting: {:.0} tickets matched per second; last ticket -> matched: {}",
        args.waiting,
        rate,
        stats::percentiles(&latency)
    );
    Ok(())
}

/// Every placement's round trip. Each placement is a client of its own
/// (a player is in one game room at a time), connected beforehand; they
/// stay in their rooms, so rooms fill.
async fn join_or_create(args: &Args, nodes: &[SocketAddr]) -> anyhow::Result<Histogram<u64>> {
    let mut clients = Vec::new();
    for n in 0..args.clients {
        let mut players = Vec::new();
        for round in 0..args.rounds {
            players.push(Client::connect(nodes[(n + round) % nodes.len()]).await?);
        }
        clients.push(players);
    }
    let query = ListQuery {
        filters: vec![("mode".to_owned(), Condition::Equals("bench".into()))],
        ..ListQuery::default()
    };
    let settings = CreateRoom { max_clients: Some(8), ..CreateRoom::default() };
    let mut tasks = tokio::task::JoinSet::new();
    for players in clients {
        let (query, settings) = (query.clone(), settings.clone());
        tasks.spawn(async move {
            let mut took = stats::latency_histogram();
            for player in &players {
                let started = Instant::now();
                player.join_or_create(settings.clone(), &query, None).await?;
                stats::record(&mut took, started.elapsed());
            }
            anyhow::Ok((took, players))
        });
    }
    let mut all = stats::latency_histogram();
    let mut kept = Vec::new();
    for done in tasks.join_all().await {
        let (took, client) = done?;
        all.add(&took)?;
        kept.push(client);
    }
    Ok(all)
}

fn rating(value: i64) -> Option<Payload> {
    Some(Value::Map(vec![("rating".into(), value.into())]).into())
}

/// Within 10 of my own rating.
fn close_to_me() -> Option<Payload> {
    let window = Value::Map(vec![("within".into(), 10.into())]);
    Some(Value::Map(vec![("rating".into(), window)]).into())
}

/// The matchmaker's rate with `args.waiting` tickets waiting, and each
/// pair's latency from its second ticket to its `matched`: every pair's
/// first ticket is added, then every second ticket at once (the last
/// ticket each match needs), so the rate is what the matchmaker forms, not
/// what one client's round trips allow.
async fn matchmaker(args: &Args, nodes: &[SocketAddr]) -> anyhow::Result<(f64, Histogram<u64>)> {
    // Four tickets a connection, 1000 apart: nobody matches them.
    let mut waiting = Vec::new();
    for n in 0..args.waiting.div_ceil(4) {
        let client = Client::connect(nodes[n % nodes.len()]).await?;
        for k in 0..4 {
            let rated = ((n * 4 + k) as i64) * 1000;
            client.matchmaker_add("duel", rating(rated), close_to_me()).await?;
        }
        waiting.push(client);
    }
    // Between two waiting ratings: only its pair matches a first ticket.
    let pair_rating = |pair: usize| (pair as i64) * 1000 + 500;
    let mut firsts = Vec::new();
    for pair in 0..args.pairs {
        let first = Client::connect(nodes[pair % nodes.len()]).await?;
        first.matchmaker_add("duel", rating(pair_rating(pair)), close_to_me()).await?;
        firsts.push(first);
    }
    let mut seconds = Vec::new();
    for pair in 0..args.pairs {
        seconds.push(Client::connect(nodes[(pair + 1) % nodes.len()]).await?);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (pair, mut second) in seconds.into_iter().enumerate() {
        tasks.spawn(async move {
            let last = Instant::now();
            second.matchmaker_add("duel", rating(pair_rating(pair) + 5), close_to_me()).await?;
            loop {
                match second.next_event_within(Duration::from_secs(60)).await {
                    Some(Incoming::Event(Event::Matched { .. })) => break,
                    Some(_) => continue,
                    None => anyhow::bail!("no match within 60 s"),
                }
            }
            anyhow::Ok((last.elapsed(), Instant::now()))
        });
    }
    let mut latency = stats::latency_histogram();
    let mut finished = started;
    for done in tasks.join_all().await {
        let (took, at) = done?;
        stats::record(&mut latency, took);
        finished = finished.max(at);
    }
    let matched = (args.pairs * 2) as f64;
    drop((waiting, firsts));
    Ok((matched / (finished - started).as_secs_f64(), latency))
}
