//! Requests (client → server), and responses, errors and events
//! (server → client).

use serde::{Deserialize, Serialize};

use crate::room::CreateRoom;
use crate::{RoomId, SessionId, Value};

/// A request as it appears on the wire: the operation's fields and `op`,
/// plus an optional `id` the response echoes.
///
/// A request without `id` is a notification: it gets no success response
/// (errors are still reported, with a nil id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestFrame {
    /// Chosen by the client; echoed by the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// The operation and its arguments.
    #[serde(flatten)]
    pub request: Request,
}

/// Every operation a client can ask for. The `op` field names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Create a room; the result is a [`crate::RoomInfo`]. The creator does
    /// not join automatically.
    CreateRoom(CreateRoom),
    /// List public rooms, optionally of one type; the result is
    /// `{"rooms": [RoomInfo]}`.
    ListRooms {
        /// Only rooms of this type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room_type: Option<String>,
    },
    /// Join a room; the result is a [`crate::JoinResult`].
    Join {
        /// Room to join.
        room: RoomId,
        /// Needed when the room was created with a password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// Leave a room; the result is nil.
    Leave {
        /// Room to leave.
        room: RoomId,
    },
    /// Delete a room (its creator only); members get `room_deleted`.
    DeleteRoom {
        /// Room to delete.
        room: RoomId,
    },
    /// Read one variable; the result is `{"value": v}`.
    GetVariable {
        /// Room holding the variable (the caller must be a member).
        room: RoomId,
        /// Variable name.
        name: String,
    },
    /// Read every variable; the result is `{"variables": {name: value}}`.
    GetVariables {
        /// Room holding the variables (the caller must be a member).
        room: RoomId,
    },
    /// Set a variable; the result is `{"broadcast": bool}`, telling whether
    /// members were sent `variable_changed`.
    SetVariable {
        /// Room holding the variable (the caller must be a member).
        room: RoomId,
        /// Variable name.
        name: String,
        /// New value.
        value: Value,
        /// This variable's broadcast flag from now on; when absent, the
        /// flag it already has, or the room's default for a new variable.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        broadcast: Option<bool>,
    },
    /// Call a room method; the result is whatever the method returns.
    Invoke {
        /// Room to call (the caller must be a member).
        room: RoomId,
        /// Method name.
        method: String,
        /// Arguments, as the method expects them (nil when absent).
        #[serde(default)]
        args: Value,
    },
    /// Send a message to the room; the generic room relays it to every
    /// member (the sender included) as `room_message`.
    SendMessage {
        /// Room to send to (the caller must be a member).
        room: RoomId,
        /// Payload.
        #[serde(default)]
        data: Value,
    },
    /// Does nothing; the result is nil. For keep-alive and latency checks.
    Ping,
}

impl Request {
    /// Every `op` value the server knows, used to tell an unknown
    /// operation (`unknown_operation`) from a known one with bad fields
    /// (`invalid_request`).
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
    ];
}

/// Every message the server sends. The `type` field names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on every connection.
    Welcome {
        /// The server's [`crate::PROTOCOL_VERSION`].
        protocol: u32,
        /// This connection's session id.
        session: SessionId,
        /// Server name and version, for logs.
        server: String,
        /// How to reach the UDP port, when it is enabled.
        #[serde(default)]
        udp: Option<UdpInfo>,
    },
    /// A request succeeded.
    Response {
        /// The request's id.
        id: u32,
        /// The operation's result.
        result: Value,
    },
    /// A request failed, or (with a nil `id`) something about the
    /// connection itself went wrong.
    Error {
        /// The failed request's id; nil for connection-level errors and
        /// failed notifications.
        id: Option<u32>,
        /// Stable, machine-readable code.
        code: ErrorCode,
        /// Human-readable detail; its wording may change.
        message: String,
    },
    /// Something happened in a room the client is in.
    Event(Event),
}

/// How a client reaches the UDP port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpInfo {
    /// UDP port of the server.
    pub port: u16,
    /// Token to put in every datagram.
    pub token: u64,
}

/// Server events. They carry no request id. The `event` field names them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A client joined the room (sent to the members already there).
    MemberJoined {
        /// The room.
        room: RoomId,
        /// Who joined.
        session: SessionId,
    },
    /// A member left the room: `"left"`, `"disconnected"` or `"kicked"`.
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
        /// New value.
        value: Value,
        /// Session that set it; nil when the room itself did.
        by: Option<SessionId>,
    },
    /// A message for the members of a room.
    RoomMessage {
        /// The room.
        room: RoomId,
        /// Sender's session; nil when the room itself sent it.
        from: Option<SessionId>,
        /// Payload.
        data: Value,
    },
    /// This client was removed from the room by the room.
    Kicked {
        /// The room.
        room: RoomId,
        /// The room's reason.
        reason: String,
    },
    /// The room was deleted; every member is out of it.
    RoomDeleted {
        /// The room.
        room: RoomId,
    },
}

/// Stable error codes. Clients match on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame's body is not MessagePack (the connection stays).
    InvalidFrame,
    /// The frame is longer than the server's maximum (the connection is
    /// closed).
    FrameTooLarge,
    /// The request misses a field or has one of the wrong type.
    InvalidRequest,
    /// The request's `op` is not one the server knows.
    UnknownOperation,
    /// No room has that id.
    RoomNotFound,
    /// The room has `max_clients` members already.
    RoomFull,
    /// The client is already a member of that room.
    AlreadyInRoom,
    /// The operation needs membership of a room the client is not in.
    NotInRoom,
    /// Refused: wrong password, not the room's creator, or the room's own
    /// join hook said no (the message gives its reason).
    NotAuthorized,
    /// The room has no method by that name.
    MethodNotFound,
    /// The room has no variable by that name.
    VariableNotFound,
    /// The room refused the request by its own rules (a method's error,
    /// such as "not your turn"); the message is the room's.
    RoomError,
    /// No generic room or loaded plugin has that room type.
    UnknownRoomType,
    /// The room's plugin failed: a trap (panic, unreachable), its time
    /// budget, its memory cap, or a malformed reply; the message says which.
    PluginError,
    /// A server limit was reached (connections, rooms).
    ServerBusy,
    /// The client read too slowly and its outbound queue filled up (the
    /// connection is closed).
    SlowConsumer,
    /// The server is shutting down (the connection is closed).
    ServerShutdown,
    /// A bug in the server; the message and the server log say more.
    Internal,
    /// A code this version of the crate does not know (from a newer
    /// server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire spelling of the code, e.g. `"room_not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidFrame => "invalid_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::UnknownOperation => "unknown_operation",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::AlreadyInRoom => "already_in_room",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::NotAuthorized => "not_authorized",
            ErrorCode::MethodNotFound => "method_not_found",
            ErrorCode::VariableNotFound => "variable_not_found",
            ErrorCode::RoomError => "room_error",
            ErrorCode::UnknownRoomType => "unknown_room_type",
            ErrorCode::PluginError => "plugin_error",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::SlowConsumer => "slow_consumer",
            ErrorCode::ServerShutdown => "server_shutdown",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
