//! [`ErrorCode`]: the stable codes of `error` messages; [`ApiError`], the
//! one shape of a failure everywhere (a code and a one-line message); and
//! the quoting rules of error messages.

/// Stable error codes. Clients match on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The frame's body is not MessagePack (the connection stays).
    InvalidFrame,
    /// The frame is longer than the server's maximum (the connection is
    /// closed).
    FrameTooLarge,
    /// The request is MessagePack but not a valid request: not a map, a
    /// bad `id`, a missing, unknown or mistyped field, or values nested
    /// too deeply.
    InvalidRequest,
    /// The request's `op` is not one the server knows.
    UnknownOperation,
    /// No room has that id.
    RoomNotFound,
    /// The room has `max_clients` members already.
    RoomFull,
    /// The room is locked: it takes no new members.
    RoomLocked,
    /// The client is already a member of that room.
    AlreadyInRoom,
    /// The operation needs membership of a room the client is not in.
    NotInRoom,
    /// The connection has not authenticated, or its token was refused
    /// (the connection is closed).
    NotAuthenticated,
    /// Refused: wrong password, not the room's owner, a variable the
    /// client may not set, or the room's own join hook said no (the
    /// message gives its reason).
    NotAuthorized,
    /// The room has no method by that name.
    MethodNotFound,
    /// The room has no variable by that name (or none the client may
    /// read).
    VariableNotFound,
    /// A room variable budget would be passed: too many variables, too
    /// many bytes in the room, a value or a name too long.
    VariableLimit,
    /// The answer would be longer than the server's largest outgoing
    /// frame; it was not sent.
    ResponseTooLarge,
    /// The room refused the request by its own rules (a method's error,
    /// such as "not your turn"); the message is the room's.
    RoomError,
    /// No generic room or loaded plugin has that room type.
    UnknownRoomType,
    /// The room's plugin failed: a trap (panic, unreachable), its time
    /// budget, its memory cap, or a malformed reply; the message says which.
    PluginError,
    /// A server-wide limit was reached (connections, rooms).
    ServerBusy,
    /// The connection sends requests faster than its allowed rate.
    RateLimited,
    /// A per-connection quota was reached (rooms created, rooms joined).
    QuotaExceeded,
    /// The server has no UDP channel (`enableUDP` is off).
    UdpUnavailable,
    /// The connection sent nothing for too long, or took too long over
    /// its first frame or one frame (the connection is closed).
    Timeout,
    /// The client read too slowly and its outbound queue filled up (the
    /// connection is closed).
    SlowConsumer,
    /// The server is shutting down (the connection is closed).
    ServerShutdown,
    /// The same user signed in on another connection, and the server's
    /// policy keeps the newest (this connection is closed).
    SignedInElsewhere,
    /// `resume` named no session this server holds: the token is unknown,
    /// was used already, or its session's window passed.
    SessionNotFound,
    /// `resume` named a session whose connection is still live.
    SessionInUse,
    /// A bug in the server; the message and the server log say more.
    Internal,
    /// A code this version of the crate does not know (from a newer
    /// server).
    Unknown,
}

impl ErrorCode {
    /// Every code but [`ErrorCode::Unknown`].
    pub const ALL: [ErrorCode; 29] = [
        ErrorCode::InvalidFrame,
        ErrorCode::FrameTooLarge,
        ErrorCode::InvalidRequest,
        ErrorCode::UnknownOperation,
        ErrorCode::RoomNotFound,
        ErrorCode::RoomFull,
        ErrorCode::RoomLocked,
        ErrorCode::AlreadyInRoom,
        ErrorCode::NotInRoom,
        ErrorCode::NotAuthenticated,
        ErrorCode::NotAuthorized,
        ErrorCode::MethodNotFound,
        ErrorCode::VariableNotFound,
        ErrorCode::VariableLimit,
        ErrorCode::ResponseTooLarge,
        ErrorCode::RoomError,
        ErrorCode::UnknownRoomType,
        ErrorCode::PluginError,
        ErrorCode::ServerBusy,
        ErrorCode::RateLimited,
        ErrorCode::QuotaExceeded,
        ErrorCode::UdpUnavailable,
        ErrorCode::Timeout,
        ErrorCode::SlowConsumer,
        ErrorCode::ServerShutdown,
        ErrorCode::SignedInElsewhere,
        ErrorCode::SessionNotFound,
        ErrorCode::SessionInUse,
        ErrorCode::Internal,
    ];

