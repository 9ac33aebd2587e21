//! Operations on rooms of other nodes: a `join` is answered with a
//! redirect to the room's node and a seat reserved there, once that node
//! checked the password or invite; any other room operation is run there
//! for the client, by its identity, and the answer relayed. And the
//! serving side of both, for other nodes' clients.

use std::net::IpAddr;

use tracing::info;
use vampire_protocol::error::quote;
use vampire_protocol::{ErrorCode, Payload, RoomId, RoomOp};

use crate::cluster::keys::node_of;
use crate::cluster::messages::{NodeMessage, Seat};
use crate::cluster::node::Node;
use crate::cluster::peers::late;
use crate::error::ApiError;
use crate::outbound::{Identity, Responder};
use crate::rooms::admission::Refused;
use crate::rooms::{AdminOp, Admission, Caller};

/// What a client's `join` of a room on another node carries to that node,
/// which checks it before holding a seat.
#[derive(Debug, Clone)]
pub struct RemoteJoin {
    /// The room's password, when given.
    pub password: Option<String>,
    /// An invite into the room, when given.
    pub invite: Option<String>,
    /// The joiner's address, for the guess limits of the room's node.
    pub address: IpAddr,
    /// The joiner's user id, when signed in: the seat is bound to it.
    pub user_id: Option<String>,
}

/// The node that holds `room`, when the cluster store can be asked; the
/// error to answer otherwise.
fn holder(node: &Node, room: &str) -> Result<String, ApiError> {
    let Some(holder) = node_of(room) else {
        return Err(ApiError::room_not_found(room));
    };
    if !node.healthy() {
        return Err(ApiError::new(
            ErrorCode::ServerBusy,
            format!(
                "room {} is on node {}, which cannot be reached while the cluster store is down",
                quote(room),
                quote(holder)
            ),
        ));
    }
    Ok(holder.to_owned())
}

/// Answers a `join` of `room`, held by another node, with a redirect to
/// that node and a seat reserved there. Returns whether a seat was
/// reserved.
pub(crate) async fn redirect(
    node: &Node,
    room: RoomId,
    join: RemoteJoin,
    reply: Responder,
) -> bool {
    match reserve_there(node, &room, join).await {
        Ok(seat) => {
            reply.redirect(
                room,
                (seat.address, seat.ws_address),
                seat.reservation,
                seat.expires_in_ms,
                false,
            );
            true
        }
        Err(err) => {
            reply.fail(err);
            false
        }
    }
}

/// Asks the node that holds `room` to hold a seat in it for `join`'s
/// joiner, once it checked the password or invite.
///
/// # Errors
/// That node's refusal (`room_full`, `room_locked`, `room_not_found`, the
/// gate's); `server_busy` when it cannot be asked or does not answer.
pub(crate) async fn reserve_there(
    node: &Node,
    room: &RoomId,
    join: RemoteJoin,
) -> Result<Seat, ApiError> {
    let holder = holder(node, room)?;
    let answer = node
        .peers
        .ask(&node.registry, &holder, room, |request| NodeMessage::Reserve {
            request,
            from: node.id.clone(),
            room: room.clone(),
            user_id: join.user_id,
            password: join.password,
            invite: join.invite,
            address: join.address,
        })
        .await?;
    match answer {
        NodeMessage::Reserved { outcome, .. } => outcome,
        _ => Err(late(&holder)),
    }
}

/// Holds a seat in `room` for a joiner another node redirects here, once
/// the room's password or invite let it through (checked here, as for
/// this node's own clients).
///
/// # Errors
/// The gate's refusal; `room_full`, `room_locked`, `room_not_found`.
pub(crate) async fn reserve_here(
    node: &Node,
    room: &str,
    user_id: Option<String>,
    password: Option<String>,
    invite: Option<String>,
    address: IpAddr,
) -> Result<Seat, ApiError> {
    let handle = node.rooms.get(room)?;
    if let Err(Refused::WrongGuess(refusal) | Refused::Other(refusal)) =
        node.gate.admit(&handle, password, invite, address).await
    {
        return Err(refusal);
    }
    let ttl = node.config.reservation_ttl();
    let reservation = handle.reserve_seat(ttl, user_id, None).await?;
    node.rooms.metrics().reserved();
    Ok(Seat {
        reservation,
        expires_in_ms: ttl.as_millis() as u64,
        address: node.config.advertise_address.clone(),
        ws_address: node.config.advertise_ws_address.clone(),
    })
}

/// Runs `op` (not a `join`) on `room`, held by another node, for `by`, and
/// relays the answer.
pub(crate) async fn forward(node: &Node, room: RoomId, op: RoomOp, by: Identity, reply: Responder) {
    let holder = match holder(node, &room) {
        Ok(holder) => holder,
        Err(err) => return reply.fail(err),
    };
    let answer = node
        .peers
        .ask(&node.registry, &holder, &room, |request| NodeMessage::Forward {
            request,
            from: node.id.clone(),
            room: room.clone(),
            op,
            by,
        })
        .await;
    match answer {
        Ok(NodeMessage::Answered { outcome, .. }) => reply.relay(outcome),
        Ok(_) => reply.fail(late(&holder)),
        Err(err) => reply.fail(err),
    }
}

/// Runs `op` on this node's room `room` for `by`, a client of another
/// node: a caller with no connection here, so never a member.
///
/// # Errors
/// The operation's; `room_not_found`.
pub(crate) async fn forward_here(
    node: &Node,
    room: &str,
    op: RoomOp,
    by: Identity,
) -> Result<Payload, ApiError> {
    let handle = node.rooms.get(room)?;
    node.rooms.metrics().forwarded();
    let (reply, answer) = Responder::local(node.limits.max_frame_bytes);
    handle.run(op, Caller::Remote(Box::new(by)), Admission::Open, reply.about_room(room)).await;
    answer.outcome().await
}

/// Runs an operator's `op` on `room`, held by another node, for `by` (who
/// asked this node's admin API), and returns its answer.
///
/// # Errors
/// The action's; `room_not_found`; `server_busy` when the node cannot be
/// asked or does not answer in time.
pub(crate) async fn admin(
    node: &Node,
    room: RoomId,
    op: AdminOp,
    by: String,
) -> Result<Payload, ApiError> {
    let holder = holder(node, &room)?;
    let answer = node
        .peers
        .ask(&node.registry, &holder, &room, |request| NodeMessage::Admin {
            request,
            from: node.id.clone(),
            room: room.clone(),
            op,
            by,
        })
        .await?;
    match answer {
        NodeMessage::Answered { outcome, .. } => outcome,
        _ => Err(late(&holder)),
    }
}

/// Runs an operator's `op` on this node's room `room`, for `by` at the
/// admin API of node `from`.
///
/// # Errors
/// The action's; `room_not_found`.
pub(crate) async fn admin_here(
    node: &Node,
    room: &str,
    op: AdminOp,
    by: &str,
    from: &str,
) -> Result<Payload, ApiError> {
    if !matches!(op, AdminOp::Inspect) {
        info!(room, by, node = from, action = op.name(), "admin action from another node");
    }
    node.rooms.admin(room, op).await
}
