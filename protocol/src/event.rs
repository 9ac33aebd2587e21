//! Room events (`"type": "event"`): the [`Event`] enum clients decode and
//! the `write_*` functions the server's hot paths append frames with.
//!
//! Every event frame is written in the server's reliable stream unless it
//! is written with `unreliable` set (its `"unreliable": true` tells a
//! client it is not numbered: see PROTOCOL.md, "Sequence numbers").

use bytes::BytesMut;

use crate::frame;
use crate::ids::{RoomId, SessionId};
use crate::msgpack::Writer;
use crate::payload::Payload;

/// Room events; `event` on the wire. They carry no request id.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A client joined the room (sent to the members already there).
    MemberJoined {
        /// The room.
        room: RoomId,
        /// Who joined.
        session: SessionId,
        /// The joiner's user id, when the server authenticates.
        user_id: Option<String>,
        /// The joiner's display name, when its token gave one.
        user_name: Option<String>,
    },
    /// A member left: `"left"`, `"disconnected"` or `"kicked"`.
    MemberLeft {
        /// The room.
        room: RoomId,
        /// Who left.
        session: SessionId,
        /// Why.
        reason: String,
    },
    /// A broadcast variable changed.
    VariableChanged {
        /// The room.
        room: RoomId,
        /// Variable name.
        name: String,
        /// New value, as its setter sent it.
        value: Payload,
        /// Session that set it; nil when the room itself did.
        by: Option<SessionId>,
    },
    /// A message for the members of a room.
    RoomMessage {
        /// The room.
        room: RoomId,
        /// Sender's session; nil when the room itself sent it.
        from: Option<SessionId>,
        /// Payload, as its sender sent it.
        data: Payload,
    },
    /// This client was removed from the room by the room.
    Kicked {
        /// The room.
        room: RoomId,
        /// The room's reason.
        reason: String,
    },
    /// The room was deleted by its owner; every member is out of it.
    RoomDeleted {
        /// The room.
        room: RoomId,
    },
    /// The server closed the room (its plugin kept failing, or the server
    /// is shutting down); every member is out of it.
    RoomClosed {
        /// The room.
        room: RoomId,
        /// Why, in one line.
        reason: String,
    },
    /// The room's plugin was replaced by a new version (hot reload); the
    /// room, its members and variables are as they were.
    RoomReloaded {
        /// The room.
        room: RoomId,
    },
    /// A member's connection dropped; its session and seat are held
    /// while it may come back (`member_reconnected`), or it leaves with
    /// reason `"timeout"`.
    MemberDisconnected {
        /// The room.
        room: RoomId,
        /// Whose connection dropped.
        session: SessionId,
    },
    /// A member whose connection dropped resumed its session.
    MemberReconnected {
        /// The room.
        room: RoomId,
        /// Who came back.
        session: SessionId,
    },
    /// The room as it is now, for a client whose `resume` answered
    /// `resync`: what it missed was more than the server kept.
    RoomState {
        /// The room.
        room: RoomId,
        /// A `join` result's map without `reply` (decode it with
        /// [`crate::JoinResult::from_payload`]).
        state: Payload,
    },
    /// The matchmaker formed a match for this client's ticket: join `room`
    /// with `reservation` (at `address`, when the room is on another node
    /// of a cluster).
    Matched {
        /// The ticket `matchmaker_add` gave.
        ticket: String,
        /// The room created for the match.
        room: RoomId,
        /// The seat held there for this client.
        reservation: String,
        /// How long the seat is held.
        expires_in_ms: u64,
        /// The room's node's TCP address, in a cluster.
        address: Option<String>,
        /// Its WebSocket address, when it advertises one.
        ws_address: Option<String>,
    },
    /// A ticket waited its queue's `ticketTimeoutMs` without a match; it
    /// is gone.
    MatchTimeout {
        /// The ticket.
        ticket: String,
    },
    /// An event this version of the crate does not know.
    Unknown {
        /// Its `event` name.
        event: String,
    },
}

/// The name of every event the server sends (the `event` field): what
/// PROTOCOL.md's events table must list (a test checks both ways).
pub const EVENT_NAMES: &[&str] = &[
    "member_joined",
    "member_left",
    "variable_changed",
    "room_message",
    "kicked",
    "room_deleted",
    "room_reloaded",
    "room_closed",
    "member_disconnected",
    "member_reconnected",
    "room_state",
    "matched",
    "match_timeout",
];

