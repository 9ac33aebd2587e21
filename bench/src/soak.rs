//! The soak scenario: healthy clients in generic and plugin rooms beside a
//! hostile plugin room (loops, memory bombs, broadcast floods, panics,
//! variable and log floods) and clients that never read, for as long as
//! asked.
//!
//! Every healthy message carries its sender's index and a sequence number,
//! so each receiver counts what it missed or saw twice; the server's
//! resident memory is sampled throughout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use vampire_client::{Client, ErrorCode, Event, Incoming, Payload, Request, RoomOp, Value};

use crate::load::kept_room;
use crate::stats;

/// What the soak run does.
#[derive(Debug, Clone, Copy)]
pub struct SoakParams {
    /// How long.
    pub duration: Duration,
    /// Generic rooms of healthy clients.
    pub generic_rooms: usize,
    /// `chat` plugin rooms of healthy clients.
    pub chat_rooms: usize,
    /// Healthy clients per room.
    pub clients_per_room: usize,
    /// Messages each healthy client sends per second.
    pub rate: f64,
    /// Hostile rooms, each with its own hostile client.
    pub hostile_rooms: usize,
}

/// What the soak run measured.
#[derive(Debug, Default)]
pub struct SoakReport {
    /// Healthy messages sent.
    pub sent: u64,
    /// Healthy deliveries received.
    pub delivered: u64,
    /// Deliveries a healthy client should have had and did not.
    pub lost: u64,
    /// Deliveries a healthy client had twice or out of order.
    pub duplicated: u64,
    /// Healthy latency, send to receipt, in generic rooms.
    pub generic_latency: Option<Histogram<u64>>,
    /// Healthy latency, send to receipt, in plugin (`chat`) rooms, which
    /// share the plugin threads with the hostile rooms.
    pub plugin_latency: Option<Histogram<u64>>,
    /// (seconds since the start, resident bytes) samples of the server.
    pub rss: Vec<(u64, u64)>,
    /// Calls the hostile clients made.
    pub hostile_calls: u64,
    /// Hostile rooms the server closed (their plugin kept failing).
    pub rooms_closed: u64,
    /// Healthy clients the server disconnected (there should be none).
    pub healthy_dropped: u64,
}

/// Counters shared by every task of a run.
#[derive(Default)]
struct Shared {
    stop: Arc<AtomicBool>,
    hostile_calls: AtomicU64,
    rooms_closed: AtomicU64,
}

