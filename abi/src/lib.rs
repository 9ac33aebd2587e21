//! The contract between the VampireTCP server and its room plugins
//! (`docs/ABI.md`), in one crate both sides build against: the host
//! (`vampiretcp`) and the guest SDK (`room-sdk`). A name, a flag or a hook
//! input defined here cannot drift between them.
//!
//! # Layout
//! - The version and its policy: [`ABI_VERSION`].
//! - [`exports`]: what a module exports, and [`Hook`], its entry points.
//! - [`imports`]: the host functions a module may import, their return
//!   codes and flags.
//! - [`input`]: each hook's input map, with the writer the host uses and
//!   the reader a guest uses.
//! - [`reply`]: a hook's reply, written by the guest and read by the host.
//!
//! Everything that crosses the boundary is MessagePack
//! ([`vampire_msgpack`]), as maps keyed by field name. Values a room does
//! not interpret (message data, method arguments, variable values) are
//! carried as their sender's bytes.

use vampire_msgpack::{Mismatch, Reader, ValueError, Writer};

/// The ABI version this crate describes. A module exports it from
/// [`exports::ABI_VERSION`]; the host refuses a module of another version,
/// naming both.
///
/// **Policy.** Within a version, the host may add imports, optional hooks
/// and keys in hook inputs; guests ignore keys they do not know, and a
/// module that does not export an optional hook gets its default. Anything
/// else (a removed or renamed import, export or key; a changed signature,
/// meaning or encoding) takes a new version.
pub const ABI_VERSION: i32 = 2;

/// Module name of every host import.
pub const IMPORT_MODULE: &str = "vampire";

/// What a module exports.
pub mod exports {
    /// The guest's linear memory.
    pub const MEMORY: &str = "memory";
    /// `() -> i32`: the module's ABI version.
    pub const ABI_VERSION: &str = "vampire_abi_version";
    /// `(len: i32) -> i32`: a buffer of `len` bytes for the host to fill
    /// with a hook's input.
    pub const ALLOC: &str = "vampire_alloc";
    /// `(ptr: i32, len: i32)`: frees a hook's output.
    pub const DEALLOC: &str = "vampire_dealloc";
}

/// The guest's entry points. Each is `(ptr: i32, len: i32) -> i64`: it
/// takes ownership of an input buffer from `vampire_alloc` holding a
/// MessagePack map, and returns `0` (success, nil) or `(ptr << 32) | len`
/// of a [`reply`] the host frees with `vampire_dealloc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    /// `vampire_create`: the room is created, or its instance re-created
    /// after a trap or replaced by a reload. Required.
    Create,
    /// `vampire_join`: a client asks to join. Required.
    Join,
    /// `vampire_leave`: a member left. Required.
    Leave,
    /// `vampire_invoke`: a member called a method. Required.
    Invoke,
    /// `vampire_message`: a member sent a message. Required.
    Message,
    /// `vampire_tick`: the room's clock ticked. Optional (no ticks are
    /// delivered without it).
    Tick,
    /// `vampire_timer`: one of the room's timers fired. Optional.
    Timer,
    /// `vampire_dispose`: the room is ending. Optional.
    Dispose,
    /// `vampire_can_set_variable`: may this member set this variable?
    /// Optional (without it, the variable's writer rule alone decides).
    CanSetVariable,
    /// `vampire_snapshot`: give the state to carry across a reload.
    /// Optional.
    Snapshot,
    /// `vampire_restore`: take the state carried across a reload.
    /// Optional.
    Restore,
}

impl Hook {
    /// Every hook, in the order of [`Hook::index`].
    pub const ALL: [Hook; 11] = [
        Hook::Create,
        Hook::Join,
        Hook::Leave,
        Hook::Invoke,
        Hook::Message,
        Hook::Tick,
        Hook::Timer,
        Hook::Dispose,
        Hook::CanSetVariable,
        Hook::Snapshot,
        Hook::Restore,
    ];

