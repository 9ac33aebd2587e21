//! Requests (client → server): the envelope, the strict decoder the
//! server runs on every frame, and the encoder clients use.
//!
//! A request is a map: `op`, an optional `id`, `room` for an operation on
//! one room, and the operation's fields. Operations are declared once, in
//! two tables ([`RoomOp`], [`ServerOp`]), which give their names, fields,
//! decoder and encoder.
//!
//! The decoder is strict so that mistakes surface at once: unknown and
//! duplicate fields are refused, required fields are required, structured
//! fields must be maps. Every refusal of a frame that is MessagePack is an
//! `invalid_request` carrying the request's `id` whenever it could be read;
//! `invalid_frame` is kept for bytes that are not MessagePack at all.
//!
//! # Layout
//! - [`table`]: the `operations!` macro the tables are written with.
//! - [`fields`]: the strict field reader and how each field type is read
//!   and written ([`fields::WireField`]).
//! - [`room_ops`]: [`RoomOp`], the operations on a room.
//! - [`server_ops`]: [`ServerOp`], the others.

pub mod fields;
pub mod room_ops;
pub mod server_ops;
mod table;

use bytes::{Bytes, BytesMut};

pub use room_ops::RoomOp;
pub use server_ops::ServerOp;

use crate::error::{ApiError, ErrorCode, quote};
use crate::frame;
use crate::ids::RoomId;
use crate::msgpack::{self, FieldWriter, MAX_NESTING, Reader, ValueError};
use fields::{Entry, Field, Fields};

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

/// Every request a client can make.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// An operation on one room: the room's actor runs it.
    Room {
        /// The room (`room` on the wire).
        room: RoomId,
        /// What to do.
        op: RoomOp,
    },
    /// An operation of the connection or the server.
    Server(ServerOp),
}

impl Request {
    /// Every `op` the server knows: the room operations, then the others.
    pub fn ops() -> impl Iterator<Item = &'static str> {
        RoomOp::NAMES.iter().chain(ServerOp::NAMES).copied()
    }

    /// Operation `op` on `room`.
    pub fn room(room: impl Into<RoomId>, op: RoomOp) -> Request {
        Request::Room { room: room.into(), op }
    }

    /// A plain `join` of `room`: no password, invite, options or seat
    /// reservation.
    pub fn join(room: impl Into<RoomId>) -> Request {
        Request::room(
            room,
            RoomOp::Join { password: None, invite: None, options: None, reservation: None },
        )
    }

    /// The room this request is about, if it is about one.
    pub fn room_id(&self) -> Option<&str> {
        match self {
            Request::Room { room, .. } => Some(room),
            Request::Server(_) => None,
        }
    }

    /// This request's place in [`Request::ops`] (for counters kept by
    /// operation).
    pub fn op_index(&self) -> usize {
        match self {
            Request::Room { op, .. } => op.index(),
            Request::Server(op) => RoomOp::NAMES.len() + op.index(),
        }
    }

    /// How many operations there are (the length of [`Request::ops`]).
    pub const OP_COUNT: usize = RoomOp::NAMES.len() + ServerOp::NAMES.len();

    /// This request's `op`.
    pub fn op(&self) -> &'static str {
        match self {
            Request::Room { op, .. } => op.name(),
            Request::Server(op) => op.name(),
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
            Request::Room { room, op } => {
                fields.str("room", room);
                op.encode(&mut fields);
            }
            Request::Server(op) => op.encode(&mut fields),
        }
        fields.write(buf);
        frame::finish(buf, start);
    }
}

impl From<ServerOp> for Request {
    fn from(op: ServerOp) -> Request {
        Request::Server(op)
    }
}

/// A frame the server refuses: the id to answer (when one could be read)
/// and the error (`invalid_frame`, `invalid_request` or
/// `unknown_operation`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The request's id, if the frame had a readable one.
    pub id: Option<u32>,
    /// What is wrong.
    pub error: ApiError,
}

/// Most fields a request may have.
const MAX_FIELDS: usize = 12;

