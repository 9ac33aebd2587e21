//! Requests (client → server): the operations, the strict decoder the
//! server runs on every frame, and the encoder clients use.
//!
//! The decoder is strict so that mistakes surface at once: unknown and
//! duplicate fields are refused, required fields are required, structured
//! fields must be maps. Every refusal of a frame that is MessagePack is an
//! `invalid_request` carrying the request's `id` whenever it could be read;
//! `invalid_frame` is kept for bytes that are not MessagePack at all.

use bytes::{Bytes, BytesMut};

use crate::error::{ErrorCode, quote};
use crate::msgpack::{self, MAX_NESTING, Mismatch, Reader, ValueError, Writer};
use crate::payload::Payload;
use crate::room::{CreateRoom, VariableBroadcast};
use crate::{RoomId, frame};

/// A request with its envelope: the `id` the answer echoes (none for a
/// notification) and the operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestFrame {
    /// Chosen by the client; echoed by the answer. A request without one
    /// is a notification: no success response, errors with a nil id.
    pub id: Option<u32>,
    /// The operation and its arguments.
    pub request: Request,
}

/// Every operation a client can ask for; `op` on the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `create_room`: create a room; the result is a
    /// [`crate::RoomInfo`]. The creator does not join.
    CreateRoom(CreateRoom),
    /// `list_rooms`: public rooms, optionally of one type, oldest first;
    /// the result is `{"rooms": [RoomInfo], "total": n}` (see
    /// [`crate::room::RoomList`]).
    ListRooms {
        /// Only rooms of this type.
        room_type: Option<String>,
        /// Rooms to skip (default 0).
        offset: Option<u32>,
        /// Rooms to return at most (default and maximum 1000; fewer when
        /// they would not fit in one frame).
        limit: Option<u32>,
    },
    /// `join`: join a room; the result is a [`crate::JoinResult`].
    Join {
        /// Room to join.
        room: RoomId,
        /// Needed when the room has a password (unless `invite` is given).
        password: Option<String>,
        /// An invite the room's owner asked for (`create_invite`): admits
        /// once, in place of the password.
        invite: Option<String>,
        /// A value the room's join hook receives (a team, a character…).
        options: Option<Payload>,
        /// A seat reservation from a `redirect` (cluster mode): holds a
        /// place in the room until it is used, once, or expires.
        reservation: Option<String>,
    },
    /// `leave`: leave a room; the result is nil.
    Leave {
        /// Room to leave.
        room: RoomId,
    },
    /// `delete_room`: delete a room (its owner, or an operator); members
    /// get `room_deleted`.
    DeleteRoom {
        /// Room to delete.
        room: RoomId,
    },
    /// `create_invite`: a one-time invite into a room (its owner, or an
    /// operator); the result is `{"invite": str, "expires_in_ms": n}`.
    CreateInvite {
        /// The room.
        room: RoomId,
    },
    /// `authenticate`: presents a signed token; on a server with
    /// authentication, the first request of every connection. The result
    /// is `{"user_id": str, "user_name": str or nil}`.
    Authenticate {
        /// The token (a JWT) the operator's account service signed.
        token: String,
    },
    /// `get_variable`: the result is `{"value": v}`.
    GetVariable {
        /// Room holding the variable (the caller must be a member).
        room: RoomId,
        /// Variable name.
        name: String,
    },
    /// `get_variables`: the result is `{"variables": {name: value}}`.
    GetVariables {
        /// Room holding the variables (the caller must be a member).
        room: RoomId,
    },
    /// `set_variable`: the result is `{"broadcast": bool}`, whether
    /// members were sent `variable_changed`.
    SetVariable {
        /// Room holding the variable (the caller must be a member).
        room: RoomId,
        /// Variable name.
        name: String,
        /// New value.
        value: Payload,
        /// The variable's broadcast flag from now on; when absent, the
        /// flag it has, or the room's default for a new variable.
        broadcast: Option<bool>,
        /// Whether its changes go over UDP to members that bound it (for
        /// frequent values whose every change need not arrive); when
        /// absent, what it was (off for a new variable).
        unreliable: Option<bool>,
    },
    /// `invoke`: call a room method; the result is the method's.
    Invoke {
        /// Room to call (the caller must be a member).
        room: RoomId,
        /// Method name.
        method: String,
        /// Arguments (nil when absent).
        args: Payload,
    },
    /// `send_message`: a message to the room; the generic room relays it
    /// to every member, the sender included, as `room_message`.
    SendMessage {
        /// Room to send to (the caller must be a member).
        room: RoomId,
        /// Payload (required; nil is a value).
        data: Payload,
    },
    /// `ping`: does nothing; the result is nil. Keeps an idle connection
    /// open and measures latency.
    Ping,
    /// `udp_bind`: asks for the UDP channel; the result is a
    /// [`crate::udp::Binding`] (the port, a session id and the keys).
    UdpBind,
}