    /// The export's name.
    pub fn export(self) -> &'static str {
        match self {
            Hook::Create => "vampire_create",
            Hook::Join => "vampire_join",
            Hook::Leave => "vampire_leave",
            Hook::Invoke => "vampire_invoke",
            Hook::Message => "vampire_message",
            Hook::Tick => "vampire_tick",
            Hook::Timer => "vampire_timer",
            Hook::Dispose => "vampire_dispose",
            Hook::CanSetVariable => "vampire_can_set_variable",
            Hook::Snapshot => "vampire_snapshot",
            Hook::Restore => "vampire_restore",
        }
    }

    /// Whether a module must export it.
    pub fn required(self) -> bool {
        matches!(self, Hook::Create | Hook::Join | Hook::Leave | Hook::Invoke | Hook::Message)
    }

    /// Position in [`Hook::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Splits a hook's packed return value into `(ptr, len)`.
pub fn unpack(packed: i64) -> (u32, u32) {
    ((packed as u64 >> 32) as u32, packed as u32)
}

/// Packs a reply's `(ptr, len)` into a hook's return value.
pub fn pack(ptr: u32, len: u32) -> i64 {
    ((u64::from(ptr) << 32) | u64::from(len)) as i64
}

/// The host functions (module [`IMPORT_MODULE`]), with their return codes
/// and flags. Pointers and lengths are `i32`; session ids are `i64`.
pub mod imports {
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
}

/// Why an input or reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiError(pub String);

impl std::fmt::Display for AbiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AbiError {}

impl From<Mismatch> for AbiError {
    fn from(mismatch: Mismatch) -> AbiError {
        AbiError(mismatch.to_string())
    }
}

impl From<ValueError> for AbiError {
    fn from(err: ValueError) -> AbiError {
        AbiError(err.to_string())
    }
}

fn missing(what: &str, key: &str) -> AbiError {
    AbiError(format!("{what} input without `{key}`"))
}

/// Reads an optional string: a string or nil.
fn opt_str<'a>(reader: &mut Reader<'a>) -> Result<Option<&'a str>, AbiError> {
    if reader.nil() { Ok(None) } else { Ok(Some(reader.str()?)) }
}

/// Each hook's input: a MessagePack map, written by the host and read by
/// the guest. Readers skip keys they do not know (a later host may add
/// some).
pub mod input {
    use super::*;