    /// This code's place in [`ErrorCode::ALL`] ([`ErrorCode::Unknown`]
    /// comes last, after them): for counters kept by code.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The wire spelling of the code, e.g. `"room_not_found"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidFrame => "invalid_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::UnknownOperation => "unknown_operation",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::RoomFull => "room_full",
            ErrorCode::RoomLocked => "room_locked",
            ErrorCode::AlreadyInRoom => "already_in_room",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::NotAuthenticated => "not_authenticated",
            ErrorCode::NotAuthorized => "not_authorized",
            ErrorCode::MethodNotFound => "method_not_found",
            ErrorCode::VariableNotFound => "variable_not_found",
            ErrorCode::VariableLimit => "variable_limit",
            ErrorCode::ResponseTooLarge => "response_too_large",
            ErrorCode::RoomError => "room_error",
            ErrorCode::UnknownRoomType => "unknown_room_type",
            ErrorCode::PluginError => "plugin_error",
            ErrorCode::ServerBusy => "server_busy",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::UdpUnavailable => "udp_unavailable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::SlowConsumer => "slow_consumer",
            ErrorCode::ServerShutdown => "server_shutdown",
            ErrorCode::SignedInElsewhere => "signed_in_elsewhere",
            ErrorCode::SessionNotFound => "session_not_found",
            ErrorCode::SessionInUse => "session_in_use",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// The code spelt `text`; [`ErrorCode::Unknown`] for any other text.
    pub fn parse(text: &str) -> ErrorCode {
        ErrorCode::ALL.into_iter().find(|code| code.as_str() == text).unwrap_or(ErrorCode::Unknown)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ErrorCode, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(ErrorCode::parse(&text))
    }
}

/// Longest error message sent to a client, in bytes: messages are one
/// line, and text from plugins or clients inside them is cut.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 300;

/// A failure: a stable code for programs and a message for people.
///
/// Every layer (decoder, session, room, plugin, another node of a cluster)
/// reports a failure in this one shape, so what reaches the client is
/// decided where the failure is understood.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// Stable code, see `docs/PROTOCOL.md`.
    pub code: ErrorCode,
    /// Human-readable detail: one line of at most
    /// [`MAX_ERROR_MESSAGE_BYTES`].
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message` (made one line and cut to
    /// [`MAX_ERROR_MESSAGE_BYTES`]).
    pub fn new(code: ErrorCode, message: impl AsRef<str>) -> ApiError {
        ApiError { code, message: one_line(message.as_ref(), MAX_ERROR_MESSAGE_BYTES) }
    }

    /// `room_not_found` for `room`.
    pub fn room_not_found(room: &str) -> ApiError {
        ApiError::new(ErrorCode::RoomNotFound, format!("no room with id {}", quote(room)))
    }

    /// `not_in_room` for `room`.
    pub fn not_in_room(room: &str) -> ApiError {
        ApiError::new(ErrorCode::NotInRoom, format!("you are not a member of room {}", quote(room)))
    }

    /// `method_not_found` for `method`.
    pub fn method_not_found(method: &str) -> ApiError {
        ApiError::new(
            ErrorCode::MethodNotFound,
            format!("this room has no method {}", quote(method)),
        )
    }

    /// `internal`: a bug, or something that should not happen.
    pub fn internal(message: impl AsRef<str>) -> ApiError {
        ApiError::new(ErrorCode::Internal, message)
    }
}

/// A short, one-line rendering of text a client or plugin sent, for error
/// messages and logs: at most [`QUOTE_CHARS`] characters, control
/// characters escaped, with `…` when cut.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(QUOTE_CHARS + 4);
    quoted.push('"');
    let mut chars = text.chars();
    for c in chars.by_ref().take(QUOTE_CHARS) {
        quoted.extend(c.escape_debug());
    }
    if chars.next().is_some() {
        quoted.push('…');
    }
    quoted.push('"');
    quoted
}

/// Longest prefix [`quote`] keeps, in characters.
pub const QUOTE_CHARS: usize = 32;

/// `text` made one line of at most `max_bytes` bytes (newlines and other
/// control characters become spaces; cut on a character boundary, with
/// `…`). For messages from plugins and libraries, which may be long or
/// span lines.
pub fn one_line(text: &str, max_bytes: usize) -> String {
    let flatten = |c: char| if c.is_control() { ' ' } else { c };
    if text.len() <= max_bytes {
        return text.chars().map(flatten).collect();
    }
    let mut line = String::with_capacity(max_bytes);
    for c in text.chars().map(flatten) {
        if line.len() + c.len_utf8() > max_bytes.saturating_sub('…'.len_utf8()) {
            line.push('…');
            return line;
        }
        line.push(c);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_back() {
        for (index, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(ErrorCode::parse(code.as_str()), code);
            assert_eq!(code.index(), index);
        }
        assert_eq!(ErrorCode::Unknown.index(), ErrorCode::ALL.len());
        assert_eq!(ErrorCode::parse("from_the_future"), ErrorCode::Unknown);
    }

    #[test]
    fn quotes_are_short_and_one_line() {
        assert_eq!(quote("fly"), "\"fly\"");
        let long = quote(&"x\n".repeat(1000));
        assert!(long.chars().count() < 80 && !long.contains('\n'), "{long}");
        let line = one_line(&"line\n".repeat(1000), 100);
        assert!(line.len() <= 100 && !line.contains('\n') && line.ends_with('…'));
    }
}
