//! The measurement behind the WebSocket crate: the same two server loops
//! written with `tokio-tungstenite` and with `fastwebsockets`, driven by
//! one client (tokio-tungstenite) over loopback, framing only (no HTTP
//! upgrade, no protocol decoding).
//!
//! - **echo**: every connection sends small binary messages back to back
//!   and the server answers each one (the read path: unmasking,
//!   checking, one write per message);
//! - **fan-out**: every connection asks for a burst and the server writes
//!   that many small messages at once (the path of a room broadcast).
//!
//! Prints messages per second and the process's CPU time per message
//! (client included, the same for both crates).
//!
//! Run: `cargo run --release -p vampire-bench --bin ws-crates`.

use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

/// Crate comparison.
#[derive(Debug, Parser)]
struct Args {
    /// Connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Messages each connection sends in the echo scenario.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Bursts each connection asks for in the fan-out scenario.
    #[arg(long, default_value_t = 400)]
    bursts: usize,
    /// Messages in one burst.
    #[arg(long, default_value_t = 50)]
    burst: usize,
    /// Bytes of a message.
    #[arg(long, default_value_t = 64)]
    bytes: usize,
}

#[derive(Clone, Copy, Debug)]
enum Crate {
    Tungstenite,
    FastWebSockets,
}

#[derive(Clone, Copy, Debug)]
enum Scenario {
    Echo,
    FanOut,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    println!("| scenario | crate | messages/s | CPU µs/message |");
    println!("|---|---|---:|---:|");
    for scenario in [Scenario::Echo, Scenario::FanOut] {
        for krate in [Crate::Tungstenite, Crate::FastWebSockets] {
            let (rate, cpu) = run(&args, krate, scenario).await?;
            println!("| {scenario:?} | {krate:?} | {rate:.0} | {cpu:.2} |");
        }
    }
    Ok(())
}

/// One run: messages per second and CPU µs per message.
async fn run(args: &Args, krate: Crate, scenario: Scenario) -> anyhow::Result<(f64, f64)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let burst = args.burst;
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            socket.set_nodelay(true).ok();
            tokio::spawn(async move {
                match krate {
                    Crate::Tungstenite => serve_tungstenite(socket, scenario, burst).await,
                    Crate::FastWebSockets => serve_fastwebsockets(socket, scenario, burst).await,
                }
            });
        }
    });
    let payload = Bytes::from(vec![7u8; args.bytes]);
    let (cpu_before, started) = (cpu_time()?, Instant::now());
    let mut clients = Vec::new();
    for _ in 0..args.connections {
        let socket = TcpStream::connect(address).await?;
        socket.set_nodelay(true)?;
        let ws = WebSocketStream::from_raw_socket(socket, Role::Client, None).await;
        let (sends, expected) = match scenario {
            Scenario::Echo => (args.messages, args.messages),
            Scenario::FanOut => (args.bursts, args.bursts * args.burst),
        };
        let payload = payload.clone();
        clients.push(tokio::spawn(client(ws, payload, sends, expected, scenario)));
    }
    let mut received = 0;
    for client in clients {
        received += client.await.context("client task")??;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time()? - cpu_before;
    server.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok((received as f64 / elapsed.as_secs_f64(), cpu.as_secs_f64() * 1e6 / received as f64))
}

/// Sends `sends` messages (echo: all at once; fan-out: one per burst
/// received) and counts what comes back.
async fn client(
    ws: WebSocketStream<TcpStream>,
    payload: Bytes,
    sends: usize,
    expected: usize,
    scenario: Scenario,
) -> anyhow::Result<usize> {
    let (mut sink, mut stream) = ws.split();
    let burst = expected / sends;
    let writer = match scenario {
        Scenario::Echo => Some(tokio::spawn(async move {
            for _ in 0..sends {
                sink.feed(Message::Binary(payload.clone())).await?;
            }
            sink.flush().await?;
            anyhow::Ok(sink)
        })),
        Scenario::FanOut => {
            sink.send(Message::Binary(payload.clone())).await?;
            let mut received = 0;
            while received < expected {
                match stream.next().await.context("server closed")?? {
                    Message::Binary(_) => received += 1,
                    _ => continue,
                }
                if received % burst == 0 && received < expected {
                    sink.send(Message::Binary(payload.clone())).await?;
                }
            }
            return Ok(received);
        }
    };
    let mut received = 0;
    while received < expected {
        if let Message::Binary(_) = stream.next().await.context("server closed")?? {
            received += 1;
        }
    }
    if let Some(writer) = writer {
        writer.await??.close().await?;
    }
    Ok(received)
}

async fn serve_tungstenite(socket: TcpStream, scenario: Scenario, burst: usize) {
    let ws = WebSocketStream::from_raw_socket(socket, Role::Server, None).await;
    let (mut sink, mut stream) = ws.split();
    while let Some(Ok(message)) = stream.next().await {
        let Message::Binary(body) = message else { continue };
        let copies = match scenario {
            Scenario::Echo => 1,
            Scenario::FanOut => burst,
        };
        for _ in 0..copies {
            if sink.feed(Message::Binary(body.clone())).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

async fn serve_fastwebsockets(socket: TcpStream, scenario: Scenario, burst: usize) {
    use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket};
    let mut ws = WebSocket::after_handshake(socket, Role::Server);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    while let Ok(frame) = ws.read_frame().await {
        if frame.opcode != OpCode::Binary {
            continue;
        }
        let body = frame.payload.to_vec();
        let copies = match scenario {
            Scenario::Echo => 1,
            Scenario::FanOut => burst,
        };
        for _ in 0..copies {
            if ws.write_frame(Frame::binary(Payload::Borrowed(&body))).await.is_err() {
                return;
            }
        }
    }
}

/// CPU time (user + system) of this process so far.
fn cpu_time() -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let fields: Vec<&str> = stat.rsplit_once(')').context("stat")?.1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}
