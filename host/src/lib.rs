//! VampireTCP: a multiplayer room server whose custom room classes are
//! WebAssembly plugins.
//!
//! Clients speak length-prefixed MessagePack over TCP (`docs/PROTOCOL.md`).
//! Rooms are created by type: the built-in `generic` room, or a plugin
//! loaded from the plugins folder.
//!
//! # Layout
//! - [`config`]: the JSON configuration, its defaults and validation.
//! - [`net`]: the TCP listener, connection tasks (reader and writer),
//!   request decoding and the per-connection [`net::session::Session`].
//! - [`rooms`]: the room manager and index, the room actor, room state and
//!   variables, and the generic room.
//! - [`plugins`]: WebAssembly room plugins: runtime (deadlines, memory
//!   cap), ABI, host imports, loader, plugin-backed rooms.
//! - [`server`]: binds and runs everything, with graceful shutdown.
//! - [`error`]: [`ApiError`], the failure a client is told about.
//! - [`logging`]: `tracing` set-up.
//!
//! # Runtime model
//! Each room is an actor: one task owns its members, variables and
//! behaviour and takes commands from a bounded mailbox. Each connection has
//! a reader task and a writer task with a bounded outbound queue; a client
//! whose queue fills up is disconnected, so a slow client never blocks a
//! room. Broadcasts are encoded once and the bytes shared by every queue.

pub mod config;
pub mod error;
pub mod logging;
pub mod net;
pub mod plugins;
pub mod rooms;
pub mod server;

pub use config::Config;
pub use error::ApiError;
pub use server::{RunningServer, Server};
