//! Write VampireTCP room types in Rust, compiled to
//! `wasm32-unknown-unknown`.
//!
//! A room type is a struct implementing [`Room`]; every hook has a default,
//! so a room overrides only what it changes. [`export_room!`] turns it into
//! a plugin module the server loads from its plugins folder, under the
//! `.wasm` file's stem as the room type.
//!
//! # Example
//!
//! A room that greets each newcomer, counts the messages it relays and
//! has one method:
//!
//! ```
//! use room_sdk::{host, Broadcast, Methods, Room, RoomError, RoomInfo, Session, Value};
//! use serde::Deserialize;
//!
//! #[derive(Default)]
//! struct Greeter {
//!     relayed: u64,
//! }
//!
//! #[derive(Deserialize)]
//! struct Shout {
//!     text: String,
//! }
//!
//! impl Greeter {
//!     fn shout(&mut self, from: Session, args: Shout) -> Result<usize, RoomError> {
//!         if args.text.is_empty() {
//!             return Err(RoomError::new("nothing to shout"));
//!         }
//!         host::broadcast(&format!("{from} shouts {}", args.text.to_uppercase()));
//!         Ok(args.text.len())
//!     }
//! }
//!
//! impl Room for Greeter {
//!     fn create(&mut self, info: &RoomInfo) -> Result<(), RoomError> {
//!         host::log_info(&format!("greeter room {} ready", info.room));
//!         Ok(())
//!     }
//!
//!     fn join(&mut self, session: Session) -> Result<(), RoomError> {
//!         if host::members().len() > 10 {
//!             return Err(RoomError::refuse("ten is company"));
//!         }
//!         host::send(session, &"welcome!");
//!         Ok(())
//!     }
//!
//!     fn message(&mut self, from: Session, data: Value) -> Result<(), RoomError> {
//!         self.relayed += 1;
//!         host::set_variable("relayed", &self.relayed, Broadcast::Default);
//!         host::relay(from, &data);
//!         Ok(())
//!     }
//!
//!     fn methods(methods: &mut Methods<Self>) {
//!         methods.add("shout", Self::shout);
//!     }
//! }
//!
//! room_sdk::export_room!(Greeter);
//! # fn main() {}
//! ```
//!
//! Build it with `cargo build --release --target wasm32-unknown-unknown`
//! (crate type `cdylib`) and copy the `.wasm` into the plugins folder.
//!
//! # Layout
//! - [`Room`], [`RoomInfo`], [`RoomError`], [`Methods`]: what an author
//!   implements and uses.
//! - [`host`]: safe calls into the server (variables, messages, kicks,
//!   log, time).
//! - [`raw`]: the raw ABI (imports, buffers); the only `unsafe` code.
//! - [`export_room!`]: generates the module's exports.
//!
//! # Sandbox
//! A plugin has no file system, network or clock of its own: only the
//! [`host`] calls. Each call into it has a time budget and its memory is
//! capped; a panic or a budget overrun fails only that call (the client
//! gets `plugin_error`) and the room continues with a fresh instance, its
//! members and variables intact. State kept in the struct is lost then;
//! keep what matters in room variables.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod host;
pub mod raw;

pub use serde_json::Value;
pub use serde_json::json;

/// Version of the ABI this SDK implements (`docs/ABI.md`).
pub const ABI_VERSION: i32 = 1;

/// A member's session id, as clients see it in events.
pub type Session = u64;

/// What a room knows at creation.
#[derive(Debug, Clone, Deserialize)]
pub struct RoomInfo {
    /// Room id.
    pub room: String,
    /// Room type (the plugin's name).
    pub room_type: String,
    /// Display name.
    pub name: String,
    /// Member limit.
    pub max_clients: u32,
    /// Metadata given by the creator (nil when none).
    pub metadata: Value,
    /// Current members: empty for a new room; the members so far when the
    /// instance is re-created after a trap.
    pub members: Vec<Session>,
    /// True when the instance is re-created after a trap.
    pub recreated: bool,
}

/// A failure a hook reports to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomError {
    /// Error code the client receives: `room_error`, `not_authorized`,
    /// `method_not_found` or `invalid_request`.
    pub code: String,
    /// Detail for the client.
    pub message: String,
}

impl RoomError {
    /// A rule of the room was broken (`room_error`): "not your turn".
    pub fn new(message: impl Into<String>) -> RoomError {
        RoomError::with_code("room_error", message)
    }

    /// Refuses a join (`not_authorized`) with a reason.
    pub fn refuse(reason: impl Into<String>) -> RoomError {
        RoomError::with_code("not_authorized", reason)
    }

