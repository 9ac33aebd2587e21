//! [`Session`]: what one connection may do, request by request.
//!
//! The session decodes each frame, applies the connection's rate limit,
//! answers what concerns the connection itself (`authenticate`, `ping`,
//! `list_rooms`, `udp_bind`) and hands everything about a room to that
//! room's actor together with a [`Responder`]: the room answers the client
//! directly, so the session never waits for a room and reads the next
//! request at once.
//!
//! On a server that authenticates, the first request must be
//! `authenticate`; anything else (another op, a frame that does not
//! decode), or a refused token, is answered and the connection closed. Room passwords are
//! hashed and checked here, on the blocking pool, before a room sees the
//! request; each wrong password or invite makes this connection wait
//! longer before its answer, and checks for one room or from one address
//! take turns spaced by their wrong guesses ([`crate::auth::guesses::WrongGuesses`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tracing::{debug, info};
use vampire_protocol::{ErrorCode, Request, RoomId, SessionId, request};

use crate::auth::Verified;
use crate::cluster::{Act, Cluster, RemoteJoin};
use crate::error::ApiError;
use crate::net::NetContext;
use crate::outbound::{ClientHandle, Responder};
use crate::rooms::admission::Refused;
use crate::rooms::{Admission, RoomHandle, RoomManager, Rules};

/// Room handles a session keeps at most, to skip the index on the next
/// request to the same room.
const CACHED_HANDLES: usize = 64;

/// The wait before answering the first wrong room password or invite of
/// a connection; it doubles with each further one, up to
/// [`MAX_PASSWORD_DELAY`].
const FIRST_PASSWORD_DELAY: Duration = Duration::from_millis(100);

/// The longest wait before answering a wrong room password.
const MAX_PASSWORD_DELAY: Duration = Duration::from_secs(5);

/// One connection's requests.
pub struct Session {
    client: ClientHandle,
    rooms: Arc<RoomManager>,
    context: Arc<NetContext>,
    /// Handles of rooms addressed recently (a handle of a room that has
    /// ended fails its send, which answers `room_not_found`).
    handles: HashMap<RoomId, RoomHandle>,
    rate: DefaultDirectRateLimiter,
    /// Whether the client may make requests other than `authenticate`:
    /// from the start when the server does not authenticate.
    authenticated: bool,
    /// Wrong room passwords and invites this connection gave since its
    /// last right one.
    wrong_guesses: u32,
    /// The client's address, for the guess limits shared by connections.
    peer: IpAddr,
    /// Seat reservations this connection has asked other nodes for that
    /// are being asked or still live (`cluster.reservationsPerConnection`).
    reservations: Arc<AtomicUsize>,
}