/// Decodes a frame body into a request.
///
/// # Errors
/// `invalid_frame` when the body is not MessagePack; `unknown_operation`
/// for an `op` the server does not know; `invalid_request` for anything
/// else that is wrong, with the request's id when it was readable.
pub fn decode(body: &Bytes) -> Result<RequestFrame, Rejected> {
    let rejected = |id, code, message: String| Rejected { id, error: ApiError::new(code, message) };
    let too_deep = match msgpack::validate(body, MAX_NESTING + 1) {
        Ok(()) => false,
        Err(ValueError::TooDeep) => true,
        Err(ValueError::Malformed(why)) => {
            return Err(rejected(
                None,
                ErrorCode::InvalidFrame,
                format!("the frame is not MessagePack: {why}"),
            ));
        }
    };
    let invalid = |id, message: String| rejected(id, ErrorCode::InvalidRequest, message);
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
    let mut fields = Fields { body, entries: &mut entries[..len] };
    let id = request_id(&mut fields).map_err(|message| invalid(None, message))?;
    let invalid = |message: String| invalid(id, message);
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
    let Some(request) = operation(op, &mut fields) else {
        // The list of every operation would pass a message's 300 bytes.
        let known = Request::ops().count();
        return Err(rejected(
            id,
            ErrorCode::UnknownOperation,
            format!("unknown operation {}; PROTOCOL.md lists the {known} there are", quote(op)),
        ));
    };
    let request = request.map_err(|message| invalid(format!("bad `{op}` request: {message}")))?;
    if let Some(extra) = fields.unused() {
        return Err(invalid(format!("bad `{op}` request: no field {}", quote(extra))));
    }
    Ok(RequestFrame { id, request })
}

/// The request's `id`: nil or absent for a notification.
fn request_id(fields: &mut Fields<'_, '_>) -> Result<Option<u32>, String> {
    let Some(bytes) = fields.take("id") else { return Ok(None) };
    let mut reader = Reader::new(bytes);
    if reader.nil() {
        return Ok(None);
    }
    let id = reader.u64().ok().and_then(|id| u32::try_from(id).ok());
    id.map(Some).ok_or_else(|| {
        let found = msgpack::type_name(bytes[0]);
        let found = if found == "an unsigned integer" { "a larger integer" } else { found };
        format!("`id` must be an unsigned 32-bit integer, found {found}")
    })
}