    /// Bad method arguments (`invalid_request`).
    pub fn invalid_args(message: impl Into<String>) -> RoomError {
        RoomError::with_code("invalid_request", message)
    }

    /// No such method (`method_not_found`).
    pub fn method_not_found(method: &str) -> RoomError {
        RoomError::with_code("method_not_found", format!("this room has no method {method:?}"))
    }

    fn with_code(code: &str, message: impl Into<String>) -> RoomError {
        RoomError { code: code.to_owned(), message: message.into() }
    }
}

/// A room type. One value is made (with `Default`) per room.
///
/// Hooks run one at a time; a hook that panics fails only the call that
/// ran it.
pub trait Room: Default + 'static {
    /// The room was created (or its instance re-created after a trap).
    ///
    /// # Errors
    /// The room is not created; the creator gets the error.
    fn create(&mut self, _info: &RoomInfo) -> Result<(), RoomError> {
        Ok(())
    }

    /// `session` asks to join; it is already counted in [`host::members`]
    /// and anything sent to it arrives right after its join response.
    /// Default: accept.
    ///
    /// # Errors
    /// Refuses the join, e.g. with [`RoomError::refuse`].
    fn join(&mut self, _session: Session) -> Result<(), RoomError> {
        Ok(())
    }

    /// `session` left (`reason`: `left` or `disconnected`); the others were
    /// already told. Default: nothing more.
    fn leave(&mut self, _session: Session, _reason: &str) {}

    /// A member sent a message. Default: relay it to every member, the
    /// sender included, as the generic room does.
    ///
    /// # Errors
    /// Reported to the sender.
    fn message(&mut self, from: Session, data: Value) -> Result<(), RoomError> {
        host::relay(from, &data);
        Ok(())
    }

    /// Declares the room's methods. Default: none.
    fn methods(_methods: &mut Methods<Self>) {}
}

type Method<R> = Box<dyn Fn(&mut R, Session, Value) -> Result<Value, RoomError>>;

/// The named methods of a room type, each taking typed arguments and
/// returning a typed result.
pub struct Methods<R> {
    methods: HashMap<String, Method<R>>,
}

impl<R: Room> Methods<R> {
    fn new() -> Methods<R> {
        Methods { methods: HashMap::new() }
    }

    /// Adds method `name`. Its arguments are deserialised from the
    /// client's `args` (a mismatch is `invalid_request`); its result is
    /// serialised back.
    pub fn add<A, T>(&mut self, name: &str, method: fn(&mut R, Session, A) -> Result<T, RoomError>)
    where
        A: DeserializeOwned + 'static,
        T: Serialize + 'static,
    {
        let wrapped = move |room: &mut R, session: Session, args: Value| {
            let args: A = serde_json::from_value(args)
                .map_err(|err| RoomError::invalid_args(format!("bad arguments: {err}")))?;
            let result = method(room, session, args)?;
            serde_json::to_value(result)
                .map_err(|err| RoomError::new(format!("unencodable result: {err}")))
        };
        self.methods.insert(name.to_owned(), Box::new(wrapped));
    }

    fn call(
        &self,
        room: &mut R,
        session: Session,
        method: &str,
        args: Value,
    ) -> Result<Value, RoomError> {
        match self.methods.get(method) {
            Some(method) => method(room, session, args),
            None => Err(RoomError::method_not_found(method)),
        }
    }
}

/// Broadcast choice for [`host::set_variable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broadcast {
    /// Broadcast this and later changes (if the room broadcasts at all).
    Yes,
    /// Do not broadcast this and later changes.
    No,
    /// Keep the variable's flag; a new variable takes the room's default.
    Default,
}

#[doc(hidden)]
pub mod __private {
    //! Glue used by [`crate::export_room!`]; not a public API.

    use std::cell::RefCell;

    use serde::Deserialize;

    use super::*;

    pub use crate::raw::alloc;

    /// A room value and its methods.
    pub struct Plugin<R: Room> {
        room: R,
        methods: Methods<R>,
    }

    /// The one plugin value of this instance.
    pub type Slot<R> = RefCell<Option<Plugin<R>>>;

    #[derive(Deserialize)]
    struct SessionInput {
        session: Session,
    }

    #[derive(Deserialize)]
    struct LeaveInput {
        session: Session,
        reason: String,
    }

    #[derive(Deserialize)]
    struct InvokeInput {
        session: Session,
        method: String,
        #[serde(default)]
        args: Value,
    }

    #[derive(Deserialize)]
    struct MessageInput {
        session: Session,
        #[serde(default)]
        data: Value,
    }

