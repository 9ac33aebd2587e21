//! [`Memberships`]: the rooms a session is a member of, kept by the rooms
//! themselves (each adds the session when it joins and removes it when it
//! leaves), so the record is exact whatever the client does, and bounded
//! by `limits.maxMembershipsPerConnection`.

use std::sync::Mutex;

use vampire_protocol::RoomId;

use crate::lock::lock;

/// The rooms of one session.
#[derive(Debug)]
pub(crate) struct Memberships {
    state: Mutex<State>,
    /// Rooms the session may be in at once.
    max: usize,
}

#[derive(Debug, Default)]
struct State {
    rooms: Vec<RoomId>,
    /// Set once the session has ended: no room may add it any more.
    ended: bool,
}

/// Why a room could not add a client as a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipRefused {
    /// The connection has ended.
    Gone,
    /// The client is in as many rooms as it may be.
    Quota,
}

impl Memberships {
    /// No rooms yet, at most `max` at once.
    pub(crate) fn new(max: usize) -> Memberships {
        Memberships { state: Mutex::default(), max }
    }

    /// Records `room`.
    ///
    /// # Errors
    /// When the session has ended or is in `max` rooms.
    pub(crate) fn add(&self, room: &RoomId) -> Result<(), MembershipRefused> {
        let mut state = lock(&self.state);
        if state.ended {
            return Err(MembershipRefused::Gone);
        }
        if state.rooms.len() >= self.max {
            return Err(MembershipRefused::Quota);
        }
        state.rooms.push(room.clone());
        Ok(())
    }

    /// Forgets `room`.
    pub(crate) fn remove(&self, room: &str) {
        lock(&self.state).rooms.retain(|r| r != room);
    }

    /// Ends the record and returns the rooms in it, running `on_end`
    /// under its lock, so that no room adds the session between the two.
    pub(crate) fn end(&self, on_end: impl FnOnce()) -> Vec<RoomId> {
        let mut state = lock(&self.state);
        state.ended = true;
        on_end();
        std::mem::take(&mut state.rooms)
    }

    /// The rooms now.
    pub(crate) fn rooms(&self) -> Vec<RoomId> {
        lock(&self.state).rooms.clone()
    }
}
