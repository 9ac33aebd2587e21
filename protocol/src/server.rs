//! What the server sends: the welcome, responses, errors and events.
//!
//! The `write_*` functions append one complete frame to a buffer from
//! borrowed parts; the server's hot paths call them directly, so relaying
//! a message copies its payload once and allocates nothing per member.
//! [`ServerMessage`] is the owned form, which clients decode.

use bytes::{Bytes, BytesMut};

use crate::decode::{DecodeError, MapReader, missing};
use crate::error::ErrorCode;
use crate::frame;
use crate::ids::{RoomId, SessionId};
use crate::msgpack::{Reader, Writer};
use crate::payload::Payload;

pub use crate::event::*;

/// Version of the protocol spoken by this crate, sent in the `welcome`
/// message. Raised on any change an older peer could misread.
pub const PROTOCOL_VERSION: u32 = 2;

/// The first message on every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The server's [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// This connection's session id.
    pub session: SessionId,
    /// Server name and version, for logs.
    pub server: String,
    /// A connection that sends no frame for this long is closed
    /// (`timeout`); clients send `ping` well within it.
    pub idle_timeout_ms: u64,
    /// Whether the connection must `authenticate` before anything else
    /// (`"auth": "token"` on the wire; `"none"` when not).
    pub auth_required: bool,
    /// The secret that resumes this session after its connection drops
    /// (`resume`); absent when the server holds no sessions
    /// (`reconnect.windowSecs` 0).
    pub resume_token: Option<String>,
}

/// Every message the server sends; `type` on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// `welcome`: first message on every connection.
    Welcome(Welcome),
    /// `response`: a request succeeded.
    Response {
        /// The request's id.
        id: u32,
        /// The operation's result.
        result: Payload,
    },
    /// `error`: a request failed, or (with a nil `id`) something about
    /// the connection or a notification went wrong.
    Error {
        /// The failed request's id; nil for connection-level errors and
        /// failed notifications.
        id: Option<u32>,
        /// Stable, machine-readable code.
        code: ErrorCode,
        /// One line for people; its wording may change.
        message: String,
    },
    /// `event`: something happened in a room the client is in.
    Event(Event),
    /// `redirect`: the answer to a `join` whose room lives on another node
    /// of the cluster.
    Redirect(Redirect),
}

/// Where to join a room that lives on another node, and the seat held
/// there for the joiner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The `join` request's id.
    pub id: u32,
    /// The room.
    pub room: RoomId,
    /// The owning node's address for clients (`host:port` of its TCP
    /// port).
    pub address: String,
    /// The owning node's address for WebSocket clients (`host:port` of
    /// its WebSocket port), when it advertises one
    /// (`cluster.advertiseWsAddress`).
    pub ws_address: Option<String>,
    /// A one-time seat reservation: give it as `reservation` in the
    /// `join` sent to that node.
    pub reservation: String,
    /// How long the seat is held.
    pub expires_in_ms: u64,
    /// For a `join_or_create`: whether the room was created for this
    /// request (written only when true).
    pub created: bool,
}

/// Appends a `welcome` frame.
pub fn write_welcome(buf: &mut BytesMut, welcome: &Welcome) {
    let start = frame::begin(buf);
    let mut w = Writer::new(buf);
    w.map(6 + usize::from(welcome.resume_token.is_some())).str("type").str("welcome");
    w.str("protocol").uint(welcome.protocol.into());
    w.str("session").uint(welcome.session);
    w.str("server").str(&welcome.server);
    w.str("idle_timeout_ms").uint(welcome.idle_timeout_ms);
    w.str("auth").str(if welcome.auth_required { "token" } else { "none" });
    if let Some(token) = &welcome.resume_token {
        w.str("resume_token").str(token);
    }
    frame::finish(buf, start);
}

/// Appends a `response` frame whose result is the MessagePack `result`.
pub fn write_response(buf: &mut BytesMut, id: u32, result: &[u8]) {
    let start = frame::begin(buf);
    let mut w = Writer::new(buf);
    w.map(3).str("type").str("response").str("id").uint(id.into()).str("result").raw(result);
    frame::finish(buf, start);
}

/// Bytes a `response` frame around a result of `result_len` bytes takes.
pub fn response_size(result_len: usize) -> usize {
    frame::LENGTH_PREFIX + 1 + 5 + 9 + 3 + 5 + 7 + result_len
}

/// Appends an `error` frame.
pub fn write_error(buf: &mut BytesMut, id: Option<u32>, code: ErrorCode, message: &str) {
    write_error_fields(buf, id, code, message, false);
}