/// Runs the soak scenario against the server at `addr` (process `pid`),
/// printing a progress line every 30 s.
///
/// # Errors
/// When the healthy clients cannot connect or join.
pub async fn run(addr: SocketAddr, pid: u32, params: SoakParams) -> anyhow::Result<SoakReport> {
    let shared = Arc::new(Shared::default());
    let base = Instant::now();
    let mut healthy = Vec::new();
    // Whether each healthy client is in a plugin room.
    let mut kinds = Vec::new();
    let rooms = std::iter::repeat_n("generic", params.generic_rooms)
        .chain(std::iter::repeat_n("chat", params.chat_rooms));
    let mut silent = Vec::new();
    for (room_index, room_type) in rooms.enumerate() {
        let owner = Client::connect(addr).await?;
        let room = owner.create_room(kept_room(room_type)).await?.id;
        let mut clients = vec![owner];
        for _ in 1..params.clients_per_room {
            clients.push(Client::connect(addr).await?);
        }
        for client in &clients {
            client.join(&room, None).await?;
        }
        if room_index == 0 {
            // A member that never reads, beside the healthy ones.
            silent.push(never_reading_member(addr, &room).await?);
        }
        let sent: Arc<Vec<AtomicU64>> =
            Arc::new((0..params.clients_per_room).map(|_| AtomicU64::new(0)).collect());
        for (index, client) in clients.into_iter().enumerate() {
            let is_plugin = room_type != "generic";
            healthy.push(tokio::spawn(healthy_client(
                client,
                room.clone(),
                index,
                sent.clone(),
                params.rate,
                base,
                shared.stop.clone(),
            )));
            kinds.push(is_plugin);
        }
    }
    let mut hostile = Vec::new();
    for _ in 0..params.hostile_rooms {
        hostile.push(tokio::spawn(hostile_client(addr, shared.clone())));
    }

    let mut report = SoakReport::default();
    let started = Instant::now();
    while started.elapsed() < params.duration {
        tokio::time::sleep(Duration::from_secs(30).min(params.duration)).await;
        let rss = stats::process_usage(&pid.to_string())?.rss_bytes;
        report.rss.push((started.elapsed().as_secs(), rss));
        eprintln!(
            "  {:>4} s: server RSS {:.1} MiB; hostile calls {}, hostile rooms closed {}",
            started.elapsed().as_secs(),
            rss as f64 / 1048576.0,
            shared.hostile_calls.load(Ordering::Relaxed),
            shared.rooms_closed.load(Ordering::Relaxed)
        );
    }
    shared.stop.store(true, Ordering::Relaxed);
    for task in hostile {
        task.abort();
    }
    let mut generic_latency = stats::latency_histogram();
    let mut plugin_latency = stats::latency_histogram();
    for (task, is_plugin) in healthy.into_iter().zip(kinds) {
        let outcome = task.await?;
        report.sent += outcome.sent;
        report.delivered += outcome.delivered;
        report.lost += outcome.lost;
        report.duplicated += outcome.duplicated;
        report.healthy_dropped += u64::from(outcome.dropped);
        if is_plugin {
            plugin_latency.add(&outcome.latency)?;
        } else {
            generic_latency.add(&outcome.latency)?;
        }
    }
    drop(silent);
    report.generic_latency = Some(generic_latency);
    report.plugin_latency = Some(plugin_latency);
    report.hostile_calls = shared.hostile_calls.load(Ordering::Relaxed);
    report.rooms_closed = shared.rooms_closed.load(Ordering::Relaxed);
    Ok(report)
}

/// A raw connection that joins `room` and never reads again.
async fn never_reading_member(addr: SocketAddr, room: &str) -> anyhow::Result<TcpStream> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.write_all(&Request::join(room.to_owned()).encode(Some(1))).await?;
    Ok(socket)
}

/// What one healthy client saw.
pub struct HealthyOutcome {
    /// Messages it sent.
    pub sent: u64,
    /// Messages of the room's members it received.
    pub delivered: u64,
    /// Messages of the room's members it should have had and did not.
    pub lost: u64,
    /// Messages it had twice or out of order.
    pub duplicated: u64,
    /// Whether the server disconnected it.
    pub dropped: bool,
    /// `room_reloaded` events it received.
    pub reloads: u64,
    /// Send to receipt, of every message received.
    pub latency: Histogram<u64>,
}

/// A message of the soak: `{"s": sender index, "n": sequence, "t": ns}`.
fn message(sender: usize, seq: u64, t: u64) -> Payload {
    Payload::from(Value::Map(vec![
        (Value::from("s"), Value::from(sender as u64)),
        (Value::from("n"), Value::from(seq)),
        (Value::from("t"), Value::from(t)),
    ]))
}

fn field(value: &Value, key: &str) -> Option<u64> {
    value.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key))?.1.as_u64()
}

