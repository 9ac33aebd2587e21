//! [`RoomClock`]: a room's fixed-rate tick and its named timers.
//!
//! The room's behaviour sets them (a plugin through its imports); the
//! room's actor sleeps until the next deadline and delivers what is due,
//! each delivery a call under the usual time budget. A room that uses
//! neither costs nothing: the actor then has no deadline to wait for.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use vampire_abi::imports::{MAX_TICK_RATE_HZ, MAX_TIMER_TAG_BYTES, MAX_TIMERS};

/// The clock of one room.
#[derive(Debug, Default)]
pub struct RoomClock {
    tick: Option<Ticking>,
    timers: HashMap<String, Timer>,
}

#[derive(Debug, Clone, Copy)]
struct Ticking {
    every: Duration,
    /// When the next tick is due.
    next: Instant,
    /// When the previous tick was delivered (or the clock started).
    last: Instant,
    /// Ticks delivered so far.
    count: u64,
}

#[derive(Debug, Clone, Copy)]
struct Timer {
    due: Instant,
    /// Set for a repeating timer: its period.
    every: Option<Duration>,
}

/// A tick that is due: the real time since the previous one, and its
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Real time since the previous tick (several periods when ticks were
    /// missed: they are coalesced, never queued up).
    pub dt: Duration,
    /// Ticks delivered since the clock started, this one included.
    pub count: u64,
}

/// Why the clock refused a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockRefusal(pub String);

impl RoomClock {
    /// Ticks `rate_hz` times a second from now; 0 stops the ticks.
    ///
    /// # Errors
    /// When the rate is above [`MAX_TICK_RATE_HZ`].
    pub fn set_tick_rate(&mut self, rate_hz: u32) -> Result<(), ClockRefusal> {
        if rate_hz > MAX_TICK_RATE_HZ as u32 {
            return Err(ClockRefusal(format!("a tick rate is at most {MAX_TICK_RATE_HZ} Hz")));
        }
        if rate_hz == 0 {
            self.tick = None;
            return Ok(());
        }
        let every = Duration::from_secs(1) / rate_hz;
        let now = Instant::now();
        let count = self.tick.map_or(0, |t| t.count);
        self.tick = Some(Ticking { every, next: now + every, last: now, count });
        Ok(())
    }

    /// The tick period, if the clock ticks.
    pub fn tick_period(&self) -> Option<Duration> {
        self.tick.map(|t| t.every)
    }

    /// Ticks delivered since the clock started.
    pub fn ticks(&self) -> u64 {
        self.tick.map_or(0, |t| t.count)
    }

    /// Timers set now.
    pub fn timer_count(&self) -> usize {
        self.timers.len()
    }

    /// Starts (or restarts) timer `tag`, due after `delay`, then every
    /// `delay` again when `repeat`.
    ///
    /// # Errors
    /// When the tag is too long, or the room has [`MAX_TIMERS`] timers.
    pub fn set_timer(
        &mut self,
        tag: &str,
        delay: Duration,
        repeat: bool,
    ) -> Result<(), ClockRefusal> {
        if tag.len() > MAX_TIMER_TAG_BYTES {
            return Err(ClockRefusal(format!(
                "a timer tag is at most {MAX_TIMER_TAG_BYTES} bytes"
            )));
        }
        if !self.timers.contains_key(tag) && self.timers.len() >= MAX_TIMERS {
            return Err(ClockRefusal(format!("a room has at most {MAX_TIMERS} timers")));
        }
        // A repeating timer needs a period the clock can keep.
        let every = repeat.then(|| delay.max(Duration::from_millis(1)));
        self.timers.insert(tag.to_owned(), Timer { due: Instant::now() + delay, every });
        Ok(())
    }

    /// Cancels timer `tag`; returns whether there was one.
    pub fn cancel_timer(&mut self, tag: &str) -> bool {
        self.timers.remove(tag).is_some()
    }

