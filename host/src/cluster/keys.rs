//! The names of the cluster's Redis keys and channels, all under
//! `cluster.keyPrefix` (`P` below):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P:node:{node}` | string, expires after `nodeTtlMs` | the node's [`super::registry::NodeRecord`]; the node is alive while it exists |
//! | `P:nodes` | set | every node registered and not yet reaped |
//! | `P:load` | sorted set | node → rooms it holds (placement picks the lowest) |
//! | `P:node-rooms:{node}` | hash | room id → room type, for every room of the node |
//! | `P:room:{room}` | string | the room's listing (`RoomInfo`, MessagePack) |
//! | `P:public` | sorted set | public, unlocked rooms by creation time (ms) |
//! | `P:public:{type}` | sorted set | the same, per room type |
//! | `P:seats:{room}` | string (a number) | seats taken in the room: its members at its last listing write, plus seats `join_or_create` claimed since |
//! | `P:creating:{type}` | string, expires after the placement timeout | the `join_or_create` creating a room of the type now (its token) |
//! | `P:placement:{node}:{n}` | string, expires after 60 s | who settled placement request `n` of `node`: `taken` or `cancelled` |
//! | `P:inbox:{node}` | pub/sub channel | requests and replies for the node |

/// Key and channel names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Names under `prefix`.
    pub fn new(prefix: &str) -> Keys {
        Keys { prefix: prefix.to_owned() }
    }

    /// The prefix itself (the reaper script builds names from it).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `P:node:{node}`.
    pub fn node(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    /// `P:nodes`.
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// `P:load`.
    pub fn load(&self) -> String {
        format!("{}:load", self.prefix)
    }

    /// `P:node-rooms:{node}`.
    pub fn node_rooms(&self, node: &str) -> String {
        format!("{}:node-rooms:{node}", self.prefix)
    }

    /// `P:room:{room}`.
    pub fn room(&self, room: &str) -> String {
        format!("{}:room:{room}", self.prefix)
    }

    /// `P:public`, or `P:public:{type}` for one room type.
    pub fn public(&self, room_type: Option<&str>) -> String {
        match room_type {
            None => format!("{}:public", self.prefix),
            Some(room_type) => format!("{}:public:{room_type}", self.prefix),
        }
    }

    /// `P:seats:{room}`.
    pub fn seats(&self, room: &str) -> String {
        format!("{}:seats:{room}", self.prefix)
    }

    /// `P:creating:{type}`.
    pub fn creating(&self, room_type: &str) -> String {
        format!("{}:creating:{room_type}", self.prefix)
    }

    /// `P:placement:{node}:{request}`.
    pub fn placement(&self, node: &str, request: u64) -> String {
        format!("{}:placement:{node}:{request}", self.prefix)
    }

    /// `P:inbox:{node}`.
    pub fn inbox(&self, node: &str) -> String {
        format!("{}:inbox:{node}", self.prefix)
    }
}

/// The node a room id names: ids are `{node}-r{n}` in a cluster.
pub fn node_of(room: &str) -> Option<&str> {
    room.split_once('-').map(|(node, _)| node).filter(|node| !node.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_id_names_its_node() {
        assert_eq!(node_of("b7-r12"), Some("b7"));
        assert_eq!(node_of("r12"), None);
        assert_eq!(node_of("-r12"), None);
        assert_eq!(Keys::new("v").public(Some("chat")), "v:public:chat");
    }
}