    /// A member, as hooks and the `member` import describe it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct Member<'a> {
        /// Session id.
        pub session: u64,
        /// The authenticated user id; nil without authentication.
        pub user_id: Option<&'a str>,
        /// The display name from the token; nil without one.
        pub name: Option<&'a str>,
        /// The token's claims (a map), as MessagePack; nil without a
        /// token.
        pub claims: &'a [u8],
    }

    impl<'a> Member<'a> {
        /// Writes `{"session", "user_id", "name", "claims"}`.
        pub fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
            w.map(4).str("session").uint(self.session);
            w.str("user_id").opt_str(self.user_id);
            w.str("name").opt_str(self.name);
            w.str("claims").raw(if self.claims.is_empty() { &[0xc0] } else { self.claims });
        }

        /// Reads a map written by [`Member::write`].
        ///
        /// # Errors
        /// When it is not such a map.
        pub fn read(reader: &mut Reader<'a>) -> Result<Member<'a>, AbiError> {
            let mut member = Member { claims: &[0xc0], ..Member::default() };
            let mut session = None;
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "session" => session = Some(reader.u64()?),
                    "user_id" => member.user_id = opt_str(reader)?,
                    "name" => member.name = opt_str(reader)?,
                    "claims" => member.claims = reader.raw()?,
                    _ => reader.skip()?,
                }
            }
            member.session = session.ok_or_else(|| missing("a member", "session"))?;
            Ok(member)
        }
    }

    /// The room, as `vampire_create` and the `room` import describe it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct RoomView<'a> {
        /// Room id.
        pub room: &'a str,
        /// Room type (the plugin's name).
        pub room_type: &'a str,
        /// Display name.
        pub name: &'a str,
        /// Listed by `list_rooms` (when not locked).
        pub public: bool,
        /// Locked: refuses joins, not listed.
        pub locked: bool,
        /// Member limit.
        pub max_clients: u32,
        /// Members now.
        pub member_count: u32,
        /// Listing metadata, as MessagePack.
        pub metadata: &'a [u8],
        /// Session that created the room.
        pub owner: u64,
    }

    impl<'a> RoomView<'a> {
        /// Writes the room's map.
        pub fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
            w.map(9);
            w.str("room").str(self.room);
            w.str("room_type").str(self.room_type);
            w.str("name").str(self.name);
            w.str("public").bool(self.public);
            w.str("locked").bool(self.locked);
            w.str("max_clients").uint(self.max_clients.into());
            w.str("member_count").uint(self.member_count.into());
            w.str("metadata").raw(if self.metadata.is_empty() { &[0xc0] } else { self.metadata });
            w.str("owner").uint(self.owner);
        }

        /// Reads a map written by [`RoomView::write`].
        ///
        /// # Errors
        /// When it is not such a map.
        pub fn read(reader: &mut Reader<'a>) -> Result<RoomView<'a>, AbiError> {
            let mut view = RoomView { metadata: &[0xc0], ..RoomView::default() };
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "room" => view.room = reader.str()?,
                    "room_type" => view.room_type = reader.str()?,
                    "name" => view.name = reader.str()?,
                    "public" => view.public = reader.bool()?,
                    "locked" => view.locked = reader.bool()?,
                    "max_clients" => view.max_clients = u32_of(reader)?,
                    "member_count" => view.member_count = u32_of(reader)?,
                    "metadata" => view.metadata = reader.raw()?,
                    "owner" => view.owner = reader.u64()?,
                    _ => reader.skip()?,
                }
            }
            Ok(view)
        }
    }

    fn u32_of(reader: &mut Reader<'_>) -> Result<u32, AbiError> {
        u32::try_from(reader.u64()?).map_err(|_| AbiError("an integer out of range".into()))
    }

    /// Why a room's instance is created.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Start {
        /// The room was just created.
        New,
        /// The instance is re-created after a trap.
        Recreated,
        /// The plugin was replaced by a new version (hot reload).
        Reloaded,
    }

    impl Start {
        /// The wire spelling.
        pub fn as_str(self) -> &'static str {
            match self {
                Start::New => "new",
                Start::Recreated => "recreated",
                Start::Reloaded => "reloaded",
            }
        }

        fn parse(text: &str) -> Start {
            match text {
                "recreated" => Start::Recreated,
                "reloaded" => Start::Reloaded,
                _ => Start::New,
            }
        }
    }

    /// Input of `vampire_create`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Create<'a> {
        /// The room.
        pub room: RoomView<'a>,
        /// Why the instance is created.
        pub start: Start,
        /// The `options` value of `create_room` (nil when none), as
        /// MessagePack.
        pub options: &'a [u8],
        /// The members already in the room (none for a new room).
        pub members: Vec<Member<'a>>,
    }

    impl<'a> Create<'a> {
        /// Writes `{"room", "start", "options", "members"}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            let mut w = Writer::new(out);
            w.map(4).str("room");
            self.room.write(&mut w);
            w.str("start").str(self.start.as_str());
            w.str("options").raw(if self.options.is_empty() { &[0xc0] } else { self.options });
            w.str("members").array(self.members.len());
            for member in &self.members {
                member.write(&mut w);
            }
        }

        /// Reads what [`Create::write`] wrote.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &'a [u8]) -> Result<Create<'a>, AbiError> {
            let mut reader = Reader::new(bytes);
            let mut create = Create {
                room: RoomView::default(),
                start: Start::New,
                options: &[0xc0],
                members: Vec::new(),
            };
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "room" => create.room = RoomView::read(&mut reader)?,
                    "start" => create.start = Start::parse(reader.str()?),
                    "options" => create.options = reader.raw()?,
                    "members" => {
                        for _ in 0..reader.array_len()? {
                            create.members.push(Member::read(&mut reader)?);
                        }
                    }
                    _ => reader.skip()?,
                }
            }
            Ok(create)
        }
    }

    /// Input of `vampire_join`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Join<'a> {
        /// Who asks to join.
        pub member: Member<'a>,
        /// The `options` value of `join` (nil when none), as MessagePack.
        pub options: &'a [u8],
    }

    impl<'a> Join<'a> {
        /// Writes `{"member", "options"}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            let mut w = Writer::new(out);
            w.map(2).str("member");
            self.member.write(&mut w);
            w.str("options").raw(if self.options.is_empty() { &[0xc0] } else { self.options });
        }

        /// Reads what [`Join::write`] wrote.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &'a [u8]) -> Result<Join<'a>, AbiError> {
            let mut reader = Reader::new(bytes);
            let (mut member, mut options) = (None, &[0xc0][..]);
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "member" => member = Some(Member::read(&mut reader)?),
                    "options" => options = reader.raw()?,
                    _ => reader.skip()?,
                }
            }
            Ok(Join { member: member.ok_or_else(|| missing("a join", "member"))?, options })
        }
    }

    /// Input of `vampire_leave`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Leave<'a> {
        /// Who left.
        pub session: u64,
        /// `"left"`, `"disconnected"` or `"kicked"`.
        pub reason: &'a str,
    }

    impl<'a> Leave<'a> {
        /// Writes `{"session", "reason"}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            Writer::new(out)
                .map(2)
                .str("session")
                .uint(self.session)
                .str("reason")
                .str(self.reason);
        }

        /// Reads what [`Leave::write`] wrote.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &'a [u8]) -> Result<Leave<'a>, AbiError> {
            let mut reader = Reader::new(bytes);
            let (mut session, mut reason) = (None, "");
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "session" => session = Some(reader.u64()?),
                    "reason" => reason = reader.str()?,
                    _ => reader.skip()?,
                }
            }
            Ok(Leave { session: session.ok_or_else(|| missing("a leave", "session"))?, reason })
        }
    }

    /// Input of `vampire_invoke`. `call` is itself a map
    /// `{"method": name, "args": value}`, so that a guest can decode it
    /// straight into an enum of its methods (serde's adjacently tagged
    /// representation) without an intermediate value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Invoke<'a> {
        /// The calling member.
        pub session: u64,
        /// The method's name.
        pub method: &'a str,
        /// The arguments as the client sent them (nil when absent).
        pub args: &'a [u8],
    }

    impl<'a> Invoke<'a> {
        /// Writes `{"session", "call": {"method", "args"}}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            let mut w = Writer::new(out);
            w.map(2).str("session").uint(self.session).str("call");
            w.map(2).str("method").str(self.method).str("args").raw(self.args);
        }

        /// Reads what [`Invoke::write`] wrote; also returns the bytes of
        /// the `call` map.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &'a [u8]) -> Result<(Invoke<'a>, &'a [u8]), AbiError> {
            let mut reader = Reader::new(bytes);
            let mut session = None;
            let mut call: Option<&[u8]> = None;
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "session" => session = Some(reader.u64()?),
                    "call" => call = Some(reader.raw()?),
                    _ => reader.skip()?,
                }
            }
            let call = call.ok_or_else(|| missing("an invoke", "call"))?;
            let mut inner = Reader::new(call);
            let (mut method, mut args) = ("", &[0xc0][..]);
            for _ in 0..inner.map_len()? {
                match inner.str()? {
                    "method" => method = inner.str()?,
                    "args" => args = inner.raw()?,
                    _ => inner.skip()?,
                }
            }
            let session = session.ok_or_else(|| missing("an invoke", "session"))?;
            Ok((Invoke { session, method, args }, call))
        }
    }

    /// Input of `vampire_message`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Message<'a> {
        /// The sender.
        pub session: u64,
        /// The message as the client sent it.
        pub data: &'a [u8],
        /// Whether it came over UDP (and may have been preceded by lost
        /// ones).
        pub unreliable: bool,
    }

    impl<'a> Message<'a> {
        /// Writes `{"session", "unreliable", "data"}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            let mut w = Writer::new(out);
            w.map(3).str("session").uint(self.session).str("unreliable").bool(self.unreliable);
            w.str("data").raw(self.data);
        }

        /// Reads what [`Message::write`] wrote.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &'a [u8]) -> Result<Message<'a>, AbiError> {
            let mut reader = Reader::new(bytes);
            let (mut session, mut data, mut unreliable) = (None, &[0xc0][..], false);
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "session" => session = Some(reader.u64()?),
                    "data" => data = reader.raw()?,
                    "unreliable" => unreliable = reader.bool()?,
                    _ => reader.skip()?,
                }
            }
            let session = session.ok_or_else(|| missing("a message", "session"))?;
            Ok(Message { session, data, unreliable })
        }
    }

    /// Input of `vampire_tick`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Tick {
        /// Real milliseconds since the previous tick (missed ticks are
        /// coalesced into one, so this may be several periods).
        pub dt_ms: u64,
        /// Ticks delivered since the clock was started.
        pub count: u64,
    }

    impl Tick {
        /// Writes `{"dt_ms", "count"}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            Writer::new(out).map(2).str("dt_ms").uint(self.dt_ms).str("count").uint(self.count);
        }

        /// Reads what [`Tick::write`] wrote.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &[u8]) -> Result<Tick, AbiError> {
            let mut reader = Reader::new(bytes);
            let mut tick = Tick { dt_ms: 0, count: 0 };
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "dt_ms" => tick.dt_ms = reader.u64()?,
                    "count" => tick.count = reader.u64()?,
                    _ => reader.skip()?,
                }
            }
            Ok(tick)
        }
    }

    /// Input of `vampire_timer`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Timer<'a> {
        /// The timer's tag.
        pub tag: &'a str,
    }

    impl<'a> Timer<'a> {
        /// Writes `{"tag"}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            Writer::new(out).map(1).str("tag").str(self.tag);
        }

        /// Reads what [`Timer::write`] wrote.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &'a [u8]) -> Result<Timer<'a>, AbiError> {
            let mut reader = Reader::new(bytes);
            let mut tag = None;
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "tag" => tag = Some(reader.str()?),
                    _ => reader.skip()?,
                }
            }
            Ok(Timer { tag: tag.ok_or_else(|| missing("a timer", "tag"))? })
        }
    }

    /// Input of `vampire_dispose`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Dispose<'a> {
        /// `"deleted"` (by its owner), `"disposed"` (empty or unjoined),
        /// `"closed"` (by the server) or `"shutdown"`.
        pub reason: &'a str,
    }

    impl<'a> Dispose<'a> {
        /// Writes `{"reason"}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            Writer::new(out).map(1).str("reason").str(self.reason);
        }

        /// Reads what [`Dispose::write`] wrote.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &'a [u8]) -> Result<Dispose<'a>, AbiError> {
            let mut reader = Reader::new(bytes);
            let mut reason = "";
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "reason" => reason = reader.str()?,
                    _ => reader.skip()?,
                }
            }
            Ok(Dispose { reason })
        }
    }

    /// Input of `vampire_can_set_variable`. The reply's `ok` value is a
    /// boolean: `true` lets the member set the variable.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CanSetVariable<'a> {
        /// The member setting it.
        pub session: u64,
        /// The variable.
        pub name: &'a str,
        /// The value it would take.
        pub value: &'a [u8],
        /// Whether the variable exists already.
        pub exists: bool,
    }

    impl<'a> CanSetVariable<'a> {
        /// Writes `{"session", "name", "exists", "value"}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            let mut w = Writer::new(out);
            w.map(4).str("session").uint(self.session).str("name").str(self.name);
            w.str("exists").bool(self.exists).str("value").raw(self.value);
        }

        /// Reads what [`CanSetVariable::write`] wrote.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &'a [u8]) -> Result<CanSetVariable<'a>, AbiError> {
            let mut reader = Reader::new(bytes);
            let mut input = CanSetVariable { session: 0, name: "", value: &[0xc0], exists: false };
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "session" => input.session = reader.u64()?,
                    "name" => input.name = reader.str()?,
                    "value" => input.value = reader.raw()?,
                    "exists" => input.exists = reader.bool()?,
                    _ => reader.skip()?,
                }
            }
            Ok(input)
        }
    }

    /// Input of `vampire_restore`: the state a `vampire_snapshot` of the
    /// previous version returned (its reply's `ok` value: binary).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Restore<'a> {
        /// The snapshot's bytes.
        pub state: &'a [u8],
    }

    impl<'a> Restore<'a> {
        /// Writes `{"state": bin}`.
        pub fn write(&self, out: &mut Vec<u8>) {
            Writer::new(out).map(1).str("state").bin(self.state);
        }

        /// Reads what [`Restore::write`] wrote.
        ///
        /// # Errors
        /// When `bytes` is not such a map.
        pub fn read(bytes: &'a [u8]) -> Result<Restore<'a>, AbiError> {
            let mut reader = Reader::new(bytes);
            let mut state = None;
            for _ in 0..reader.map_len()? {
                match reader.str()? {
                    "state" => state = Some(reader.bin()?),
                    _ => reader.skip()?,
                }
            }
            Ok(Restore { state: state.ok_or_else(|| missing("a restore", "state"))? })
        }
    }
}

