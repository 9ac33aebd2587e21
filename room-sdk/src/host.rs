//! Safe calls into the server. Each wraps one import of [`crate::sys`];
//! none of them panics on a value an author passes: what the host refuses
//! (a budget, a range) comes back as a [`RoomError`].

// Each safe call wraps one raw import, in an `unsafe` block whose
// SAFETY note says why its pointers are valid.
#![allow(unsafe_code)]

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use vampire_abi::imports::{REFUSED, send_flags, variable_flags};
use vampire_abi::input::{Member as RawMember, RoomView};
use vampire_msgpack::Reader;

use crate::{Data, Member, RoomError, RoomInfo, Session, sys};

/// Log levels of the `log` import.
const LEVEL_ERROR: i32 = 1;
const LEVEL_WARN: i32 = 2;
const LEVEL_INFO: i32 = 3;
const LEVEL_DEBUG: i32 = 4;

/// Encodes a value as MessagePack (structs as maps keyed by field name).
///
/// # Errors
/// When serde cannot encode it.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, RoomError> {
    Ok(rmp_serde::to_vec_named(value)?)
}

/// Calls an import that fills a caller buffer and returns the full length
/// (or a negative "nothing"): first with a small buffer, again with an
/// exact one when the first was too small.
fn read_sized(mut fill: impl FnMut(*mut u8, usize) -> i32) -> Option<Vec<u8>> {
    let mut buffer = vec![0u8; 256];
    loop {
        let needed = usize::try_from(fill(buffer.as_mut_ptr(), buffer.len())).ok()?;
        if needed <= buffer.len() {
            buffer.truncate(needed);
            return Some(buffer);
        }
        buffer.resize(needed, 0);
    }
}

/// Room variable `name`, if it is set.
///
/// # Errors
/// When it is set but is not a `T`.
///
/// # Examples
///
/// ```
/// use room_sdk::prelude::*;
///
/// /// Moves a counter on by one (in a hook, inside the server).
/// fn count_one() -> Result<u32, RoomError> {
///     let count: u32 = host::get_variable("count")?.unwrap_or(0) + 1;
///     host::set_variable("count", &count)?;
///     Ok(count)
/// }
/// # let _ = count_one;
/// ```
pub fn get_variable<T: DeserializeOwned>(name: &str) -> Result<Option<T>, RoomError> {
    // SAFETY: the host reads `name` and writes at most `cap` bytes at `out`.
    let bytes =
        read_sized(|out, cap| unsafe { sys::variable_get(name.as_ptr(), name.len(), out, cap) });
    match bytes {
        None => Ok(None),
        Some(bytes) => Ok(Some(rmp_serde::from_slice(&bytes).map_err(|err| {
            RoomError::new(format!("variable {name:?} is not of the expected type: {err}"))
        })?)),
    }
}

/// Room variable `name` as its raw value, if it is set.
pub fn get_variable_data(name: &str) -> Option<Data> {
    // SAFETY: the host reads `name` and writes at most `cap` bytes at `out`.
    read_sized(|out, cap| unsafe { sys::variable_get(name.as_ptr(), name.len(), out, cap) })
        .map(Data::from_vec)
}

/// Sets room variable `name` with the default rules: a new variable is set
/// by the room only and visible to members, and broadcast by the room's
/// default; an existing one keeps its rules. Returns whether members were
/// sent `variable_changed`. See [`variable`] for other rules.
///
/// # Errors
/// When the room's variable budgets refuse the change (nothing changed),
/// or the value cannot be encoded.
pub fn set_variable<T: Serialize + ?Sized>(name: &str, value: &T) -> Result<bool, RoomError> {
    variable(name).set(value)
}

