//! What a module exports: its memory, its ABI version, its allocator, and
//! its entry points ([`Hook`]), with how a hook's reply is packed into its
//! return value.

/// The guest's linear memory.
pub const MEMORY: &str = "memory";
/// `() -> i32`: the module's ABI version.
pub const ABI_VERSION: &str = "vampire_abi_version";
/// `(len: i32) -> i32`: a buffer of `len` bytes for the host to fill
/// with a hook's input.
pub const ALLOC: &str = "vampire_alloc";
/// `(ptr: i32, len: i32)`: frees a hook's output.
pub const DEALLOC: &str = "vampire_dealloc";

/// The guest's entry points. Each is `(ptr: i32, len: i32) -> i64`: it
/// takes ownership of an input buffer from `vampire_alloc` holding a
/// MessagePack map, and returns `0` (success, nil) or `(ptr << 32) | len`
/// of a [`crate::reply`] the host frees with `vampire_dealloc`.
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
    /// `vampire_disconnect`: a member's connection dropped and its session
    /// is held for a resume; the reply says how long the room keeps its
    /// seat. Optional (without it: the server's `reconnect.windowSecs`).
    Disconnect,
    /// `vampire_reconnect`: a member whose connection dropped resumed its
    /// session. Optional.
    Reconnect,
}

impl Hook {
    /// Every hook, in the order of [`Hook::index`].
    pub const ALL: [Hook; 13] = [
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
        Hook::Disconnect,
        Hook::Reconnect,
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
            Hook::Disconnect => "vampire_disconnect",
            Hook::Reconnect => "vampire_reconnect",
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
