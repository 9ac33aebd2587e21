//! The load generator's scenarios, run against any server that speaks the
//! protocol (VampireTCP, or the baseline relay for the chat scenario).
//!
//! The generator shares the machine with the server, so it must not be
//! the ceiling it measures. Clients are lean raw connections rather than
//! [`vampire_client::Client`]: each connection is one task that sends on a
//! timer and reads in large batches; a sent message is a pre-encoded frame
//! whose timestamp is patched in place; a received message is not decoded
//! at all beyond its timestamp, which sits at a fixed distance from the
//! end of the frame (the payload is the event's last field). Nothing is
//! allocated per message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vampire_protocol::msgpack::Writer;
use vampire_protocol::{CreateRoom, Payload, Request, RoomOp, ServerMessage, ServerOp, frame};

use crate::chat::{self, Outgoing, STAMP_FROM_END, Window};
pub use crate::chat::{PADDING, chat_payload};
use crate::stats::{self, ProcessUsage};

/// The settings of a room of `room_type` that stays when it empties: a
/// benchmark's rooms live until the server stops.
pub fn kept_room(room_type: &str) -> CreateRoom {
    CreateRoom {
        room_type: Some(room_type.to_owned()),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    }
}

/// One raw connection.
pub struct Conn {
    /// Session id from the welcome.
    pub session: u64,
    /// The welcome gave a resume token: the server keeps what it sends
    /// for a resume, and the chat client acknowledges what it handled.
    pub resumes: bool,
    socket: TcpStream,
    buf: BytesMut,
    next_id: u32,
}

