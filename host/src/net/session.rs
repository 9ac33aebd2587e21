//! [`Session`]: what one connection may do, request by request.
//!
//! The session decodes each frame, applies the connection's rate limit,
//! answers what concerns the connection itself (`ping`, `list_rooms`) and
//! hands everything about a room to that room's actor together with a
//! [`Responder`]: the room answers the client directly, so the session
//! never waits for a room and reads the next request at once.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tracing::debug;
use vampire_protocol::{ErrorCode, Request, RoomId, SessionId, request};

use crate::config::Limits;
use crate::error::ApiError;
use crate::net::udp::UdpChannel;
use crate::outbound::{ClientHandle, Responder};
use crate::rooms::{RoomHandle, RoomManager, Rules};

/// Room handles a session keeps at most, to skip the index on the next
/// request to the same room.
const CACHED_HANDLES: usize = 64;

/// One connection's requests.
pub struct Session {
    client: ClientHandle,
    rooms: Arc<RoomManager>,
    /// Handles of rooms addressed recently (a handle of a room that has
    /// ended fails its send, which answers `room_not_found`).
    handles: HashMap<RoomId, RoomHandle>,
    rate: DefaultDirectRateLimiter,
    udp: Option<Arc<UdpChannel>>,
}

impl Session {
    /// A session for `client` with the rate limit of `limits`, and the
    /// server's UDP channel if it has one.
    pub fn new(
        client: ClientHandle,
        rooms: Arc<RoomManager>,
        limits: &Limits,
        udp: Option<Arc<UdpChannel>>,
    ) -> Session {
        let per_second = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.request_burst).unwrap_or(per_second);
        let rate = RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst));
        Session { client, rooms, handles: HashMap::new(), rate, udp }
    }

    /// This session's id.
    pub fn id(&self) -> SessionId {
        self.client.session()
    }

    /// Decodes and runs one frame. Every request is answered exactly once
    /// (by this session or by a room), every refused frame too.
    pub async fn handle_frame(&mut self, body: &Bytes) {
        let frame = match request::decode(body) {
            Ok(frame) => frame,
            Err(rejected) => {
                debug!(session = self.id(), code = %rejected.code, message = %rejected.message, "rejected a frame");
                let respond = Responder::new(self.client.clone(), rejected.id, None);
                return respond.fail(ApiError::new(rejected.code, rejected.message));
            }
        };
        if self.rate.check().is_err() {
            let respond = Responder::new(self.client.clone(), frame.id, None);
            return respond.fail(ApiError::new(
                ErrorCode::RateLimited,
                "too many requests: slow down and retry",
            ));
        }
        self.handle(frame.request, frame.id).await;
    }

    async fn handle(&mut self, request: Request, id: Option<u32>) {
        let client = self.client.clone();
        match request {
            Request::Ping => Responder::new(client, id, None).ok_nil(),
            Request::UdpBind => {
                let respond = Responder::new(client.clone(), id, None);
                match &self.udp {
                    None => respond.fail(ApiError::new(
                        ErrorCode::UdpUnavailable,
                        "this server has no UDP channel (enableUDP is off); use TCP",
                    )),
                    Some(udp) => match udp.bind_session(&client) {
                        Ok(binding) => respond.ok_with(128, |w| binding.write(w)),
                        Err(err) => respond.fail(err),
                    },
                }
            }
            Request::CreateRoom(settings) => {
                self.rooms.create(settings, client.clone(), Responder::new(client, id, None));
            }
            Request::ListRooms { room_type, offset, limit } => self.rooms.list_public(
                room_type.as_deref(),
                offset.unwrap_or(0) as usize,
                limit.map(|l| l as usize),
                Responder::new(client, id, None),
            ),
            Request::Join { room, password, options } => {
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle.join(client, password, options.unwrap_or_default(), respond).await;
            }
            Request::Leave { room } => {
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle.leave(respond).await;
            }
            Request::DeleteRoom { room } => {
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle.delete(respond).await;
            }
            Request::GetVariable { room, name } => {
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle.get_variable(name, respond).await;
            }
            Request::GetVariables { room } => {
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle.get_variables(respond).await;
            }
            Request::SetVariable { room, name, value, broadcast, unreliable } => {
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle
                    .set_variable(
                        name,
                        value,
                        Rules { broadcast, unreliable, ..Rules::default() },
                        respond,
                    )
                    .await;
            }
            Request::Invoke { room, method, args } => {
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle.invoke(method, args, respond).await;
            }
            Request::SendMessage { room, data } => {
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle.send_message(data, false, respond).await;
            }
        }
    }

    /// The room `room` and a responder for a request to it; when there is
    /// no such room, the request is answered `room_not_found` and `None`
    /// returned.
    fn room(&mut self, room: RoomId, id: Option<u32>) -> Option<(RoomHandle, Responder)> {
        let handle = match self.handles.get(&room) {
            Some(handle) if !handle.is_closed() => handle.clone(),
            _ => match self.rooms.get(&room) {
                Ok(handle) => {
                    if self.handles.len() >= CACHED_HANDLES {
                        self.handles.retain(|_, handle| !handle.is_closed());
                        if self.handles.len() >= CACHED_HANDLES {
                            self.handles.clear();
                        }
                    }
                    self.handles.insert(room.clone(), handle.clone());
                    handle
                }
                Err(err) => {
                    self.handles.remove(&room);
                    Responder::new(self.client.clone(), id, None).fail(err);
                    return None;
                }
            },
        };
        Some((handle, Responder::new(self.client.clone(), id, Some(room))))
    }

    /// Leaves every room the client is still in; called once the
    /// connection has ended. From now on no room can add the client.
    pub async fn leave_all(&mut self) {
        let session = self.id();
        if let Some(udp) = &self.udp {
            udp.end(session);
        }
        for room in self.client.end_memberships() {
            if let Ok(handle) = self.rooms.get(&room) {
                handle.leave_on_disconnect(session).await;
            }
        }
    }
}
