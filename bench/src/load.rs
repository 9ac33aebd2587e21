//! The load generator's scenarios, run against any server that speaks the
//! protocol (VampireTCP, or the baseline relay for the chat scenario).
//!
//! Clients are lean raw connections rather than [`vampire_client::Client`]:
//! the load generator shares the machine with the server, so each received
//! frame is decoded only as far as the benchmark needs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};
use vampire_protocol::{CreateRoom, Request, RequestFrame, ServerMessage, Value, frame};

use crate::stats::{self, ProcessUsage};

/// Padding that makes the chat payload `{"t": u64, "p": "x…"}` 64 bytes
/// of MessagePack.
pub const PADDING: usize = 47;

/// One raw connection.
pub struct Conn {
    /// Session id from the welcome.
    pub session: u64,
    reader: FramedRead<OwnedReadHalf, LengthDelimitedCodec>,
    writer: OwnedWriteHalf,
    next_id: u32,
}

/// Only the fields the benchmark reads of a server message.
#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    id: Option<u32>,
    #[serde(default)]
    session: Option<u64>,
    #[serde(default)]
    data: Option<Stamp>,
    #[serde(default)]
    message: Option<&'a str>,
}

/// The timestamp inside a chat payload.
#[derive(Deserialize)]
struct Stamp {
    t: u64,
}

impl Conn {
    /// Connects and reads the welcome.
    ///
    /// # Errors
    /// When the connection fails or the first frame is not a welcome.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let socket = TcpStream::connect(addr).await?;
        socket.set_nodelay(true)?;
        let (read_half, writer) = socket.into_split();
        let mut reader = FramedRead::new(read_half, frame::codec(16 << 20));
        let welcome = reader.next().await.context("closed before the welcome")??;
        let welcome: Incoming = rmp_serde::from_slice(&welcome)?;
        if welcome.kind != "welcome" {
            bail!("expected a welcome, got {}", welcome.kind);
        }
        Ok(Conn { session: welcome.session.unwrap_or(0), reader, writer, next_id: 1 })
    }

    /// Sends a request and waits for its response, skipping events.
    ///
    /// # Errors
    /// On an error response or a closed connection.
    pub async fn request(&mut self, request: Request) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&RequestFrame { id: Some(id), request }).await?;
        loop {
            let body = self.reader.next().await.context("connection closed")??;
            let incoming: Incoming = rmp_serde::from_slice(&body)?;
            match (incoming.kind, incoming.id) {
                ("response", Some(got)) if got == id => {
                    return Ok(match rmp_serde::from_slice::<ServerMessage>(&body)? {
                        ServerMessage::Response { result, .. } => result,
                        _ => Value::Null,
                    });
                }
                ("error", Some(got)) if got == id => {
                    bail!("server error: {}", incoming.message.unwrap_or(""))
                }
                _ => continue,
            }
        }
    }

    async fn send(&mut self, frame: &RequestFrame) -> anyhow::Result<()> {
        self.writer.write_all(&frame::encode(frame)?).await?;
        Ok(())
    }
}

/// Parameters of the chat fan-out scenario.
#[derive(Debug, Clone, Copy)]
pub struct ChatParams {
    /// Rooms.
    pub rooms: usize,
    /// Clients per room.
    pub clients: usize,
    /// Messages each client sends per second.
    pub rate: f64,
    /// Measured window.
    pub duration: Duration,
    /// Load before the window.
    pub warmup: Duration,
}

/// What a run measured; the same fields as the Colyseus load script.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChatResult {
    /// Messages sent per second in the window.
    pub sent_per_s: f64,
    /// Deliveries the sends call for (sent × clients per room) per second.
    pub offered_per_s: f64,
    /// Deliveries received per second (of messages sent in the window).
    pub delivered_per_s: f64,
    /// Latency percentiles, send to receipt, in nanoseconds.
    pub p50_ns: u64,
    /// See `p50_ns`.
    pub p99_ns: u64,
    /// See `p50_ns`.
    pub p999_ns: u64,
    /// Server CPU time (user + system) spent in the window.
    pub server_cpu_s: f64,
    /// Server peak resident memory.
    pub peak_rss_bytes: u64,
    /// Length of the window in seconds.
    pub window_s: f64,
}

impl ChatResult {
    /// Server CPU-seconds per million deliveries.
    pub fn cpu_per_million(&self) -> f64 {
        let delivered = self.delivered_per_s * self.window_s;
        if delivered == 0.0 { f64::NAN } else { self.server_cpu_s / delivered * 1e6 }
    }
}

/// Shared clock and counters of one chat run.
struct Window {
    base: Instant,
    /// Nanoseconds since `base`: the window is `[start, end)`.
    start: AtomicU64,
    end: AtomicU64,
    stop: AtomicBool,
    sent: AtomicU64,
}

