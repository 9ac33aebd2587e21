//! Placing a new room: on the least loaded live node, this one when it is
//! among the least loaded or the others cannot be asked; and creating the
//! rooms other nodes place here.
//!
//! A room is never created twice: a node that does not answer a placement
//! in time is told not to create it (`cancelled`, with `SET NX` on the
//! placement key), or, if it took it first (`taken`), waited for once
//! more.

use std::sync::Arc;

use tracing::{debug, warn};
use vampire_protocol::error::quote;
use vampire_protocol::{CreateRoom, ErrorCode, RoomInfo};

use crate::cluster::messages::{self, NodeMessage};
use crate::cluster::node::Node;
use crate::error::ApiError;
use crate::outbound::{ClientHandle, Identity, Responder};
use crate::rooms::Caller;
use crate::rooms::seats::HeldSeat;

/// Answers `owner`'s `create_room` (see the module docs); the room
/// starts out holding `held` for its joiner, when given.
pub(crate) async fn create_room(
    node: &Node,
    settings: CreateRoom,
    password_hash: Option<Arc<str>>,
    owner: ClientHandle,
    held: Option<HeldSeat>,
    reply: Responder,
) {
    let Some(target) = choose_node(node).await else {
        let owner = Caller::Client(owner);
        return create_locally(node, settings, password_hash, owner, held, reply).await;
    };
    // A room placed elsewhere counts against this connection's quota
    // until the connection ends (this node does not see it end), so one
    // client cannot fill the cluster through placements.
    if !owner.reserve_room() {
        return reply.fail(ApiError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "you have created {} rooms, the most a connection may",
                node.limits.max_owned_rooms
            ),
        ));
    }
    let (number, mut answer) = node.peers.open();
    let message = NodeMessage::Create {
        request: number,
        from: node.id.clone(),
        settings: settings.clone(),
        password_hash: password_hash.as_deref().map(str::to_owned),
        creator: owner.identity().clone(),
        held: held.clone(),
    };
    let published = node.registry.publish(&target, messages::encode(&message)).await;
    if !matches!(published, Ok(listeners) if listeners > 0) {
        // Nobody received it, so nobody creates it: here, then.
        node.peers.forget(number);
        node.rooms.metrics().placement_failed();
        debug!(node = %target, "the chosen node is not listening; the room is created here");
        owner.release_room();
        let owner = Caller::Client(owner);
        return create_locally(node, settings, password_hash, owner, held, reply).await;
    }
    let timeout = node.peers.timeout();
    if let Ok(Ok(created)) = tokio::time::timeout(timeout, &mut answer).await {
        return answer_created(created, &owner, reply);
    }
    node.rooms.metrics().placement_failed();
    match node.registry.settle(&node.id, number, "cancelled").await {
        Ok(true) => {
            node.peers.forget(number);
            warn!(node = %target, "a node did not answer a room placement in time; the room is created here");
            owner.release_room();
            let owner = Caller::Client(owner);
            create_locally(node, settings, password_hash, owner, held, reply).await;
        }
        Ok(false) => match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(created)) => answer_created(created, &owner, reply),
            _ => {
                node.peers.forget(number);
                owner.release_room();
                reply.fail(ApiError::new(
                    ErrorCode::ServerBusy,
                    format!("node {} took the room but did not answer in time", quote(&target)),
                ));
            }
        },
        Err(err) => {
            node.peers.forget(number);
            owner.release_room();
            warn!(%err, "the cluster store failed during a room placement");
            reply.fail(ApiError::new(
                ErrorCode::ServerBusy,
                "the cluster store failed while the room was placed; try again",
            ));
        }
    }
}

/// Creates a room on this node (holding `held`, when given), having
/// first counted it in this node's load in Redis: whoever places the next
/// room sees it, even before the room exists.
pub(crate) async fn create_locally(
    node: &Node,
    settings: CreateRoom,
    password_hash: Option<Arc<str>>,
    creator: Caller,
    held: Option<HeldSeat>,
    reply: Responder,
) {
    let _counting = node.load_lock.lock().await;
    // A draining node stays out of the load set (and refuses the room).
    if node.healthy() && !node.rooms.is_draining() {
        let load = node.rooms.room_load() as u64 + 1;
        if let Err(err) = node.registry.set_load(load).await {
            debug!(%err, "cannot count a new room in this node's load");
        }
    }
    // Counts the room in `room_load` before the lock is released.
    node.rooms.create(settings, password_hash, creator, held.into_iter().collect(), reply);
}

/// The node a new room goes to, `None` for this one.
async fn choose_node(node: &Node) -> Option<String> {
    if !node.healthy() {
        return None;
    }
    let mut candidates = node.registry.candidates().await.ok()?;
    if node.rooms.is_draining() {
        // Until its next heartbeat, the load set may still hold it.
        candidates.retain(|candidate| candidate.node != node.id);
    }
    let least = candidates.iter().map(|c| c.load).min()?;
    let mut lightest: Vec<&str> =
        candidates.iter().filter(|c| c.load == least).map(|c| c.node.as_str()).collect();
    lightest.sort_unstable();
    let chosen = if lightest.contains(&node.id.as_str()) {
        node.id.clone()
    } else {
        lightest.first()?.to_string()
    };
    (chosen != node.id).then_some(chosen)
}

/// Creates a room node `from` placed here (its request `request`), unless
/// that node gave up on it first, and answers it. The room's creator is
/// the asking client, by identity: it has no connection here.
pub(crate) async fn create_here(
    node: &Node,
    request: u64,
    from: String,
    settings: CreateRoom,
    password_hash: Option<String>,
    creator: Identity,
    held: Option<HeldSeat>,
) {
    match node.registry.settle(&from, request, "taken").await {
        Ok(true) => {}
        Ok(false) => return debug!(node = %from, "a placement its node gave up on"),
        Err(err) => return warn!(%err, "cannot take a room placement"),
    }
    let (reply, answer) = Responder::local(node.limits.max_frame_bytes);
    let hash = password_hash.map(Arc::from);
    let creator = Caller::Remote(Box::new(creator));
    create_locally(node, settings, hash, creator, held, reply).await;
    let outcome = answer.outcome().await;
    // Listed before its creator hears of it: a `join_or_create` holding
    // its type's creation turn must find it once the turn ends.
    let created_room = outcome.as_ref().ok().and_then(|info| RoomInfo::from_payload(info).ok());
    if let Some(handle) = created_room.and_then(|info| node.rooms.get(&info.id).ok())
        && let Err(err) = node.registry.write_room(&handle).await
    {
        debug!(%err, "cannot list a room placed here at once; the writer will");
    }
    let created = NodeMessage::Created { request, outcome };
    if let Err(err) = node.registry.publish(&from, messages::encode(&created)).await {
        warn!(%err, node = %from, "cannot answer a room placement");
    }
}

/// Answers a client's `create_room` with what the placed node said; a
/// room that was not created gives `owner` its quota back.
fn answer_created(created: NodeMessage, owner: &ClientHandle, reply: Responder) {
    match created {
        NodeMessage::Created { outcome, .. } => {
            if outcome.is_err() {
                owner.release_room();
            }
            reply.relay(outcome);
        }
        _ => {
            owner.release_room();
            reply.fail(ApiError::internal("a placement got a wrong reply"));
        }
    }
}
