//! [`Session`]: what one connection may do, request by request.
//!
//! The session decodes each frame, applies the connection's rate limit,
//! answers what concerns the connection or the server ([`ServerOp`]:
//! `authenticate`, `ping`, `create_room`, `join_or_create`, `list_rooms`,
//! `udp_bind`…) and
//! hands every room operation ([`RoomOp`]) unchanged to that room's actor,
//! with a [`Responder`]: the room answers the client directly, so the
//! session never waits for a room and reads the next request at once.
//! A room of another node of the cluster gets the operation through the
//! cluster (a `join`, a redirect to that node with a seat reserved).
//!
//! A connection's first request may be `resume`, which swaps this
//! session for a held one ([`crate::net::sessions`]): the connection then
//! serves that session, and [`Session::take_handover`] tells the
//! connection to move its writer over.
//!
//! On a server that authenticates, the first request must be
//! `authenticate` (or `resume`, with a token of the session's user);
//! anything else (another op, a frame that does not
//! decode), or a refused token, is answered and the connection closed.
//! Room passwords are checked here, on the blocking pool, before a room
//! sees the join; each wrong password or invite makes this connection
//! wait longer before its answer, and checks for one room or from one
//! address take turns spaced by their wrong guesses
//! ([`crate::auth::guesses::WrongGuesses`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tracing::{debug, info};
use vampire_protocol::listing::ListQuery;
use vampire_protocol::{ErrorCode, Request, RoomId, RoomOp, ServerOp, SessionId, request};

use crate::cluster::{Cluster, RemoteJoin};
use crate::error::ApiError;
use crate::metrics::AuthFailure;
use crate::net::NetContext;
use crate::net::sessions::Ending;
use crate::outbound::{ClientHandle, Link, Responder};
use crate::rooms::admission::Refused;
use crate::rooms::{Admission, Caller, RoomHandle, RoomManager};

mod identity;
mod matching;

/// Room handles a session keeps at most, to skip the index on the next
/// request to the same room.
const CACHED_HANDLES: usize = 64;

/// The wait before answering the first wrong room password or invite of
/// a connection; it doubles with each further one, up to
/// [`MAX_PASSWORD_DELAY`].
const FIRST_PASSWORD_DELAY: Duration = Duration::from_millis(100);

/// The longest wait before answering a wrong room password.
const MAX_PASSWORD_DELAY: Duration = Duration::from_secs(5);

/// Requests that wait one connection may have out at once (placements,
/// listings and operations on rooms of other nodes, `join_or_create`s);
/// one more is refused with `rate_limited`. Each holds a task and a
/// pending reply.
const MAX_REMOTE_REQUESTS: usize = 16;

/// One connection's requests.
pub struct Session {
    client: ClientHandle,
    rooms: Arc<RoomManager>,
    context: Arc<NetContext>,
    /// Handles of rooms addressed recently (a handle of a room that has
    /// ended fails its send, which answers `room_not_found`).
    handles: HashMap<RoomId, RoomHandle>,
    rate: DefaultDirectRateLimiter,
    /// Requests `rate` refused, less one for each it let through: how far
    /// past the limit the client keeps sending.
    refusals: u32,
    /// `refusals` from which each refusal pauses the session until the
    /// rate lets a request through (`limits.requestBurst`).
    refusals_before_pause: u32,
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
    /// Requests to other nodes this connection has out now.
    remote_requests: Arc<AtomicUsize>,
    /// The session's resume token, when sessions are held.
    token: Option<String>,
    /// No request has been read yet (`resume` must be the first).
    first: bool,
    /// How the connection is ending, as far as the session knows.
    ending: Ending,
    /// A session `resume` took back, for the connection to serve.
    handover: Option<(ClientHandle, Arc<Link>)>,
}

