//! The inbox: this node's channel in Redis (pub/sub), on a connection of
//! its own, reconnecting while Redis is away. Replies go to the requests
//! waiting for them; requests from other nodes are served each in a task
//! of its own, tracked by the node.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::cluster::messages::{self, NodeMessage};
use crate::cluster::node::Node;
use crate::cluster::{placement, remote};

/// How long the node waits before it tries its inbox connection again.
const RECONNECT_EVERY: Duration = Duration::from_millis(250);

/// Receives other nodes' requests and the replies to this node's, until
/// `shutdown`.
pub(crate) async fn run(node: Arc<Node>, shutdown: CancellationToken) {
    let channel = node.registry.inbox();
    loop {
        let connected = async {
            let mut pubsub = node.pubsub.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            () = shutdown.cancelled() => return,
            connected = connected => connected,
        };
        match pubsub {
            Ok(pubsub) => {
                let mut incoming = pubsub.into_on_message();
                loop {
                    let message = tokio::select! {
                        () = shutdown.cancelled() => return,
                        message = incoming.next() => message,
                    };
                    let Some(message) = message else { break };
                    received(&node, message.get_payload_bytes());
                }
                debug!("the inbox connection ended; connecting again");
            }
            Err(err) => debug!(%err, "cannot open the inbox connection yet"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RECONNECT_EVERY) => {}
        }
    }
}

/// Hands a reply to its request, or serves a request.
fn received(node: &Arc<Node>, bytes: &[u8]) {
    let message = match messages::decode(bytes) {
        Ok(message) => message,
        Err(err) => return warn!(%err, "an inbox message this node cannot read"),
    };
    if let Some(number) = message.answers() {
        return node.peers.deliver(number, message);
    }
    let serving = node.clone();
    node.tasks.spawn(async move { serve(&serving, message).await });
}

/// Serves one request of another node and replies to it.
async fn serve(node: &Node, request: NodeMessage) {
    let (from, reply) = match request {
        NodeMessage::Create { request, from, settings, password_hash, creator, held } => {
            // Answers by itself: it may give the placement up first.
            return placement::create_here(
                node,
                request,
                from,
                settings,
                password_hash,
                creator,
                held,
            )
            .await;
        }
        NodeMessage::Ticket { ticket, frame } => {
            if let Some(matchmaker) = node.matchmaker.get() {
                matchmaker.deliver(&ticket, bytes::Bytes::from(frame));
            }
            return;
        }
        NodeMessage::Reserve { request, from, room, user_id, password, invite, address } => {
            let outcome =
                remote::reserve_here(node, &room, user_id, password, invite, address).await;
            (from, NodeMessage::Reserved { request, outcome })
        }
        NodeMessage::Forward { request, from, room, op, by } => {
            let outcome = remote::forward_here(node, &room, op, by).await;
            (from, NodeMessage::Answered { request, outcome })
        }
        NodeMessage::Admin { request, from, room, op, by } => {
            let outcome = remote::admin_here(node, &room, op, &by, &from).await;
            (from, NodeMessage::Answered { request, outcome })
        }
        NodeMessage::ListRooms { request, from, room_type, limit } => {
            let mut rooms = node.rooms.summaries(room_type.as_deref());
            let total = rooms.len();
            rooms.truncate(limit);
            (from, NodeMessage::RoomsListed { request, rooms, total })
        }
        NodeMessage::Created { .. }
        | NodeMessage::Reserved { .. }
        | NodeMessage::Answered { .. }
        | NodeMessage::RoomsListed { .. } => {
            return;
        }
    };
    if let Err(err) = node.registry.publish(&from, messages::encode(&reply)).await {
        debug!(%err, node = %from, "cannot reply to another node");
    }
}
