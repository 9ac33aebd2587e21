//! [`RoomState`]: what a room owns (settings, members, variables) and the
//! operations its behaviour may perform on it.
//!
//! Only the room's actor task touches a `RoomState`, so nothing here locks.
//! The generic room and plugin rooms act on it through the same methods;
//! a plugin's host imports are thin wrappers over them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use serde_json::Map;
use tracing::{info, warn};
use vampire_protocol::{Event, RoomId, RoomInfo, ServerMessage, SessionId, Value, frame};

use crate::net::ClientHandle;
use crate::rooms::variables::Variables;

/// A room's settings, resolved from the creator's request and the
/// configured defaults. Fixed for the room's life.
#[derive(Debug, Clone, Default)]
pub struct RoomSettings {
    /// Room type (`generic` or a plugin's).
    pub room_type: String,
    /// Display name.
    pub name: String,
    /// Listed by `list_rooms`.
    pub public: bool,
    /// Member limit.
    pub max_clients: u32,
    /// Free-form listing data.
    pub metadata: Value,
    /// When `false`, no variable change is broadcast.
    pub broadcast_enabled: bool,
    /// Broadcast flag of a variable whose setter gives none.
    pub broadcast_default: bool,
    /// Delete the room when its last member leaves.
    pub auto_dispose: bool,
    /// Password `join` must give, if any.
    pub password: Option<String>,
    /// Session that created the room (the only one that may delete it).
    pub owner: SessionId,
}

impl RoomSettings {
    /// The room `id` with these settings and `members` members, as clients
    /// see it in listings and join results.
    pub fn info(&self, id: &RoomId, members: u32) -> RoomInfo {
        RoomInfo {
            id: id.clone(),
            room_type: self.room_type.clone(),
            name: self.name.clone(),
            public: self.public,
            members,
            max_clients: self.max_clients,
            password_protected: self.password.is_some(),
            metadata: self.metadata.clone(),
        }
    }
}

/// One member: its session and the way to reach it.
#[derive(Debug)]
struct Member {
    client: ClientHandle,
}

/// A join in progress: frames for the joiner are held back until its
/// `join` response is sent, so the response always comes first.
#[derive(Debug)]
struct PendingJoin {
    session: SessionId,
    held: Vec<Bytes>,
}

/// Everything a room owns.
#[derive(Debug)]
pub struct RoomState {
    id: RoomId,
    settings: RoomSettings,
    /// Members in join order.
    members: Vec<Member>,
    /// Member count shared with the room index, for listings.
    member_count: Arc<AtomicU32>,
    variables: Variables,
    pending_join: Option<PendingJoin>,
}

impl RoomState {
    /// A room with no member and no variable.
    pub fn new(id: RoomId, settings: RoomSettings, member_count: Arc<AtomicU32>) -> RoomState {
        RoomState {
            id,
            settings,
            members: Vec::new(),
            member_count,
            variables: Variables::default(),
            pending_join: None,
        }
    }

    /// A stand-in with no id, members or variables: what a plugin's store
    /// holds between calls, while the real state is with the room actor
    /// (the state is lent to the store only for the duration of a call).
    pub fn detached() -> RoomState {
        RoomState::new(RoomId::new(), RoomSettings::default(), Arc::default())
    }

    /// The room's id.
    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// The room's settings.
    pub fn settings(&self) -> &RoomSettings {
        &self.settings
    }

    /// The room as `list_rooms` shows it.
    pub fn info(&self) -> RoomInfo {
        self.settings.info(&self.id, self.members.len() as u32)
    }

    /// Session ids of the members, in join order.
    pub fn member_ids(&self) -> Vec<SessionId> {
        self.members.iter().map(|m| m.client.session()).collect()
    }

    /// Number of members.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Whether `session` is a member.
    pub fn is_member(&self, session: SessionId) -> bool {
        self.members.iter().any(|m| m.client.session() == session)
    }

    /// The room's variables.
    pub fn variables(&self) -> &Variables {
        &self.variables
    }

    /// Every variable's value.
    pub fn variable_snapshot(&self) -> Map<String, Value> {
        self.variables.snapshot()
    }

    /// Sets a variable and, if the room broadcasts and the variable's flag
    /// says so, sends `variable_changed` to every member. `by` is the
    /// session that set it (`None` for the room itself). Returns whether it
    /// was broadcast.
    pub fn set_variable(
        &mut self,
        name: &str,
        value: Value,
        broadcast: Option<bool>,
        by: Option<SessionId>,
    ) -> bool {
        let flag =
            self.variables.set(name, value.clone(), broadcast, self.settings.broadcast_default);
        let broadcast = self.settings.broadcast_enabled && flag;
        info!(room = %self.id, variable = name, broadcast, by = ?by, "variable updated");
        if broadcast {
            self.broadcast(Event::VariableChanged {
                room: self.id.clone(),
                name: name.to_owned(),
                value,
                by,
            });
        }
        broadcast
    }

