//! VampireTCP: a multiplayer room server whose custom room classes are
//! WebAssembly plugins.
//!
//! Clients speak length-prefixed MessagePack over TCP (`docs/PROTOCOL.md`).
//! Rooms are created by type: the built-in `generic` room, or a plugin
//! loaded from the plugins folder.
//!
//! # Layout
//! - [`config`]: the JSON configuration, its defaults and validation.
//! - [`auth`]: who a client is: token checks, room password hashes, the
//!   same-user policy.
//! - [`net`]: the TCP listener (and TLS), connection tasks (reader and
//!   writer), the per-connection [`net::session::Session`] and the UDP
//!   channel.
//! - [`outbound`]: a client's outbound queue and the [`outbound::Responder`]
//!   that answers each request once; below both `net` and `rooms`.
//! - [`rooms`]: the room manager and index, the room actor, room state and
//!   variables, and the generic room.
//! - [`plugins`]: WebAssembly room plugins: runtime (deadlines, memory
//!   cap), ABI, host imports, loader, plugin-backed rooms.
//! - [`cluster`]: cluster mode: the registry in Redis, room placement,
//!   redirects with seat reservations, the reaper of dead nodes.
//! - [`matchmaking`]: the ticket matchmaker: queues, matches, their rooms
//!   (`join_or_create` lives with the rooms: [`rooms::matching`]).
//! - [`server`]: binds and runs everything, with graceful shutdown.
//! - [`error`]: [`ApiError`], the failure a client is told about.
//! - [`logging`]: `tracing` set-up and throttles for repeated warnings.
//! - [`metrics`]: the counters and distributions the server keeps about
//!   itself, and their Prometheus exposition.
//! - [`admin`]: the operators' HTTP listener: `/metrics`, the admin API,
//!   the monitor page, health checks.
//! - [`drain`]: taking the node out of service for a deploy.
//!
//! # Runtime model
//! Each room is an actor: one task owns its members, variables and
//! behaviour and takes commands from a bounded mailbox; each command
//! carries the responder the room answers the client with, so connections
//! never wait for rooms. Plugin rooms run on threads of their own, apart
//! from the network threads. Each connection has a reader task and a
//! writer task with an outbound queue bounded in frames and bytes; a
//! client whose queue fills up is disconnected, so a slow client never
//! blocks a room. A room appends the events of one turn to one buffer and
//! hands every member the same bytes.

pub mod admin;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod drain;
pub mod error;
mod lock;
pub mod logging;
pub mod matchmaking;
pub mod metrics;
pub mod net;
pub mod outbound;
pub mod plugins;
pub mod rooms;
pub mod server;

pub use config::Config;
pub use error::ApiError;
pub use server::{RunningServer, Server};
