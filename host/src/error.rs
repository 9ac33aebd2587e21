//! [`ApiError`]: a failure reported to a client as an `error` message.

use vampire_protocol::ErrorCode;
use vampire_protocol::error::{one_line, quote};

/// Longest error message sent to a client, in bytes: messages are one
/// line, and text from plugins or clients inside them is cut.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 300;

/// A request failure: a stable code for programs and a message for people.
///
/// Every layer (session, room, plugin) returns this, so what reaches the
/// client is decided where the failure is understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
}
