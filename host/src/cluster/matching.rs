//! `join_or_create` across the cluster: the same placement as one node's
//! ([`crate::rooms::matching`]), with the choice and the seat taken in
//! Redis and the turn to create a room held there.
//!
//! 1. The matching public rooms of the type, from every node's listings,
//!    fullest first.
//! 2. A seat claimed in one step in Redis ([`Registry::claim_seat`]): the
//!    first room still listed whose seat counter leaves one free. The
//!    room's node then holds the seat (its actor has the last word); if
//!    it refuses (the room filled meanwhile), the next room.
//! 3. No seat anywhere: the type's creation turn (`SET NX` with an expiry,
//!    so a node that dies holding it does not block the others), a second
//!    look, then a room placed as `create_room` places it, born holding
//!    the joiner's seat and listed in Redis before the turn ends. Requests
//!    that find the turn taken wait and look again: they find the new
//!    room.
//!
//! The joiner is joined here when the room is here, or redirected with
//! its seat (`created` in the redirect). While Redis cannot be reached,
//! this node places among its own rooms.
//!
//! [`Registry::claim_seat`]: crate::cluster::registry::Registry::claim_seat

use std::time::{Duration, Instant};

use tracing::debug;
use vampire_protocol::{ErrorCode, RoomId, RoomInfo};

use crate::cluster::keys::node_of;
use crate::cluster::messages::Seat;
use crate::cluster::node::Node;
use crate::cluster::placement;
use crate::cluster::remote::{RemoteJoin, reserve_there};
use crate::error::ApiError;
use crate::outbound::{ClientHandle, Responder};
use crate::rooms::invites::random_token;
use crate::rooms::matching::{JoinOrCreate, join_matched};
use crate::rooms::seats::HeldSeat;
use crate::rooms::{Caller, RoomHandle};

/// How often a request that found the creation turn taken looks again.
const TURN_POLL: Duration = Duration::from_millis(5);

/// Where a seat was taken.
enum Placed {
    /// In a room of this node.
    Here(RoomHandle, String),
    /// In a room of another node.
    There(RoomId, Seat),
}

/// Places `client` by `request` across the cluster (see the module docs)
/// and answers `reply`: the room's join answer, or a redirect.
pub(crate) async fn join_or_create(
    node: &Node,
    request: JoinOrCreate,
    client: ClientHandle,
    reply: Responder,
) {
    if !node.healthy() {
        return node.rooms.join_or_create(request, client, reply).await;
    }
    match place(node, &request, &client).await {
        Ok((placed, created)) => answer(placed, created, &request, client, reply).await,
        Err(err) => reply.fail(err),
    }
}

/// A seat for `client`: in a room found, or in one created for it (then
/// `true`).
///
/// # Errors
/// What `create_room` answers; `server_busy` when Redis fails or the
/// creation turn stays taken past the placement timeouts.
async fn place(
    node: &Node,
    request: &JoinOrCreate,
    client: &ClientHandle,
) -> Result<(Placed, bool), ApiError> {
    let token = random_token().map_err(|_| no_randomness())?;
    let turn_ms = 2 * node.peers.timeout().as_millis() as u64;
    let give_up = Instant::now() + 2 * node.peers.timeout() + Duration::from_millis(turn_ms);
    let room_type = request.room_type();
    loop {
        if let Some(placed) = take_seat(node, request, client).await? {
            return Ok((placed, false));
        }
        let turn = node.registry.take_creation_turn(room_type, &token, turn_ms).await;
        if turn.map_err(store_failed)? {
            let outcome = create_or_take_seat(node, request, client).await;
            if let Err(err) = node.registry.end_creation_turn(room_type, &token).await {
                debug!(%err, "cannot end a creation turn; it expires");
            }
            return outcome;
        }
        // Another request is creating a room: wait for its turn to end
        // (one cheap command a poll), then look again, when the new room
        // is listed.
        loop {
            if Instant::now() > give_up {
                return Err(ApiError::new(
                    ErrorCode::ServerBusy,
                    "another node has been creating a room of this type for too long; try again",
                ));
            }
            tokio::time::sleep(TURN_POLL).await;
            let taken = node.registry.creation_turn_taken(room_type).await;
            if !taken.map_err(store_failed)? {
                break;
            }
        }
    }
}