/// Appends the `error` frame that ends a connection: it says
/// `"closing": true` and, sent outside the numbered stream, is not
/// counted (see PROTOCOL.md, "Sequence numbers").
pub fn write_farewell(buf: &mut BytesMut, code: ErrorCode, message: &str) {
    write_error_fields(buf, None, code, message, true);
}

fn write_error_fields(
    buf: &mut BytesMut,
    id: Option<u32>,
    code: ErrorCode,
    message: &str,
    closing: bool,
) {
    let start = frame::begin(buf);
    let mut w = Writer::new(buf);
    w.map(4 + usize::from(closing)).str("type").str("error");
    w.str("id").opt_uint(id.map(u64::from));
    w.str("code").str(code.as_str());
    w.str("message").str(message);
    if closing {
        w.str("closing").bool(true);
    }
    frame::finish(buf, start);
}

/// Appends a `redirect` frame.
pub fn write_redirect(buf: &mut BytesMut, redirect: &Redirect) {
    let start = frame::begin(buf);
    let mut w = Writer::new(buf);
    let fields = 6 + usize::from(redirect.ws_address.is_some()) + usize::from(redirect.created);
    w.map(fields).str("type").str("redirect");
    w.str("id").uint(u64::from(redirect.id));
    w.str("room").str(&redirect.room);
    w.str("address").str(&redirect.address);
    if let Some(ws_address) = &redirect.ws_address {
        w.str("ws_address").str(ws_address);
    }
    w.str("reservation").str(&redirect.reservation);
    w.str("expires_in_ms").uint(redirect.expires_in_ms);
    if redirect.created {
        w.str("created").bool(true);
    }
    frame::finish(buf, start);
}

impl ServerMessage {
    /// Encodes this message as one frame (prefix included).
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(64);
        self.write(&mut buf);
        buf.freeze()
    }

    /// Appends this message as one frame to `buf`.
    pub fn write(&self, buf: &mut BytesMut) {
        match self {
            ServerMessage::Welcome(welcome) => write_welcome(buf, welcome),
            ServerMessage::Response { id, result } => write_response(buf, *id, result.as_bytes()),
            ServerMessage::Error { id, code, message } => write_error(buf, *id, *code, message),
            ServerMessage::Event(event) => event.write(buf),
            ServerMessage::Redirect(redirect) => write_redirect(buf, redirect),
        }
    }

    /// Decodes a frame body. Unknown fields are skipped; payloads are
    /// slices of `body`, not copies.
    ///
    /// # Errors
    /// When the body is not a server message.
    pub fn decode(body: &Bytes) -> Result<ServerMessage, DecodeError> {
        Ok(ServerMessage::decode_numbered(body)?.0)
    }

    /// [`ServerMessage::decode`], and whether the frame is numbered: part
    /// of the session's reliable stream, whose frames a client counts for
    /// `resume`'s `last_seq`. The welcome, a farewell (`"closing": true`)
    /// and unreliable events (`"unreliable": true`) are not.
    ///
    /// # Errors
    /// When the body is not a server message.
    pub fn decode_numbered(body: &Bytes) -> Result<(ServerMessage, bool), DecodeError> {
        crate::msgpack::validate(body, usize::MAX)?;
        let mut reader = Reader::new(body);
        let mut map = MapReader::new(body, &mut reader)?;
        let mut fields = Fields::default();
        while let Some(key) = map.key()? {
            match key {
                "type" => fields.kind = Some(map.str()?),
                "event" => fields.event = Some(map.str()?),
                "id" => fields.id = Some(map.opt_u64()?),
                "result" => fields.result = Some(map.payload()?),
                "code" => fields.code = Some(map.str()?),
                "message" => fields.message = Some(map.str()?),
                "protocol" => fields.protocol = Some(map.u32()?),
                "session" => fields.session = Some(map.u64()?),
                "server" => fields.server = Some(map.str()?),
                "idle_timeout_ms" => fields.idle_timeout_ms = Some(map.u64()?),
                "auth" => fields.auth = Some(map.str()?),
                "user_id" => fields.user_id = map.opt_str()?,
                "user_name" => fields.user_name = map.opt_str()?,
                "room" => fields.room = Some(map.str()?),
                "reason" => fields.reason = Some(map.str()?),
                "name" => fields.name = Some(map.str()?),
                "value" => fields.value = Some(map.payload()?),
                "data" => fields.data = Some(map.payload()?),
                "by" => fields.by = Some(map.opt_u64()?),
                "from" => fields.from = Some(map.opt_u64()?),
                "address" => fields.address = Some(map.str()?),
                "ws_address" => fields.ws_address = Some(map.str()?),
                "reservation" => fields.reservation = Some(map.str()?),
                "expires_in_ms" => fields.expires_in_ms = Some(map.u64()?),
                "resume_token" => fields.resume_token = map.opt_str()?,
                "state" => fields.state = Some(map.payload()?),
                "unreliable" => fields.unnumbered |= map.bool()?,
                "closing" => fields.unnumbered |= map.bool()?,
                "created" => fields.created = map.bool()?,
                "ticket" => fields.ticket = Some(map.str()?),
                _ => map.skip()?,
            }
        }
        let numbered = !fields.unnumbered && fields.kind.as_deref() != Some("welcome");
        Ok((fields.message()?, numbered))
    }
}

