//! Write VampireTCP room types in Rust, compiled to
//! `wasm32-unknown-unknown`.
//!
//! A room type is a struct implementing [`Room`]; every hook has a default,
//! so a room overrides only what it changes. Its methods are an enum
//! ([`Room::Call`]) that serde decodes straight from the client's bytes:
//! a misspelt or mistyped method is a compile error, and a client's bad
//! call is answered `method_not_found` or `invalid_request` without your
//! code running. [`export_room!`] turns the struct into a plugin module
//! the server loads from its plugins folder, under the `.wasm` file's
//! stem as the room type.
//!
//! # Example
//!
//! ```
//! use room_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct Counter;
//!
//! #[derive(Deserialize)]
//! #[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
//! enum Call {
//!     Add { by: u32 },
//!     Reset,
//! }
//!
//! impl Room for Counter {
//!     type Call = Call;
//!
//!     fn call(&mut self, _caller: &Member, call: Call) -> Result<Reply, RoomError> {
//!         let count: u32 = host::get_variable("count")?.unwrap_or(0);
//!         let count = match call {
//!             Call::Add { by } => count.checked_add(by).ok_or("too many")?,
//!             Call::Reset => 0,
//!         };
//!         host::variable("count").broadcast(true).set(&count)?;
//!         reply(&count)
//!     }
//! }
//!
//! room_sdk::export_room!(Counter);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-unknown-unknown`
//! (crate type `cdylib`) and copy the `.wasm` into the plugins folder.
//!
//! # Layout
//! - [`Room`], [`Member`], [`RoomInfo`], [`Data`], [`Reply`], [`RoomError`]:
//!   what an author implements and uses.
//! - [`host`]: safe calls into the server (variables, messages, kicks, room
//!   control, the clock, log, time, randomness).
//! - [`sys`]: the raw ABI (imports, buffers); the only `unsafe` code.
//! - [`export_room!`]: generates the module's exports.
//! - [`prelude`]: the names a room usually needs.
//!
//! The contract itself (names, version, inputs) comes from the
//! `vampire-abi` crate, which the server builds against too.
//!
//! # Sandbox
//! A plugin has no file system, network or clock of its own: only the
//! [`host`] calls. Each call into it has a time budget and its memory is
//! capped; a panic or a budget overrun fails only that call (the client
//! gets `plugin_error`) and the room continues with a fresh instance, its
//! members and variables intact ([`Start::Recreated`]). State kept in the
//! struct is lost then; keep what matters in room variables.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

mod error;
pub mod host;
pub mod sys;

pub use error::RoomError;

#[doc(hidden)]
pub mod export;

pub use rmpv::Value;
pub use serde;
pub use vampire_abi::input::Start;
/// A match's room is created with [`MatchOptions`] as its create options:
/// decode them in `create` with `options.decode::<MatchOptions>()` to
/// see the players the matchmaker is sending and their ticket properties.
pub use vampire_abi::matched::{MatchOptions, MatchedPlayer};
pub use vampire_abi::reply::GuestCode;

/// Version of the ABI this SDK implements (`docs/ABI.md`).
pub const ABI_VERSION: i32 = vampire_abi::ABI_VERSION;

/// A member's session id, as clients see it in events.
pub type Session = u64;

/// The names a room usually needs: `use room_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::serde::{Deserialize, Serialize};
    pub use crate::{
        Data, GuestCode, MatchOptions, Member, NoCalls, Reply, Room, RoomError, RoomInfo, SeatHold,
        Session, Start, Value, host, load_state, reply, save_state,
    };
}

/// A member of the room.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Session id: what clients see in events.
    pub session: Session,
    /// The authenticated user id (`None` without authentication).
    pub user_id: Option<String>,
    /// The display name from the member's token, if any.
    pub name: Option<String>,
    /// The token's claims (nil without a token).
    pub claims: Value,
}

impl Default for Member {
    fn default() -> Member {
        Member { session: 0, user_id: None, name: None, claims: Value::Nil }
    }
}

impl Member {
    pub(crate) fn from_raw(raw: &vampire_abi::input::Member<'_>) -> Member {
        Member {
            session: raw.session,
            user_id: raw.user_id.map(str::to_owned),
            name: raw.name.map(str::to_owned),
            claims: Data::from_slice(raw.claims).value(),
        }
    }
}