fn event_header<'b>(
    buf: &'b mut BytesMut,
    fields: usize,
    event: &str,
    room: &str,
) -> Writer<'b, BytesMut> {
    debug_assert!(EVENT_NAMES.contains(&event), "event {event} is missing from EVENT_NAMES");
    let mut w = Writer::new(buf);
    w.map(fields + 3).str("type").str("event").str("event").str(event).str("room").str(room);
    w
}

/// Appends a `member_joined` event frame.
pub fn write_member_joined(
    buf: &mut BytesMut,
    room: &str,
    session: SessionId,
    user_id: Option<&str>,
    user_name: Option<&str>,
) {
    let start = frame::begin(buf);
    let mut w = event_header(buf, 3, "member_joined", room);
    w.str("session").uint(session);
    w.str("user_id").opt_str(user_id).str("user_name").opt_str(user_name);
    frame::finish(buf, start);
}

/// Appends a `member_left` event frame.
pub fn write_member_left(buf: &mut BytesMut, room: &str, session: SessionId, reason: &str) {
    let start = frame::begin(buf);
    let mut w = event_header(buf, 2, "member_left", room);
    w.str("session").uint(session).str("reason").str(reason);
    frame::finish(buf, start);
}

/// Which of a client's two lanes an event frame travels: the reliable,
/// numbered stream, or the unreliable one (UDP, or its droppable fallback
/// on the connection), whose frames say `"unreliable": true` and are not
/// numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Numbered, replayed after a resume, never dropped.
    Reliable,
    /// May be lost; not numbered.
    Unreliable,
}

impl Lane {
    /// Fields the lane adds to an event.
    fn fields(self) -> usize {
        usize::from(self == Lane::Unreliable)
    }

    fn write<B: bytes::BufMut>(self, w: &mut Writer<'_, B>) {
        if self == Lane::Unreliable {
            w.str("unreliable").bool(true);
        }
    }
}

/// Appends a `variable_changed` event frame; `value` is MessagePack.
pub fn write_variable_changed(
    buf: &mut BytesMut,
    room: &str,
    name: &str,
    value: &[u8],
    by: Option<SessionId>,
    lane: Lane,
) {
    let start = frame::begin(buf);
    let mut w = event_header(buf, 3 + lane.fields(), "variable_changed", room);
    w.str("name").str(name).str("value").raw(value).str("by").opt_uint(by);
    lane.write(&mut w);
    frame::finish(buf, start);
}

/// Appends a `room_message` event frame; `data` is MessagePack.
pub fn write_room_message(
    buf: &mut BytesMut,
    room: &str,
    from: Option<SessionId>,
    data: &[u8],
    lane: Lane,
) {
    let start = frame::begin(buf);
    let mut w = event_header(buf, 2 + lane.fields(), "room_message", room);
    w.str("from").opt_uint(from).str("data").raw(data);
    lane.write(&mut w);
    frame::finish(buf, start);
}

/// Appends a `member_disconnected` event frame.
pub fn write_member_disconnected(buf: &mut BytesMut, room: &str, session: SessionId) {
    let start = frame::begin(buf);
    event_header(buf, 1, "member_disconnected", room).str("session").uint(session);
    frame::finish(buf, start);
}

/// Appends a `member_reconnected` event frame.
pub fn write_member_reconnected(buf: &mut BytesMut, room: &str, session: SessionId) {
    let start = frame::begin(buf);
    event_header(buf, 1, "member_reconnected", room).str("session").uint(session);
    frame::finish(buf, start);
}

/// Appends a `room_state` event frame; `state` is the MessagePack map of
/// a join result (without `reply`).
pub fn write_room_state(buf: &mut BytesMut, room: &str, state: &[u8]) {
    let start = frame::begin(buf);
    event_header(buf, 1, "room_state", room).str("state").raw(state);
    frame::finish(buf, start);
}

/// Bytes an event frame with payload `payload_len` and short fields
/// (room id, name, reason of at most `text_len` bytes together) takes, at
/// most.
pub fn event_size_bound(text_len: usize, payload_len: usize) -> usize {
    frame::LENGTH_PREFIX + 96 + text_len + payload_len
}

/// Appends a `kicked` event frame.
pub fn write_kicked(buf: &mut BytesMut, room: &str, reason: &str) {
    let start = frame::begin(buf);
    event_header(buf, 1, "kicked", room).str("reason").str(reason);
    frame::finish(buf, start);
}

