//! The host functions (module [`crate::IMPORT_MODULE`]), with their
//! return codes and flags. Pointers and lengths are `i32`; session ids are
//! `i64`.

/// `(name_ptr, name_len, out_ptr, out_cap) -> i32`: the variable's
/// value, written at `out_ptr` if its length `n <= out_cap`; returns `n`
/// either way, or [`NOT_FOUND`].
pub const VARIABLE_GET: &str = "variable_get";
/// `(name_ptr, name_len, value_ptr, value_len, flags) -> i32`: sets a
/// variable ([`variable_flags`]); returns 1 if members were sent
/// `variable_changed`, 0 if not, [`REFUSED`] if a budget refused it.
pub const VARIABLE_SET: &str = "variable_set";
/// `(from: i64, data_ptr, data_len, flags) -> i32`: a `room_message` to
/// every member, from `from` (negative: the room); [`send_flags`].
/// Returns 0, or [`REFUSED`] when the event would pass the largest
/// frame.
pub const BROADCAST: &str = "broadcast";
/// `(to: i64, data_ptr, data_len, flags) -> i32`: a `room_message`
/// from the room to one member; returns 1, 0 if `to` is not a member,
/// [`REFUSED`] when too large.
pub const SEND: &str = "send";
/// `(session: i64, reason_ptr, reason_len) -> i32`: removes a member;
/// 1, or 0 if not a member.
pub const KICK: &str = "kick";
/// `(out_ptr, out_cap) -> i32`: an array of the members' session ids,
/// in join order (size protocol of [`VARIABLE_GET`]).
pub const MEMBERS: &str = "members";
/// `(session: i64, out_ptr, out_cap) -> i32`: one member's map
/// ([`crate::input::Member`]), or [`NOT_FOUND`].
pub const MEMBER: &str = "member";
/// `(out_ptr, out_cap) -> i32`: the room's map
/// ([`crate::input::RoomView`]).
pub const ROOM: &str = "room";
/// `(locked: i32)`: a locked room refuses joins (`room_locked`) and is
/// not listed.
pub const ROOM_LOCK: &str = "room_lock";
/// `(ptr, len) -> i32`: the listing metadata (a value); 0, or
/// [`REFUSED`] when larger than a variable may be.
pub const ROOM_SET_METADATA: &str = "room_set_metadata";
/// `(max_clients: i32) -> i32`: the member limit; 0, or [`REFUSED`]
/// outside 1 to the server's `limits.maxClientsPerRoom`.
pub const ROOM_SET_MAX_CLIENTS: &str = "room_set_max_clients";
/// `(rate_hz: i32) -> i32`: ticks per second, 0 to stop; 0, or
/// [`REFUSED`] outside 0 to [`MAX_TICK_RATE_HZ`].
pub const TICK_RATE: &str = "tick_rate";
/// `(tag_ptr, tag_len, delay_ms: i64, repeat: i32) -> i32`: starts (or
/// restarts) the timer `tag`; 0, or [`REFUSED`] past [`MAX_TIMERS`].
pub const TIMER_SET: &str = "timer_set";
/// `(tag_ptr, tag_len) -> i32`: cancels the timer `tag`; 1, or 0 if
/// there was none.
pub const TIMER_CANCEL: &str = "timer_cancel";
/// `(level, ptr, len)`: a line in the server log: 1 error, 2 warn, 3
/// info, 4 or more debug.
pub const LOG: &str = "log";
/// `() -> i64`: milliseconds since the Unix epoch.
pub const NOW_MS: &str = "now_ms";
/// `(out_ptr, len)`: fills `len` bytes with cryptographically secure
/// random bytes (a plugin has no other source of randomness).
pub const RANDOM: &str = "random";

/// Returned by `variable_get` and `member` when there is nothing.
pub const NOT_FOUND: i32 = -1;
/// Returned when the host refuses the change (a budget, a range).
pub const REFUSED: i32 = -2;

/// Fastest clock a room may ask for, in ticks per second.
pub const MAX_TICK_RATE_HZ: i32 = 120;
/// Timers one room may have at once.
pub const MAX_TIMERS: usize = 64;
/// Longest timer tag, in bytes.
pub const MAX_TIMER_TAG_BYTES: usize = 64;

/// The `flags` of `variable_set`.
pub mod variable_flags {
    /// Bits 0–1: broadcast this and later changes (when the room
    /// broadcasts at all).
    pub const BROADCAST_ON: i32 = 1;
    /// Bits 0–1 both clear: do not broadcast this and later changes.
    pub const BROADCAST_OFF: i32 = 0;
    /// Bits 0–1: keep the variable's flag (a new variable takes the
    /// room's default).
    pub const BROADCAST_KEEP: i32 = 2;
    /// Mask of the broadcast bits.
    pub const BROADCAST_MASK: i32 = 3;
    /// Clients may set this variable (subject to
    /// `vampire_can_set_variable`); without it only the room may.
    pub const CLIENTS_WRITE: i32 = 4;
    /// Only the room may read this variable: never sent to members,
    /// never broadcast.
    pub const HIDDEN: i32 = 8;
    /// Keep an existing variable's writer and visibility rather than
    /// setting them from `CLIENTS_WRITE` and `HIDDEN`.
    pub const KEEP_RULES: i32 = 16;
    /// Send this variable's changes over UDP to members that bound
    /// it (TCP to the others).
    pub const UNRELIABLE: i32 = 32;
}

/// The `flags` of `broadcast` and `send`.
pub mod send_flags {
    /// Deliver over UDP to members that bound it (TCP to the others):
    /// for frequent data that may be lost.
    pub const UNRELIABLE: i32 = 1;
}