/// The room, as [`host::room`] and [`Room::create`] give it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomInfo {
    /// Room id.
    pub room: String,
    /// Room type (the plugin's name).
    pub room_type: String,
    /// Display name.
    pub name: String,
    /// Listed by `list_rooms` (when not locked).
    pub public: bool,
    /// Locked: refuses joins and is not listed.
    pub locked: bool,
    /// Member limit.
    pub max_clients: u32,
    /// Members now.
    pub member_count: u32,
    /// Listing metadata.
    pub metadata: Value,
    /// Session that created the room.
    pub owner: Session,
}

impl Default for RoomInfo {
    fn default() -> RoomInfo {
        RoomInfo {
            room: String::new(),
            room_type: String::new(),
            name: String::new(),
            public: false,
            locked: false,
            max_clients: 0,
            member_count: 0,
            metadata: Value::Nil,
            owner: 0,
        }
    }
}

impl RoomInfo {
    pub(crate) fn from_view(view: &vampire_abi::input::RoomView<'_>) -> RoomInfo {
        RoomInfo {
            room: view.room.to_owned(),
            room_type: view.room_type.to_owned(),
            name: view.name.to_owned(),
            public: view.public,
            locked: view.locked,
            max_clients: view.max_clients,
            member_count: view.member_count,
            metadata: Data::from_slice(view.metadata).value(),
            owner: view.owner,
        }
    }
}

/// One MessagePack value as a client (or the server) sent it: message
/// data, join and create options, variable values. Read it with
/// [`Data::decode`] into your own type, or pass it on unchanged.
#[derive(Clone, PartialEq, Eq)]
pub struct Data(Vec<u8>);

impl Data {
    pub(crate) fn from_slice(bytes: &[u8]) -> Data {
        Data(bytes.to_vec())
    }

    pub(crate) fn from_vec(bytes: Vec<u8>) -> Data {
        Data(bytes)
    }

    /// The value as MessagePack.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether it is nil (absent options, say).
    pub fn is_nil(&self) -> bool {
        self.0 == [0xc0]
    }

    /// Decodes it into `T`.
    ///
    /// # Errors
    /// `invalid_request` when it is not a `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use room_sdk::prelude::*;
    ///
    /// #[derive(Deserialize)]
    /// #[serde(crate = "room_sdk::serde")]
    /// struct Team {
    ///     team: String,
    /// }
    ///
    /// fn team_of(options: &Data) -> Result<String, RoomError> {
    ///     Ok(options.decode::<Team>()?.team)
    /// }
    /// # let _ = team_of;
    /// ```
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, RoomError> {
        rmp_serde::from_slice(&self.0).map_err(|err| RoomError::invalid_args(err.to_string()))
    }

    /// Decodes it into a dynamic value.
    pub fn value(&self) -> Value {
        rmpv::decode::read_value(&mut &self.0[..]).unwrap_or(Value::Nil)
    }
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.value())
    }
}

/// What a method or join hook answers: one MessagePack value ([`reply`]
/// makes one), or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply(Option<Vec<u8>>);

impl Reply {
    /// No value (nil).
    pub fn none() -> Reply {
        Reply(None)
    }

    /// A value already encoded, passed on as it is.
    pub fn data(data: &Data) -> Reply {
        Reply(Some(data.0.clone()))
    }

    pub(crate) fn into_bytes(self) -> Option<Vec<u8>> {
        self.0
    }
}

/// Encodes a room's state for [`Room::snapshot`]: the usual way to carry a
/// room's own fields across a hot reload, for a type that derives
/// `Serialize` (`None` when it cannot be encoded).
///
/// # Examples
///
/// ```
/// use room_sdk::{load_state, save_state};
///
/// let board = vec!["X".to_owned(), String::new(), "O".to_owned()];
/// let carried = save_state(&board).unwrap();
/// let back: Vec<String> = load_state(&carried).unwrap();
/// assert_eq!(back, board);
/// ```
pub fn save_state<T: Serialize + ?Sized>(state: &T) -> Option<Vec<u8>> {
    host::encode(state).ok()
}