/// Every field a server message may have, gathered before the message is
/// built (fields may come in any order).
#[derive(Default)]
struct Fields {
    kind: Option<String>,
    event: Option<String>,
    id: Option<Option<u64>>,
    result: Option<Payload>,
    code: Option<String>,
    message: Option<String>,
    protocol: Option<u32>,
    session: Option<u64>,
    server: Option<String>,
    idle_timeout_ms: Option<u64>,
    auth: Option<String>,
    user_id: Option<String>,
    user_name: Option<String>,
    room: Option<String>,
    reason: Option<String>,
    name: Option<String>,
    value: Option<Payload>,
    data: Option<Payload>,
    by: Option<Option<u64>>,
    from: Option<Option<u64>>,
    address: Option<String>,
    ws_address: Option<String>,
    reservation: Option<String>,
    expires_in_ms: Option<u64>,
    resume_token: Option<String>,
    state: Option<Payload>,
    /// `unreliable` or `closing` was true: the frame is not numbered.
    unnumbered: bool,
    created: bool,
    ticket: Option<String>,
}

fn need<T>(field: Option<T>, what: &str, name: &str) -> Result<T, DecodeError> {
    field.map_or_else(|| missing(what, name), Ok)
}

impl Fields {
    fn message(mut self) -> Result<ServerMessage, DecodeError> {
        let kind = need(self.kind.take(), "a message", "type")?;
        Ok(match kind.as_str() {
            "welcome" => ServerMessage::Welcome(Welcome {
                protocol: need(self.protocol, "a welcome", "protocol")?,
                session: need(self.session, "a welcome", "session")?,
                server: self.server.unwrap_or_default(),
                idle_timeout_ms: self.idle_timeout_ms.unwrap_or(0),
                auth_required: self.auth.as_deref() == Some("token"),
                resume_token: self.resume_token,
            }),
            "response" => {
                let id = need(self.id.flatten(), "a response", "id")?;
                ServerMessage::Response {
                    id: u32::try_from(id).map_err(|_| DecodeError("id out of range".into()))?,
                    result: self.result.unwrap_or_default(),
                }
            }
            "error" => ServerMessage::Error {
                id: self.id.flatten().and_then(|id| u32::try_from(id).ok()),
                code: ErrorCode::parse(&need(self.code, "an error", "code")?),
                message: self.message.unwrap_or_default(),
            },
            "event" => ServerMessage::Event(self.event()?),
            "redirect" => {
                let id = need(self.id.flatten(), "a redirect", "id")?;
                ServerMessage::Redirect(Redirect {
                    id: u32::try_from(id).map_err(|_| DecodeError("id out of range".into()))?,
                    room: need(self.room, "a redirect", "room")?,
                    address: need(self.address, "a redirect", "address")?,
                    ws_address: self.ws_address,
                    reservation: need(self.reservation, "a redirect", "reservation")?,
                    expires_in_ms: self.expires_in_ms.unwrap_or(0),
                    created: self.created,
                })
            }
            other => return Err(DecodeError(format!("unknown message type {other:?}"))),
        })
    }

