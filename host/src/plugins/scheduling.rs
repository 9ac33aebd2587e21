//! Fair scheduling of plugin rooms: what a guest call does at each epoch
//! tick while it runs.
//!
//! Every call into a guest runs as a wasmtime async call with an epoch
//! deadline one tick ahead. Each time the engine's epoch passes the
//! deadline while the guest runs (about every [`EPOCH_TICK`] of running),
//! [`on_epoch_tick`] decides:
//!
//! - the call has used its time budget ([`CallSlices`]): it is stopped
//!   (`Trap::Interrupt`, reported as "exceeded its time budget");
//! - the room has used more than its share of a thread over the last
//!   second ([`CpuShare`], `limits.pluginCpuPercent`): the call pauses
//!   until the room is back within its share (throttled);
//! - otherwise the call yields to the plugin threads' scheduler and goes
//!   on after the rooms waiting before it had their turn.
//!
//! So a room that keeps its thread busy delays the others by one tick at
//! most per turn, rooms are served round-robin, and the budget counts
//! the time a call ran, not the time it waited for its turn.
//!
//! Entering a wasmtime fiber for an async call costs a few hundred
//! nanoseconds, more than most hooks take. So a room's calls are plain
//! synchronous calls until one of them runs across [`LONG_CALL_TICKS`]
//! ticks (at least a tick long); then its next [`YIELDING_CALLS`] calls
//! are async ones that yield. A room of short
//! calls pays nothing; a room with long calls delays the others by one
//! call (its first long one, within its budget) before it yields like the
//! rest. The guest's allocator and deallocator are always called
//! synchronously.
//!
//! The epoch passing a deadline is a sample of running time: a call too
//! short to see a tick is not counted, one that runs across ten ticks is
//! counted ten times, so a room of many short calls is counted in
//! proportion to the time it runs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use wasmtime::{StoreContextMut, UpdateDeadline};

/// How often the engine's epoch advances: the quantum of scheduling. A
/// call's deadline is a number of ticks, so a deadline is met within about
/// one tick, and a yielding call yields about this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The window a room's CPU share is averaged over.
pub const CPU_SHARE_WINDOW: Duration = Duration::from_secs(1);

/// Calls a room makes as yielding (async) calls after one of its calls
/// ran across [`LONG_CALL_TICKS`] epoch ticks.
pub const YIELDING_CALLS: u32 = 10_000;

/// Ticks a call must run across to be a long one (one tick can be crossed
/// by a call of any length, by chance; two take at least a tick's time).
pub const LONG_CALL_TICKS: u64 = 2;

/// What one call may still run: its budget in epoch ticks.
#[derive(Debug, Default)]
pub struct CallSlices {
    /// Ticks the current call may still run before it is stopped.
    pub left: u64,
    /// Whether the call is an async one, which can yield. A synchronous
    /// call is only counted (and stopped by its budget like any call).
    pub can_yield: bool,
}

/// A room's share of a plugin thread: a token bucket of running ticks,
/// filled at `percent` of the ticks that pass and holding at most a
/// [`CPU_SHARE_WINDOW`] of them. Shared by the room's successive
/// instances, so re-creating an instance does not reset it.
#[derive(Debug)]
pub struct CpuShare {
    /// Ticks credited per tick of wall time (`percent / 100`).
    rate: f64,
    /// Most ticks the bucket holds.
    capacity: f64,
    bucket: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Ticks the room may still run; negative while it is throttled.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
    /// Times the room was paused for passing its share.
    throttled: u64,
}

impl CpuShare {
    /// A share of `percent` (1 to 100) of one thread, full.
    pub fn new(percent: u32) -> CpuShare {
        let rate = f64::from(percent.clamp(1, 100)) / 100.0;
        let capacity = rate * CPU_SHARE_WINDOW.as_secs_f64() / EPOCH_TICK.as_secs_f64();
        CpuShare {
            rate,
            capacity,
            bucket: Mutex::new(Bucket { tokens: capacity, updated: Instant::now(), throttled: 0 }),
        }
    }

    /// Counts one tick of running; returns how long the room must pause
    /// before running on, when it has passed its share.
    pub fn spend_tick(&self, now: Instant) -> Option<Duration> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens =
            (bucket.tokens + elapsed / EPOCH_TICK.as_secs_f64() * self.rate).min(self.capacity);
        bucket.updated = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            return None;
        }
        bucket.throttled += 1;
        let owed = -bucket.tokens * EPOCH_TICK.as_secs_f64() / self.rate;
        Some(Duration::from_secs_f64(owed))
    }

    /// Times the room was paused for passing its share.
    pub fn throttled(&self) -> u64 {
        self.bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).throttled
    }
}

/// What a store's data gives the scheduler: the current call's budget and
/// the room's share of a thread (the plugin state implements it).
pub trait Scheduled {
    /// The current call's budget.
    fn slices(&mut self) -> &mut CallSlices;
    /// The room's share of a plugin thread.
    fn cpu_share(&self) -> &CpuShare;
}

/// The epoch deadline callback of every plugin store (see the module
/// docs): stop the call at the end of its budget, pause a room past its
/// share, or yield to the other rooms.
///
/// # Errors
/// Never; a call out of budget ends with [`UpdateDeadline::Interrupt`].
pub fn on_epoch_tick<T: Scheduled>(
    mut store: StoreContextMut<'_, T>,
) -> wasmtime::Result<UpdateDeadline> {
    let state = store.data_mut();
    let slices = state.slices();
    if slices.left == 0 {
        return Ok(UpdateDeadline::Interrupt);
    }
    slices.left -= 1;
    if !slices.can_yield {
        return Ok(UpdateDeadline::Continue(1));
    }
    let pause = match state.cpu_share().spend_tick(Instant::now()) {
        Some(wait) => Box::pin(tokio::time::sleep(wait)) as _,
        None => Box::pin(tokio::task::yield_now()) as _,
    };
    Ok(UpdateDeadline::YieldCustom(1, pause))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_within_its_share_runs_on_and_one_past_it_pauses() {
        let share = CpuShare::new(50);
        let start = Instant::now();
        // Half a second of running is within a 50% share of one second.
        for _ in 0..100 {
            assert_eq!(share.spend_tick(start), None);
        }
        let pause = share.spend_tick(start).expect("past its share");
        let owed = EPOCH_TICK * 2; // one tick owed, refilled at half speed
        assert!(pause.abs_diff(owed) < Duration::from_micros(1), "{pause:?}");
        assert_eq!(share.throttled(), 1);
        // Time passing fills the bucket again.
        assert_eq!(share.spend_tick(start + Duration::from_secs(1)), None);
    }
}
