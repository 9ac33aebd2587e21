//! [`WrongGuesses`]: how fast wrong room passwords and invites may be
//! tried, per room and per client address, across connections.
//!
//! A connection's own wrong guesses already make it wait longer each time
//! (`net::session`); that alone lets a guesser open many connections.
//! Here every password or invite check for a room, and every check from
//! one address, takes a turn: after wrong guesses, turns are spaced
//! 100 ms apart, doubling with each further wrong guess up to 5 s. A
//! check whose turn would come more than [`MAX_QUEUE`] away is refused at
//! once (`rate_limited`) rather than queued, so nobody waits without
//! bound. Wrong guesses are forgotten [`FORGET_AFTER`] after the last.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The spacing after the first wrong guess.
pub const FIRST_SPACING: Duration = Duration::from_millis(100);

/// The longest spacing between two checks of one room or address.
pub const MAX_SPACING: Duration = Duration::from_secs(5);

/// A check whose turn is further away than this is refused.
pub const MAX_QUEUE: Duration = Duration::from_secs(30);

/// Wrong guesses are forgotten this long after the last one.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Rooms and addresses remembered at most; past it the oldest half is
/// forgotten, so the register is bounded in bytes.
pub const MAX_REMEMBERED: usize = 100_000;

/// What is being guessed at, or from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Room(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    /// Wrong guesses since the last was forgotten.
    failures: u32,
    /// When the last wrong guess was made.
    last_failure: Instant,
    /// When the next check may run.
    next_turn: Instant,
}

/// The register of wrong guesses shared by every connection.
#[derive(Debug, Default)]
pub struct WrongGuesses {
    records: Mutex<HashMap<Key, Record>>,
}

/// Why a check may not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyGuesses;

impl WrongGuesses {
    /// Takes the next turn to check a password or invite of `room` from
    /// `address`, and returns when it comes (now, when neither has wrong
    /// guesses against it).
    ///
    /// # Errors
    /// [`TooManyGuesses`] when the turn would be more than [`MAX_QUEUE`]
    /// away.
    pub fn take_turn(&self, room: &str, address: IpAddr) -> Result<Instant, TooManyGuesses> {
        let now = Instant::now();
        let mut records = self.lock();
        let keys = [Key::Room(room.to_owned()), Key::Address(address)];
        let turn = keys
            .iter()
            .filter_map(|key| records.get(key).filter(|r| fresh(r, now)).map(|r| r.next_turn))
            .fold(now, Instant::max);
        if turn > now + MAX_QUEUE {
            return Err(TooManyGuesses);
        }
        for key in keys {
            if let Some(record) = records.get_mut(&key).filter(|r| fresh(r, now)) {
                record.next_turn = turn + spacing(record.failures);
            }
        }
        Ok(turn)
    }

    /// Records a wrong password or invite for `room` from `address`.
    pub fn record_failure(&self, room: &str, address: IpAddr) {
        let now = Instant::now();
        let mut records = self.lock();
        if records.len() >= MAX_REMEMBERED {
            forget_oldest(&mut records, now);
        }
        for key in [Key::Room(room.to_owned()), Key::Address(address)] {
            let record = records.entry(key).or_insert(Record {
                failures: 0,
                last_failure: now,
                next_turn: now,
            });
            if !fresh(record, now) {
                *record = Record { failures: 0, last_failure: now, next_turn: now };
            }
            record.failures = record.failures.saturating_add(1);
            record.last_failure = now;
            record.next_turn = record.next_turn.max(now) + spacing(record.failures);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Record>> {
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether `record`'s wrong guesses still count at `now`.
fn fresh(record: &Record, now: Instant) -> bool {
    now.saturating_duration_since(record.last_failure) < FORGET_AFTER
}

/// The spacing between checks after `failures` wrong guesses.
fn spacing(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => FIRST_SPACING.saturating_mul(1 << (n - 1).min(16)).min(MAX_SPACING),
    }
}

/// Forgets stale records, and the older half of the rest if that is not
/// enough.
fn forget_oldest(records: &mut HashMap<Key, Record>, now: Instant) {
    records.retain(|_, record| fresh(record, now));
    if records.len() >= MAX_REMEMBERED / 2 {
        let mut ages: Vec<Instant> = records.values().map(|r| r.last_failure).collect();
        let middle = ages.len() / 2;
        let (_, median, _) = ages.select_nth_unstable(middle);
        let median = *median;
        records.retain(|_, record| record.last_failure > median);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    #[tokio::test(start_paused = true)]
    async fn wrong_guesses_space_the_checks_of_a_room_and_an_address() {
        let guesses = WrongGuesses::default();
        let now = Instant::now();
        assert_eq!(guesses.take_turn("r1", HOME), Ok(now), "no wrong guess: at once");
        guesses.record_failure("r1", HOME);
        guesses.record_failure("r1", HOME);
        // Two wrong guesses: turns 100 ms then 200 ms apart.
        let first = guesses.take_turn("r1", AWAY).unwrap();
        let second = guesses.take_turn("r1", AWAY).unwrap();
        assert!(second - first >= Duration::from_millis(200), "{:?}", second - first);
        // The address is slowed for another room too.
        assert!(guesses.take_turn("r2", HOME).unwrap() > now);
        // An untouched room from an untouched address is not.
        assert_eq!(guesses.take_turn("r3", AWAY), Ok(now));
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_too_long_is_refused_and_old_guesses_are_forgotten() {
        let guesses = WrongGuesses::default();
        for _ in 0..10 {
            guesses.record_failure("r1", HOME);
        }
        let refused = (0..20).any(|_| guesses.take_turn("r1", HOME).is_err());
        assert!(refused, "turns past MAX_QUEUE are refused");
        tokio::time::advance(FORGET_AFTER + MAX_QUEUE).await;
        assert_eq!(guesses.take_turn("r1", HOME), Ok(Instant::now()));
    }
}