/// Sends `rate` messages a second into `room` and checks every message of
/// the room's members arrives once, in order, until `stop` is set (and a
/// few seconds more, for what is in flight).
///
/// `index` is the client's place among the room's senders; `sent[i]`
/// counts what sender `i` sent, so that what never arrived is counted too.
/// Every sender's clock is `base`.
pub async fn healthy_client(
    mut client: Client,
    room: String,
    index: usize,
    sent: Arc<Vec<AtomicU64>>,
    rate: f64,
    base: Instant,
    stop: Arc<AtomicBool>,
) -> HealthyOutcome {
    let mut outcome = HealthyOutcome {
        sent: 0,
        delivered: 0,
        lost: 0,
        duplicated: 0,
        dropped: false,
        reloads: 0,
        latency: stats::latency_histogram(),
    };
    let mut next = vec![0u64; sent.len()];
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut grace: Option<tokio::time::Instant> = None;
    loop {
        if grace.is_none() && stop.load(Ordering::Relaxed) {
            grace = Some(tokio::time::Instant::now() + Duration::from_secs(3));
        }
        let until_grace = async {
            match grace {
                Some(end) => tokio::time::sleep_until(end).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ticks.tick(), if grace.is_none() => {
                let seq = sent[index].load(Ordering::Relaxed);
                let t = base.elapsed().as_nanos() as u64;
                let data = message(index, seq, t);
                if client.notify(Request::room(room.clone(), RoomOp::SendMessage { data })).await.is_err() {
                    outcome.dropped = true;
                    break;
                }
                sent[index].fetch_add(1, Ordering::Relaxed);
                outcome.sent += 1;
            }
            incoming = client.next_event() => match incoming {
                Some(Incoming::Event(Event::RoomMessage { from: Some(_), data, .. })) => {
                    let value = data.to_value();
                    let (Some(sender), Some(seq), Some(t)) =
                        (field(&value, "s"), field(&value, "n"), field(&value, "t"))
                    else {
                        continue;
                    };
                    let expected = &mut next[sender as usize];
                    if seq == *expected {
                        *expected += 1;
                    } else if seq > *expected {
                        outcome.lost += seq - *expected;
                        *expected = seq + 1;
                    } else {
                        outcome.duplicated += 1;
                    }
                    outcome.delivered += 1;
                    let now = base.elapsed().as_nanos() as u64;
                    stats::record(&mut outcome.latency, Duration::from_nanos(now.saturating_sub(t)));
                }
                Some(Incoming::Event(Event::RoomReloaded { .. })) => outcome.reloads += 1,
                Some(Incoming::Error { .. }) | None => {
                    outcome.dropped = true;
                    break;
                }
                Some(_) => {}
            },
            () = until_grace => break,
        }
    }
    // What was sent but never arrived, counted at the end.
    for (sender, expected) in next.iter().enumerate() {
        outcome.lost += sent[sender].load(Ordering::Relaxed).saturating_sub(*expected);
    }
    outcome
}

/// Abuses a `faulty` plugin room in rotation (a loop to the time budget, a
/// memory bomb, 1 MiB broadcasts, a panic, variables and logs without
/// end), with a member that never reads; when the server closes the room,
/// starts another.
async fn hostile_client(addr: SocketAddr, shared: Arc<Shared>) -> anyhow::Result<()> {
    let attacks: [(&str, Value); 6] = [
        ("spin", Value::Nil),
        ("hog", Value::Nil),
        ("flood", repeat(2, 1 << 20)),
        ("panic", Value::Nil),
        ("fill", repeat(20_000, 100)),
        ("log_flood", repeat(2_000, 4096)),
    ];
    let mut client = Client::connect(addr).await?;
    // The floods come back as events: read and drop them.
    let mut events = client.take_event_stream();
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    'rooms: while !shared.stop.load(Ordering::Relaxed) {
        let room = client.create_room(kept_room("faulty")).await?.id;
        client.join(&room, None).await?;
        let _silent = never_reading_member(addr, &room).await?;
        for (method, args) in attacks.iter().cycle() {
            if shared.stop.load(Ordering::Relaxed) {
                break 'rooms;
            }
            shared.hostile_calls.fetch_add(1, Ordering::Relaxed);
            match client.invoke(&room, method, args.clone()).await {
                Err(err) if err.code() == Some(ErrorCode::RoomNotFound) => {
                    shared.rooms_closed.fetch_add(1, Ordering::Relaxed);
                    // The owner may delete what is left; it is gone anyway.
                    let _ = client.delete_room(&room).await;
                    continue 'rooms;
                }
                _ => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

fn repeat(count: u64, bytes: u64) -> Value {
    Value::Map(vec![
        (Value::from("count"), Value::from(count)),
        (Value::from("bytes"), Value::from(bytes)),
    ])
}
