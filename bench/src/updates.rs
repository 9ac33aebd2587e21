//! The frequent-updates scenario: rooms of clients that each send a small
//! update many times a second (positions, inputs), relayed by a generic
//! room to every member; once over the UDP channel, once over TCP, so the
//! two can be compared under the same traffic.
//!
//! Every update carries its sender, a sequence number and its send time;
//! receivers count what arrived of what was sent during the measured
//! window, so the loss is exact and the latency is per delivery.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use vampire_client::{Client, Event, Incoming, Payload, Value};

use crate::load::kept_room;
use crate::stats;

/// How the updates travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `send_unreliable` over each client's bound UDP channel.
    Udp,
    /// `send_message` notifications over TCP.
    Tcp,
}

impl Transport {
    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// What the scenario does.
#[derive(Debug, Clone, Copy)]
pub struct UpdateParams {
    /// Rooms.
    pub rooms: usize,
    /// Clients per room.
    pub clients_per_room: usize,
    /// Updates each client sends per second.
    pub rate: f64,
    /// Seconds of load before measuring.
    pub warmup: Duration,
    /// Measured window.
    pub window: Duration,
    /// How the updates travel.
    pub transport: Transport,
}

/// What the scenario measured.
#[derive(Debug)]
pub struct UpdateResult {
    /// Updates sent during the window.
    pub sent: u64,
    /// Deliveries owed for them (each goes to every member, the sender
    /// included).
    pub expected: u64,
    /// Deliveries that arrived.
    pub delivered: u64,
    /// Send to receipt, per delivery.
    pub latency: Histogram<u64>,
    /// The server's CPU time (user + system) during the window.
    pub server_cpu: Duration,
    /// Length of the window.
    pub window: Duration,
}

impl UpdateResult {
    /// Deliveries per second.
    pub fn delivered_per_second(&self) -> f64 {
        self.delivered as f64 / self.window.as_secs_f64()
    }

    /// Share of the owed deliveries that never arrived, in percent.
    pub fn loss_percent(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        100.0 * self.expected.saturating_sub(self.delivered) as f64 / self.expected as f64
    }

    /// Server CPU-seconds per million deliveries.
    pub fn cpu_per_million(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.delivered.max(1) as f64
    }
}

/// The window, in nanoseconds since the run's base instant: updates sent
/// inside it are the ones counted.
#[derive(Clone, Copy)]
struct Window {
    start: u64,
    end: u64,
}

/// What every member task of a run shares.
struct Run {
    params: UpdateParams,
    /// The clock every send time is read from.
    base: Instant,
    window: Window,
    stop: AtomicBool,
    sent_in_window: AtomicU64,
}

/// An update: `{"s": sender, "n": sequence, "t": send time in ns}`.
fn update(sender: u64, seq: u64, t: u64) -> Payload {
    Payload::from(Value::Map(vec![
        (Value::from("s"), Value::from(sender)),
        (Value::from("n"), Value::from(seq)),
        (Value::from("t"), Value::from(t)),
    ]))
}

fn field(value: &Value, key: &str) -> Option<u64> {
    value.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key))?.1.as_u64()
}

/// Runs the scenario against the server at `addr` (process `pid`).
///
/// # Errors
/// When a client cannot connect, bind UDP or join.
pub async fn run(addr: SocketAddr, pid: u32, params: UpdateParams) -> anyhow::Result<UpdateResult> {
    let base = Instant::now();
    let window = {
        let start = base.elapsed() + Duration::from_secs(3) + params.warmup;
        Window { start: start.as_nanos() as u64, end: (start + params.window).as_nanos() as u64 }
    };
    let run = Arc::new(Run {
        params,
        base,
        window,
        stop: AtomicBool::new(false),
        sent_in_window: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    let mut sender = 0u64;
    for _ in 0..params.rooms {
        let mut members = Vec::new();
        for _ in 0..params.clients_per_room {
            let mut client = Client::connect(addr).await?;
            if params.transport == Transport::Udp {
                client.bind_udp().await?;
            }
            members.push(client);
        }
        let room = members[0].create_room(kept_room("generic")).await?.id;
        for member in &members {
            member.join(&room, None).await?;
        }
        for member in members {
            tasks.push(tokio::spawn(member_loop(member, room.clone(), sender, run.clone())));
            sender += 1;
        }
    }
    let until_start = Duration::from_nanos(window.start).saturating_sub(base.elapsed());
    tokio::time::sleep(until_start).await;
    let cpu_before = stats::process_usage(&pid.to_string())?.cpu;
    tokio::time::sleep(params.window).await;
    let cpu_after = stats::process_usage(&pid.to_string())?.cpu;
    // What was sent at the end of the window may still be on its way.
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.stop.store(true, Ordering::Relaxed);
    let mut delivered = 0;
    let mut latency = stats::latency_histogram();
    for task in tasks {
        let (got, seen) = task.await?;
        delivered += got;
        latency.add(&seen)?;
    }
    let sent = run.sent_in_window.load(Ordering::Relaxed);
    Ok(UpdateResult {
        sent,
        expected: sent * params.clients_per_room as u64,
        delivered,
        latency,
        server_cpu: cpu_after.saturating_sub(cpu_before),
        window: params.window,
    })
}

/// One client: sends its updates at the rate and counts the updates sent
/// in the window that reach it. Returns (deliveries counted, latencies).
async fn member_loop(
    mut client: Client,
    room: String,
    sender: u64,
    run: Arc<Run>,
) -> (u64, Histogram<u64>) {
    let Run { params, base, window, .. } = *run;
    let mut latency = stats::latency_histogram();
    let mut delivered = 0;
    let mut seq = 0;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / params.rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Clients start their ticks at different moments, as real ones do.
    tokio::time::sleep(Duration::from_secs_f64(rand_fraction(sender) / params.rate)).await;
    while !run.stop.load(Ordering::Relaxed) {
        tokio::select! {
            _ = ticks.tick() => {
                let t = base.elapsed().as_nanos() as u64;
                let data = update(sender, seq, t);
                seq += 1;
                let sent = match params.transport {
                    Transport::Udp => client.send_unreliable(&room, data).await,
                    Transport::Tcp => client
                        .notify(vampire_client::Request::room(room.clone(), vampire_client::RoomOp::SendMessage { data }))
                        .await,
                };
                if sent.is_err() {
                    break;
                }
                if (window.start..window.end).contains(&t) {
                    run.sent_in_window.fetch_add(1, Ordering::Relaxed);
                }
            }
            incoming = client.next_event() => match incoming {
                Some(Incoming::Event(Event::RoomMessage { from: Some(_), data, .. })) => {
                    let value = data.to_value();
                    let Some(t) = field(&value, "t") else { continue };
                    if (window.start..window.end).contains(&t) {
                        delivered += 1;
                        let now = base.elapsed().as_nanos() as u64;
                        stats::record(&mut latency, Duration::from_nanos(now.saturating_sub(t)));
                    }
                }
                None => break,
                Some(_) => {}
            },
        }
    }
    (delivered, latency)
}

/// A fraction in [0, 1) that spreads the clients' first ticks.
fn rand_fraction(sender: u64) -> f64 {
    (sender.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64
}