/// With the creation turn held: a seat found at a second look, or else
/// a room created holding a seat for `client` and listed in Redis (so the
/// next turn finds it).
async fn create_or_take_seat(
    node: &Node,
    request: &JoinOrCreate,
    client: &ClientHandle,
) -> Result<(Placed, bool), ApiError> {
    if let Some(placed) = take_seat(node, request, client).await? {
        return Ok((placed, false));
    }
    let ttl = node.config.reservation_ttl();
    let seat =
        HeldSeat::new(ttl, client.identity().user_id.clone()).map_err(|_| no_randomness())?;
    let token = seat.token.clone();
    let (creating, created) = Responder::local(node.limits.max_frame_bytes);
    let (settings, password) = (request.settings.clone(), request.password_hash.clone());
    let owner = client.clone();
    if password.is_some() {
        // Its joiner gave the password; another node would ask for it
        // again.
        let owner = Caller::Client(owner);
        placement::create_locally(node, settings, password, owner, Some(seat), creating).await;
    } else {
        placement::create_room(node, settings, password, owner, Some(seat), creating).await;
    }
    let info = RoomInfo::from_payload(&created.outcome().await?)
        .map_err(|err| ApiError::internal(format!("a created room's info: {err}")))?;
    node.rooms.metrics().matched_room_created();
    if let Ok(handle) = node.rooms.get(&info.id) {
        // A room placed on another node is listed by that node before it
        // answers.
        node.registry.write_room(&handle).await.map_err(store_failed)?;
        return Ok((Placed::Here(handle, token), true));
    }
    let holder = node_of(&info.id).unwrap_or_default();
    let Some((address, ws_address)) = node.address_of(holder).await else {
        return Err(ApiError::new(ErrorCode::ServerBusy, "the node of the created room left"));
    };
    let expires_in_ms = ttl.as_millis() as u64;
    let seat = Seat { reservation: token, expires_in_ms, address, ws_address };
    Ok((Placed::There(info.id, seat), true))
}

/// A seat in the fullest matching room that has one, anywhere.
///
/// # Errors
/// `server_busy` when Redis fails.
async fn take_seat(
    node: &Node,
    request: &JoinOrCreate,
    client: &ClientHandle,
) -> Result<Option<Placed>, ApiError> {
    let room_type = request.room_type();
    let listed = node.registry.list_matching(Some(room_type), &request.open_query()).await;
    let mut rooms = listed.map_err(store_failed)?;
    rooms.retain(|room| !room.password_protected);
    loop {
        let claimed = node.registry.claim_seat(room_type, &rooms).await.map_err(store_failed)?;
        let Some(room) = claimed else { return Ok(None) };
        rooms.retain(|candidate| candidate.id != room);
        // The room's node has the last word: full, locked or gone since
        // it was listed, the next room.
        if let Ok(placed) = reserve(node, &room, client).await {
            return Ok(Some(placed));
        }
    }
}

/// A seat held in `room` for `client` by the room's node.
///
/// # Errors
/// The room's refusal, or `server_busy` when its node cannot be asked.
async fn reserve(node: &Node, room: &RoomId, client: &ClientHandle) -> Result<Placed, ApiError> {
    let user_id = client.identity().user_id.clone();
    if node_of(room) == Some(node.id.as_str()) {
        let handle = node.rooms.get(room)?;
        let ttl = node.config.reservation_ttl();
        let seat = handle.reserve_seat(ttl, user_id, Some(client.session())).await?;
        return Ok(Placed::Here(handle, seat));
    }
    let join = RemoteJoin { password: None, invite: None, address: client.address().ip(), user_id };
    Ok(Placed::There(room.clone(), reserve_there(node, room, join).await?))
}

/// Joins `client` to a room here, or redirects it to the room's node.
async fn answer(
    placed: Placed,
    created: bool,
    request: &JoinOrCreate,
    client: ClientHandle,
    reply: Responder,
) {
    match placed {
        Placed::Here(room, seat) => {
            join_matched(&room, seat, created, request, client, reply).await
        }
        Placed::There(room, seat) => reply.redirect(
            room,
            (seat.address, seat.ws_address),
            seat.reservation,
            seat.expires_in_ms,
            created,
        ),
    }
}

/// The answer when the system's random source fails.
fn no_randomness() -> ApiError {
    ApiError::internal("the system's random source failed")
}

/// The answer when Redis fails mid-way.
fn store_failed(err: redis::RedisError) -> ApiError {
    debug!(%err, "the cluster store failed during a join_or_create");
    ApiError::new(ErrorCode::ServerBusy, "the cluster store failed; try again")
}