impl Request {
    /// Every `op` the server knows.
    pub const OPS: &'static [&'static str] = &[
        "create_room",
        "list_rooms",
        "join",
        "leave",
        "delete_room",
        "get_variable",
        "get_variables",
        "set_variable",
        "invoke",
        "send_message",
        "ping",
        "udp_bind",
        "create_invite",
        "authenticate",
    ];

    /// A plain `join` of `room`: no password, invite, options or seat
    /// reservation.
    pub fn join(room: impl Into<RoomId>) -> Request {
        Request::Join {
            room: room.into(),
            password: None,
            invite: None,
            options: None,
            reservation: None,
        }
    }

    /// The room this request is about, if it is about one.
    pub fn room(&self) -> Option<&str> {
        match self {
            Request::Join { room, .. }
            | Request::Leave { room }
            | Request::DeleteRoom { room }
            | Request::CreateInvite { room }
            | Request::GetVariable { room, .. }
            | Request::GetVariables { room }
            | Request::SetVariable { room, .. }
            | Request::Invoke { room, .. }
            | Request::SendMessage { room, .. } => Some(room),
            Request::CreateRoom(_)
            | Request::ListRooms { .. }
            | Request::Ping
            | Request::UdpBind
            | Request::Authenticate { .. } => None,
        }
    }

    /// This request's `op`.
    pub fn op(&self) -> &'static str {
        match self {
            Request::CreateRoom(_) => "create_room",
            Request::ListRooms { .. } => "list_rooms",
            Request::Join { .. } => "join",
            Request::Leave { .. } => "leave",
            Request::DeleteRoom { .. } => "delete_room",
            Request::GetVariable { .. } => "get_variable",
            Request::GetVariables { .. } => "get_variables",
            Request::SetVariable { .. } => "set_variable",
            Request::Invoke { .. } => "invoke",
            Request::SendMessage { .. } => "send_message",
            Request::Ping => "ping",
            Request::UdpBind => "udp_bind",
            Request::CreateInvite { .. } => "create_invite",
            Request::Authenticate { .. } => "authenticate",
        }
    }

    /// Encodes this request as one frame (prefix included), with `id`.
    pub fn encode(&self, id: Option<u32>) -> Bytes {
        let mut buf = BytesMut::with_capacity(64);
        self.encode_into(id, &mut buf);
        buf.freeze()
    }

    /// Appends this request as one frame to `buf`.
    pub fn encode_into(&self, id: Option<u32>, buf: &mut BytesMut) {
        let start = frame::begin(buf);
        let mut fields = FieldWriter::default();
        if let Some(id) = id {
            fields.uint("id", u64::from(id));
        }
        fields.str("op", self.op());
        match self {
            Request::CreateRoom(settings) => settings.write_fields(&mut fields),
            Request::ListRooms { room_type, offset, limit } => {
                fields.opt_str("room_type", room_type.as_deref());
                if let Some(offset) = offset {
                    fields.uint("offset", (*offset).into());
                }
                if let Some(limit) = limit {
                    fields.uint("limit", (*limit).into());
                }
            }
            Request::Join { room, password, invite, options, reservation } => {
                fields.str("room", room);
                fields.opt_str("password", password.as_deref());
                fields.opt_str("invite", invite.as_deref());
                fields.opt_str("reservation", reservation.as_deref());
                if let Some(options) = options {
                    fields.payload("options", options);
                }
            }
            Request::Leave { room }
            | Request::DeleteRoom { room }
            | Request::CreateInvite { room }
            | Request::GetVariables { room } => {
                fields.str("room", room);
            }
            Request::Authenticate { token } => fields.str("token", token),
            Request::GetVariable { room, name } => {
                fields.str("room", room);
                fields.str("name", name);
            }
            Request::SetVariable { room, name, value, broadcast, unreliable } => {
                fields.str("room", room);
                fields.str("name", name);
                fields.payload("value", value);
                if let Some(broadcast) = broadcast {
                    fields.bool("broadcast", *broadcast);
                }
                if let Some(unreliable) = unreliable {
                    fields.bool("unreliable", *unreliable);
                }
            }
            Request::Invoke { room, method, args } => {
                fields.str("room", room);
                fields.str("method", method);
                fields.payload("args", args);
            }
            Request::SendMessage { room, data } => {
                fields.str("room", room);
                fields.payload("data", data);
            }
            Request::Ping | Request::UdpBind => {}
        }
        fields.write(buf);
        frame::finish(buf, start);
    }
}