impl Session {
    /// A session for `client`, with the rate limit, authentication, UDP
    /// channel and rooms of `context`.
    pub fn new(client: ClientHandle, context: Arc<NetContext>, peer: IpAddr) -> Session {
        let limits = &context.config.limits;
        let per_second = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.request_burst).unwrap_or(per_second);
        let rate = RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst));
        Session {
            client,
            rooms: context.rooms.clone(),
            authenticated: context.auth.is_none(),
            context,
            handles: HashMap::new(),
            rate,
            wrong_guesses: 0,
            peer,
            reservations: Arc::default(),
        }
    }

    /// This session's id.
    pub fn id(&self) -> SessionId {
        self.client.session()
    }

    /// Whether the client may make requests: it authenticated, or the
    /// server does not ask it to. Until then the connection lives by the
    /// handshake timeout.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Decodes and runs one frame. Every request is answered exactly once
    /// (by this session or by a room), every refused frame too.
    pub async fn handle_frame(&mut self, body: &Bytes) {
        let frame = match request::decode(body) {
            Ok(frame) => frame,
            Err(rejected) => {
                debug!(session = self.id(), code = %rejected.code, message = %rejected.message, "rejected a frame");
                let respond = Responder::new(self.client.clone(), rejected.id, None);
                respond.fail(ApiError::new(rejected.code, rejected.message));
                // Before authenticating, a client gets one frame to prove
                // who it is, whatever that frame holds: a connection that
                // has not must not hold its place by sending anything else.
                if !self.authenticated {
                    self.client.close();
                }
                return;
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
        if let Request::Authenticate { token } = &request {
            return self.authenticate(token, Responder::new(client, id, None));
        }
        if !self.authenticated {
            Responder::new(client.clone(), id, None).fail(ApiError::new(
                ErrorCode::NotAuthenticated,
                "authenticate first: this server needs a token",
            ));
            client.close();
            return;
        }
        match request {
            Request::Authenticate { .. } => unreachable!("handled above"),
            Request::Ping => Responder::new(client, id, None).ok_nil(),
            Request::UdpBind => {
                let respond = Responder::new(client.clone(), id, None);
                match &self.context.udp {
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
            Request::CreateRoom(mut settings) => {
                let respond = Responder::new(client.clone(), id, None);
                let password = match settings.password.take() {
                    None => None,
                    Some(password) => match self.context.gate.passwords.hash(password).await {
                        Ok(hash) => Some(hash),
                        Err(err) => return respond.fail(err),
                    },
                };
                match &self.context.cluster {
                    // Placement may wait for another node: not this
                    // connection's next request.
                    Some(cluster) => drop(tokio::spawn(
                        cluster.clone().create_room(settings, password, client, respond),
                    )),
                    None => self.rooms.create(settings, password, client, respond),
                }
            }
            Request::ListRooms { room_type, offset, limit } => {
                let (offset, limit) = (offset.unwrap_or(0) as usize, limit.map(|l| l as usize));
                let respond = Responder::new(client, id, None);
                match &self.context.cluster {
                    Some(cluster) => drop(tokio::spawn(
                        cluster.clone().list_rooms(room_type, offset, limit, respond),
                    )),
                    None => self.rooms.list_public(room_type.as_deref(), offset, limit, respond),
                }
            }
            Request::Join { room, password, invite, options, reservation } => {
                if let Some(cluster) = self.cluster_for(&room) {
                    let respond = Responder::new(client, id, None);
                    if reservation.is_some() {
                        // Reservations are redeemed on the room's node; one
                        // brought here must not buy another seat.
                        return respond.fail(ApiError::new(
                            ErrorCode::NotAuthorized,
                            "a seat reservation is redeemed on the node that holds the room, not this one",
                        ));
                    }
                    let (most, ttl) = cluster.reservation_limits();
                    let held = self.reservations.fetch_update(
                        Ordering::AcqRel,
                        Ordering::Acquire,
                        |held| (held < most).then_some(held + 1),
                    );
                    if held.is_err() {
                        return respond.fail(ApiError::new(
                            ErrorCode::QuotaExceeded,
                            "you hold as many seat reservations as a connection may; join with them first",
                        ));
                    }
                    // The place is held while the request is out and, when
                    // a seat was reserved, until the reservation expires.
                    let reservations = self.reservations.clone();
                    let join = RemoteJoin { password, invite, address: self.peer };
                    return drop(tokio::spawn(async move {
                        if cluster.redirect(room, join, respond).await {
                            tokio::time::sleep(ttl).await;
                        }
                        reservations.fetch_sub(1, Ordering::AcqRel);
                    }));
                }
                let Some((handle, respond)) = self.room(room, id) else { return };
                let admission = match self.admit(&handle, password, invite).await {
                    Ok(admission) => admission,
                    Err(refusal) => return respond.fail(refusal),
                };
                handle
                    .join(client, admission, options.unwrap_or_default(), reservation, respond)
                    .await;
            }
            Request::CreateInvite { room } => {
                if let Some(cluster) = self.cluster_for(&room) {
                    let respond = Responder::new(client, id, None);
                    return drop(tokio::spawn(cluster.administer(room, Act::Invite, respond)));
                }
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle.create_invite(respond).await;
            }
            Request::Leave { room } => {
                let Some((handle, respond)) = self.room(room, id) else { return };
                handle.leave(respond).await;
            }
            Request::DeleteRoom { room } => {
                if let Some(cluster) = self.cluster_for(&room) {
                    let respond = Responder::new(client, id, None);
                    return drop(tokio::spawn(cluster.administer(room, Act::Delete, respond)));
                }
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

    /// The cluster, when `room` lives on another node of it.
    fn cluster_for(&self, room: &str) -> Option<Arc<Cluster>> {
        let cluster = self.context.cluster.as_ref()?;
        (cluster.is_elsewhere(room) && self.rooms.get(room).is_err()).then(|| cluster.clone())
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

    /// Checks `token` and records who the client is; a refused token
    /// closes the connection.
    fn authenticate(&mut self, token: &str, respond: Responder) {
        let Some(auth) = &self.context.auth else {
            return respond.fail(ApiError::new(
                ErrorCode::InvalidRequest,
                "this server does not check tokens (auth.mode is none)",
            ));
        };
        if self.authenticated {
            return respond.fail(ApiError::new(
                ErrorCode::InvalidRequest,
                "this connection is authenticated",
            ));
        }
        match auth.verify(token) {
            Ok(Verified { identity, valid_until }) => {
                close_when_expired(self.client.clone(), valid_until);
                let user_id = identity.user_id.clone().unwrap_or_default();
                let user_name = identity.name.clone();
                info!(session = self.id(), user = %user_id, operator = identity.operator, "client authenticated");
                self.client.set_identity(identity);
                self.context.signed_in.sign_in(&user_id, &self.client);
                self.authenticated = true;
                respond.ok_with(
                    32 + user_id.len() + user_name.as_ref().map_or(0, String::len),
                    |w| {
                        w.map(2).str("user_id").str(&user_id);
                        w.str("user_name").opt_str(user_name.as_deref());
                    },
                );
            }
            Err(refusal) => {
                info!(session = self.id(), reason = %refusal.message, "token refused");
                respond.fail(refusal);
                self.client.close();
            }
        }
    }

    /// Lets a joiner through the room's password or invite check (see
    /// [`crate::rooms::admission::Gate`]); a wrong guess also makes this
    /// connection wait, longer with each one it made.
    ///
    /// # Errors
    /// The gate's refusal, after that wait.
    async fn admit(
        &mut self,
        handle: &RoomHandle,
        password: Option<String>,
        invite: Option<String>,
    ) -> Result<Admission, ApiError> {
        match self.context.gate.admit(handle, password, invite, self.peer).await {
            Ok(admission) => {
                self.wrong_guesses = 0;
                Ok(admission)
            }
            Err(Refused::Other(refusal)) => Err(refusal),
            Err(Refused::WrongGuess(refusal)) => {
                self.wrong_guesses = self.wrong_guesses.saturating_add(1);
                let doublings = self.wrong_guesses.saturating_sub(1).min(16);
                let delay =
                    FIRST_PASSWORD_DELAY.saturating_mul(1 << doublings).min(MAX_PASSWORD_DELAY);
                info!(session = self.id(), room = %handle.id(), failures = self.wrong_guesses, "wrong room password or invite");
                tokio::time::sleep(delay).await;
                Err(refusal)
            }
        }
    }

    /// Leaves every room the client is still in; called once the
    /// connection has ended. From now on no room can add the client.
    pub async fn leave_all(&mut self) {
        let session = self.id();
        if let Some(udp) = &self.context.udp {
            udp.end(session);
        }
        if let Some(user_id) = &self.client.identity().user_id {
            self.context.signed_in.sign_out(user_id, session);
        }
        for room in self.client.end_memberships() {
            if let Ok(handle) = self.rooms.get(&room) {
                handle.leave_on_disconnect(session).await;
            }
        }
    }
}

/// Closes `client`'s connection with `not_authenticated` when its token
/// stops being valid: a token proves who the client is only until its
/// `exp`, so a connection does not outlive it. The watch ends with the
/// connection.
fn close_when_expired(client: ClientHandle, valid_until: std::time::SystemTime) {
    let left = valid_until.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    tokio::spawn(async move {
        tokio::select! {
            () = client.closing() => {}
            () = tokio::time::sleep(left) => {
                info!(session = client.session(), "token expired, closing");
                client.close_with(
                    ErrorCode::NotAuthenticated,
                    "your token has expired: connect again with a fresh one",
                );
            }
        }
    });
}
