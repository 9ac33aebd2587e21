//! Memory given back after load: the server's resident memory idle, under
//! 10 000 clients in 1 000 `chat` rooms, and 10 s after they all left (and
//! their rooms were disposed); then around 32 wrong room passwords checked
//! at the same moment (argon2, about 19 MiB each).
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
    /// The server binary (default: the release build of this workspace).
    #[arg(long)]
    server: Option<PathBuf>,
}

const MIB: f64 = 1024.0 * 1024.0;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => servers::build_release()?.join("vampiretcp"),
    };
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
    // that "after they all left" is what the rows say.
    let mut config = config;
    config["reconnect"] = serde_json::json!({ "windowSecs": 0 });
    let server = servers::start_vampire(&binary, &config)?;
    let pid = server.pid().to_string();
    let rss = || stats::process_usage(&pid).map(|usage| usage.rss_bytes as f64 / MIB);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
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
    drop(clients);
    drop(owner);
    Ok(loaded)
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
