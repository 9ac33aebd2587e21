//! Descriptions of rooms as they travel in requests and responses.

use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::{RoomId, SessionId, Value};

/// Settings a client may give when creating a room. Every field is
/// optional; the server's `defaultRoomSettings` fill the gaps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRoom {
    /// Room type: `"generic"` (built in, the default) or the name of a
    /// loaded plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_type: Option<String>,
    /// Free-form display name (at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the room appears in `list_rooms`. Private rooms are joined
    /// by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    /// Member limit; at most the server's `limits.maxClientsPerRoom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_clients: Option<u32>,
    /// Free-form data shown in listings (a map, say a game mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Variable broadcast policy of the room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable_broadcast: Option<VariableBroadcast>,
    /// Whether the room is deleted once its last member leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_dispose: Option<bool>,
    /// When set, `join` must carry the same password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A room's variable broadcast policy (the seed's
/// `variableBroadcast.enabled` / `.default`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableBroadcast {
    /// When `false`, no variable change is ever broadcast in this room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Broadcast flag of a variable whose setter gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// What `create_room` and `list_rooms` report about a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// Server-assigned room id.
    pub id: RoomId,
    /// `"generic"` or a plugin's room type.
    pub room_type: String,
    /// Display name (empty when none was given).
    pub name: String,
    /// Listed in `list_rooms`?
    pub public: bool,
    /// Current number of members.
    pub members: u32,
    /// Member limit.
    pub max_clients: u32,
    /// Whether `join` needs a password.
    pub password_protected: bool,
    /// Free-form data given at creation (nil when none).
    pub metadata: Value,
}

/// The result of a successful `join`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinResult {
    /// The room as it is after the join.
    pub room: RoomInfo,
    /// Session ids of every member, the joiner included, in join order.
    pub members: Vec<SessionId>,
    /// Every room variable with its current value.
    pub variables: Map<String, Value>,
}