/// The fields of a map being encoded, written once their number is known.
#[derive(Default)]
pub(crate) struct FieldWriter {
    count: usize,
    body: Vec<u8>,
}

impl FieldWriter {
    fn key(&mut self, key: &str) -> Writer<'_, Vec<u8>> {
        self.count += 1;
        let mut writer = Writer::new(&mut self.body);
        writer.str(key);
        writer
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) {
        self.key(key).str(value);
    }

    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    pub(crate) fn uint(&mut self, key: &str, value: u64) {
        self.key(key).uint(value);
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) {
        self.key(key).bool(value);
    }

    pub(crate) fn payload(&mut self, key: &str, value: &Payload) {
        self.key(key).raw(value.as_bytes());
    }

    pub(crate) fn map(&mut self, key: &str, fields: FieldWriter) {
        let mut writer = self.key(key);
        writer.map(fields.count).raw(&fields.body);
    }

    pub(crate) fn write(self, buf: &mut BytesMut) {
        Writer::new(buf).map(self.count).raw(&self.body);
    }
}

/// A frame the server refuses: the id to answer (when one could be read),
/// the code and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The request's id, if the frame had a readable one.
    pub id: Option<u32>,
    /// `invalid_frame`, `invalid_request` or `unknown_operation`.
    pub code: ErrorCode,
    /// What is wrong, in one line.
    pub message: String,
}

/// Most fields a request may have.
const MAX_FIELDS: usize = 12;

/// One top-level entry of a request map.
#[derive(Clone, Copy)]
struct Entry<'a> {
    /// The key, or the type found instead of a string.
    key: Result<&'a str, &'static str>,
    /// The value's bytes.
    value: &'a [u8],
    used: bool,
}

/// Decodes a frame body into a request.
///
/// # Errors
/// `invalid_frame` when the body is not MessagePack; `unknown_operation`
/// for an `op` the server does not know; `invalid_request` for anything
/// else that is wrong, with the request's id when it was readable.
pub fn decode(body: &Bytes) -> Result<RequestFrame, Rejected> {
    let too_deep = match msgpack::validate(body, MAX_NESTING + 1) {
        Ok(()) => false,
        Err(ValueError::TooDeep) => true,
        Err(ValueError::Malformed(why)) => {
            return Err(Rejected {
                id: None,
                code: ErrorCode::InvalidFrame,
                message: format!("the frame is not MessagePack: {why}"),
            });
        }
    };
    let invalid = |id, message: String| Rejected { id, code: ErrorCode::InvalidRequest, message };
    let mut reader = Reader::new(body);
    let len = reader
        .map_len()
        .map_err(|m| invalid(None, format!("a request must be a map, not {}", m.found)))?;
    if len > MAX_FIELDS {
        return Err(invalid(None, format!("a request has at most {MAX_FIELDS} fields, not {len}")));
    }
    let mut entries = [Entry { key: Err(""), value: &[], used: false }; MAX_FIELDS];
    for entry in entries.iter_mut().take(len) {
        let key = reader.str().map_err(|m| m.found);
        if key.is_err() {
            reader.skip().map_err(|err| invalid(None, err.to_string()))?;
        }
        let start = reader.position();
        reader.skip().map_err(|err| invalid(None, err.to_string()))?;
        *entry = Entry { key, value: &body[start..reader.position()], used: false };
    }
    let mut fields = Fields { body, entries: &mut entries[..len], op: "" };
    let id = match fields.take("id") {
        None => None,
        Some(bytes) => {
            let mut reader = Reader::new(bytes);
            if reader.nil() {
                None
            } else {
                let id = reader.u64().ok().and_then(|id| u32::try_from(id).ok());
                Some(id.ok_or_else(|| {
                    let found = msgpack::type_name(bytes[0]);
                    let found =
                        if found == "an unsigned integer" { "a larger integer" } else { found };
                    invalid(None, format!("`id` must be an unsigned 32-bit integer, found {found}"))
                })?)
            }
        }
    };
    let invalid = |message: String| Rejected { id, code: ErrorCode::InvalidRequest, message };
    if let Some(found) = fields.entries.iter().find_map(|e| e.key.err()) {
        return Err(invalid(format!("request keys must be strings, found {found}")));
    }
    for (i, entry) in fields.entries.iter().enumerate() {
        let key = entry.key.unwrap_or_default();
        if fields.entries[..i].iter().any(|other| other.key == Ok(key)) {
            return Err(invalid(format!("duplicate field {}", quote(key))));
        }
    }
    if too_deep {
        return Err(invalid(format!(
            "values nest arrays and maps deeper than {MAX_NESTING} levels"
        )));
    }
    let op = match fields.take("op") {
        None => return Err(invalid("missing field `op`".to_owned())),
        Some(bytes) => Reader::new(bytes)
            .str()
            .map_err(|m| invalid(format!("`op` must be a string, found {}", m.found)))?,
    };
    let Some(op) = Request::OPS.iter().find(|known| **known == op) else {
        return Err(Rejected {
            id,
            code: ErrorCode::UnknownOperation,
            message: format!("unknown operation {}; known: {}", quote(op), Request::OPS.join(", ")),
        });
    };
    fields.op = op;
    let request =
        fields.request().map_err(|message| invalid(format!("bad `{op}` request: {message}")))?;
    if let Some(extra) = fields.entries.iter().find(|e| !e.used) {
        let key = extra.key.unwrap_or_default();
        return Err(invalid(format!("bad `{op}` request: no field {}", quote(key))));
    }
    Ok(RequestFrame { id, request })
}

