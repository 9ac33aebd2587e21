//! Memory given back after load: the server's resident memory idle, under
//! 10 000 clients in 1 000 `chat` rooms, and 10 s after they all left (and
//! their rooms were disposed); then around 32 wrong room passwords checked
//! at the same moment (argon2, about 19 MiB each).
//!
//! With `--held`, the clients drop at once instead and their sessions are
//! held (`reconnect`): a talker in every room then sends each room twice
//! what a replay keeps, and the server's memory is read against the bound
//! (held sessions × `reconnect.replayBytes`).
//!
//! Run: `cargo run --release -p vampire-bench --bin memory` (the release
//! server), or `-- --server PATH` for another build of it (for example
//! one without the `mimalloc` feature, to compare allocators).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use vampire_bench::load::Conn;
use vampire_bench::{servers, stats};
use vampire_protocol::{CreateRoom, Payload, Request, RoomOp};

/// Memory benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Clients that join.
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Rooms they join (clients / rooms each).
    #[arg(long, default_value_t = 1_000)]
    rooms: usize,
    /// Wrong passwords checked at the same moment.
    #[arg(long, default_value_t = 32)]
    guesses: usize,
    /// Seconds to wait after the load before measuring.
    #[arg(long, default_value_t = 10)]
    settle_secs: u64,
    /// Drop the clients with their sessions held and fill their replays
    /// (see the crate docs), instead of letting them leave.
    #[arg(long)]
    held: bool,
    /// `reconnect.replayBytes` of the server, with `--held`.
    #[arg(long, default_value_t = 262_144)]
    replay_bytes: usize,
    /// The server binary (default: the release build of this workspace).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Seconds to keep the clients connected after the loaded reading, so
    /// the server can be looked at loaded (`/proc/PID/smaps`, a heap
    /// profiler); the server's PID is printed.
    #[arg(long, default_value_t = 0)]
    inspect_secs: u64,
}

const MIB: f64 = 1024.0 * 1024.0;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    let binary = servers::server_binary(args.server.as_deref())?;
    let plugins = servers::plugins_folder(&[xtask::EXAMPLE_PLUGINS])?;
    let config = servers::bench_config(
        &plugins,
        serde_json::json!({
            "maxConnections": args.clients + 100,
            "maxConnectionsPerAddress": args.clients + 100,
            "maxRooms": args.rooms + 100,
            "maxRoomsPerConnection": args.rooms + 1,
        }),
    );
    // Clients that drop leave at once (no session held for a resume), so
    // that "after they all left" is what the rows say; with `--held` they
    // are held, and the talker in every room hears every member drop (its
    // queue takes that many frames).
    let mut config = config;
    config["reconnect"] = match args.held {
        false => serde_json::json!({ "windowSecs": 0 }),
        true => serde_json::json!({
            "windowSecs": 600,
            "replayBytes": args.replay_bytes,
            "maxHeldSessions": args.clients + 100,
        }),
    };
    if args.held {
        config["limits"]["maxJoinedRoomsPerConnection"] = serde_json::json!(args.rooms + 1);
        config["limits"]["outboundQueueFrames"] = serde_json::json!(4 * args.clients);
    }
    let server = servers::start_vampire(&binary, &config)?;
    let pid = server.pid().to_string();
    println!("server PID {pid}");
    let rss = || stats::process_usage(&pid).map(|usage| usage.rss_bytes as f64 / MIB);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    if args.held {
        return runtime.block_on(held(server.addr, &args, &rss));
    }
    runtime.block_on(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = rss()?;
        let loaded = load_and_leave(server.addr, &args, &rss).await?;
        tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
        let after = rss()?;

        let before_guesses = rss()?;
        guess_passwords(server.addr, args.guesses).await?;
        let guessed = rss()?;
        tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
        let after_guesses = rss()?;

        println!("server: {}", binary.display());
        println!();
        println!("| moment | RSS (MiB) | vs idle |");
        println!("| --- | ---: | ---: |");
        let row = |name: &str, mib: f64| println!("| {name} | {mib:.1} | {:.2}x |", mib / idle);
        row("idle", idle);
        row(&format!("{} clients in {} chat rooms", args.clients, args.rooms), loaded);
        row(&format!("{} s after they all left", args.settle_secs), after);
        row(&format!("{} wrong passwords at once", args.guesses), guessed);
        row(&format!("{} s after the guesses", args.settle_secs), after_guesses);
        println!();
        println!("before the guesses: {before_guesses:.1} MiB");
        anyhow::Ok(())
    })?;
    Ok(())
}

