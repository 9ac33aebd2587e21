//! Networking: the TCP listener, one task pair per connection, the
//! per-connection [`session::Session`] that turns requests into room
//! commands, and the optional UDP channel ([`udp::UdpChannel`]).

pub mod connection;
pub mod listener;
pub mod session;
pub mod udp;

use std::sync::Arc;

use crate::config::Config;
use crate::outbound::ClientLimits;
use crate::rooms::RoomManager;

/// What every connection task shares.
pub struct NetContext {
    /// The configuration.
    pub config: Arc<Config>,
    /// The rooms.
    pub rooms: Arc<RoomManager>,
    /// The UDP channel, when `enableUDP` is on.
    pub udp: Option<Arc<udp::UdpChannel>>,
}

impl NetContext {
    /// The per-client bounds the configuration sets.
    pub fn client_limits(&self) -> ClientLimits {
        let limits = &self.config.limits;
        ClientLimits {
            queue_frames: limits.outbound_queue_frames,
            queue_bytes: limits.outbound_queue_bytes,
            max_frame_bytes: limits.max_outbound_frame_bytes,
            max_memberships: limits.max_joined_rooms_per_connection,
            max_owned_rooms: limits.max_rooms_per_connection,
        }
    }
}
