//! `join_or_create` on one node: which of the node's rooms a joiner may be
//! placed in, a seat taken in the first that has one, and the turn a
//! node's `join_or_create`s of one room type take before creating a room.
//!
//! A seat is taken with the reservation rooms already grant to joiners a
//! cluster redirects ([`crate::rooms::seats`]): the room's actor decides,
//! one request at a time, so two joiners never get its last seat; the one
//! refused tries the next room. Creating takes the type's turn and looks
//! again first, so a room is created only when no room had a seat while
//! the turn was held: racing requests never create two rooms where one
//! would do. A room created is born holding its joiner's seat
//! ([`HeldSeat`]), so racing joiners that find it cannot take that one.
//! The cluster does the same across nodes through Redis
//! ([`crate::cluster`]).

use std::sync::Arc;
use std::time::Duration;

use vampire_protocol::listing::{ListQuery, RoomSort};
use vampire_protocol::{CreateRoom, Payload, RoomInfo, RoomOp};

use crate::error::ApiError;
use crate::outbound::{ClientHandle, Responder};
use crate::rooms::command::{Admission, Caller};
use crate::rooms::generic::GENERIC_ROOM_TYPE;
use crate::rooms::index::RoomHandle;
use crate::rooms::manager::RoomManager;
use crate::rooms::seats::HeldSeat;

/// How long a seat taken for a joiner of this node is held: the join
/// follows at once, in the same room's mailbox.
pub const MATCHED_SEAT_TTL: Duration = Duration::from_secs(10);

/// A `join_or_create` request, once read.
#[derive(Debug, Clone)]
pub struct JoinOrCreate {
    /// The settings of a room it creates (`room_type` also picks the rooms
    /// it may join).
    pub settings: CreateRoom,
    /// The hash of a created room's password (its request's own password
    /// field is ignored).
    pub password_hash: Option<Arc<str>>,
    /// Which rooms it may join.
    pub query: ListQuery,
    /// What the room's join hook receives.
    pub join_options: Option<Payload>,
}

impl JoinOrCreate {
    /// The room type it joins or creates.
    pub fn room_type(&self) -> &str {
        self.settings.room_type.as_deref().unwrap_or(GENERIC_ROOM_TYPE)
    }

    /// Its query, for rooms with a free seat, fullest first (fill rooms
    /// before opening new ones).
    pub fn open_query(&self) -> ListQuery {
        ListQuery { free_seats: true, sort: RoomSort::MostMembers, ..self.query.clone() }
    }
}

impl RoomManager {
    /// This node's rooms `request` may join: public, unlocked, without a
    /// password, of its type, with a free seat, accepted by its filters;
    /// the fullest first, then the oldest.
    pub fn open_rooms(&self, request: &JoinOrCreate) -> Vec<RoomHandle> {
        let query = request.open_query();
        let room_type = request.room_type();
        let mut rooms: Vec<(RoomHandle, u32)> = self
            .handles_where(|room| {
                room.public
                    && !room.locked
                    && !room.password_protected
                    && room.room_type == room_type
                    && query.matches(room)
            })
            .into_iter()
            .map(|handle| {
                let members = handle.read_info(|room| room.members);
                (handle, members)
            })
            .collect();
        rooms.sort_by_key(|(_, members)| std::cmp::Reverse(*members));
        rooms.into_iter().map(|(handle, _)| handle).collect()
    }

    /// Places `client` by `request` (see the module docs): joins it to the
    /// fullest matching room of this node with a seat, or to a room created
    /// for it. The room answers `reply` as it answers a `join`, with
    /// `created`.
    pub async fn join_or_create(
        &self,
        request: JoinOrCreate,
        client: ClientHandle,
        reply: Responder,
    ) {
        if !self.has_type(request.room_type()) {
            return reply.fail(self.unknown_room_type(request.room_type()));
        }
        let user = client.identity().user_id.clone();
        if let Some((room, seat)) = take_seat(self.open_rooms(&request), &client).await {
            return join_matched(&room, seat, false, &request, client, reply).await;
        }
        let turn = self.creation_turns.take(request.room_type()).await;
        if let Some((room, seat)) = take_seat(self.open_rooms(&request), &client).await {
            drop(turn);
            return join_matched(&room, seat, false, &request, client, reply).await;
        }
        let Ok(seat) = HeldSeat::new(MATCHED_SEAT_TTL, user) else {
            return reply.fail(ApiError::internal("the system's random source failed"));
        };
        let (creating, created) = Responder::local(client.max_frame_bytes());
        let (settings, password) = (request.settings.clone(), request.password_hash.clone());
        let token = seat.token.clone();
        self.create(settings, password, Caller::Client(client.clone()), vec![seat], creating);
        let room = created.outcome().await.and_then(|info| self.created_room(&info));
        if room.is_ok() {
            self.metrics().matched_room_created();
        }
        // Listed now (with the seat held): the next turn finds it.
        drop(turn);
        match room {
            Ok(room) => join_matched(&room, token, true, &request, client, reply).await,
            Err(err) => reply.fail(err),
        }
    }

    /// The room a `create_room` answer describes.
    ///
    /// # Errors
    /// `room_not_found` when it has ended since.
    pub fn created_room(&self, info: &Payload) -> Result<RoomHandle, ApiError> {
        let info = RoomInfo::from_payload(info)
            .map_err(|err| ApiError::internal(format!("a created room's info: {err}")))?;
        self.get(&info.id)
    }
}

/// A seat for `client` in the first of `rooms` that has one and that it
/// is not in already.
pub async fn take_seat(
    rooms: Vec<RoomHandle>,
    client: &ClientHandle,
) -> Option<(RoomHandle, String)> {
    let (user, session) = (client.identity().user_id.clone(), Some(client.session()));
    for room in rooms {
        // Full, locked, joined already or ended since it was listed: the
        // next one.
        if let Ok(seat) = room.reserve_seat(MATCHED_SEAT_TTL, user.clone(), session).await {
            return Some((room, seat));
        }
    }
    None
}

/// Joins `client` to `room` with the `seat` taken for it; the room
/// answers `reply`.
pub async fn join_matched(
    room: &RoomHandle,
    seat: String,
    created: bool,
    request: &JoinOrCreate,
    client: ClientHandle,
    reply: Responder,
) {
    let join = RoomOp::Join {
        password: None,
        invite: None,
        options: request.join_options.clone(),
        reservation: Some(seat),
    };
    let reply = reply.about_room(room.id());
    room.run(join, Caller::Client(client), Admission::Matched { created }, reply).await;
}