/// The entries of one request map, taken one by one by name.
struct Fields<'a, 'e> {
    body: &'a Bytes,
    entries: &'e mut [Entry<'a>],
    op: &'static str,
}

type Field<T> = Result<T, String>;

fn mistyped(name: &str, mismatch: Mismatch) -> String {
    format!("`{name}` must be {}, found {}", mismatch.expected, mismatch.found)
}

impl<'a> Fields<'a, '_> {
    /// The value of field `name`, marked as used; nil counts as absent.
    fn take(&mut self, name: &str) -> Option<&'a [u8]> {
        let entry = self.entries.iter_mut().find(|e| e.key == Ok(name))?;
        entry.used = true;
        Some(entry.value)
    }

    fn take_present(&mut self, name: &str) -> Option<&'a [u8]> {
        self.take(name).filter(|bytes| bytes[..] != [0xc0])
    }

    fn opt_str(&mut self, name: &str) -> Field<Option<String>> {
        match self.take_present(name) {
            None => Ok(None),
            Some(bytes) => {
                Reader::new(bytes).str().map(|s| Some(s.to_owned())).map_err(|m| mistyped(name, m))
            }
        }
    }

    fn str(&mut self, name: &str) -> Field<String> {
        self.opt_str(name)?.ok_or_else(|| format!("missing field `{name}`"))
    }

    fn opt_bool(&mut self, name: &str) -> Field<Option<bool>> {
        match self.take_present(name) {
            None => Ok(None),
            Some(bytes) => Reader::new(bytes).bool().map(Some).map_err(|m| mistyped(name, m)),
        }
    }

    fn opt_u32(&mut self, name: &str) -> Field<Option<u32>> {
        match self.take_present(name) {
            None => Ok(None),
            Some(bytes) => {
                let value = Reader::new(bytes).u64().map_err(|m| mistyped(name, m))?;
                u32::try_from(value)
                    .map(Some)
                    .map_err(|_| format!("`{name}` must be an unsigned 32-bit integer"))
            }
        }
    }

    /// A value carried as its bytes; nil is a value here.
    fn opt_payload(&mut self, name: &str) -> Option<Payload> {
        self.take(name).map(|bytes| Payload::from_validated(self.body.slice_ref(bytes)))
    }

    fn payload(&mut self, name: &str) -> Field<Payload> {
        self.opt_payload(name).ok_or_else(|| format!("missing field `{name}`"))
    }

    fn opt_broadcast(&mut self, name: &str) -> Field<Option<VariableBroadcast>> {
        let Some(bytes) = self.take_present(name) else {
            return Ok(None);
        };
        let mut reader = Reader::new(bytes);
        let len = reader.map_len().map_err(|m| mistyped(name, m))?;
        let mut policy = VariableBroadcast::default();
        for _ in 0..len {
            let key = reader
                .str()
                .map_err(|m| format!("`{name}` keys must be strings, found {}", m.found))?;
            let slot = match key {
                "enabled" => &mut policy.enabled,
                "default" => &mut policy.default,
                other => return Err(format!("`{name}` has no field {}", quote(other))),
            };
            if slot.is_some() {
                return Err(format!("duplicate field `{name}.{key}`"));
            }
            if !reader.nil() {
                *slot = Some(reader.bool().map_err(|m| mistyped(&format!("{name}.{key}"), m))?);
            }
        }
        Ok(Some(policy))
    }

    fn request(&mut self) -> Field<Request> {
        Ok(match self.op {
            "create_room" => Request::CreateRoom(CreateRoom {
                room_type: self.opt_str("room_type")?,
                name: self.opt_str("name")?,
                public: self.opt_bool("public")?,
                max_clients: self.opt_u32("max_clients")?,
                metadata: self.opt_payload("metadata"),
                variable_broadcast: self.opt_broadcast("variable_broadcast")?,
                auto_dispose: self.opt_bool("auto_dispose")?,
                password: self.opt_str("password")?,
                options: self.opt_payload("options"),
            }),
            "list_rooms" => Request::ListRooms {
                room_type: self.opt_str("room_type")?,
                offset: self.opt_u32("offset")?,
                limit: self.opt_u32("limit")?,
            },
            "join" => Request::Join {
                room: self.str("room")?,
                password: self.opt_str("password")?,
                invite: self.opt_str("invite")?,
                options: self.opt_payload("options"),
                reservation: self.opt_str("reservation")?,
            },
            "leave" => Request::Leave { room: self.str("room")? },
            "delete_room" => Request::DeleteRoom { room: self.str("room")? },
            "create_invite" => Request::CreateInvite { room: self.str("room")? },
            "authenticate" => Request::Authenticate { token: self.str("token")? },
            "get_variable" => {
                Request::GetVariable { room: self.str("room")?, name: self.str("name")? }
            }
            "get_variables" => Request::GetVariables { room: self.str("room")? },
            "set_variable" => Request::SetVariable {
                room: self.str("room")?,
                name: self.str("name")?,
                value: self.payload("value")?,
                broadcast: self.opt_bool("broadcast")?,
                unreliable: self.opt_bool("unreliable")?,
            },
            "invoke" => Request::Invoke {
                room: self.str("room")?,
                method: self.str("method")?,
                args: self.opt_payload("args").unwrap_or_default(),
            },
            "send_message" => {
                Request::SendMessage { room: self.str("room")?, data: self.payload("data")? }
            }
            "ping" => Request::Ping,
            "udp_bind" => Request::UdpBind,
            other => unreachable!("op {other} is in OPS but not decoded"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value;

    fn body(value: Value) -> Bytes {
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &value).unwrap();
        bytes.into()
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
    }

    fn rejected(value: Value) -> Rejected {
        decode(&body(value)).unwrap_err()
    }

    #[test]
    fn decodes_what_the_encoder_writes() {
        let requests = [
            Request::Join {
                room: "r1".into(),
                password: Some("pw".into()),
                invite: Some("i".into()),
                options: None,
                reservation: Some("s".into()),
            },
            Request::Authenticate { token: "a.b.c".into() },
            Request::CreateInvite { room: "r1".into() },
            Request::SetVariable {
                room: "r1".into(),
                name: "blob".into(),
                value: Payload::from(Value::Binary(vec![1, 2])),
                broadcast: Some(false),
                unreliable: None,
            },
            Request::CreateRoom(CreateRoom {
                room_type: Some("chat".into()),
                variable_broadcast: Some(VariableBroadcast { enabled: Some(true), default: None }),
                metadata: Some(Payload::from(Value::F32(2.5))),
                ..CreateRoom::default()
            }),
            Request::Invoke { room: "r".into(), method: "m".into(), args: Payload::nil() },
            Request::Ping,
        ];
        for (i, request) in requests.into_iter().enumerate() {
            let mut framed = request.encode(Some(i as u32));
            let body = framed.split_off(frame::LENGTH_PREFIX);
            assert_eq!(decode(&body).unwrap(), RequestFrame { id: Some(i as u32), request });
        }
    }

    #[test]
    fn malformed_bytes_are_invalid_frame_and_the_rest_invalid_request_with_the_id() {
        let err = decode(&Bytes::from_static(&[0xc1, 0x00])).unwrap_err();
        assert_eq!((err.id, err.code), (None, ErrorCode::InvalidFrame));
        let err = rejected(Value::Array(vec![]));
        assert_eq!((err.id, err.code), (None, ErrorCode::InvalidRequest));
        let err = rejected(Value::Map(vec![
            (Value::from("id"), Value::from(4)),
            (Value::from(1), Value::from("x")),
        ]));
        assert_eq!((err.id, err.code), (Some(4), ErrorCode::InvalidRequest), "{}", err.message);
        let err =
            rejected(map(vec![("id", Value::from(5)), ("op", Value::Binary(b"ping".to_vec()))]));
        assert_eq!((err.id, err.code), (Some(5), ErrorCode::InvalidRequest));
        assert!(err.message.contains("found binary"), "{}", err.message);
    }

    #[test]
    fn a_nan_or_negative_id_is_refused_with_a_message() {
        for id in [Value::F64(f64::NAN), Value::from(-1), Value::from(u64::from(u32::MAX) + 1)] {
            let err = rejected(map(vec![("id", id), ("op", Value::from("ping"))]));
            assert_eq!((err.id, err.code), (None, ErrorCode::InvalidRequest));
            assert!(err.message.contains("`id`"), "{}", err.message);
        }
    }

    #[test]
    fn unknown_duplicate_and_missing_fields_are_refused() {
        let err = rejected(map(vec![
            ("id", Value::from(1)),
            ("op", Value::from("ping")),
            ("x", Value::Nil),
        ]));
        assert_eq!((err.id, err.code), (Some(1), ErrorCode::InvalidRequest));
        let err = rejected(map(vec![
            ("id", Value::from(2)),
            ("op", Value::from("send_message")),
            ("room", Value::from("r1")),
        ]));
        assert!(err.message.contains("missing field `data`"), "{}", err.message);
        let err = rejected(map(vec![("op", Value::from("ping")), ("op", Value::from("ping"))]));
        assert!(err.message.contains("duplicate"), "{}", err.message);
        let err = rejected(map(vec![
            ("id", Value::from(3)),
            ("op", Value::from("create_room")),
            ("variable_broadcast", Value::Array(vec![Value::from(false), Value::from(true)])),
        ]));
        assert!(err.message.contains("must be a map, found an array"), "{}", err.message);
        let err =
            rejected(map(vec![("id", Value::from(9)), ("op", Value::from("fly".repeat(100)))]));
        assert_eq!((err.id, err.code), (Some(9), ErrorCode::UnknownOperation));
        assert!(err.message.len() < 300, "{}", err.message);
    }

    /// Found by the `request` fuzz target: a duplicate key holding a
    /// newline was quoted raw, making the refusal two lines.
    #[test]
    fn a_refusal_quoting_a_duplicate_key_is_one_line() {
        let err = decode(&Bytes::from_static(b"\x82\xd9\x02o\np\xd9\x02o\n\xd9\x00")).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(!err.message.contains('\n'), "{}", err.message);
    }

    #[test]
    fn deep_values_are_refused_in_their_own_words_with_the_id() {
        // The request map is one level; a value may nest MAX_NESTING more.
        let mut value = Value::from(1);
        for _ in 0..=MAX_NESTING {
            value = Value::Array(vec![value]);
        }
        let err = rejected(map(vec![
            ("id", Value::from(7)),
            ("op", Value::from("send_message")),
            ("room", Value::from("r1")),
            ("data", value.clone()),
        ]));
        assert_eq!((err.id, err.code), (Some(7), ErrorCode::InvalidRequest));
        assert!(err.message.contains("deeper than"), "{}", err.message);
        // One level less is accepted.
        let Value::Array(mut inner) = value else { unreachable!() };
        let ok = decode(&body(map(vec![
            ("op", Value::from("send_message")),
            ("room", Value::from("r1")),
            ("data", inner.remove(0)),
        ])));
        assert!(ok.is_ok());
    }
}
