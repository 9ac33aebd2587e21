//! The hot-reload scenarios: how long a replaced plugin file takes to
//! reach a live room's clients, and whether messages survive swaps under
//! load.
//!
//! A "new version" of a plugin is its own module with one more custom
//! section (a counter): different bytes, so the server's content check
//! sees a change, and the same behaviour, so the clients notice nothing
//! but the `room_reloaded` event.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vampire_client::{Client, Event, Incoming, Value};

use crate::load::kept_room;
use crate::soak::healthy_client;

/// How often the member asks the room something while a swap is due.
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// How long one swap may take before the scenario gives up on it.
const PATIENCE: Duration = Duration::from_secs(10);

/// `module` with a custom section `vampire-bench-variant` holding `n`
/// appended: a distinct, equally valid module.
pub fn variant(module: &[u8], n: u64) -> Vec<u8> {
    const NAME: &[u8] = b"vampire-bench-variant";
    let mut section = Vec::new();
    section.push(NAME.len() as u8);
    section.extend_from_slice(NAME);
    section.extend_from_slice(&n.to_le_bytes());
    let mut out = module.to_vec();
    out.push(0); // custom section id
    let mut size = section.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&section);
    out
}

/// Puts `bytes` at `path` the way the README tells operators to: a
/// temporary dotfile in the same folder, renamed over it. Returns the
/// moment the rename completed (the file "landed").
///
/// # Errors
/// When the file cannot be written or renamed.
pub fn land(path: &Path, bytes: &[u8]) -> std::io::Result<Instant> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.landing"));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)?;
    Ok(Instant::now())
}

/// Swaps the plugin `room_type` (module file `path`, original bytes
/// `module`) `swaps` times under a live room with one member, and returns
/// for each swap the time from the file landing to the first answer the
/// member got from the new version.
///
/// The member sends a request every 5 ms (an `invoke` of a method no room
/// has: the room's own code answers it), a client busy enough to see the
/// swap at once without taking the cores the compiler needs. The room queues
/// `room_reloaded` before anything its new version answers, so the first
/// answer after that event is the new version's.
///
/// # Errors
/// When the room cannot be created or joined, or a swap does not reach the
/// member within 10 s.
pub async fn swap_latency(
    addr: std::net::SocketAddr,
    room_type: &str,
    path: &Path,
    module: &[u8],
    swaps: u64,
) -> anyhow::Result<Vec<Duration>> {
    let mut client = Client::connect(addr).await?;
    let room = client.create_room(kept_room(room_type)).await?.id;
    client.join(&room, None).await?;
    let mut latencies = Vec::new();
    for n in 1..=swaps {
        // Let the previous swap's file events settle before the next one.
        tokio::time::sleep(Duration::from_millis(300)).await;
        while client.try_next_event().is_some() {}
        let landed = land(path, &variant(module, n))?;
        loop {
            anyhow::ensure!(
                landed.elapsed() < PATIENCE,
                "{room_type}: swap {n} did not reach the room within {PATIENCE:?}"
            );
            // The answer is an error (no such method); any answer will do.
            let _ = client.invoke(&room, "vampire_bench_probe", Value::Nil).await;
            let answered = landed.elapsed();
            let mut reloaded = false;
            while let Some(incoming) = client.try_next_event() {
                reloaded |= matches!(incoming, Incoming::Event(Event::RoomReloaded { .. }));
            }
            if reloaded {
                latencies.push(answered);
                break;
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }
    let _ = client.delete_room(&room).await;
    Ok(latencies)
}

/// What [`swaps_under_load`] saw.
#[derive(Debug, Default)]
pub struct LoadedSwaps {
    /// Files landed.
    pub swaps: u64,
    /// Messages sent.
    pub sent: u64,
    /// Messages received (each message goes to every member).
    pub delivered: u64,
    /// Messages a member should have had and did not.
    pub lost: u64,
    /// Messages a member had twice or out of order.
    pub duplicated: u64,
    /// Fewest `room_reloaded` events any member saw (swaps that landed
    /// while an earlier one was still settling are taken together).
    pub reloads_seen: u64,
    /// Members the server disconnected (there should be none).
    pub dropped: u64,
}

/// The load of [`swaps_under_load`].
#[derive(Debug, Clone, Copy)]
pub struct SwapLoad {
    /// Members of the room, each sending and checking.
    pub clients: usize,
    /// Messages each member sends per second.
    pub rate: f64,
    /// Files landed.
    pub swaps: u64,
    /// Time between two landings.
    pub interval: Duration,
}

/// The members of one `room_type` room send messages, sequence-checked by
/// every member, while the plugin file `path` (original bytes `module`) is
/// replaced again and again, as `load` says.
///
/// # Errors
/// When the room cannot be created or joined, or a file cannot be written.
pub async fn swaps_under_load(
    addr: std::net::SocketAddr,
    room_type: &str,
    path: &Path,
    module: &[u8],
    load: SwapLoad,
) -> anyhow::Result<LoadedSwaps> {
    let SwapLoad { clients, rate, swaps, interval } = load;
    let owner = Client::connect(addr).await?;
    let room = owner.create_room(kept_room(room_type)).await?.id;
    let mut members = vec![owner];
    for _ in 1..clients {
        members.push(Client::connect(addr).await?);
    }
    for member in &members {
        member.join(&room, None).await?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..clients).map(|_| AtomicU64::new(0)).collect());
    let base = Instant::now();
    let tasks: Vec<_> = members
        .into_iter()
        .enumerate()
        .map(|(index, member)| {
            tokio::spawn(healthy_client(
                member,
                room.clone(),
                index,
                sent.clone(),
                rate,
                base,
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    for n in 1..=swaps {
        land(path, &variant(module, 1_000 + n))?;
        tokio::time::sleep(interval).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcome = LoadedSwaps { swaps, reloads_seen: u64::MAX, ..LoadedSwaps::default() };
    for task in tasks {
        let member = task.await?;
        outcome.sent += member.sent;
        outcome.delivered += member.delivered;
        outcome.lost += member.lost;
        outcome.duplicated += member.duplicated;
        outcome.dropped += u64::from(member.dropped);
        outcome.reloads_seen = outcome.reloads_seen.min(member.reloads);
    }
    Ok(outcome)
}