    /// The earliest deadline: the next tick or timer; `None` when the room
    /// uses neither.
    pub fn next_deadline(&self) -> Option<Instant> {
        let timers = self.timers.values().map(|t| t.due);
        self.tick.map(|t| t.next).into_iter().chain(timers).min()
    }

    /// The tick due at `now`, if one is; the clock moves on to the next
    /// period after `now` (missed periods are skipped).
    pub fn take_tick(&mut self, now: Instant) -> Option<Tick> {
        let ticking = self.tick.as_mut()?;
        if now < ticking.next {
            return None;
        }
        let dt = now - ticking.last;
        ticking.last = now;
        ticking.count += 1;
        ticking.next += ticking.every;
        if ticking.next <= now {
            ticking.next = now + ticking.every;
        }
        Some(Tick { dt, count: ticking.count })
    }

    /// The earliest timer due at `now`, if any, rescheduled (a repeating
    /// one) or forgotten (a one-shot). Taken one at a time, so the room
    /// can answer its mailbox between timers when many are due.
    pub fn take_due_timer(&mut self, now: Instant) -> Option<String> {
        let (tag, _) =
            self.timers.iter().filter(|(_, timer)| timer.due <= now).min_by(
                |(a_tag, a), (b_tag, b)| a.due.cmp(&b.due).then_with(|| a_tag.cmp(b_tag)),
            )?;
        let tag = tag.clone();
        let timer = self.timers.get_mut(&tag).expect("the tag was just found");
        match timer.every {
            Some(every) => {
                timer.due += every;
                if timer.due <= now {
                    timer.due = now + every;
                }
            }
            None => {
                self.timers.remove(&tag);
            }
        }
        Some(tag)
    }

    /// Every timer due at `now`, earliest first (see
    /// [`RoomClock::take_due_timer`]).
    #[cfg(test)]
    fn take_due_timers(&mut self, now: Instant) -> Vec<String> {
        std::iter::from_fn(|| self.take_due_timer(now)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ticks_come_at_the_rate_and_missed_ones_are_coalesced() {
        let mut clock = RoomClock::default();
        assert_eq!(clock.next_deadline(), None, "an unused clock has no deadline");
        clock.set_tick_rate(20).unwrap();
        let start = Instant::now();
        assert_eq!(clock.take_tick(start), None);
        let tick = clock.take_tick(start + Duration::from_millis(50)).unwrap();
        assert_eq!(tick, Tick { dt: Duration::from_millis(50), count: 1 });
        // Half a second late: one tick with the real elapsed time.
        let tick = clock.take_tick(start + Duration::from_millis(550)).unwrap();
        assert_eq!(tick, Tick { dt: Duration::from_millis(500), count: 2 });
        assert_eq!(clock.next_deadline(), Some(start + Duration::from_millis(600)));
        assert!(clock.set_tick_rate(1000).is_err());
        clock.set_tick_rate(0).unwrap();
        assert_eq!(clock.next_deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn timers_fire_once_repeat_or_are_cancelled() {
        let mut clock = RoomClock::default();
        let start = Instant::now();
        clock.set_timer("once", Duration::from_millis(100), false).unwrap();
        clock.set_timer("every", Duration::from_millis(40), true).unwrap();
        clock.set_timer("never", Duration::from_millis(10), false).unwrap();
        assert!(clock.cancel_timer("never"));
        assert_eq!(clock.take_due_timers(start + Duration::from_millis(40)), ["every"]);
        assert_eq!(clock.take_due_timers(start + Duration::from_millis(100)), ["every", "once"]);
        assert_eq!(clock.take_due_timers(start + Duration::from_millis(120)), ["every"]);
        assert!(!clock.cancel_timer("once"), "a one-shot timer is gone once fired");
        for i in 0..MAX_TIMERS {
            clock.set_timer(&format!("t{i}"), Duration::from_secs(9), false).ok();
        }
        assert!(clock.set_timer("one too many", Duration::ZERO, false).is_err());
    }
}