impl Window {
    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn contains(&self, t: u64) -> bool {
        t >= self.start.load(Ordering::Relaxed) && t < self.end.load(Ordering::Relaxed)
    }
}

/// Runs the chat fan-out scenario: `rooms × clients` connections, each
/// sending `rate` 64-byte messages a second; every member receives each.
///
/// # Errors
/// When the clients cannot connect, create rooms or join.
pub async fn chat(
    addr: SocketAddr,
    params: ChatParams,
    server_pid: u32,
) -> anyhow::Result<ChatResult> {
    let mut conns = Vec::new();
    for _ in 0..params.rooms {
        let mut owner = Conn::open(addr).await?;
        let created = owner
            .request(Request::CreateRoom(CreateRoom {
                max_clients: Some(params.clients as u32),
                ..CreateRoom::default()
            }))
            .await?;
        let room = created["id"].as_str().context("create_room gave no id")?.to_owned();
        let mut members = vec![owner];
        for _ in 1..params.clients {
            members.push(Conn::open(addr).await?);
        }
        for member in &mut members {
            member.request(Request::Join { room: room.clone(), password: None }).await?;
        }
        conns.extend(members.into_iter().map(|conn| (conn, room.clone())));
    }

    let window = Arc::new(Window {
        base: Instant::now(),
        start: AtomicU64::new(u64::MAX),
        end: AtomicU64::new(u64::MAX),
        stop: AtomicBool::new(false),
        sent: AtomicU64::new(0),
    });
    let total = conns.len();
    let period = Duration::from_secs_f64(1.0 / params.rate);
    let mut receivers = Vec::new();
    let mut senders = Vec::new();
    for (index, (conn, room)) in conns.into_iter().enumerate() {
        let Conn { reader, writer, .. } = conn;
        receivers.push(tokio::spawn(receive(reader, window.clone())));
        // Spread the first sends over one period.
        let offset = period.mul_f64(index as f64 / total as f64);
        senders.push(tokio::spawn(send_loop(writer, room, period, offset, window.clone())));
    }

    tokio::time::sleep(params.warmup).await;
    let before = stats::process_usage(&server_pid.to_string())?;
    window.start.store(window.now(), Ordering::Relaxed);
    tokio::time::sleep(params.duration).await;
    window.end.store(window.now(), Ordering::Relaxed);
    let after = stats::process_usage(&server_pid.to_string())?;
    window.stop.store(true, Ordering::Relaxed);
    for sender in senders {
        let _ = sender.await;
    }
    // Each reader stops by itself a second after the senders, so the
    // window's last messages can arrive.
    let mut histogram = stats::latency_histogram();
    for receiver in receivers {
        histogram.add(receiver.await?)?;
    }
    Ok(summarise(&window, &histogram, before, after, params.clients))
}

fn summarise(
    window: &Window,
    histogram: &Histogram<u64>,
    before: ProcessUsage,
    after: ProcessUsage,
    clients: usize,
) -> ChatResult {
    let seconds =
        (window.end.load(Ordering::Relaxed) - window.start.load(Ordering::Relaxed)) as f64 / 1e9;
    let sent = window.sent.load(Ordering::Relaxed) as f64;
    ChatResult {
        sent_per_s: sent / seconds,
        offered_per_s: sent * clients as f64 / seconds,
        delivered_per_s: histogram.len() as f64 / seconds,
        p50_ns: histogram.value_at_quantile(0.5),
        p99_ns: histogram.value_at_quantile(0.99),
        p999_ns: histogram.value_at_quantile(0.999),
        server_cpu_s: (after.cpu.saturating_sub(before.cpu)).as_secs_f64(),
        peak_rss_bytes: after.peak_rss_bytes,
        window_s: seconds,
    }
}

async fn send_loop(
    mut writer: OwnedWriteHalf,
    room: String,
    period: Duration,
    offset: Duration,
    window: Arc<Window>,
) {
    tokio::time::sleep(offset).await;
    let mut ticks = tokio::time::interval(period);
    // Missed ticks are skipped, not bunched: the offered rate stays honest
    // and what a saturated client could not send shows as a lower rate.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let padding = "x".repeat(PADDING);
    while !window.stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let t = window.now();
        let data = serde_json::json!({ "t": t, "p": padding });
        let frame =
            RequestFrame { id: None, request: Request::SendMessage { room: room.clone(), data } };
        let Ok(bytes) = frame::encode(&frame) else {
            return;
        };
        if window.contains(t) {
            window.sent.fetch_add(1, Ordering::Relaxed);
        }
        if writer.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

/// Records the latency of every chat message of the window, until the
/// connection closes or a second after the senders stopped.
async fn receive(
    mut reader: FramedRead<OwnedReadHalf, LengthDelimitedCodec>,
    window: Arc<Window>,
) -> Histogram<u64> {
    let mut histogram = stats::latency_histogram();
    let grace_over = async {
        while !window.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(900)).await;
    };
    tokio::pin!(grace_over);
    loop {
        let body: Bytes = tokio::select! {
            next = reader.next() => match next {
                Some(Ok(body)) => body.freeze(),
                _ => break,
            },
            () = &mut grace_over => break,
        };
        let Ok(incoming) = rmp_serde::from_slice::<Incoming>(&body) else {
            continue;
        };
        if let Some(Stamp { t }) = incoming.data
            && window.contains(t)
        {
            let now = window.now();
            stats::record(&mut histogram, Duration::from_nanos(now.saturating_sub(t)));
        }
    }
    histogram
}

