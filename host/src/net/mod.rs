//! Networking: the TCP and WebSocket listeners (with optional TLS,
//! [`tls::Tls`]), one task pair per connection, the per-connection
//! [`session::Session`] that turns requests into room commands, and the
//! optional UDP channel ([`udp::UdpChannel`]).
//!
//! # Layout
//! - [`listener`]: accept loops, the shared bound on connections.
//! - [`connection`]: one connection's reader and writer, over any
//!   transport ([`connection::FrameSource`], [`connection::FrameSink`]).
//! - [`stream`]: TCP and TLS, length-prefixed frames.
//! - [`websocket`]: the upgrade and one frame per binary message.
//! - [`session`]: what a connection's requests do.
//! - [`sessions`]: resume tokens, and sessions held after their
//!   connection dropped.
//! - [`tls`], [`udp`]: the certificate, the datagram channel.

pub mod connection;
pub mod listener;
pub mod session;
pub mod sessions;
pub mod stream;
pub mod tls;
pub mod udp;
pub mod websocket;

use std::sync::Arc;

use tokio_util::task::TaskTracker;

use crate::auth::{Authenticator, SignedIn};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::outbound::ClientLimits;
use crate::rooms::RoomManager;
use crate::rooms::admission::Gate;

/// What every connection task shares.
pub struct NetContext {
    /// The configuration.
    pub config: Arc<Config>,
    /// The rooms.
    pub rooms: Arc<RoomManager>,
    /// The UDP channel, when `enableUDP` is on.
    pub udp: Option<Arc<udp::UdpChannel>>,
    /// Checks tokens, when `auth.mode` is `jwt`.
    pub auth: Option<Arc<Authenticator>>,
    /// Who is signed in where, for `auth.sameUser`.
    pub signed_in: Arc<SignedIn>,
    /// Resume tokens, and the sessions held for a resume.
    pub sessions: Arc<sessions::Sessions>,
    /// Hashes room passwords and checks them, and invites.
    pub gate: Arc<Gate>,
    /// TLS for the TCP and WebSocket ports, when `tls` is set.
    pub tls: Option<Arc<tls::Tls>>,
    /// This node's cluster, when `cluster` is set.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// The ticket matchmaker.
    pub matchmaker: Arc<crate::matchmaking::Matchmaker>,
    /// Where connections count what they do.
    pub metrics: Arc<Metrics>,
    /// What clients are told when the server stops, when not the usual
    /// (a drain for a deploy sets it).
    pub farewell: Arc<std::sync::OnceLock<&'static str>>,
    /// Every task a connection starts (the connection's own, its
    /// requests to other nodes, its token's expiry watch), so shutdown
    /// waits for them all.
    pub tasks: TaskTracker,
}

impl NetContext {
    /// The per-client bounds the configuration sets.
    pub fn client_limits(&self) -> ClientLimits {
        let reconnect = &self.config.reconnect;
        let replay_bytes = reconnect.window().map(|_| reconnect.replay_bytes);
        ClientLimits { replay_bytes, ..client_limits(&self.config) }
    }
}

/// The per-client bounds `config` sets, for a client that is never held
/// for a resume (nothing is kept for a replay).
pub fn client_limits(config: &Config) -> ClientLimits {
    let limits = &config.limits;
    ClientLimits {
        queue_frames: limits.outbound_queue_frames,
        queue_bytes: limits.outbound_queue_bytes,
        unreliable_bytes: limits.unreliable_queue_bytes,
        max_frame_bytes: limits.max_outbound_frame_bytes,
        max_memberships: limits.max_joined_rooms_per_connection,
        max_owned_rooms: limits.max_rooms_per_connection,
        replay_bytes: None,
    }
}