/// A hook's reply: `{"ok": value}` or `{"error": {"code", "message"}}`.
/// (A hook may also return `0` for "ok, nil", with no reply at all.)
pub mod reply {
    use super::*;

    /// Error codes a guest may give; any other becomes `room_error`.
    pub const GUEST_CODES: [&str; 4] =
        ["room_error", "not_authorized", "method_not_found", "invalid_request"];

    /// A decoded reply.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Reply<'a> {
        /// Success, with the value's bytes.
        Ok(&'a [u8]),
        /// Failure: the code and the message for the client.
        Error {
            /// Error code (see [`GUEST_CODES`]).
            code: &'a str,
            /// Message for the client.
            message: &'a str,
        },
    }

    /// Writes `{"ok": value}`; `value` is one MessagePack value.
    pub fn write_ok(out: &mut Vec<u8>, value: &[u8]) {
        Writer::new(out).map(1).str("ok").raw(value);
    }

    /// Writes `{"error": {"code": code, "message": message}}`.
    pub fn write_error(out: &mut Vec<u8>, code: &str, message: &str) {
        let mut w = Writer::new(out);
        w.map(1).str("error").map(2).str("code").str(code).str("message").str(message);
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
                let (mut code, mut message) = ("", "");
                for _ in 0..reader.map_len()? {
                    match reader.str()? {
                        "code" => code = reader.str()?,
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
}

#[cfg(test)]
mod tests {
    use super::input::*;
    use super::*;

    #[test]
    fn every_input_reads_back_what_was_written() {
        let claims = [0x81, 0xa1, b'r', 0xa5, b'a', b'd', b'm', b'i', b'n'];
        let member = Member { session: 7, user_id: Some("u1"), name: None, claims: &claims };
        let room = RoomView {
            room: "r1",
            room_type: "chat",
            name: "lobby",
            public: true,
            locked: false,
            max_clients: 8,
            member_count: 1,
            metadata: &[0xc3],
            owner: 3,
        };
        let create =
            Create { room, start: Start::Reloaded, options: &[0x01], members: vec![member] };
        let mut out = Vec::new();
        create.write(&mut out);
        assert_eq!(Create::read(&out).unwrap(), create);

        let mut out = Vec::new();
        Join { member, options: &[0xc0] }.write(&mut out);
        assert_eq!(Join::read(&out).unwrap(), Join { member, options: &[0xc0] });

        let invoke = Invoke { session: 2, method: "play", args: &[0x81, 0xa1, b'c', 0x04] };
        let mut out = Vec::new();
        invoke.write(&mut out);
        let (read, call) = Invoke::read(&out).unwrap();
        assert_eq!(read, invoke);
        assert_eq!(call[0], 0x82, "the call is a map of method and args");

        let ok = [0x81, 0xa2, b'o', b'k', 0x2a];
        assert_eq!(reply::read(&ok).unwrap(), reply::Reply::Ok(&[0x2a]));
        let mut out = Vec::new();
        reply::write_error(&mut out, "not_authorized", "no");
        assert_eq!(
            reply::read(&out).unwrap(),
            reply::Reply::Error { code: "not_authorized", message: "no" }
        );
    }

    #[test]
    fn readers_skip_keys_a_later_host_may_add() {
        let mut out = Vec::new();
        Writer::new(&mut out)
            .map(3)
            .str("tag")
            .str("countdown")
            .str("new_key")
            .array(0)
            .str("x")
            .nil();
        assert_eq!(Timer::read(&out).unwrap().tag, "countdown");
    }
}
