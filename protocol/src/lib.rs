//! The VampireTCP wire protocol, shared by the server (`vampiretcp`) and the
//! client library (`vampire-client`) so the two can never disagree.
//!
//! `docs/PROTOCOL.md` is the normative description; this crate is its Rust
//! rendering.
//!
//! # Value model
//! Values are MessagePack values ([`Value`], from `rmpv`): nil, booleans,
//! every 64-bit integer exactly, float32 and float64 (NaN and infinities
//! kept), strings, binary, extensions, arrays and maps with keys of any
//! type. What the server does not interpret (message data, variable
//! values, method arguments and results, metadata) travels as a
//! [`Payload`]: the sender's bytes, checked once and never rebuilt.
//!
//! # Layout
//! - [`msgpack`]: the strict validator, reader and writer the codecs use
//!   (the `vampire-msgpack` crate, shared with the plugin ABI).
//! - [`payload`]: [`Payload`], one value carried as its bytes.
//! - [`frame`]: the length-prefixed framing (u32 big-endian + MessagePack).
//! - [`ids`]: [`SessionId`] and [`RoomId`].
//! - [`request`]: the operations ([`RoomOp`], [`ServerOp`]), the server's
//!   strict decoder, the clients' encoder.
//! - [`server`]: welcome, responses, errors and events, written from
//!   borrowed parts (the server) or decoded (clients).
//! - [`event`]: room events, decoded ([`Event`]) or written from borrowed
//!   parts, and the [`event::Lane`] an event frame travels.
//! - [`room`]: room descriptions and results.
//! - [`resume`]: [`ResumeResult`], the answer that gives a new connection
//!   a dropped one's session, and how frames are numbered.
//! - [`udp`]: the UDP channel's datagrams: layout, sealing, replay window.
//! - `strategies` (feature `proptest`): property-test strategies for
//!   values.
//! - [`error`]: [`ErrorCode`], [`ApiError`] (the one shape of a failure)
//!   and the quoting rules of error messages.
//! - [`listing`]: the filters and sorts of `list_rooms`.
//! - [`decode`]: the lenient reader of what the server sends, for
//!   clients.
//! - `json` (feature `json`): values shown to people as JSON and read
//!   back, for the command-line client and the admin API.

pub mod decode;
/// The MessagePack primitives (the `vampire-msgpack` crate).
pub use vampire_msgpack as msgpack;
pub mod error;
pub mod event;
pub mod frame;
pub mod ids;
#[cfg(feature = "json")]
pub mod json;
pub mod listing;
pub mod matchmaking;
pub mod payload;
pub mod request;
pub mod resume;
pub mod room;
pub mod server;
#[cfg(any(test, feature = "proptest"))]
pub mod strategies;
pub mod udp;

#[cfg(test)]
mod properties;

pub use decode::DecodeError;
pub use error::{ApiError, ErrorCode};
pub use ids::{RoomId, SessionId};
pub use payload::{Payload, Value};
pub use request::{Rejected, Request, RequestFrame, RoomOp, ServerOp};
pub use resume::ResumeResult;
pub use room::{CreateRoom, JoinResult, RoomInfo, RoomList, RosterEntry, VariableBroadcast};
pub use server::{Event, PROTOCOL_VERSION, Redirect, ServerMessage, Welcome};