/// A variable to set with rules of its own.
///
/// # Examples
///
/// ```
/// use room_sdk::prelude::*;
///
/// fn set_up() -> Result<(), RoomError> {
///     // Every member sees each change, and members may set it too.
///     host::variable("score").broadcast(true).writable_by_clients().set(&0)?;
///     // The room's own state: members can neither read nor write it.
///     host::variable("deck").hidden().set(&[3, 1, 2])?;
///     // Frequent positions, over UDP to members that bound it.
///     host::variable("ball").unreliable().set(&(1.5, 2.0))?;
///     Ok(())
/// }
/// # let _ = set_up;
/// ```
pub fn variable(name: &str) -> Variable<'_> {
    Variable { name, flags: variable_flags::BROADCAST_KEEP | variable_flags::KEEP_RULES }
}

/// A variable about to be set, with its rules ([`variable`]).
///
/// Broadcast: the variable's flag is kept (a new one takes the room's
/// default) unless [`Variable::broadcast`] says otherwise. Writer and
/// visibility: an existing variable keeps its own, a new one is set by the
/// room only and visible, unless [`Variable::writable_by_clients`] or
/// [`Variable::hidden`] is given; giving either sets both rules.
#[derive(Debug, Clone, Copy)]
#[must_use = "a variable is only changed by `set`"]
pub struct Variable<'a> {
    name: &'a str,
    flags: i32,
}

impl Variable<'_> {
    /// Broadcast this and later changes (`true`), or not.
    pub fn broadcast(mut self, on: bool) -> Self {
        self.flags &= !variable_flags::BROADCAST_MASK;
        self.flags |= if on { variable_flags::BROADCAST_ON } else { variable_flags::BROADCAST_OFF };
        self
    }

    /// Members may set it too (subject to [`crate::Room::can_set_variable`]).
    pub fn writable_by_clients(mut self) -> Self {
        self.flags = (self.flags | variable_flags::CLIENTS_WRITE) & !variable_flags::KEEP_RULES;
        self
    }

    /// Only the room may set it (the default for a new variable).
    pub fn room_only(mut self) -> Self {
        self.flags &= !(variable_flags::CLIENTS_WRITE | variable_flags::KEEP_RULES);
        self
    }

    /// Only the room may read it: never sent to members.
    pub fn hidden(mut self) -> Self {
        self.flags = (self.flags | variable_flags::HIDDEN) & !variable_flags::KEEP_RULES;
        self
    }

    /// Send its changes over UDP to members that bound it (TCP to the
    /// others): for frequent values whose every change need not arrive.
    pub fn unreliable(mut self) -> Self {
        self.flags |= variable_flags::UNRELIABLE;
        self
    }

    /// Sets it to `value`; returns whether members were sent
    /// `variable_changed`.
    ///
    /// # Errors
    /// When the room's variable budgets refuse the change (nothing
    /// changed), or the value cannot be encoded.
    pub fn set<T: Serialize + ?Sized>(self, value: &T) -> Result<bool, RoomError> {
        self.set_data(&Data::from_vec(encode(value)?))
    }

    /// Sets it to a raw value, as it is.
    ///
    /// # Errors
    /// When the room's variable budgets refuse the change.
    pub fn set_data(self, value: &Data) -> Result<bool, RoomError> {
        let (name, bytes) = (self.name, value.bytes());
        // SAFETY: the host only reads the two buffers.
        let code = unsafe {
            sys::variable_set(name.as_ptr(), name.len(), bytes.as_ptr(), bytes.len(), self.flags)
        };
        match code {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(RoomError::new(format!("the room's variable budgets refused {name:?}"))),
        }
    }
}

/// Sends `data` to every member as a `room_message` from the room.
///
/// # Errors
/// When it cannot be encoded, or would be larger than the server sends.
///
/// # Examples
///
/// ```
/// use room_sdk::prelude::*;
///
/// #[derive(Serialize)]
/// #[serde(crate = "room_sdk::serde")]
/// struct Turn<'a> {
///     player: &'a str,
/// }
///
/// fn announce(player: &str) -> Result<(), RoomError> {
///     host::broadcast(&Turn { player })
/// }
/// # let _ = announce;
/// ```
pub fn broadcast<T: Serialize + ?Sized>(data: &T) -> Result<(), RoomError> {
    broadcast_raw(-1, &encode(data)?, 0)
}

