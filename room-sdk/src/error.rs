//! [`RoomError`]: the failure a hook reports to its client.

use vampire_abi::reply::GuestCode;

/// A failure a hook reports to the client. It converts from the usual
/// errors (strings, serde's), so `?` works in a hook.
///
/// # Examples
///
/// ```
/// use room_sdk::prelude::*;
///
/// fn play(turn: u64, caller: u64) -> Result<Reply, RoomError> {
///     if turn != caller {
///         return Err(RoomError::new("not your turn")); // `room_error`
///     }
///     let moves: u32 = "7".parse().map_err(|_| "a bad number")?; // `room_error`, by `?`
///     reply(&moves)
/// }
///
/// assert_eq!(play(1, 2).unwrap_err().code, GuestCode::RoomError);
/// assert_eq!(RoomError::refuse("the game has begun").code, GuestCode::NotAuthorized);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomError {
    /// Error code the client receives.
    pub code: GuestCode,
    /// Detail for the client.
    pub message: String,
}

impl RoomError {
    /// A rule of the room was broken (`room_error`): "not your turn".
    pub fn new(message: impl Into<String>) -> RoomError {
        RoomError { code: GuestCode::RoomError, message: message.into() }
    }

    /// Refuses a join, or a variable change (`not_authorized`).
    pub fn refuse(reason: impl Into<String>) -> RoomError {
        RoomError { code: GuestCode::NotAuthorized, message: reason.into() }
    }

    /// Bad method arguments (`invalid_request`).
    pub fn invalid_args(message: impl Into<String>) -> RoomError {
        RoomError { code: GuestCode::InvalidRequest, message: message.into() }
    }

    /// No such method (`method_not_found`).
    pub fn method_not_found(method: &str) -> RoomError {
        RoomError {
            code: GuestCode::MethodNotFound,
            message: format!("this room has no method {method:?}"),
        }
    }
}

impl std::fmt::Display for RoomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for RoomError {}

impl From<String> for RoomError {
    fn from(message: String) -> RoomError {
        RoomError::new(message)
    }
}

impl From<&str> for RoomError {
    fn from(message: &str) -> RoomError {
        RoomError::new(message)
    }
}

impl From<rmp_serde::encode::Error> for RoomError {
    fn from(err: rmp_serde::encode::Error) -> RoomError {
        RoomError::new(format!("cannot encode a value: {err}"))
    }
}

impl From<rmp_serde::decode::Error> for RoomError {
    fn from(err: rmp_serde::decode::Error) -> RoomError {
        RoomError::invalid_args(err.to_string())
    }
}