impl Conn {
    /// Connects and reads the welcome.
    ///
    /// # Errors
    /// When the connection fails or the first frame is not a welcome.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        Conn::welcomed(TcpStream::connect(addr).await?).await
    }

    /// Connects to `addr` from `source` (another loopback address, say,
    /// so that more connections than one address has ports can reach one
    /// server) and reads the welcome.
    ///
    /// # Errors
    /// As for [`Conn::open`], or when `source` cannot be bound.
    pub async fn open_from(addr: SocketAddr, source: std::net::IpAddr) -> anyhow::Result<Conn> {
        let socket = match source {
            std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.bind(SocketAddr::new(source, 0))?;
        Conn::welcomed(socket.connect(addr).await?).await
    }

    async fn welcomed(socket: TcpStream) -> anyhow::Result<Conn> {
        socket.set_nodelay(true)?;
        let buf = BytesMut::with_capacity(64 * 1024);
        let mut conn = Conn { session: 0, resumes: false, socket, buf, next_id: 1 };
        let welcome = conn.next_frame().await?;
        match ServerMessage::decode(&welcome)? {
            ServerMessage::Welcome(welcome) => {
                conn.session = welcome.session;
                conn.resumes = welcome.resume_token.is_some();
            }
            other => bail!("expected a welcome, got {other:?}"),
        }
        Ok(conn)
    }

    async fn next_frame(&mut self) -> anyhow::Result<Bytes> {
        loop {
            if let Some(body) = frame::split(&mut self.buf, 16 << 20)
                .map_err(|_| anyhow::anyhow!("frame too large"))?
            {
                return Ok(body);
            }
            if self.socket.read_buf(&mut self.buf).await? == 0 {
                bail!("connection closed");
            }
        }
    }

    /// Sends a request and waits for its response, skipping events.
    ///
    /// # Errors
    /// On an error response or a closed connection.
    pub async fn request(&mut self, request: Request) -> anyhow::Result<Payload> {
        let id = self.next_id;
        self.next_id += 1;
        self.socket.write_all(&request.encode(Some(id))).await?;
        loop {
            let body = self.next_frame().await?;
            match ServerMessage::decode(&body)? {
                ServerMessage::Response { id: got, result } if got == id => return Ok(result),
                ServerMessage::Error { id: Some(got), message, .. } if got == id => {
                    bail!("server error: {message}")
                }
                _ => continue,
            }
        }
    }

    /// Creates a room and returns its id.
    ///
    /// # Errors
    /// As for [`Conn::request`].
    pub async fn create_room(&mut self, settings: CreateRoom) -> anyhow::Result<String> {
        let created = self.request(ServerOp::CreateRoom { settings }.into()).await?;
        room_id(&created)
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

/// How the chat clients reach the server.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    /// Length-prefixed frames over TCP at this address.
    Tcp(SocketAddr),
    /// One frame per binary message, on the WebSocket port at this
    /// address.
    WebSocket(SocketAddr),
}

/// One chat client's connection, on either transport.
enum Member {
    Tcp(Conn),
    WebSocket(Box<crate::websocket::WsConn>),
}

impl Member {
    async fn open(transport: Transport) -> anyhow::Result<Member> {
        Ok(match transport {
            Transport::Tcp(addr) => Member::Tcp(Conn::open(addr).await?),
            Transport::WebSocket(addr) => {
                Member::WebSocket(Box::new(crate::websocket::WsConn::open(addr).await?))
            }
        })
    }

    async fn request(&mut self, request: Request) -> anyhow::Result<Payload> {
        match self {
            Member::Tcp(conn) => conn.request(request).await,
            Member::WebSocket(conn) => conn.request(request).await,
        }
    }

    async fn create_room(&mut self, settings: CreateRoom) -> anyhow::Result<String> {
        let created = self.request(ServerOp::CreateRoom { settings }.into()).await?;
        room_id(&created)
    }
}

/// The id in a `create_room` result.
fn room_id(created: &Payload) -> anyhow::Result<String> {
    vampire_protocol::RoomInfo::from_payload(created).map(|info| info.id).or_else(|_| {
        // The baseline relay answers with `{"id": ...}` only.
        vampire_protocol::room::field_of(created, "id")
            .and_then(|id| id.to_value().as_str().map(str::to_owned))
            .context("create_room gave no id")
    })
}

/// Runs the chat fan-out scenario over TCP (see [`chat_over`]).
///
/// # Errors
/// As for [`chat_over`].
pub async fn chat(
    addr: SocketAddr,
    params: ChatParams,
    server_pid: u32,
) -> anyhow::Result<ChatResult> {
    chat_over(Transport::Tcp(addr), params, server_pid).await
}

/// Runs the chat fan-out scenario: `rooms × clients` connections, each
/// sending `rate` 64-byte messages a second as notifications; every
/// member, the sender included, receives each.
///
/// # Errors
/// When the clients cannot connect, create rooms or join.
pub async fn chat_over(
    transport: Transport,
    params: ChatParams,
    server_pid: u32,
) -> anyhow::Result<ChatResult> {
    let mut conns = Vec::new();
    for _ in 0..params.rooms {
        let mut owner = Member::open(transport).await?;
        let room = owner
            .create_room(CreateRoom {
                max_clients: Some(params.clients as u32),
                ..CreateRoom::default()
            })
            .await?;
        let mut members = vec![owner];
        for _ in 1..params.clients {
            members.push(Member::open(transport).await?);
        }
        for member in &mut members {
            member.request(Request::join(room.clone())).await?;
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
    let mut clients = Vec::new();
    for (index, (conn, room)) in conns.into_iter().enumerate() {
        // Spread the first sends over one period.
        let offset = period.mul_f64(index as f64 / total as f64);
        let window = window.clone();
        clients.push(match conn {
            Member::Tcp(conn) => tokio::spawn(chat_client(conn, room, period, offset, window)),
            Member::WebSocket(conn) => {
                tokio::spawn(crate::websocket::chat_client(*conn, room, period, offset, window))
            }
        });
    }

    tokio::time::sleep(params.warmup).await;
    let before = stats::process_usage(&server_pid.to_string())?;
    window.start.store(window.now(), Ordering::Relaxed);
    tokio::time::sleep(params.duration).await;
    window.end.store(window.now(), Ordering::Relaxed);
    let after = stats::process_usage(&server_pid.to_string())?;
    window.stop.store(true, Ordering::Relaxed);
    let mut histogram = stats::latency_histogram();
    for client in clients {
        histogram.add(client.await?)?;
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

/// One chat client over TCP (see [`crate::chat::client`]).
async fn chat_client(
    conn: Conn,
    room: String,
    period: Duration,
    offset: Duration,
    window: Arc<Window>,
) -> Histogram<u64> {
    let Conn { socket, buf, resumes, .. } = conn;
    // The request frame, encoded once; its timestamp is patched per send.
    let request = Request::room(
        room,
        RoomOp::SendMessage { data: Payload::from_bytes(chat_payload(0).into()).unwrap() },
    );
    let message = request.encode(None).to_vec();
    let stamp_at = message.len() - STAMP_FROM_END;
    let ack = |seq| Request::from(ServerOp::Ack { seq }).encode(None).to_vec();
    let ack = resumes.then_some(ack as fn(u64) -> Vec<u8>);
    let outgoing = Outgoing { message, stamp_at, mask: [0; 4], mask_at: 0, ack };
    let split = |buf: &mut BytesMut| frame::split(buf, 16 << 20).ok().flatten();
    chat::client(socket, buf, outgoing, split, period, offset, window).await
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

/// The argument every benchmark invoke sends: `{"x": 1, "name": "abc"}`.
pub fn invoke_argument() -> Payload {
    let mut bytes = Vec::new();
    Writer::new(&mut bytes).map(2).str("x").uint(1).str("name").str("abc");
    Payload::from_bytes(bytes.into()).expect("a valid value")
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
    let room = owner
        .create_room(CreateRoom {
            room_type: Some(room_type.to_owned()),
            max_clients: Some(clients as u32),
            ..CreateRoom::default()
        })
        .await?;
    let mut conns = vec![owner];
    for _ in 1..clients {
        conns.push(Conn::open(addr).await?);
    }
    for conn in &mut conns {
        conn.request(Request::join(room.clone())).await?;
    }
    let before = stats::process_usage(&server_pid.to_string())?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for mut conn in conns {
        let request = Request::room(
            room.clone(),
            RoomOp::Invoke { method: method.to_owned(), args: invoke_argument() },
        );
        tasks.push(tokio::spawn(async move {
            let mut histogram = stats::latency_histogram();
            while Instant::now() < deadline {
                let call = Instant::now();
                conn.request(request.clone()).await?;
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

/// Room creation over TCP: creates `rooms` rooms of `room_type` (over
/// several connections, within each one's room quota) and returns (rooms
/// per second, server resident memory per room in bytes).
///
/// # Errors
/// When a creation fails.
pub async fn rooms(
    addr: SocketAddr,
    room_type: &str,
    rooms: usize,
    per_connection: usize,
    server_pid: u32,
) -> anyhow::Result<(f64, f64)> {
    let mut conns = Vec::new();
    for _ in 0..rooms.div_ceil(per_connection) {
        conns.push(Conn::open(addr).await?);
    }
    let before = stats::process_usage(&server_pid.to_string())?.rss_bytes;
    let started = Instant::now();
    for i in 0..rooms {
        conns[i / per_connection].create_room(kept_room(room_type)).await?;
    }
    let rate = rooms as f64 / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = stats::process_usage(&server_pid.to_string())?.rss_bytes;
    Ok((rate, after.saturating_sub(before) as f64 / rooms as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::stamp_of;

    #[test]
    fn the_stamp_is_found_at_its_fixed_place_in_a_relayed_message() {
        let mut frame = BytesMut::new();
        vampire_protocol::server::write_room_message(
            &mut frame,
            "r12",
            Some(7),
            &chat_payload(123_456),
            vampire_protocol::event::Lane::Reliable,
        );
        let body = &frame[frame::LENGTH_PREFIX..];
        assert_eq!(stamp_of(body), Some(123_456));
        let mut joined = BytesMut::new();
        vampire_protocol::server::write_member_joined(&mut joined, "r12", 7, None, None);
        assert_eq!(stamp_of(&joined[frame::LENGTH_PREFIX..]), None);
    }
}
