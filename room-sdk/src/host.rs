//! Safe calls into the server. Each wraps one import of [`crate::raw`].

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Broadcast, RoomError, Session, raw};

/// Log levels of the `log` import.
const LEVEL_ERROR: i32 = 1;
const LEVEL_WARN: i32 = 2;
const LEVEL_INFO: i32 = 3;
const LEVEL_DEBUG: i32 = 4;

fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Only values serde cannot express in MessagePack fail here (maps with
    // non-string keys in a JSON value, say); those are author errors.
    rmp_serde::to_vec_named(value).expect("value encodes as MessagePack")
}

/// The value of room variable `name`, if it is set and is a `T`.
pub fn get_variable<T: DeserializeOwned>(name: &str) -> Option<T> {
    raw::get_variable(name).and_then(|bytes| rmp_serde::from_slice(&bytes).ok())
}

/// Sets room variable `name`, with the same broadcast rules as a client's
/// `set_variable` (the event's `by` is nil). Returns whether members were
/// sent `variable_changed`.
pub fn set_variable<T: Serialize + ?Sized>(name: &str, value: &T, broadcast: Broadcast) -> bool {
    try_set_variable(name, value, broadcast).unwrap_or(false)
}

/// [`set_variable`], telling a refusal apart: the room's variable budgets
/// (count, bytes, value and name size) may refuse a change.
///
/// # Errors
/// A `room_error` when the budgets refused the change; nothing changed.
pub fn try_set_variable<T: Serialize + ?Sized>(
    name: &str,
    value: &T,
    broadcast: Broadcast,
) -> Result<bool, RoomError> {
    let flag = match broadcast {
        Broadcast::No => 0,
        Broadcast::Yes => 1,
        Broadcast::Default => 2,
    };
    match raw::set_variable(name, &encode(value), flag) {
        1 => Ok(true),
        0 => Ok(false),
        _ => Err(RoomError::new(format!("the room's variable budgets refused {name:?}"))),
    }
}

/// Sends `data` to every member as a `room_message` from the room.
pub fn broadcast<T: Serialize + ?Sized>(data: &T) {
    raw::broadcast_message(-1, &encode(data));
}

/// Sends `data` to every member as a `room_message` from member `from`
/// (what the generic room does with messages).
pub fn relay<T: Serialize + ?Sized>(from: Session, data: &T) {
    raw::broadcast_message(from as i64, &encode(data));
}

/// Sends `data` to one member as a `room_message` from the room. Returns
/// `false` if `to` is not a member.
pub fn send<T: Serialize + ?Sized>(to: Session, data: &T) -> bool {
    raw::send_message(to, &encode(data))
}

/// Removes a member: it gets `kicked` with `reason`, the others
/// `member_left`. Returns `false` if it is not a member.
pub fn kick(session: Session, reason: &str) -> bool {
    raw::kick_member(session, reason)
}

/// Session ids of the members, in join order.
pub fn members() -> Vec<Session> {
    rmp_serde::from_slice(&raw::member_list()).unwrap_or_default()
}

/// Milliseconds since the Unix epoch, from the server's clock.
pub fn now_ms() -> i64 {
    raw::unix_millis()
}

/// Logs at error level in the server log (tagged with the room).
pub fn log_error(message: &str) {
    raw::log_line(LEVEL_ERROR, message);
}

/// Logs at warn level.
pub fn log_warn(message: &str) {
    raw::log_line(LEVEL_WARN, message);
}

/// Logs at info level.
pub fn log_info(message: &str) {
    raw::log_line(LEVEL_INFO, message);
}

/// Logs at debug level.
pub fn log_debug(message: &str) {
    raw::log_line(LEVEL_DEBUG, message);
}
