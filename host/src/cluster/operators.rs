//! What the admin API asks of the cluster: every node's rooms in one
//! list, an action on a room wherever it lives, and taking this node out
//! of placement while it drains.

use std::sync::Arc;

use tokio::task::JoinSet;
use tracing::warn;
use vampire_protocol::{Payload, RoomId};

use super::Cluster;
use crate::cluster::messages::NodeMessage;
use crate::cluster::node::Node;
use crate::cluster::peers::late;
use crate::cluster::remote;
use crate::error::ApiError;
use crate::rooms::AdminOp;
use crate::rooms::manager::RoomSummary;

/// One page of the cluster's rooms, newest first.
#[derive(Debug, Default)]
pub struct ClusterRooms {
    /// The page.
    pub rooms: Vec<RoomSummary>,
    /// How many rooms the nodes that answered hold in all.
    pub total: usize,
    /// The nodes that did not answer in time (their rooms are missing).
    pub unreachable: Vec<String>,
}

impl Cluster {
    /// The page `offset..offset + limit` of every room of every live node
    /// (of type `room_type`, when given), newest first; this node's alone
    /// while Redis is unreachable.
    pub async fn list_all_rooms(
        &self,
        room_type: Option<String>,
        offset: usize,
        limit: usize,
    ) -> ClusterRooms {
        let node = &self.node;
        let wanted = offset.saturating_add(limit);
        let mut listed = ClusterRooms::default();
        let mut mine = node.rooms.summaries(room_type.as_deref());
        listed.total = mine.len();
        mine.truncate(wanted);
        listed.rooms = mine;
        let others = match node.healthy() {
            true => node.registry.live_nodes().await.unwrap_or_default(),
            false => Vec::new(),
        };
        let mut asks = JoinSet::new();
        for other in others.into_iter().filter(|other| *other != node.id) {
            let node = node.clone();
            let room_type = room_type.clone();
            asks.spawn(async move {
                let answer = ask_rooms(&node, &other, room_type, wanted).await;
                (other, answer)
            });
        }
        while let Some(Ok((other, answer))) = asks.join_next().await {
            match answer {
                Some((rooms, total)) => {
                    listed.rooms.extend(rooms);
                    listed.total += total;
                }
                None => listed.unreachable.push(other),
            }
        }
        listed.rooms.sort_by(RoomSummary::newest_first);
        listed.rooms = listed.rooms.into_iter().skip(offset).take(limit).collect();
        listed.unreachable.sort_unstable();
        listed
    }

    /// Runs an operator's `op` on `room`, on this node or forwarded to the
    /// node that holds it, for `by` (logged by the room's node).
    ///
    /// # Errors
    /// The action's; `room_not_found`; `server_busy` when the room's node
    /// cannot be asked.
    pub async fn admin(&self, room: RoomId, op: AdminOp, by: String) -> Result<Payload, ApiError> {
        if self.is_elsewhere(&room) {
            return remote::admin(&self.node, room, op, by).await;
        }
        self.node.rooms.admin(&room, op).await
    }

    /// Takes this node out of room placement at once (it drains).
    pub async fn withdraw(&self) {
        if let Err(err) = self.node.registry.withdraw().await {
            warn!(%err, "cannot take this node out of placement now; its next heartbeat will");
        }
    }
}

/// Asks `other` for its newest `limit` rooms and how many it holds;
/// `None` when it does not answer.
async fn ask_rooms(
    node: &Arc<Node>,
    other: &str,
    room_type: Option<String>,
    limit: usize,
) -> Option<(Vec<RoomSummary>, usize)> {
    let asked = node
        .peers
        .ask(&node.registry, other, "", |request| NodeMessage::ListRooms {
            request,
            from: node.id.clone(),
            room_type,
            limit,
        })
        .await;
    match asked {
        Ok(NodeMessage::RoomsListed { rooms, total, .. }) => Some((rooms, total)),
        Ok(_) => {
            warn!(error = %late(other), "a node answered a room list with something else");
            None
        }
        Err(_) => None,
    }
}
