//! Seat reservations: places a room holds for joiners that a node of the
//! cluster redirected to it (see `crate::cluster`).
//!
//! A reservation is 128 random bits, admits one join, counts against the
//! room's `max_clients` until it is used or expires, and may be bound to a
//! user id (then only that user may use it). A room holds at most as many
//! as it has free places, so reservations are bounded in bytes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::rooms::invites::{NoRandomness, random_token, same_secret};

/// A held seat.
#[derive(Debug)]
struct Seat {
    token: String,
    expires: Instant,
    user_id: Option<String>,
}

/// A seat a room is created holding: for the joiner a `join_or_create`
/// creates it for, so others racing for its seats cannot take that one.
/// It travels to the node that creates the room.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeldSeat {
    /// The reservation to join with.
    pub token: String,
    /// How long it is held, in milliseconds.
    pub ttl_ms: u64,
    /// Who may use it, when the joiner is signed in.
    pub user_id: Option<String>,
}

impl HeldSeat {
    /// A fresh seat for `user_id`, held for `ttl`.
    ///
    /// # Errors
    /// When the system's random source fails.
    pub fn new(ttl: Duration, user_id: Option<String>) -> Result<HeldSeat, NoRandomness> {
        Ok(HeldSeat { token: random_token()?, ttl_ms: ttl.as_millis() as u64, user_id })
    }
}

/// The seats a room holds for joiners on their way.
#[derive(Debug, Default)]
pub struct Seats {
    held: VecDeque<Seat>,
}

/// Why a seat was not reserved.
#[derive(Debug, PartialEq, Eq)]
pub enum NoSeat {
    /// Members and held seats fill the room.
    Full,
    /// The system's random source failed.
    NoRandomness,
}

impl From<NoRandomness> for NoSeat {
    fn from(_: NoRandomness) -> NoSeat {
        NoSeat::NoRandomness
    }
}

impl Seats {
    /// The seats of a new room: those it is created holding.
    pub fn holding(held: impl IntoIterator<Item = HeldSeat>, now: Instant) -> Seats {
        let held = held.into_iter().map(|seat| Seat {
            token: seat.token,
            expires: now + Duration::from_millis(seat.ttl_ms),
            user_id: seat.user_id,
        });
        Seats { held: held.collect() }
    }

    /// Holds a seat for `ttl` from `now`, for `user_id` when given, if
    /// `members` plus the seats held leave a place under `capacity`.
    ///
    /// # Errors
    /// [`NoSeat::Full`] when there is no place left.
    pub fn reserve(
        &mut self,
        now: Instant,
        ttl: Duration,
        user_id: Option<String>,
        members: usize,
        capacity: usize,
    ) -> Result<String, NoSeat> {
        if members + self.held(now) >= capacity {
            return Err(NoSeat::Full);
        }
        let token = random_token()?;
        self.held.push_back(Seat { token: token.clone(), expires: now + ttl, user_id });
        Ok(token)
    }

    /// Seats still held at `now` (expired ones are forgotten).
    pub fn held(&mut self, now: Instant) -> usize {
        self.held.retain(|seat| seat.expires > now);
        self.held.len()
    }

    /// Whether `token` is a live reservation that `user_id` may use; if so
    /// the seat is given up (the joiner takes it).
    pub fn redeem(&mut self, token: &str, user_id: Option<&str>, now: Instant) -> bool {
        let found = self.held.iter().position(|seat| {
            seat.expires > now
                && same_secret(&seat.token, token)
                && seat.user_id.as_deref().is_none_or(|owner| Some(owner) == user_id)
        });
        match found {
            Some(index) => {
                self.held.remove(index);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    #[test]
    fn a_seat_admits_once_its_user_only_and_expires() {
        let mut seats = Seats::default();
        let now = Instant::now();
        let seat = seats.reserve(now, TTL, Some("alice".into()), 0, 4).unwrap();
        assert!(!seats.redeem(&seat, Some("bob"), now), "bound to its user");
        assert!(seats.redeem(&seat, Some("alice"), now));
        assert!(!seats.redeem(&seat, Some("alice"), now), "a seat admits once");
        let late = seats.reserve(now, TTL, None, 0, 4).unwrap();
        assert!(!seats.redeem(&late, None, now + TTL), "a seat expires");
    }

    #[test]
    fn held_seats_count_against_the_room_capacity() {
        let mut seats = Seats::default();
        let now = Instant::now();
        seats.reserve(now, TTL, None, 1, 3).unwrap();
        assert_eq!(seats.reserve(now, TTL, None, 2, 3), Err(NoSeat::Full));
        assert_eq!(seats.held(now), 1);
        assert_eq!(seats.held(now + TTL), 0, "expired seats free their place");
        seats.reserve(now + TTL, TTL, None, 2, 3).unwrap();
    }
}
