//! Hostile input at the WebSocket port beside real players: garbage
//! before the upgrade, huge headers, a slow upgrade, a 2 GiB length,
//! unmasked frames, text, ping floods that never read the pongs, and
//! slow readers (and, with `--kinds 8`, a flood of requests far past the
//! rate limit), from many connections at once, while chat clients on
//! the same port measure their latency. The same traffic at a listener
//! outside the server is the control (what it costs the machine's two
//! cores rather than the server). Prints the chat latency and the
//! server's resident memory for each phase.
//!
//! Run: `cargo run --release -p vampire-bench --bin ws-hostile`.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vampire_bench::load::{self, ChatParams, ChatResult, Transport};
use vampire_bench::websocket::{masked_message, split_message};
use vampire_bench::{servers, stats};
use vampire_protocol::{
    CreateRoom, Payload, Request, RoomInfo, RoomOp, ServerMessage, ServerOp, frame,
};

/// Hostile WebSocket input.
#[derive(Debug, Parser)]
struct Args {
    /// Hostile connections open at once.
    #[arg(long, default_value_t = 200)]
    parallel: usize,
    /// Measured seconds per phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Only these kinds of hostile connection (0 garbage, 1 huge headers,
    /// 2 slow upgrade, 3 a 2 GiB length, 4 unmasked, 5 text, 6 ping flood,
    /// 7 slow reader, 8 request flood); default all but 8.
    #[arg(long, value_delimiter = ',')]
    kinds: Vec<usize>,
}

const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    let binary = servers::build_release()?.join("vampiretcp");
    let plugins = servers::plugins_folder(&[xtask::EXAMPLE_PLUGINS])?;
    // The server's own request rate limit (the bench configuration lifts
    // it for load generators): the chat clients stay far below it, the
    // hostile ones do not.
    let config = servers::bench_config(
        &plugins,
        serde_json::json!({ "requestsPerSecond": 300, "requestBurst": 600 }),
    );
    let server = servers::start_vampire(&binary, &config)?;
    let ws = server.websocket.ok_or_else(|| anyhow::anyhow!("no WebSocket port"))?;
    let pid = server.pid().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let params = ChatParams {
        rooms: 4,
        clients: 25,
        rate: 20.0,
        duration: Duration::from_secs(args.duration),
        warmup: Duration::from_secs(1),
    };
    let rss = || xtask::process::usage(&pid).map(|u| u.rss_bytes as f64 / 1048576.0);
    let phase = |target: Option<SocketAddr>| -> anyhow::Result<(ChatResult, Counts, f64)> {
        let stop = tokio_util::sync::CancellationToken::new();
        let kinds = if args.kinds.is_empty() { (0..8).collect() } else { args.kinds.clone() };
        let hostile =
            target.map(|target| hostile_traffic(target, args.parallel, kinds, stop.clone()));
        let result =
            runtime.block_on(load::chat_over(Transport::WebSocket(ws), params, server.pid()))?;
        let during = rss()?;
        stop.cancel();
        let counts = match hostile {
            Some(handle) => {
                handle.join().map_err(|_| anyhow::anyhow!("hostile traffic panicked"))?
            }
            None => Counts::default(),
        };
        Ok((result, counts, during))
    };
    let before = rss()?;
    let (quiet, _, quiet_rss) = phase(None)?;
    let (control, _, control_rss) =
        phase(Some(servers::outside_listener(servers::OutsideRead::ToTheEnd)?))?;
    let (noisy, counts, noisy_rss) = phase(Some(ws))?;
    std::thread::sleep(Duration::from_secs(4));
    let after = rss()?;
    println!(
        "## Chat over WebSocket beside hostile WebSocket input (4 rooms x 25 clients x 20 msg/s)"
    );
    println!(
        "| hostile input | delivered/s | server CPU | p50 | p99 | p99.9 | server RSS during |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (what, r, rss) in [
        ("none", &quiet, quiet_rss),
        ("at a listener outside the server", &control, control_rss),
        ("at the WebSocket port", &noisy, noisy_rss),
    ] {
        println!(
            "| {what} | {:.0} | {:.0}% | {} | {} | {} | {rss:.1} MiB |",
            r.delivered_per_s,
            r.server_cpu_s / r.window_s * 100.0,
            stats::human(r.p50_ns),
            stats::human(r.p99_ns),
            stats::human(r.p999_ns),
        );
    }
    println!(
        "p99 hostile at the port / at the outside listener: {:.2}x; / none: {:.2}x; server RSS {before:.1} MiB before, {after:.1} MiB 4 s after; {} hostile connections: {} refused or closed by the server, {} still open at the end",
        noisy.p99_ns as f64 / control.p99_ns as f64,
        noisy.p99_ns as f64 / quiet.p99_ns as f64,
        counts.attempts,
        counts.closed,
        counts.attempts - counts.closed,
    );
    Ok(())
}

/// What the hostile connections saw.
#[derive(Debug, Default)]
struct Counts {
    attempts: usize,
    closed: usize,
}

/// Keeps `parallel` hostile connections going at `target` until stopped,
/// from a thread and runtime of its own.
fn hostile_traffic(
    target: SocketAddr,
    parallel: usize,
    kinds: Vec<usize>,
    stop: tokio_util::sync::CancellationToken,
) -> std::thread::JoinHandle<Counts> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let mut counts = Counts::default();
            let mut connections = tokio::task::JoinSet::new();
            let mut n = 0;
            loop {
                while connections.len() < parallel && !stop.is_cancelled() {
                    connections.spawn(hostile(target, kinds[n % kinds.len()], stop.clone()));
                    n += 1;
                }
                match connections.join_next().await {
                    Some(outcome) => {
                        counts.attempts += 1;
                        if outcome.unwrap_or(false) {
                            counts.closed += 1;
                        }
                    }
                    None => break,
                }
            }
            counts
        })
    })
}