/// Decodes what [`save_state`] encoded, for [`Room::restore`].
///
/// # Errors
/// When the bytes are not a `T` (the previous version's state had another
/// shape); the reload is then abandoned and the old version kept.
pub fn load_state<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RoomError> {
    rmp_serde::from_slice(bytes)
        .map_err(|err| RoomError::new(format!("cannot restore the state: {err}")))
}

/// Encodes `value` as the answer of a method or join hook.
///
/// # Errors
/// When serde cannot encode it.
///
/// # Examples
///
/// ```
/// use room_sdk::prelude::*;
///
/// #[derive(Serialize)]
/// #[serde(crate = "room_sdk::serde")]
/// struct Seat {
///     mark: char,
/// }
///
/// let answer: Reply = reply(&Seat { mark: 'X' }).unwrap();
/// assert_ne!(answer, Reply::none());
/// ```
pub fn reply<T: Serialize + ?Sized>(value: &T) -> Result<Reply, RoomError> {
    Ok(Reply(Some(host::encode(value)?)))
}

/// How long a room keeps the seat of a member whose connection dropped
/// ([`Room::disconnect`]); when it passes, the member leaves with reason
/// `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatHold {
    /// As long as the server holds the session (`reconnect.windowSecs`,
    /// 30 s by default).
    ServerWindow,
    /// At most this long (the server's window caps it).
    For(Duration),
    /// Not at all: the member leaves now, reason `disconnected` (as
    /// Colyseus rooms that do not allow a reconnection).
    Release,
}

/// The methods of a room that has none: every call is answered
/// `method_not_found`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCalls {}

impl<'de> serde::Deserialize<'de> for NoCalls {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<NoCalls, D::Error> {
        Err(serde::de::Error::custom("unknown variant: this room has no methods"))
    }
}

/// A room type. One value is made (with `Default`) per room instance.
///
/// Hooks run one at a time, each under the server's time budget; a hook
/// that panics fails only the call that ran it.
pub trait Room: Default + 'static {
    /// The room's methods: an enum with
    /// `#[derive(Deserialize)]` and
    /// `#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]`,
    /// one variant per method, its fields the method's arguments (a unit
    /// variant takes none). Use [`NoCalls`] for a room without methods.
    type Call: DeserializeOwned;

    /// The instance starts: the room was created ([`Start::New`]), or the
    /// instance is re-created after a trap ([`Start::Recreated`]) or a
    /// reload ([`Start::Reloaded`]) with the room's members and variables
    /// as they were. `options` is the creator's value (nil when none).
    ///
    /// # Errors
    /// A new room is not created; the creator gets the error.
    fn create(
        &mut self,
        _room: &RoomInfo,
        _start: Start,
        _options: &Data,
    ) -> Result<(), RoomError> {
        Ok(())
    }

    /// `member` asks to join, with its `options` (nil when none); it
    /// already counts in [`host::members`] and anything sent to it arrives
    /// right after its join response. The reply reaches the joiner in its
    /// join result (`reply`). Default: accept.
    ///
    /// # Errors
    /// Refuses the join, e.g. with [`RoomError::refuse`].
    fn join(&mut self, _member: &Member, _options: &Data) -> Result<Reply, RoomError> {
        Ok(Reply::none())
    }

    /// `member` left (`reason`: `left`, `disconnected`, `timeout` or
    /// `kicked`); the others were already told. Default: nothing more.
    fn leave(&mut self, _member: &Member, _reason: &str) {}

    /// `member`'s connection dropped and the server holds its session for
    /// a resume; the others are told (`member_disconnected`) unless this
    /// returns [`SeatHold::Release`]. Whatever the room sends the member
    /// meanwhile is replayed to it when it comes back. Default:
    /// [`SeatHold::ServerWindow`].
    fn disconnect(&mut self, _member: &Member) -> SeatHold {
        SeatHold::ServerWindow
    }

    /// `member`, whose connection dropped, resumed its session; the others
    /// were told (`member_reconnected`). Default: nothing more.
    fn reconnect(&mut self, _member: &Member) {}

    /// A member called one of the room's methods. Default: none exist.
    ///
    /// # Errors
    /// Reported to the caller.
    fn call(&mut self, _caller: &Member, _call: Self::Call) -> Result<Reply, RoomError> {
        Err(RoomError::new("this room has no methods"))
    }

    /// A member sent a message (`unreliable` when it came over UDP).
    /// Default: relay it as it came to every member, the sender included,
    /// as the generic room does.
    ///
    /// # Errors
    /// Reported to the sender.
    fn message(&mut self, from: &Member, data: &Data, _unreliable: bool) -> Result<(), RoomError> {
        host::relay(from.session, data)
    }

    /// The room's clock ticked ([`host::set_tick_rate`]): `dt` is the real
    /// time since the previous tick, `count` its number.
    fn tick(&mut self, _dt: Duration, _count: u64) {}

    /// Timer `tag` fired ([`host::set_timer`]).
    fn timer(&mut self, _tag: &str) {}

    /// The room is ending: `reason` is `deleted`, `disposed`, `closed` or
    /// `shutdown`.
    fn dispose(&mut self, _reason: &str) {}

    /// Whether `member` may set variable `name` to `value`, when the
    /// variable's own rule lets clients write it. Default: yes.
    fn can_set_variable(&mut self, _member: &Member, _name: &str, _value: &Data) -> bool {
        true
    }

    /// The state to carry to the next version when the plugin is reloaded
    /// ([`save_state`] encodes a serde type); `None` (the default) starts
    /// the new version with only the room's members, variables and clock.
    fn snapshot(&self) -> Option<Vec<u8>> {
        None
    }

    /// Takes the state [`Room::snapshot`] gave, in the new version, after
    /// its [`Room::create`] with [`Start::Reloaded`] ([`load_state`] decodes
    /// a serde type).
    ///
    /// # Errors
    /// The reload is abandoned: the room keeps its old version.
    fn restore(&mut self, _state: &[u8]) -> Result<(), RoomError> {
        Ok(())
    }
}

