//! [`RoomSettings`], what a room is (resolved from its creator's request
//! and the configured defaults), and [`RoomLimits`], the budgets it works
//! within.

use vampire_protocol::{Payload, RoomId, RoomInfo, SessionId};

use crate::rooms::variables::VariableLimits;

/// A room's settings, resolved from the creator's request and the
/// configured defaults.
#[derive(Debug, Clone, Default)]
pub struct RoomSettings {
    /// Room type (`generic` or a plugin's).
    pub room_type: String,
    /// Display name.
    pub name: String,
    /// Listed by `list_rooms`.
    pub public: bool,
    /// Member limit.
    pub max_clients: u32,
    /// Free-form listing data.
    pub metadata: Payload,
    /// When `false`, no variable change is broadcast.
    pub broadcast_enabled: bool,
    /// Broadcast flag of a variable whose setter gives none.
    pub broadcast_default: bool,
    /// Delete the room when its last member leaves.
    pub auto_dispose: bool,
    /// Whether `join` needs a password or an invite (the password's hash
    /// is kept in the room's handle).
    pub password_protected: bool,
    /// Session that created the room, when it was a connection of this
    /// node (a room created for another node's client has none here).
    pub owner: Option<SessionId>,
    /// The creator's user id, when the server authenticates: any
    /// connection of that user owns the room.
    pub owner_user: Option<String>,
    /// The creator's `options`, for the room type's create hook (nil when
    /// none).
    pub options: Payload,
    /// A locked room refuses joins and is not listed.
    pub locked: bool,
}

impl RoomSettings {
    /// The room `id` with these settings and `members` members, as clients
    /// see it in listings and join results.
    pub fn info(&self, id: &RoomId, members: u32) -> RoomInfo {
        RoomInfo {
            id: id.clone(),
            room_type: self.room_type.clone(),
            name: self.name.clone(),
            public: self.public,
            locked: self.locked,
            members,
            max_clients: self.max_clients,
            password_protected: self.password_protected,
            metadata: self.metadata.clone(),
        }
    }
}

/// The budgets a room works within.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    /// Budgets of the room's variables.
    pub variables: VariableLimits,
    /// Largest frame the server sends.
    pub max_frame_bytes: usize,
    /// Bytes held for a joiner while its join is decided.
    pub pending_join_bytes: usize,
    /// Largest member limit a room may set.
    pub max_clients_per_room: u32,
    /// Largest listing metadata, in bytes.
    pub metadata_bytes: usize,
}

impl RoomLimits {
    /// The budgets the configuration sets.
    pub fn from_config(limits: &crate::config::Limits) -> RoomLimits {
        RoomLimits {
            variables: VariableLimits::from_config(limits),
            max_frame_bytes: limits.max_outbound_frame_bytes,
            pending_join_bytes: limits.pending_join_bytes,
            max_clients_per_room: limits.max_clients_per_room,
            metadata_bytes: limits.max_listed_metadata_bytes,
        }
    }
}

impl Default for RoomLimits {
    fn default() -> RoomLimits {
        RoomLimits::from_config(&crate::config::Limits::default())
    }
}