    fn event(self) -> Result<Event, DecodeError> {
        let event = need(self.event, "an event", "event")?;
        let what = "an event";
        let room = || need(self.room.clone(), what, "room");
        Ok(match event.as_str() {
            "member_joined" => Event::MemberJoined {
                room: room()?,
                session: need(self.session, what, "session")?,
                user_id: self.user_id.clone(),
                user_name: self.user_name.clone(),
            },
            "member_left" => Event::MemberLeft {
                room: room()?,
                session: need(self.session, what, "session")?,
                reason: self.reason.unwrap_or_default(),
            },
            "variable_changed" => Event::VariableChanged {
                room: room()?,
                name: need(self.name, what, "name")?,
                value: self.value.unwrap_or_default(),
                by: self.by.flatten(),
            },
            "room_message" => Event::RoomMessage {
                room: room()?,
                from: self.from.flatten(),
                data: self.data.unwrap_or_default(),
            },
            "kicked" => Event::Kicked { room: room()?, reason: self.reason.unwrap_or_default() },
            "room_deleted" => Event::RoomDeleted { room: room()? },
            "room_closed" => {
                Event::RoomClosed { room: room()?, reason: self.reason.unwrap_or_default() }
            }
            "room_reloaded" => Event::RoomReloaded { room: room()? },
            "member_disconnected" => Event::MemberDisconnected {
                room: room()?,
                session: need(self.session, what, "session")?,
            },
            "member_reconnected" => Event::MemberReconnected {
                room: room()?,
                session: need(self.session, what, "session")?,
            },
            "room_state" => {
                Event::RoomState { room: room()?, state: need(self.state, what, "state")? }
            }
            "matched" => Event::Matched {
                ticket: need(self.ticket.clone(), what, "ticket")?,
                room: room()?,
                reservation: need(self.reservation.clone(), what, "reservation")?,
                expires_in_ms: self.expires_in_ms.unwrap_or(0),
                address: self.address.clone(),
                ws_address: self.ws_address.clone(),
            },
            "match_timeout" => Event::MatchTimeout { ticket: need(self.ticket, what, "ticket")? },
            _ => Event::Unknown { event },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Value;

    fn round_trip(message: ServerMessage) {
        let mut framed = message.encode();
        let body = framed.split_off(frame::LENGTH_PREFIX);
        assert_eq!(ServerMessage::decode(&body).unwrap(), message);
    }

    #[test]
    fn every_message_decodes_to_what_was_encoded() {
        round_trip(ServerMessage::Welcome(Welcome {
            protocol: 2,
            session: 9,
            server: "x".into(),
            idle_timeout_ms: 60_000,
            auth_required: true,
            resume_token: Some("t".into()),
        }));
        round_trip(ServerMessage::Response { id: 3, result: Payload::from(Value::F32(1.0)) });
        round_trip(ServerMessage::Redirect(Redirect {
            id: 3,
            room: "c-r7".into(),
            address: "10.0.0.3:7777".into(),
            ws_address: None,
            reservation: "ab".into(),
            expires_in_ms: 15_000,
            created: false,
        }));
        round_trip(ServerMessage::Redirect(Redirect {
            id: 4,
            room: String::new(),
            address: "10.0.0.3:7777".into(),
            ws_address: Some("10.0.0.3:7780".into()),
            reservation: String::new(),
            expires_in_ms: 0,
            created: true,
        }));
        round_trip(ServerMessage::Event(Event::Matched {
            ticket: "t".into(),
            room: "a-r1".into(),
            reservation: "s".into(),
            expires_in_ms: 30_000,
            address: Some("10.0.0.3:7777".into()),
            ws_address: None,
        }));
        round_trip(ServerMessage::Event(Event::MatchTimeout { ticket: "t".into() }));
        round_trip(ServerMessage::Error {
            id: None,
            code: ErrorCode::Timeout,
            message: "m".into(),
        });
        let room = "r1".to_owned();
        for event in [
            Event::MemberJoined {
                room: room.clone(),
                session: 1,
                user_id: Some("u1".into()),
                user_name: None,
            },
            Event::MemberLeft { room: room.clone(), session: 1, reason: "left".into() },
            Event::VariableChanged {
                room: room.clone(),
                name: "n".into(),
                value: Payload::from(Value::Binary(vec![9])),
                by: None,
            },
            Event::RoomMessage { room: room.clone(), from: Some(u64::MAX), data: Payload::nil() },
            Event::Kicked { room: room.clone(), reason: "bye".into() },
            Event::RoomDeleted { room: room.clone() },
            Event::RoomClosed { room: room.clone(), reason: "broken".into() },
            Event::MemberDisconnected { room: room.clone(), session: 4 },
            Event::MemberReconnected { room: room.clone(), session: 4 },
            Event::RoomState { room: room.clone(), state: Payload::nil() },
            Event::RoomReloaded { room },
        ] {
            round_trip(ServerMessage::Event(event));
        }
    }
}