/// Exports a [`Room`] type as this module's room: generates the ABI's
/// exports (`vampire_abi_version`, `vampire_alloc`, `vampire_dealloc` and
/// every hook). Use it once per plugin crate.
///
/// # Examples
///
/// ```
/// use room_sdk::prelude::*;
///
/// /// A room that only relays messages, as the generic room does.
/// #[derive(Default)]
/// struct Relay;
///
/// impl Room for Relay {
///     type Call = NoCalls;
/// }
///
/// room_sdk::export_room!(Relay);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_room {
    ($room:ty) => {
        const _: () = {
            ::std::thread_local! {
                static SLOT: $crate::export::Slot<$room> = const { ::std::cell::RefCell::new(None) };
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_abi_version() -> i32 {
                $crate::ABI_VERSION
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_alloc(len: usize) -> *mut u8 {
                $crate::sys::alloc(len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_dealloc(ptr: *mut u8, len: usize) {
                // SAFETY: the host frees only replies a hook gave it, once.
                drop(unsafe { $crate::sys::take_buffer(ptr, len) })
            }

            $crate::export_room!(@hook vampire_create, create, $room);
            $crate::export_room!(@hook vampire_join, join, $room);
            $crate::export_room!(@hook vampire_leave, leave, $room);
            $crate::export_room!(@hook vampire_invoke, invoke, $room);
            $crate::export_room!(@hook vampire_message, message, $room);
            $crate::export_room!(@hook vampire_tick, tick, $room);
            $crate::export_room!(@hook vampire_timer, timer, $room);
            $crate::export_room!(@hook vampire_dispose, dispose, $room);
            $crate::export_room!(@hook vampire_can_set_variable, can_set_variable, $room);
            $crate::export_room!(@hook vampire_snapshot, snapshot, $room);
            $crate::export_room!(@hook vampire_restore, restore, $room);
            $crate::export_room!(@hook vampire_disconnect, disconnect, $room);
            $crate::export_room!(@hook vampire_reconnect, reconnect, $room);
        };
    };
    (@hook $export:ident, $hook:ident, $room:ty) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn $export(ptr: *mut u8, len: usize) -> i64 {
            // SAFETY: the host passes a buffer from `vampire_alloc`, once.
            let input = unsafe { $crate::sys::take_buffer(ptr, len) };
            SLOT.with(|slot| $crate::export::$hook::<$room>(slot, &input))
        }
    };
}