/// Result of the invoke scenario.
#[derive(Debug, Clone, Serialize)]
pub struct InvokeResult {
    /// Round trips completed per second, all clients together.
    pub calls_per_s: f64,
    /// Round-trip percentiles in nanoseconds.
    pub p50_ns: u64,
    /// See `p50_ns`.
    pub p99_ns: u64,
    /// See `p50_ns`.
    pub p999_ns: u64,
    /// Server CPU-seconds per million calls.
    pub server_cpu_s_per_million: f64,
}

/// Method-invoke round trips: `clients` connections in one `room_type`
/// room each call `method` with a small argument in a closed loop.
///
/// # Errors
/// When the room cannot be created or joined, or a call fails.
pub async fn invoke(
    addr: SocketAddr,
    room_type: &str,
    method: &str,
    clients: usize,
    duration: Duration,
    server_pid: u32,
) -> anyhow::Result<InvokeResult> {
    let mut owner = Conn::open(addr).await?;
    let created = owner
        .request(Request::CreateRoom(CreateRoom {
            room_type: Some(room_type.to_owned()),
            max_clients: Some(clients as u32),
            ..CreateRoom::default()
        }))
        .await?;
    let room = created["id"].as_str().context("create_room gave no id")?.to_owned();
    let mut conns = vec![owner];
    for _ in 1..clients {
        conns.push(Conn::open(addr).await?);
    }
    for conn in &mut conns {
        conn.request(Request::Join { room: room.clone(), password: None }).await?;
    }
    let before = stats::process_usage(&server_pid.to_string())?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (room, method) = (room.clone(), method.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut histogram = stats::latency_histogram();
            while Instant::now() < deadline {
                let call = Instant::now();
                let request = Request::Invoke {
                    room: room.clone(),
                    method: method.clone(),
                    args: serde_json::json!({"x": 1, "name": "abc"}),
                };
                conn.request(request).await?;
                stats::record(&mut histogram, call.elapsed());
            }
            anyhow::Ok(histogram)
        }));
    }
    let mut histogram = stats::latency_histogram();
    for task in tasks {
        histogram.add(task.await??)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = stats::process_usage(&server_pid.to_string())?;
    Ok(InvokeResult {
        calls_per_s: histogram.len() as f64 / elapsed,
        p50_ns: histogram.value_at_quantile(0.5),
        p99_ns: histogram.value_at_quantile(0.99),
        p999_ns: histogram.value_at_quantile(0.999),
        server_cpu_s_per_million: after.cpu.saturating_sub(before.cpu).as_secs_f64()
            / histogram.len() as f64
            * 1e6,
    })
}

/// Idle capacity: opens `clients` connections that do nothing, and returns
/// the server's resident memory per connection (bytes).
///
/// # Errors
/// When connections fail.
pub async fn idle(addr: SocketAddr, clients: usize, server_pid: u32) -> anyhow::Result<f64> {
    let before = stats::process_usage(&server_pid.to_string())?.rss_bytes;
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::open(addr).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = stats::process_usage(&server_pid.to_string())?.rss_bytes;
    drop(conns);
    Ok(after.saturating_sub(before) as f64 / clients as f64)
}

/// Room creation over TCP: creates `rooms` rooms of `room_type` and
/// returns (rooms per second, server resident memory per room in bytes).
///
/// # Errors
/// When a creation fails.
pub async fn rooms(
    addr: SocketAddr,
    room_type: &str,
    rooms: usize,
    server_pid: u32,
) -> anyhow::Result<(f64, f64)> {
    let mut conn = Conn::open(addr).await?;
    let before = stats::process_usage(&server_pid.to_string())?.rss_bytes;
    let started = Instant::now();
    for _ in 0..rooms {
        conn.request(Request::CreateRoom(CreateRoom {
            room_type: Some(room_type.to_owned()),
            auto_dispose: Some(false),
            ..CreateRoom::default()
        }))
        .await?;
    }
    let rate = rooms as f64 / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = stats::process_usage(&server_pid.to_string())?.rss_bytes;
    Ok((rate, after.saturating_sub(before) as f64 / rooms as f64))
}