    #[derive(Serialize)]
    enum Reply<'a> {
        #[serde(rename = "ok")]
        Ok(&'a Value),
        #[serde(rename = "error")]
        Error(&'a RoomError),
    }

    fn input<T: DeserializeOwned>(ptr: *mut u8, len: usize) -> Result<T, RoomError> {
        let bytes = crate::raw::take_host_buffer(ptr, len);
        rmp_serde::from_slice(&bytes)
            .map_err(|err| RoomError::new(format!("bad hook input: {err}")))
    }

    fn output(result: Result<Value, RoomError>) -> i64 {
        let bytes = match &result {
            Ok(Value::Null) => return 0,
            Ok(value) => rmp_serde::to_vec_named(&Reply::Ok(value)),
            Err(error) => rmp_serde::to_vec_named(&Reply::Error(error)),
        };
        crate::raw::leak_output(bytes.unwrap_or_default())
    }

    fn with<R: Room>(
        slot: &Slot<R>,
        f: impl FnOnce(&mut Plugin<R>) -> Result<Value, RoomError>,
    ) -> i64 {
        let mut slot = slot.borrow_mut();
        let result = match slot.as_mut() {
            Some(plugin) => f(plugin),
            None => Err(RoomError::new("the room was not created")),
        };
        output(result)
    }

    /// `vampire_create`.
    pub fn create<R: Room>(slot: &Slot<R>, ptr: *mut u8, len: usize) -> i64 {
        std::panic::set_hook(Box::new(|info| crate::host::log_error(&info.to_string())));
        let result = input::<RoomInfo>(ptr, len).and_then(|info| {
            let mut methods = Methods::new();
            R::methods(&mut methods);
            let mut room = R::default();
            room.create(&info)?;
            *slot.borrow_mut() = Some(Plugin { room, methods });
            Ok(Value::Null)
        });
        output(result)
    }

    /// `vampire_join`.
    pub fn join<R: Room>(slot: &Slot<R>, ptr: *mut u8, len: usize) -> i64 {
        let parsed = input::<SessionInput>(ptr, len);
        with(slot, |p| p.room.join(parsed?.session).map(|()| Value::Null))
    }

    /// `vampire_leave`.
    pub fn leave<R: Room>(slot: &Slot<R>, ptr: *mut u8, len: usize) -> i64 {
        let parsed = input::<LeaveInput>(ptr, len);
        with(slot, |p| {
            let input = parsed?;
            p.room.leave(input.session, &input.reason);
            Ok(Value::Null)
        })
    }

    /// `vampire_invoke`.
    pub fn invoke<R: Room>(slot: &Slot<R>, ptr: *mut u8, len: usize) -> i64 {
        let parsed = input::<InvokeInput>(ptr, len);
        with(slot, |p| {
            let input = parsed?;
            p.methods.call(&mut p.room, input.session, &input.method, input.args)
        })
    }

    /// `vampire_message`.
    pub fn message<R: Room>(slot: &Slot<R>, ptr: *mut u8, len: usize) -> i64 {
        let parsed = input::<MessageInput>(ptr, len);
        with(slot, |p| {
            let input = parsed?;
            p.room.message(input.session, input.data).map(|()| Value::Null)
        })
    }
}

/// Exports a [`Room`] type as this module's room: generates the ABI's
/// exports (`vampire_abi_version`, `vampire_alloc`, `vampire_dealloc`,
/// `vampire_create`, `vampire_join`, `vampire_leave`, `vampire_invoke`,
/// `vampire_message`). Use it once per plugin crate.
#[macro_export]
macro_rules! export_room {
    ($room:ty) => {
        const _: () = {
            ::std::thread_local! {
                static SLOT: $crate::__private::Slot<$room> = const { ::std::cell::RefCell::new(None) };
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_abi_version() -> i32 {
                $crate::ABI_VERSION
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_alloc(len: usize) -> *mut u8 {
                $crate::__private::alloc(len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_dealloc(ptr: *mut u8, len: usize) {
                drop($crate::raw::take_host_buffer(ptr, len))
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_create(ptr: *mut u8, len: usize) -> i64 {
                SLOT.with(|slot| $crate::__private::create::<$room>(slot, ptr, len))
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_join(ptr: *mut u8, len: usize) -> i64 {
                SLOT.with(|slot| $crate::__private::join::<$room>(slot, ptr, len))
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_leave(ptr: *mut u8, len: usize) -> i64 {
                SLOT.with(|slot| $crate::__private::leave::<$room>(slot, ptr, len))
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_invoke(ptr: *mut u8, len: usize) -> i64 {
                SLOT.with(|slot| $crate::__private::invoke::<$room>(slot, ptr, len))
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn vampire_message(ptr: *mut u8, len: usize) -> i64 {
                SLOT.with(|slot| $crate::__private::message::<$room>(slot, ptr, len))
            }
        };
    };
}
