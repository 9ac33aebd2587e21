//! [`ApiError`]: a failure reported to a client as an `error` message.

use vampire_protocol::ErrorCode;

/// A request failure: a stable code for programs and a message for people.
///
/// Every layer (session, room, plugin) returns this, so what reaches the
/// client is decided where the failure is understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// Stable code, see `docs/PROTOCOL.md`.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }

    /// `room_not_found` for `room`.
    pub fn room_not_found(room: &str) -> ApiError {
        ApiError::new(ErrorCode::RoomNotFound, format!("no room with id {room:?}"))
    }

    /// `not_in_room` for `room`.
    pub fn not_in_room(room: &str) -> ApiError {
        ApiError::new(ErrorCode::NotInRoom, format!("you are not a member of room {room:?}"))
    }

    /// `method_not_found` for `method`.
    pub fn method_not_found(method: &str) -> ApiError {
        ApiError::new(ErrorCode::MethodNotFound, format!("this room has no method {method:?}"))
    }
}