/// Appends a `room_deleted` event frame.
pub fn write_room_deleted(buf: &mut BytesMut, room: &str) {
    let start = frame::begin(buf);
    event_header(buf, 0, "room_deleted", room);
    frame::finish(buf, start);
}

/// Appends a `room_reloaded` event frame.
pub fn write_room_reloaded(buf: &mut BytesMut, room: &str) {
    let start = frame::begin(buf);
    event_header(buf, 0, "room_reloaded", room);
    frame::finish(buf, start);
}

/// Appends a `room_closed` event frame.
pub fn write_room_closed(buf: &mut BytesMut, room: &str, reason: &str) {
    let start = frame::begin(buf);
    event_header(buf, 1, "room_closed", room).str("reason").str(reason);
    frame::finish(buf, start);
}

/// Appends a `matched` event frame for `ticket`.
pub fn write_matched(
    buf: &mut BytesMut,
    ticket: &str,
    room: &str,
    reservation: &str,
    expires_in_ms: u64,
    at: (Option<&str>, Option<&str>),
) {
    let start = frame::begin(buf);
    let (address, ws_address) = at;
    let fields = 3 + usize::from(address.is_some()) + usize::from(ws_address.is_some());
    let mut w = event_header(buf, fields, "matched", room);
    w.str("ticket").str(ticket).str("reservation").str(reservation);
    w.str("expires_in_ms").uint(expires_in_ms);
    if let Some(address) = address {
        w.str("address").str(address);
    }
    if let Some(ws_address) = ws_address {
        w.str("ws_address").str(ws_address);
    }
    frame::finish(buf, start);
}

/// Appends a `match_timeout` event frame for `ticket` (about no room).
pub fn write_match_timeout(buf: &mut BytesMut, ticket: &str) {
    let start = frame::begin(buf);
    let mut w = Writer::new(buf);
    w.map(3).str("type").str("event").str("event").str("match_timeout");
    w.str("ticket").str(ticket);
    frame::finish(buf, start);
}

impl Event {
    /// Appends this event as one frame.
    pub fn write(&self, buf: &mut BytesMut) {
        match self {
            Event::MemberJoined { room, session, user_id, user_name } => {
                write_member_joined(buf, room, *session, user_id.as_deref(), user_name.as_deref());
            }
            Event::MemberLeft { room, session, reason } => {
                write_member_left(buf, room, *session, reason);
            }
            Event::VariableChanged { room, name, value, by } => {
                write_variable_changed(buf, room, name, value.as_bytes(), *by, Lane::Reliable);
            }
            Event::RoomMessage { room, from, data } => {
                write_room_message(buf, room, *from, data.as_bytes(), Lane::Reliable);
            }
            Event::Kicked { room, reason } => write_kicked(buf, room, reason),
            Event::RoomDeleted { room } => write_room_deleted(buf, room),
            Event::RoomClosed { room, reason } => write_room_closed(buf, room, reason),
            Event::RoomReloaded { room } => write_room_reloaded(buf, room),
            Event::MemberDisconnected { room, session } => {
                write_member_disconnected(buf, room, *session);
            }
            Event::MemberReconnected { room, session } => {
                write_member_reconnected(buf, room, *session);
            }
            Event::RoomState { room, state } => write_room_state(buf, room, state.as_bytes()),
            Event::Matched { ticket, room, reservation, expires_in_ms, address, ws_address } => {
                let at = (address.as_deref(), ws_address.as_deref());
                write_matched(buf, ticket, room, reservation, *expires_in_ms, at);
            }
            Event::MatchTimeout { ticket } => write_match_timeout(buf, ticket),
            Event::Unknown { .. } => {}
        }
    }

    /// The room the event is about (empty for a `match_timeout` and an
    /// unknown event).
    pub fn room(&self) -> &str {
        match self {
            Event::MemberJoined { room, .. }
            | Event::MemberLeft { room, .. }
            | Event::VariableChanged { room, .. }
            | Event::RoomMessage { room, .. }
            | Event::Kicked { room, .. }
            | Event::RoomDeleted { room }
            | Event::RoomClosed { room, .. }
            | Event::RoomReloaded { room }
            | Event::MemberDisconnected { room, .. }
            | Event::MemberReconnected { room, .. }
            | Event::RoomState { room, .. }
            | Event::Matched { room, .. } => room,
            Event::MatchTimeout { .. } | Event::Unknown { .. } => "",
        }
    }
}