/// Creates the rooms, joins every client (each sends one message), reads
/// the server's memory, then disconnects everyone. Returns the loaded RSS
/// in MiB.
async fn load_and_leave(
    addr: SocketAddr,
    args: &Args,
    rss: &impl Fn() -> anyhow::Result<f64>,
) -> anyhow::Result<f64> {
    let mut owner = Conn::open(addr).await?;
    let mut rooms = Vec::with_capacity(args.rooms);
    for _ in 0..args.rooms {
        let settings = CreateRoom { room_type: Some("chat".into()), ..CreateRoom::default() };
        rooms.push(owner.create_room(settings).await?);
    }
    let mut clients = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let mut client = Conn::open(addr).await?;
        let room = rooms[i % rooms.len()].clone();
        client.request(Request::join(room.clone())).await?;
        let data = Payload::from("hello");
        client.request(Request::room(room, RoomOp::SendMessage { data })).await?;
        clients.push(client);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = rss()?;
    if args.inspect_secs > 0 {
        println!("loaded: held so for {} s", args.inspect_secs);
        tokio::time::sleep(Duration::from_secs(args.inspect_secs)).await;
    }
    drop(clients);
    drop(owner);
    Ok(loaded)
}

/// The `--held` run: every client drops at once, a talker fills their
/// replays, and the server's memory is printed against the bound.
async fn held(
    addr: SocketAddr,
    args: &Args,
    rss: &impl Fn() -> anyhow::Result<f64>,
) -> anyhow::Result<()> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss()?;
    let mut owner = Conn::open(addr).await?;
    let mut rooms = Vec::with_capacity(args.rooms);
    for _ in 0..args.rooms {
        let settings = CreateRoom { room_type: Some("chat".into()), ..CreateRoom::default() };
        rooms.push(owner.create_room(settings).await?);
    }
    let mut talker = vampire_client::Client::connect(addr).await?;
    for room in &rooms {
        talker.join(room, None).await?;
    }
    let mut heard = talker.take_event_stream();
    let drain = tokio::spawn(async move { while heard.recv().await.is_some() {} });
    let mut clients = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let mut client = Conn::open(addr).await?;
        client.request(Request::join(rooms[i % rooms.len()].clone())).await?;
        clients.push(client);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = rss()?;
    if args.inspect_secs > 0 {
        println!("loaded: held so for {} s", args.inspect_secs);
        tokio::time::sleep(Duration::from_secs(args.inspect_secs)).await;
    }
    drop(clients);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let dropped = rss()?;
    // Twice what a replay keeps, to every room, in 4 KiB messages; a ping
    // every 100 keeps the talker's own queue (it hears each) small.
    let message = Payload::from("x".repeat(4096).as_str());
    for _ in 0..(2 * args.replay_bytes / 4096) {
        for chunk in rooms.chunks(100) {
            for room in chunk {
                let data = message.clone();
                talker.notify(Request::room(room.clone(), RoomOp::SendMessage { data })).await?;
            }
            talker.ping().await?;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let full = rss()?;
    drop(talker);
    drain.abort();
    let bound = args.clients as f64 * args.replay_bytes as f64 / MIB;
    println!("| moment | RSS (MiB) |");
    println!("| --- | ---: |");
    println!("| idle | {idle:.1} |");
    println!("| {} clients in {} chat rooms | {loaded:.1} |", args.clients, args.rooms);
    println!("| all dropped at once, sessions held | {dropped:.1} |");
    println!("| their replays filled (2x replayBytes sent to each room) | {full:.1} |");
    println!();
    println!(
        "held sessions' growth over loaded: {:.1} MiB; bound {bound:.0} MiB ({} held x {} KiB): {:.3} of it",
        full - loaded,
        args.clients,
        args.replay_bytes / 1024,
        (full - loaded) / bound
    );
    Ok(())
}

/// Sends `guesses` joins with a wrong password to one password room, all
/// at once, and waits for every answer.
async fn guess_passwords(addr: SocketAddr, guesses: usize) -> anyhow::Result<()> {
    let mut owner = Conn::open(addr).await?;
    let settings = CreateRoom {
        password: Some("correct horse".into()),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    };
    let room = owner.create_room(settings).await?;
    let mut tasks = Vec::with_capacity(guesses);
    for _ in 0..guesses {
        let mut guesser = Conn::open(addr).await?;
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            let mut join = Request::join(room);
            if let Request::Room { op: RoomOp::Join { password, .. }, .. } = &mut join {
                *password = Some("battery staple".into());
            }
            // Refused, as it should be; only the work behind it matters.
            let _ = guesser.request(join).await;
        }));
    }
    for task in tasks {
        task.await?;
    }
    Ok(())
}