    /// Sends `event` to every member, encoding it once.
    pub fn broadcast(&mut self, event: Event) {
        self.broadcast_except(event, None);
    }

    /// Sends `event` to every member but `except`.
    pub fn broadcast_except(&mut self, event: Event, except: Option<SessionId>) {
        let Some(bytes) = encode_event(event) else {
            return;
        };
        for member in &self.members {
            let session = member.client.session();
            if Some(session) == except {
                continue;
            }
            match &mut self.pending_join {
                Some(pending) if pending.session == session => pending.held.push(bytes.clone()),
                _ => {
                    member.client.send(bytes.clone());
                }
            }
        }
    }

    /// Sends `event` to one member. Returns `false` when `session` is not a
    /// member.
    pub fn send_to(&mut self, session: SessionId, event: Event) -> bool {
        let Some(member) = self.members.iter().find(|m| m.client.session() == session) else {
            return false;
        };
        let Some(bytes) = encode_event(event) else {
            return false;
        };
        match &mut self.pending_join {
            Some(pending) if pending.session == session => pending.held.push(bytes),
            _ => {
                member.client.send(bytes);
            }
        }
        true
    }

    /// Sends a `room_message` from the room itself to one member.
    pub fn send_room_message(&mut self, session: SessionId, data: Value) -> bool {
        let event = Event::RoomMessage { room: self.id.clone(), from: None, data };
        self.send_to(session, event)
    }

    /// Removes `session` from the room on the room's own initiative: it gets
    /// `kicked`, the others `member_left` with reason `kicked`. Returns
    /// `false` when it is not a member.
    pub fn kick(&mut self, session: SessionId, reason: &str) -> bool {
        if !self.is_member(session) {
            return false;
        }
        let kicked = Event::Kicked { room: self.id.clone(), reason: reason.to_owned() };
        self.send_to(session, kicked);
        self.remove_member(session, "kicked")
    }

    /// Adds a member whose join is not yet confirmed: frames for it are
    /// held until [`RoomState::confirm_join`].
    pub(crate) fn add_pending_member(&mut self, client: ClientHandle) {
        self.pending_join = Some(PendingJoin { session: client.session(), held: Vec::new() });
        self.members.push(Member { client });
        self.member_count.store(self.members.len() as u32, Ordering::Relaxed);
    }

    /// Confirms the pending join: queues `response` then the frames held
    /// back, and tells the other members.
    pub(crate) fn confirm_join(&mut self, response: Option<Bytes>) {
        let Some(pending) = self.pending_join.take() else {
            return;
        };
        if let Some(member) = self.members.iter().find(|m| m.client.session() == pending.session) {
            if let Some(response) = response {
                member.client.send(response);
            }
            for frame in pending.held {
                member.client.send(frame);
            }
        }
        info!(room = %self.id, session = pending.session, members = self.members.len(), "member joined");
        let joined = Event::MemberJoined { room: self.id.clone(), session: pending.session };
        self.broadcast_except(joined, Some(pending.session));
    }

    /// Cancels the pending join: the member is removed without a trace.
    pub(crate) fn cancel_join(&mut self) {
        if let Some(pending) = self.pending_join.take() {
            self.members.retain(|m| m.client.session() != pending.session);
            self.member_count.store(self.members.len() as u32, Ordering::Relaxed);
        }
    }

    /// Removes a member and tells the others why (`left`, `disconnected`
    /// or `kicked`). Returns `false` when `session` was not a member.
    pub(crate) fn remove_member(&mut self, session: SessionId, reason: &str) -> bool {
        let before = self.members.len();
        self.members.retain(|m| m.client.session() != session);
        if self.members.len() == before {
            return false;
        }
        self.member_count.store(self.members.len() as u32, Ordering::Relaxed);
        info!(room = %self.id, session, reason, members = self.members.len(), "member left");
        let left = Event::MemberLeft { room: self.id.clone(), session, reason: reason.to_owned() };
        self.broadcast(left);
        true
    }

    /// Tells every member the room is gone and forgets them.
    pub(crate) fn announce_deleted(&mut self) {
        let deleted = Event::RoomDeleted { room: self.id.clone() };
        self.broadcast(deleted);
        self.members.clear();
        self.member_count.store(0, Ordering::Relaxed);
    }
}

fn encode_event(event: Event) -> Option<Bytes> {
    match frame::encode(&ServerMessage::Event(event)) {
        Ok(bytes) => Some(bytes),
        Err(err) => {
            warn!(%err, "cannot encode an event");
            None
        }
    }
}