/// Operation `op` read from the request's fields (with its `room` when it
/// is a room's); `None` for an `op` no table has.
fn operation(op: &str, fields: &mut Fields<'_, '_>) -> Option<Field<Request>> {
    if let Some(decoded) = RoomOp::decode(op, fields) {
        return Some(decoded.and_then(|op| Ok(Request::Room { room: fields.str("room")?, op })));
    }
    ServerOp::decode(op, fields).map(|decoded| decoded.map(Request::Server))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Payload;
    use crate::room::{CreateRoom, VariableBroadcast};
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
            Request::room(
                "r1",
                RoomOp::Join {
                    password: Some("pw".into()),
                    invite: Some("i".into()),
                    options: None,
                    reservation: Some("s".into()),
                },
            ),
            Request::Server(ServerOp::Authenticate { token: "a.b.c".into() }),
            Request::room("r1", RoomOp::CreateInvite {}),
            Request::room(
                "r1",
                RoomOp::SetVariable {
                    name: "blob".into(),
                    value: Payload::from(Value::Binary(vec![1, 2])),
                    broadcast: Some(false),
                    unreliable: None,
                },
            ),
            Request::Server(ServerOp::CreateRoom {
                settings: CreateRoom {
                    room_type: Some("chat".into()),
                    variable_broadcast: Some(VariableBroadcast {
                        enabled: Some(true),
                        default: None,
                    }),
                    metadata: Some(Payload::from(Value::F32(2.5))),
                    ..CreateRoom::default()
                },
            }),
            Request::room("r", RoomOp::Invoke { method: "m".into(), args: Payload::nil() }),
            Request::Server(ServerOp::Ping {}),
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
        assert_eq!((err.id, err.error.code), (None, ErrorCode::InvalidFrame));
        let err = rejected(Value::Array(vec![]));
        assert_eq!((err.id, err.error.code), (None, ErrorCode::InvalidRequest));
        let err = rejected(Value::Map(vec![
            (Value::from("id"), Value::from(4)),
            (Value::from(1), Value::from("x")),
        ]));
        assert_eq!(
            (err.id, err.error.code),
            (Some(4), ErrorCode::InvalidRequest),
            "{}",
            err.error.message
        );
        let err =
            rejected(map(vec![("id", Value::from(5)), ("op", Value::Binary(b"ping".to_vec()))]));
        assert_eq!((err.id, err.error.code), (Some(5), ErrorCode::InvalidRequest));
        assert!(err.error.message.contains("found binary"), "{}", err.error.message);
    }

    #[test]
    fn a_nan_or_negative_id_is_refused_with_a_message() {
        for id in [Value::F64(f64::NAN), Value::from(-1), Value::from(u64::from(u32::MAX) + 1)] {
            let err = rejected(map(vec![("id", id), ("op", Value::from("ping"))]));
            assert_eq!((err.id, err.error.code), (None, ErrorCode::InvalidRequest));
            assert!(err.error.message.contains("`id`"), "{}", err.error.message);
        }
    }

    #[test]
    fn unknown_duplicate_and_missing_fields_are_refused() {
        let err = rejected(map(vec![
            ("id", Value::from(1)),
            ("op", Value::from("ping")),
            ("x", Value::Nil),
        ]));
        assert_eq!((err.id, err.error.code), (Some(1), ErrorCode::InvalidRequest));
        let err = rejected(map(vec![
            ("id", Value::from(2)),
            ("op", Value::from("send_message")),
            ("room", Value::from("r1")),
        ]));
        assert!(err.error.message.contains("missing field `data`"), "{}", err.error.message);
        let err = rejected(map(vec![("op", Value::from("ping")), ("op", Value::from("ping"))]));
        assert!(err.error.message.contains("duplicate"), "{}", err.error.message);
        let err = rejected(map(vec![
            ("id", Value::from(3)),
            ("op", Value::from("create_room")),
            ("variable_broadcast", Value::Array(vec![Value::from(false), Value::from(true)])),
        ]));
        assert!(
            err.error.message.contains("must be a map, found an array"),
            "{}",
            err.error.message
        );
        let err =
            rejected(map(vec![("id", Value::from(9)), ("op", Value::from("fly".repeat(100)))]));
        assert_eq!((err.id, err.error.code), (Some(9), ErrorCode::UnknownOperation));
        assert!(err.error.message.len() < 300, "{}", err.error.message);
    }

    /// Found by the `request` fuzz target: a duplicate key holding a
    /// newline was quoted raw, making the refusal two lines.
    #[test]
    fn a_refusal_quoting_a_duplicate_key_is_one_line() {
        let err = decode(&Bytes::from_static(b"\x82\xd9\x02o\np\xd9\x02o\n\xd9\x00")).unwrap_err();
        assert_eq!(err.error.code, ErrorCode::InvalidRequest);
        assert!(!err.error.message.contains('\n'), "{}", err.error.message);
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
        assert_eq!((err.id, err.error.code), (Some(7), ErrorCode::InvalidRequest));
        assert!(err.error.message.contains("deeper than"), "{}", err.error.message);
        // One level less is accepted.
        let Value::Array(mut inner) = value else { unreachable!() };
        let ok = decode(&body(map(vec![
            ("op", Value::from("send_message")),
            ("room", Value::from("r1")),
            ("data", inner.remove(0)),
        ])));
        assert!(ok.is_ok());
    }

    #[test]
    fn every_op_of_the_tables_has_its_fields_and_round_trips_with_them_absent() {
        for op in Request::ops() {
            let fields = RoomOp::fields_of(op).or_else(|| ServerOp::fields_of(op)).unwrap();
            assert!(fields.iter().all(|f| !f.is_empty()), "{op}: {fields:?}");
        }
        assert_eq!(
            RoomOp::fields_of("set_variable").unwrap(),
            ["name", "value", "broadcast", "unreliable"]
        );
        assert_eq!(ServerOp::fields_of("create_room").unwrap().len(), 9);
        assert_eq!(RoomOp::fields_of("nope"), None);
    }

    #[test]
    fn each_request_knows_its_place_among_the_ops() {
        let ops: Vec<&str> = Request::ops().collect();
        assert_eq!(ops.len(), Request::OP_COUNT);
        for request in [
            Request::join("r1"),
            Request::room("r1", RoomOp::Info {}),
            Request::Server(ServerOp::Ping {}),
            Request::Server(ServerOp::UdpBind {}),
        ] {
            assert_eq!(ops[request.op_index()], request.op());
        }
    }
}