impl Session {
    /// A session for `client`, with the rate limit, authentication, UDP
    /// channel and rooms of `context`.
    pub fn new(
        client: ClientHandle,
        token: Option<String>,
        context: Arc<NetContext>,
        peer: IpAddr,
    ) -> Session {
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
            refusals: 0,
            refusals_before_pause: burst.get(),
            wrong_guesses: 0,
            peer,
            reservations: Arc::default(),
            remote_requests: Arc::default(),
            token,
            first: true,
            ending: Ending::Dropped,
            handover: None,
        }
    }

    /// The session this connection serves (another one after a resume).
    pub fn client(&self) -> &ClientHandle {
        &self.client
    }

    /// The session's resume token, when sessions are held.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// How the connection is ending, as far as the session knows: the
    /// client's `close_session`, a refusal, or else a drop.
    pub fn ending(&self) -> Ending {
        self.ending
    }

    /// The session a `resume` just took back and its new connection, once.
    pub fn take_handover(&mut self) -> Option<(ClientHandle, Arc<Link>)> {
        self.handover.take()
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
                // Counted like any request the client sent (its clients
                // count every frame but `resume`).
                self.client.count_request();
                debug!(session = self.id(), code = %rejected.error.code, message = %rejected.error.message, "rejected a frame");
                Responder::new(self.client.clone(), rejected.id, None, None).fail(rejected.error);
                // Before authenticating, a client gets one frame to prove
                // who it is, whatever that frame holds: a connection that
                // has not must not hold its place by sending anything else.
                if !self.authenticated {
                    self.context.metrics.auth_failed(AuthFailure::NotFirst);
                    self.client.close();
                }
                return;
            }
        };
        let op = Some(frame.request.op_index());
        let first = std::mem::replace(&mut self.first, false);
        let resume = matches!(frame.request, Request::Server(ServerOp::Resume { .. }));
        if !resume {
            self.client.count_request();
        }
        if let Err(not_until) = self.rate.check() {
            self.context.metrics.rate_limited();
            let respond = Responder::new(self.client.clone(), frame.id, op, None);
            respond.fail(ApiError::new(
                ErrorCode::RateLimited,
                "too many requests: slow down and retry",
            ));
            // A client that keeps sending past the limit is read no
            // further until the limit lets a request through: what it
            // sends meanwhile waits in its socket (TCP pushes back), so a
            // flood costs the server twice the rate (one let through, one
            // refused), not a refusal per frame it can read.
            self.refusals = self.refusals.saturating_add(1);
            if self.refusals >= self.refusals_before_pause {
                let now = governor::clock::Clock::now(&governor::clock::DefaultClock::default());
                tokio::time::sleep(not_until.wait_time_from(now)).await;
            }
            return;
        }
        self.refusals = self.refusals.saturating_sub(1);
        if let Request::Server(ServerOp::Resume { token, last_seq, auth_token }) = frame.request {
            let reply = Responder::new(self.client.clone(), frame.id, op, None);
            return self
                .resume(first, &token, last_seq, auth_token.as_deref(), frame.id, reply)
                .await;
        }
        if !self.authenticated {
            let reply = Responder::new(self.client.clone(), frame.id, op, None);
            if let Request::Server(ServerOp::Authenticate { token }) = &frame.request {
                return self.authenticate(token, reply);
            }
            self.context.metrics.auth_failed(AuthFailure::NotFirst);
            reply.fail(ApiError::new(
                ErrorCode::NotAuthenticated,
                "authenticate first: this server needs a token",
            ));
            return self.client.close();
        }
        match frame.request {
            Request::Room { room, op: room_op } => self.room_op(room, room_op, frame.id, op).await,
            Request::Server(server_op) => {
                let reply = Responder::new(self.client.clone(), frame.id, op, None);
                self.server_op(server_op, reply).await;
            }
        }
    }

    /// Answers an operation of the connection or the server.
    async fn server_op(&mut self, op: ServerOp, reply: Responder) {
        match op {
            ServerOp::Authenticate { token } => self.authenticate(&token, reply),
            ServerOp::Ping {} => reply.ok_nil(),
            ServerOp::Resume { .. } => reply.fail(ApiError::new(
                ErrorCode::InvalidRequest,
                "resume must be a connection's first request",
            )),
            ServerOp::Ack { seq } => match self.client.acknowledge(seq) {
                Ok(()) => reply.ok_nil(),
                Err(sent) => reply.fail(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("ack of frame {seq}, but the session was sent {sent}"),
                )),
            },
            ServerOp::CloseSession {} => {
                self.ending = Ending::Closed;
                reply.ok_nil();
                self.client.close();
            }
            ServerOp::UdpBind {} => match &self.context.udp {
                None => reply.fail(ApiError::new(
                    ErrorCode::UdpUnavailable,
                    "this server has no UDP channel (enableUDP is off); use TCP",
                )),
                Some(udp) => match udp.bind_session(&self.client) {
                    Ok(binding) => reply.ok_with(128, |w| binding.write(w)),
                    Err(err) => reply.fail(err),
                },
            },
            ServerOp::CreateRoom { mut settings } => {
                let password = match settings.password.take() {
                    None => None,
                    Some(password) => match self.context.gate.passwords.hash(password).await {
                        Ok(hash) => Some(hash),
                        Err(err) => return reply.fail(err),
                    },
                };
                let creator = self.client.clone();
                match self.context.cluster.clone() {
                    // Placement may wait for another node: not this
                    // connection's next request.
                    Some(cluster) => {
                        self.spawn_waiting(reply, |reply| async move {
                            cluster.create_room(settings, password, creator, reply).await;
                        });
                    }
                    None => {
                        self.rooms.create(
                            settings,
                            password,
                            Caller::Client(creator),
                            Vec::new(),
                            reply,
                        );
                    }
                }
            }
            ServerOp::JoinOrCreate { settings, filters, join_options } => {
                self.join_or_create(settings, filters, join_options, reply).await;
            }
            ServerOp::MatchmakerAdd { queue, properties, query } => {
                let (matchmaker, client) = (self.context.matchmaker.clone(), self.client.clone());
                // The pool may be in Redis: not this connection's next
                // request.
                self.spawn_waiting(reply, |reply| async move {
                    match matchmaker.add(&client, &queue, properties.as_ref(), query.as_ref()).await
                    {
                        Ok(ticket) => reply.ok_with(ticket.len() + 16, |w| {
                            w.map(1).str("ticket").str(&ticket);
                        }),
                        Err(err) => reply.fail(err),
                    }
                });
            }
            ServerOp::MatchmakerRemove { ticket } => {
                let (matchmaker, client) = (self.context.matchmaker.clone(), self.client.clone());
                self.spawn_waiting(reply, |reply| async move {
                    reply.finish(matchmaker.remove(&client, &ticket).await);
                });
            }
            ServerOp::ListRooms { room_type, offset, limit, filters, free_seats, sort } => {
                let query = ListQuery::from_request(filters.as_ref(), free_seats, sort.as_deref());
                let query = match query {
                    Ok(query) => query,
                    Err(why) => return reply.fail(ApiError::new(ErrorCode::InvalidRequest, why)),
                };
                let (offset, limit) = (offset.unwrap_or(0) as usize, limit.map(|l| l as usize));
                match self.context.cluster.clone() {
                    Some(cluster) => self.spawn_waiting(reply, |reply| async move {
                        cluster.list_rooms(room_type, query, offset, limit, reply).await;
                    }),
                    None => {
                        self.rooms.list_public(room_type.as_deref(), &query, offset, limit, reply);
                    }
                }
            }
        }
    }

    /// Hands a room operation to the room: on this node, with the
    /// password or invite of a join checked first; on another node of the
    /// cluster, through it.
    ///
    /// `id` and `index` are the request's id and place among the ops.
    async fn room_op(
        &mut self,
        room: RoomId,
        mut op: RoomOp,
        id: Option<u32>,
        index: Option<usize>,
    ) {
        if let Some(cluster) = self.cluster_for(&room) {
            let reply = Responder::new(self.client.clone(), id, index, Some(room.clone()));
            return self.remote_room_op(cluster, room, op, reply);
        }
        let handle = match self.handle(&room) {
            Ok(handle) => handle,
            Err(err) => return Responder::new(self.client.clone(), id, index, None).fail(err),
        };
        // The room id moves into the answer owed if the room ends first.
        let reply = Responder::new(self.client.clone(), id, index, Some(room));
        let admission = match &mut op {
            // The password goes no further than the check.
            RoomOp::Join { password, invite, .. } => {
                match self.admit(&handle, password.take(), invite.clone()).await {
                    Ok(admission) => admission,
                    Err(refusal) => return reply.fail(refusal),
                }
            }
            _ => Admission::Open,
        };
        handle.run(op, Caller::Client(self.client.clone()), admission, reply).await;
    }

    /// A room operation for a room of another node: a `join` is answered
    /// with a redirect to that node and a seat reserved there (after that
    /// node checked the password or invite); anything else is run there
    /// for this client, by identity, and its answer relayed.
    fn remote_room_op(
        &mut self,
        cluster: Arc<Cluster>,
        room: RoomId,
        op: RoomOp,
        reply: Responder,
    ) {
        let RoomOp::Join { password, invite, reservation, .. } = op else {
            let by = self.client.identity().clone();
            return self.spawn_waiting(reply, |reply| async move {
                cluster.forward(room, op, by, reply).await;
            });
        };
        if reservation.is_some() {
            // Reservations are redeemed on the room's node; one brought
            // here must not buy another seat.
            return reply.fail(ApiError::new(
                ErrorCode::NotAuthorized,
                "a seat reservation is redeemed on the node that holds the room, not this one",
            ));
        }
        let (most, ttl) = cluster.reservation_limits();
        let held = self.reservations.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            (held < most).then_some(held + 1)
        });
        if held.is_err() {
            return reply.fail(ApiError::new(
                ErrorCode::QuotaExceeded,
                "you hold as many seat reservations as a connection may; join with them first",
            ));
        }
        // The place is held while the request is out and, when a seat was
        // reserved, until the reservation expires.
        let reservations = self.reservations.clone();
        let join = RemoteJoin {
            password,
            invite,
            address: self.peer,
            user_id: self.client.identity().user_id.clone(),
        };
        self.spawn_waiting(reply, |reply| async move {
            if cluster.redirect(room, join, reply).await {
                tokio::time::sleep(ttl).await;
            }
            reservations.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Runs `request` (something that waits: for another node, or for
    /// its turn to create a room) in a task of its own, counted against
    /// [`MAX_REMOTE_REQUESTS`] and tracked, so shutdown waits for it; past
    /// the bound, `reply` is `rate_limited`.
    fn spawn_waiting<F>(&mut self, reply: Responder, request: impl FnOnce(Responder) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let out = self.remote_requests.fetch_update(Ordering::AcqRel, Ordering::Acquire, |out| {
            (out < MAX_REMOTE_REQUESTS).then_some(out + 1)
        });
        if out.is_err() {
            return reply.fail(ApiError::new(
                ErrorCode::RateLimited,
                format!("you have {MAX_REMOTE_REQUESTS} requests waiting; wait for their answers"),
            ));
        }
        let (running, counter) = (request(reply), self.remote_requests.clone());
        self.context.tasks.spawn(async move {
            running.await;
            counter.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// The cluster, when `room` lives on another node of it.
    fn cluster_for(&self, room: &str) -> Option<Arc<Cluster>> {
        let cluster = self.context.cluster.as_ref()?;
        (cluster.is_elsewhere(room) && self.rooms.get(room).is_err()).then(|| cluster.clone())
    }

    /// The room `room`, from the handles this session keeps or the index.
    ///
    /// # Errors
    /// `room_not_found`.
    fn handle(&mut self, room: &str) -> Result<RoomHandle, ApiError> {
        if let Some(handle) = self.handles.get(room)
            && !handle.is_closed()
        {
            return Ok(handle.clone());
        }
        let handle = match self.rooms.get(room) {
            Ok(handle) => handle,
            Err(err) => {
                self.handles.remove(room);
                return Err(err);
            }
        };
        if self.handles.len() >= CACHED_HANDLES {
            self.handles.retain(|_, handle| !handle.is_closed());
            if self.handles.len() >= CACHED_HANDLES {
                self.handles.clear();
            }
        }
        self.handles.insert(room.to_owned(), handle.clone());
        Ok(handle)
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
}