/// A masked client frame header announcing `len` bytes.
fn header(opcode: u8, masked: bool, len: u64) -> Vec<u8> {
    let mut bytes = vec![0x80 | opcode, if masked { 0xff } else { 0x7f }];
    bytes.extend_from_slice(&len.to_be_bytes());
    if masked {
        bytes.extend_from_slice(&[1, 2, 3, 4]);
    }
    bytes
}

/// A masked binary message carrying `body`.
fn masked(body: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x82, 0x80 | 126];
    frame.extend_from_slice(&(body.len() as u16).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.extend(body.iter().enumerate().map(|(i, b)| b ^ [1, 2, 3, 4][i % 4]));
    frame
}

/// One hostile connection of `kind` (see `Args::kinds`); whether the server
/// refused or closed it (rather than the run ending first).
async fn hostile(
    target: SocketAddr,
    kind: usize,
    stop: tokio_util::sync::CancellationToken,
) -> bool {
    let Ok(mut socket) = tokio::net::TcpStream::connect(target).await else { return true };
    let opening: Vec<u8> = match kind {
        0 => b"\x16\x03\x01\x02\x00garbage before any upgrade\r\n\r\n".to_vec(),
        1 => format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(64 * 1024)).into_bytes(),
        // A slow upgrade: a few bytes, then silence.
        2 => b"GET / HTTP/1.1\r\nHost: ".to_vec(),
        _ => UPGRADE.as_bytes().to_vec(),
    };
    if socket.write_all(&opening).await.is_err() {
        return true;
    }
    let (mut reader, mut writer) = socket.split();
    let room = match kind {
        7 => match own_room(&mut reader, &mut writer).await {
            Ok(room) => Some(room),
            Err(_) => return true,
        },
        _ => None,
    };
    let attack = async {
        match kind {
            3 => writer.write_all(&header(0x2, true, 2 << 30)).await?,
            4 => {
                let mut frame = header(0x2, false, 5);
                frame.extend_from_slice(b"\x81\xa2op\xa4ping");
                writer.write_all(&frame).await?;
            }
            5 => {
                writer
                    .write_all(&[0x81, 0x84, 1, 2, 3, 4, b'h' ^ 1, b'e' ^ 2, b'y' ^ 3, b'!' ^ 4])
                    .await?
            }
            // A ping flood that never reads the pongs.
            6 => loop {
                let mut ping = vec![0x89, 0x80 | 125, 1, 2, 3, 4];
                ping.extend_from_slice(&[0u8; 125]);
                writer.write_all(&ping.repeat(64)).await?;
            },
            // A slow reader: a room of its own, and big messages to it,
            // within the rate limit, that it never reads.
            7 => {
                let room = room.clone().unwrap_or_default();
                let big = Payload::from(vampire_client::Value::Binary(vec![7; 60_000]));
                let send = Request::room(room, RoomOp::SendMessage { data: big }).encode(None);
                let send = masked_message(&send[frame::LENGTH_PREFIX..]);
                loop {
                    writer.write_all(&send).await?;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            // A flood of requests far past the rate limit, never read.
            8 => {
                let list = masked(b"\x82\xa2id\x01\xa2op\xaalist_rooms");
                loop {
                    writer.write_all(&list.repeat(256)).await?;
                }
            }
            _ => {}
        }
        std::future::pending::<std::io::Result<()>>().await
    };
    let answered = async {
        // The flood and the slow reader never read.
        if matches!(kind, 6..=8) {
            std::future::pending::<()>().await;
        }
        let mut sink = vec![0u8; 64 * 1024];
        while matches!(reader.read(&mut sink).await, Ok(1..)) {}
    };
    tokio::select! {
        _ = attack => true,
        () = answered => true,
        () = tokio::time::sleep(Duration::from_secs(8)) => false,
        () = stop.cancelled() => false,
    }
}

/// Reads the upgrade's answer and the welcome, creates a room and joins
/// it, reading the answers; gives the room's id.
async fn own_room(
    reader: &mut tokio::net::tcp::ReadHalf<'_>,
    writer: &mut tokio::net::tcp::WriteHalf<'_>,
) -> std::io::Result<String> {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut head = true;
    let mut next = async |buf: &mut BytesMut, head: &mut bool| -> std::io::Result<ServerMessage> {
        loop {
            if *head && let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                buf.advance(end + 4);
                *head = false;
            }
            if !*head && let Ok(Some(body)) = split_message(buf) {
                return ServerMessage::decode(&body).map_err(std::io::Error::other);
            }
            if reader.read_buf(buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    };
    let create = Request::from(ServerOp::CreateRoom { settings: CreateRoom::default() });
    writer.write_all(&masked_message(&create.encode(Some(1))[frame::LENGTH_PREFIX..])).await?;
    let room = loop {
        if let ServerMessage::Response { id: 1, result } = next(&mut buf, &mut head).await? {
            break RoomInfo::from_payload(&result).map_err(std::io::Error::other)?.id;
        }
    };
    let join = Request::join(room.clone());
    writer.write_all(&masked_message(&join.encode(Some(2))[frame::LENGTH_PREFIX..])).await?;
    while !matches!(next(&mut buf, &mut head).await?, ServerMessage::Response { id: 2, .. }) {}
    Ok(room)
}
