//! What goes out to clients, below both `net` and `rooms` (each uses it,
//! it uses neither), so rooms never import the networking layer.
//!
//! # Layout
//! - [`handle`]: [`ClientHandle`], a connection's outbound side as rooms
//!   and the session reach it: its queue, its identity, its rooms.
//! - [`link`]: [`Link`], one connection serving a session: whether it is
//!   closing and its farewell.
//! - [`memberships`]: the rooms a session is in, as the rooms record it.
//! - [`queue`]: the bounded queue of frames a client's writer drains.
//! - [`replay`]: the session's recent frames, kept for a resume.
//! - [`responder`]: [`Responder`], the reply sink every request is
//!   answered through, once: a frame to a client, or a value to a caller
//!   in this process.

pub mod handle;
pub mod link;
pub(crate) mod memberships;
pub(crate) mod queue;
pub(crate) mod replay;
pub mod responder;

pub use handle::{ClientHandle, ClientLimits, Identity, Resumed, UnreliableLink};
pub use link::Link;
pub use memberships::MembershipRefused;
pub(crate) use queue::Queued;
pub use responder::{Answer, Responder};