/// [`broadcast`] over UDP to members that bound it (TCP to the others):
/// for frequent data that may be lost.
///
/// # Errors
/// As for [`broadcast`].
pub fn broadcast_unreliable<T: Serialize + ?Sized>(data: &T) -> Result<(), RoomError> {
    broadcast_raw(-1, &encode(data)?, send_flags::UNRELIABLE)
}

/// Sends a member's message on to every member as a `room_message` from
/// that member, as it came (what the generic room does with messages).
///
/// # Errors
/// When it would be larger than the server sends.
pub fn relay(from: Session, data: &Data) -> Result<(), RoomError> {
    broadcast_raw(from as i64, data.bytes(), 0)
}

fn broadcast_raw(from: i64, bytes: &[u8], flags: i32) -> Result<(), RoomError> {
    // SAFETY: the host only reads the buffer.
    match unsafe { sys::broadcast(from, bytes.as_ptr(), bytes.len(), flags) } {
        REFUSED => Err(RoomError::new("the message is larger than the server sends")),
        _ => Ok(()),
    }
}

/// Sends `data` to one member as a `room_message` from the room. Returns
/// `false` if `to` is not a member.
///
/// # Errors
/// When it cannot be encoded, or would be larger than the server sends.
pub fn send<T: Serialize + ?Sized>(to: Session, data: &T) -> Result<bool, RoomError> {
    send_raw(to, &encode(data)?, 0)
}

/// [`send`] over UDP when the member bound it (TCP otherwise).
///
/// # Errors
/// As for [`send`].
pub fn send_unreliable<T: Serialize + ?Sized>(to: Session, data: &T) -> Result<bool, RoomError> {
    send_raw(to, &encode(data)?, send_flags::UNRELIABLE)
}

fn send_raw(to: Session, bytes: &[u8], flags: i32) -> Result<bool, RoomError> {
    // SAFETY: the host only reads the buffer.
    match unsafe { sys::send(to as i64, bytes.as_ptr(), bytes.len(), flags) } {
        REFUSED => Err(RoomError::new("the message is larger than the server sends")),
        code => Ok(code == 1),
    }
}

/// Removes a member: it gets `kicked` with `reason`, the others
/// `member_left`. Returns `false` if it is not a member.
pub fn kick(session: Session, reason: &str) -> bool {
    // SAFETY: the host only reads the buffer.
    unsafe { sys::kick(session as i64, reason.as_ptr(), reason.len()) == 1 }
}

/// Session ids of the members, in join order.
pub fn members() -> Vec<Session> {
    // SAFETY: the host writes at most `cap` bytes at `out`.
    let Some(bytes) = read_sized(|out, cap| unsafe { sys::members(out, cap) }) else {
        return Vec::new();
    };
    let mut reader = Reader::new(&bytes);
    let count = reader.array_len().unwrap_or(0);
    (0..count).filter_map(|_| reader.u64().ok()).collect()
}

/// A member, if `session` is one.
pub fn member(session: Session) -> Option<Member> {
    // SAFETY: the host writes at most `cap` bytes at `out`.
    let bytes = read_sized(|out, cap| unsafe { sys::member(session as i64, out, cap) })?;
    RawMember::decode(&bytes).ok().map(|raw| Member::from_raw(&raw))
}

/// The room as it is now.
pub fn room() -> RoomInfo {
    // SAFETY: the host writes at most `cap` bytes at `out`.
    let bytes = read_sized(|out, cap| unsafe { sys::room(out, cap) }).unwrap_or_default();
    RoomView::decode(&bytes).map(|view| RoomInfo::from_view(&view)).unwrap_or_default()
}

/// Locks the room (it refuses joins with `room_locked` and leaves the
/// listing) or unlocks it.
pub fn lock(locked: bool) {
    // SAFETY: no pointers.
    unsafe { sys::room_lock(locked.into()) }
}

/// Changes what `list_rooms` shows as the room's metadata.
///
/// # Errors
/// When it cannot be encoded or is larger than a variable may be.
pub fn set_metadata<T: Serialize + ?Sized>(metadata: &T) -> Result<(), RoomError> {
    let bytes = encode(metadata)?;
    // SAFETY: the host only reads the buffer.
    match unsafe { sys::room_set_metadata(bytes.as_ptr(), bytes.len()) } {
        0 => Ok(()),
        _ => Err(RoomError::new("the metadata is larger than a variable may be")),
    }
}

