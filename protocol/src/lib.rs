//! The VampireTCP wire protocol, shared by the server (`vampiretcp`) and the
//! client library (`vampire-client`) so the two can never disagree.
//!
//! `docs/PROTOCOL.md` is the normative description; this crate is its Rust
//! rendering.
//!
//! # Layout
//! - [`frame`]: the length-prefixed framing (u32 big-endian + MessagePack).
//! - [`message`]: requests, responses, events and error codes.
//! - [`room`]: room descriptions carried inside messages.

pub mod frame;
pub mod message;
pub mod room;

pub use message::{ErrorCode, Event, Request, RequestFrame, ServerMessage};
pub use room::{CreateRoom, JoinResult, RoomInfo, VariableBroadcast};

/// Version of the protocol spoken by this crate, sent in the `welcome`
/// message. Raised on any change an older peer could misread.
pub const PROTOCOL_VERSION: u32 = 1;

/// Identifies one connection (a "session") for its whole life.
pub type SessionId = u64;

/// Identifies a room; assigned by the server, never reused while it runs.
pub type RoomId = String;

/// Any dynamically typed value: room variables, method arguments and
/// results, room messages and metadata.
///
/// On the wire it is plain MessagePack (nil, bool, integers, floats, strings,
/// arrays, maps with string keys).
pub type Value = serde_json::Value;
