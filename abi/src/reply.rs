//! A hook's reply: `{"ok": value}` or `{"error": {"code", "message"}}`.
//! (A hook may also return `0` for "ok, nil", with no reply at all.) The
//! codes a guest may give are [`GuestCode`].

use vampire_msgpack::{Reader, Writer};

use crate::error::AbiError;

/// The error codes a guest may give its clients; the host reports any
/// other code as [`GuestCode::RoomError`]. Each is spelt on the wire as
/// the protocol's code of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GuestCode {
    /// `room_error`: a rule of the room was broken ("not your turn").
    RoomError,
    /// `not_authorized`: the room refuses (a join, a variable change).
    NotAuthorized,
    /// `method_not_found`: the room has no such method.
    MethodNotFound,
    /// `invalid_request`: arguments the method cannot read.
    InvalidRequest,
}

impl GuestCode {
    /// Every code.
    pub const ALL: [GuestCode; 4] = [
        GuestCode::RoomError,
        GuestCode::NotAuthorized,
        GuestCode::MethodNotFound,
        GuestCode::InvalidRequest,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestCode::RoomError => "room_error",
            GuestCode::NotAuthorized => "not_authorized",
            GuestCode::MethodNotFound => "method_not_found",
            GuestCode::InvalidRequest => "invalid_request",
        }
    }

    /// The code spelt `text`; [`GuestCode::RoomError`] for any other text.
    pub fn parse(text: &str) -> GuestCode {
        GuestCode::ALL
            .into_iter()
            .find(|code| code.as_str() == text)
            .unwrap_or(GuestCode::RoomError)
    }
}

/// A decoded reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// Success, with the value's bytes.
    Ok(&'a [u8]),
    /// Failure: the code and the message for the client.
    Error {
        /// Error code.
        code: GuestCode,
        /// Message for the client.
        message: &'a str,
    },
}

/// Writes `{"ok": value}`; `value` is one MessagePack value.
pub fn write_ok(out: &mut Vec<u8>, value: &[u8]) {
    Writer::new(out).map(1).str("ok").raw(value);
}

/// Writes `{"error": {"code": code, "message": message}}`.
pub fn write_error(out: &mut Vec<u8>, code: GuestCode, message: &str) {
    let mut w = Writer::new(out);
    w.map(1).str("error").map(2).str("code").str(code.as_str()).str("message").str(message);
}

/// Reads a reply.
///
/// # Errors
/// When `bytes` is not exactly one such map.
pub fn read(bytes: &[u8]) -> Result<Reply<'_>, AbiError> {
    let mut reader = Reader::new(bytes);
    if reader.map_len()? != 1 {
        return Err(AbiError("expected a map with one entry, `ok` or `error`".into()));
    }
    let reply = match reader.str()? {
        "ok" => Reply::Ok(reader.raw()?),
        "error" => {
            let (mut code, mut message) = (GuestCode::RoomError, "");
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "code" => code = GuestCode::parse(reader.str()?),
                    "message" => message = reader.str()?,
                    _ => reader.skip()?,
                }
            }
            Reply::Error { code, message }
        }
        other => {
            let shown: String = other.chars().take(32).collect();
            return Err(AbiError(format!("unknown reply {shown:?}")));
        }
    };
    if !reader.is_empty() {
        return Err(AbiError("bytes follow the reply".into()));
    }
    Ok(reply)
}