/// Changes the member limit (members already in stay).
///
/// # Errors
/// Outside 1 to the server's `limits.maxClientsPerRoom`.
pub fn set_max_clients(max_clients: u32) -> Result<(), RoomError> {
    let value = i32::try_from(max_clients).unwrap_or(i32::MAX);
    // SAFETY: no pointers.
    match unsafe { sys::room_set_max_clients(value) } {
        0 => Ok(()),
        _ => Err(RoomError::new(format!("max_clients {max_clients} is out of range"))),
    }
}

/// Ticks the room's clock `rate_hz` times a second ([`crate::Room::tick`]);
/// 0 stops it.
///
/// # Errors
/// Above `vampire_abi::imports::MAX_TICK_RATE_HZ` (120).
pub fn set_tick_rate(rate_hz: u32) -> Result<(), RoomError> {
    let value = i32::try_from(rate_hz).unwrap_or(i32::MAX);
    // SAFETY: no pointers.
    match unsafe { sys::tick_rate(value) } {
        0 => Ok(()),
        _ => Err(RoomError::new(format!("a tick rate of {rate_hz} Hz is out of range"))),
    }
}

/// Starts (or restarts) timer `tag`: [`crate::Room::timer`] runs after
/// `delay`, and every `delay` after that when `repeat`.
///
/// # Errors
/// When the tag is longer than 64 bytes or the room has 64 timers.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use room_sdk::prelude::*;
///
/// fn start_countdown() -> Result<(), RoomError> {
///     // `Room::timer` runs with "countdown" in three seconds, once.
///     host::set_timer("countdown", Duration::from_secs(3), false)
/// }
/// # let _ = start_countdown;
/// ```
pub fn set_timer(tag: &str, delay: Duration, repeat: bool) -> Result<(), RoomError> {
    let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
    // SAFETY: the host only reads the buffer.
    match unsafe { sys::timer_set(tag.as_ptr(), tag.len(), ms, repeat.into()) } {
        0 => Ok(()),
        _ => {
            Err(RoomError::new(format!("timer {tag:?} refused: too many timers or too long a tag")))
        }
    }
}

/// Cancels timer `tag`; returns whether there was one.
pub fn cancel_timer(tag: &str) -> bool {
    // SAFETY: the host only reads the buffer.
    unsafe { sys::timer_cancel(tag.as_ptr(), tag.len()) == 1 }
}

/// Milliseconds since the Unix epoch, from the server's clock.
pub fn now_ms() -> i64 {
    // SAFETY: no arguments.
    unsafe { sys::now_ms() }
}

/// `N` random bytes from the server's secure generator.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // SAFETY: the host writes exactly `N` bytes at the buffer.
    unsafe { sys::random(bytes.as_mut_ptr(), N) };
    bytes
}

/// A random number in `0..bound` (0 when `bound` is 0).
pub fn random_below(bound: u64) -> u64 {
    if bound == 0 {
        return 0;
    }
    // Rejection sampling keeps the result uniform.
    let zone = u64::MAX - u64::MAX % bound;
    loop {
        let n = u64::from_le_bytes(random_bytes::<8>());
        if n < zone {
            return n % bound;
        }
    }
}

fn log(level: i32, message: &str) {
    // SAFETY: the host only reads the buffer.
    unsafe { sys::log(level, message.as_ptr(), message.len()) }
}

/// Logs at error level in the server log (tagged with the room).
pub fn log_error(message: &str) {
    log(LEVEL_ERROR, message);
}

/// Logs at warn level.
pub fn log_warn(message: &str) {
    log(LEVEL_WARN, message);
}

/// Logs at info level.
pub fn log_info(message: &str) {
    log(LEVEL_INFO, message);
}

/// Logs at debug level.
pub fn log_debug(message: &str) {
    log(LEVEL_DEBUG, message);
}
