//! Cluster mode: many nodes sharing rooms through Redis.
//!
//! Each room lives on exactly one node, the one whose id starts the room's
//! id (`{node}-r{n}`). Through Redis ([`registry`]) every node can list
//! every public room, place a new room on the least loaded node, and send
//! a joiner to the node that holds its room with a seat reserved there.
//!
//! - [`keys`]: the names of every Redis key and channel.
//! - [`messages`]: what nodes ask each other over their inboxes.
//! - [`registry`]: the Redis commands.
//!
//! Three tasks run per node ([`Cluster::start`]): the **heartbeat**
//! (refreshes this node's key every third of `cluster.nodeTtlMs`, reaps
//! dead nodes every half of it, notices Redis going and coming back), the
//! **writer** (copies changed room listings to Redis, and everything again
//! after an outage or a lost registration), and the **inbox** (requests
//! from other nodes: create a room, hold a seat; replies to ours).
//!
//! When Redis is unreachable the node serves its own rooms only: listings
//! show its rooms, creations stay on it, joins of other nodes' rooms fail.
//! It logs one line when Redis goes and one when it comes back, and then
//! writes its rooms again.

pub mod keys;
pub mod messages;
pub mod registry;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vampire_protocol::error::quote;
use vampire_protocol::server::{Redirect, ServerMessage};
use vampire_protocol::{CreateRoom, ErrorCode, Payload, Request, RoomId, SessionId, frame};

use crate::config::ClusterConfig;
use crate::error::ApiError;
use crate::outbound::{ClientHandle, ClientLimits, Responder};
use crate::rooms::RoomManager;
use crate::rooms::admission::{Gate, Refused};
use crate::rooms::manager::{MAX_LISTED_ROOMS, answer_room_page};
use keys::{Keys, node_of};
pub use messages::Act;
use messages::{Failure, NodeMessage, Owner, Seat};
use registry::{NodeRecord, Registry};

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
}

/// How often, at most, the writer copies changed listings to Redis.
const WRITE_EVERY: Duration = Duration::from_millis(50);

/// How long a node waits before it tries its inbox connection again.
const RECONNECT_EVERY: Duration = Duration::from_millis(250);

/// This node's membership of the cluster.
pub struct Cluster {
    config: ClusterConfig,
    /// This node's id.
    node: String,
    registry: Registry,
    /// For the inbox's own connection (pub/sub needs one of its own).
    client: redis::Client,
    rooms: Arc<RoomManager>,
    /// Bounds of the stand-in owner of a room created for another node.
    limits: ClientLimits,
    /// Checks the password or invite of a joiner another node sends here
    /// before a seat is held for it.
    gate: Arc<Gate>,
    /// Our requests to other nodes waiting for their reply.
    pending: Mutex<HashMap<u64, oneshot::Sender<NodeMessage>>>,
    next_request: AtomicU64,
    /// Held while this node writes its load to Redis and while it
    /// creates a room (after counting it there first), so a heartbeat
    /// never writes a count older than a creation already announced.
    load_lock: tokio::sync::Mutex<()>,
    /// Whether Redis answered the last heartbeat.
    healthy: AtomicBool,
    /// Asks the writer to write every room again.
    resync: Notify,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node", &self.node).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to Redis and registers this node, whose rooms `rooms`
    /// holds (their ids get the node's prefix from now on).
    ///
    /// # Errors
    /// When Redis cannot be reached, or a live node already holds the
    /// configured `cluster.nodeId` (after waiting one TTL for a previous
    /// run of this node to expire).
    pub async fn join(
        config: &ClusterConfig,
        rooms: Arc<RoomManager>,
        limits: ClientLimits,
        gate: Arc<Gate>,
    ) -> anyhow::Result<Arc<Cluster>> {
        let client = redis::Client::open(config.redis_url.as_str())
            .context("cluster.redisUrl is not a Redis address")?;
        // Commands fail in about a second when Redis is gone, instead of
        // waiting for it: the node then serves its own rooms.
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let redis = ConnectionManager::new_with_config(client.clone(), manager_config)
            .await
            .map_err(|err| anyhow::anyhow!("cannot reach Redis (cluster.redisUrl): {err}"))?;
        let node = match &config.node_id {
            Some(node) => node.clone(),
            None => {
                let mut bytes = [0u8; 4];
                getrandom::fill(&mut bytes)
                    .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }
        };
        let keys = Keys::new(&config.key_prefix);
        let registry = Registry::new(redis, keys, node.clone());
        let record = NodeRecord { address: config.advertise_address.clone(), rooms: 0 };
        // A node restarted right after a crash finds its old key still
        // there: wait for it to expire, but not for another live node.
        let deadline = tokio::time::Instant::now() + config.node_ttl() * 2;
        while !registry
            .claim(&record, config.node_ttl_ms)
            .await
            .map_err(|err| anyhow::anyhow!("cannot reach Redis (cluster.redisUrl): {err}"))?
        {
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("cluster.nodeId {node:?} is held by another live node");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Request numbers name placement keys, which outlive a restart of
        // this node by up to a minute: each run starts at a random place.
        let mut start = [0u8; 8];
        getrandom::fill(&mut start)
            .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
        let first_request = u64::from_le_bytes(start) >> 1;
        rooms.set_id_prefix(format!("{node}-"));
        info!(node = %node, address = %config.advertise_address, "joined the cluster");
        Ok(Arc::new(Cluster {
            config: config.clone(),
            node,
            registry,
            client,
            rooms,
            limits,
            gate,
            pending: Mutex::default(),
            next_request: AtomicU64::new(first_request),
            load_lock: tokio::sync::Mutex::new(()),
            healthy: AtomicBool::new(true),
            resync: Notify::new(),
        }))
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Starts the heartbeat, the writer and the inbox, until `shutdown`.
    pub fn start(self: &Arc<Cluster>, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
        let listings = self.rooms.watch_listings().expect("only the cluster follows listings");
        // Whatever existed before the first heartbeat (a previous run's
        // rooms under this node id) is settled by a first full write.
        self.resync.notify_one();
        vec![
            tokio::spawn(self.clone().heartbeat(shutdown.clone())),
            tokio::spawn(self.clone().writer(listings, shutdown.clone())),
            tokio::spawn(self.clone().inbox(shutdown)),
        ]
    }

    /// Removes this node and its rooms from the registry at once (at
    /// shutdown), rather than after its key expires.
    pub async fn leave(&self) {
        match tokio::time::timeout(Duration::from_secs(1), self.registry.leave()).await {
            Ok(Ok(())) => info!(node = %self.node, "left the cluster"),
            Ok(Err(err)) => warn!(%err, "could not remove this node from the cluster store"),
            Err(_) => warn!("the cluster store did not answer in time at shutdown"),
        }
    }

    /// Whether `room` belongs to another node (by its id).
    pub fn is_elsewhere(&self, room: &str) -> bool {
        node_of(room).is_some_and(|node| node != self.node)
    }

    /// How many seat reservations one connection may have live, and for
    /// how long each counts.
    pub fn reservation_limits(&self) -> (usize, Duration) {
        (self.config.reservations_per_connection, self.config.reservation_ttl())
    }

    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Answers a `create_room`: on the least loaded live node, this one
    /// when it is among the least loaded or the others cannot be asked.
    /// A room is never created twice: a node that does not answer in time
    /// is told not to create it (or, if it already took it, waited for
    /// once more).
    pub async fn create_room(
        self: Arc<Cluster>,
        request: CreateRoom,
        password_hash: Option<Arc<str>>,
        owner: ClientHandle,
        respond: Responder,
    ) {
        let Some(target) = self.choose_node().await else {
            return self.create_locally(request, password_hash, owner, respond).await;
        };
        // A room placed elsewhere counts against this connection's quota
        // until the connection ends (this node does not see it end), so
        // one client cannot fill the cluster through placements.
        if !owner.reserve_room() {
            return respond.fail(ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "you have created {} rooms, the most a connection may",
                    self.limits.max_owned_rooms
                ),
            ));
        }
        let (number, mut reply) = self.new_request();
        let message = NodeMessage::Create {
            request: number,
            from: self.node.clone(),
            create: Request::CreateRoom(request.clone()).encode(None)[frame::LENGTH_PREFIX..]
                .to_vec(),
            password_hash: password_hash.as_deref().map(str::to_owned),
            owner: Owner::of(owner.identity()),
        };
        if !matches!(self.registry.publish(&target, messages::encode(&message)).await, Ok(n) if n > 0)
        {
            // Nobody received it, so nobody creates it: here, then.
            self.forget(number);
            debug!(node = %target, "the chosen node is not listening; the room is created here");
            owner.release_room();
            return self.create_locally(request, password_hash, owner, respond).await;
        }
        let timeout = self.config.request_timeout();
        if let Ok(Ok(answer)) = tokio::time::timeout(timeout, &mut reply).await {
            return answer_created(answer, &owner, respond);
        }
        match self.registry.settle(&self.node, number, "cancelled").await {
            Ok(true) => {
                self.forget(number);
                warn!(node = %target, "a node did not answer a room placement in time; the room is created here");
                owner.release_room();
                self.create_locally(request, password_hash, owner, respond).await;
            }
            Ok(false) => match tokio::time::timeout(timeout, reply).await {
                Ok(Ok(answer)) => answer_created(answer, &owner, respond),
                _ => {
                    self.forget(number);
                    owner.release_room();
                    respond.fail(ApiError::new(
                        ErrorCode::ServerBusy,
                        format!("node {} took the room but did not answer in time", quote(&target)),
                    ));
                }
            },
            Err(err) => {
                self.forget(number);
                owner.release_room();
                warn!(%err, "the cluster store failed during a room placement");
                respond.fail(ApiError::new(
                    ErrorCode::ServerBusy,
                    "the cluster store failed while the room was placed; try again",
                ));
            }
        }
    }

    /// Creates a room on this node, having first counted it in this
    /// node's load in Redis: whoever places the next room sees it, even
    /// before the room exists.
    async fn create_locally(
        &self,
        request: CreateRoom,
        password_hash: Option<Arc<str>>,
        owner: ClientHandle,
        respond: Responder,
    ) {
        let _counting = self.load_lock.lock().await;
        if self.healthy() {
            let load = self.rooms.room_load() as u64 + 1;
            if let Err(err) = self.registry.set_load(load).await {
                debug!(%err, "cannot count a new room in this node's load");
            }
        }
        // Counts the room in `room_load` before the lock is released.
        self.rooms.create(request, password_hash, owner, respond);
    }

    /// The node a new room goes to, `None` for this one.
    async fn choose_node(&self) -> Option<String> {
        if !self.healthy() {
            return None;
        }
        let candidates = self.registry.candidates().await.ok()?;
        let least = candidates.iter().map(|c| c.load).min()?;
        let mut lightest: Vec<&str> =
            candidates.iter().filter(|c| c.load == least).map(|c| c.node.as_str()).collect();
        lightest.sort_unstable();
        let chosen = if lightest.contains(&self.node.as_str()) {
            self.node.clone()
        } else {
            lightest.first()?.to_string()
        };
        (chosen != self.node).then_some(chosen)
    }

    /// Answers a `join` of a room another node holds with a redirect to
    /// that node and a seat reserved there, once that node has checked
    /// `join`'s password or invite. Returns whether a seat was reserved.
    pub async fn redirect(
        self: Arc<Cluster>,
        room: RoomId,
        join: RemoteJoin,
        respond: Responder,
    ) -> bool {
        let Some(node) = node_of(&room).map(str::to_owned) else {
            respond.fail(ApiError::room_not_found(&room));
            return false;
        };
        if !self.healthy() {
            respond.fail(ApiError::new(
                ErrorCode::ServerBusy,
                format!(
                    "room {} is on node {}, which cannot be reached while the cluster store is down",
                    quote(&room),
                    quote(&node)
                ),
            ));
            return false;
        }
        let user_id = respond.client().identity().user_id.clone();
        let answer = self
            .ask(&node, &room, |request| NodeMessage::Reserve {
                request,
                from: self.node.clone(),
                room: room.clone(),
                user_id,
                password: join.password,
                invite: join.invite,
                address: Some(join.address),
            })
            .await;
        match answer {
            Ok(NodeMessage::Reserved { outcome: Ok(seat), .. }) => {
                let Some(id) = respond.id() else {
                    respond.answered_elsewhere();
                    return true;
                };
                let redirect = ServerMessage::Redirect(Redirect {
                    id,
                    room,
                    address: seat.address,
                    reservation: seat.reservation,
                    expires_in_ms: seat.expires_in_ms,
                });
                respond.client().send(redirect.encode());
                respond.answered_elsewhere();
                true
            }
            Ok(NodeMessage::Reserved { outcome: Err(failure), .. }) => {
                respond.fail(failure.into());
                false
            }
            Ok(_) => {
                respond.fail(late(&node));
                false
            }
            Err(err) => {
                respond.fail(err);
                false
            }
        }
    }

    /// Sends `node` the request `message` makes of a fresh request number
    /// and waits for its reply.
    ///
    /// # Errors
    /// `room_not_found` for `room` when the node is not listening (it is
    /// not running); `server_busy` when it does not answer in time.
    async fn ask(
        &self,
        node: &str,
        room: &str,
        message: impl FnOnce(u64) -> NodeMessage,
    ) -> Result<NodeMessage, ApiError> {
        let (number, reply) = self.new_request();
        let message = messages::encode(&message(number));
        let published = self.registry.publish(node, message).await;
        let answer = match published {
            Ok(listeners) if listeners > 0 => {
                tokio::time::timeout(self.config.request_timeout(), reply)
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            _ => None,
        };
        self.forget(number);
        match (answer, published) {
            (Some(answer), _) => Ok(answer),
            (None, Ok(listeners)) if listeners > 0 => Err(late(node)),
            // Nobody listens on the node's inbox: the room is gone only
            // when the registry says so (the node was reaped); a node
            // reconnecting, or a registry that cannot be asked, is worth
            // a retry.
            (None, Ok(_)) => match self.registry.room_registered(room).await {
                Ok(false) => Err(ApiError::room_not_found(room)),
                _ => Err(unreachable(node)),
            },
            (None, Err(_)) => Err(unreachable(node)),
        }
    }

    /// Answers a `list_rooms` with the public rooms of the whole cluster,
    /// or of this node alone while Redis is unreachable.
    pub async fn list_rooms(
        self: Arc<Cluster>,
        room_type: Option<String>,
        offset: usize,
        limit: Option<usize>,
        respond: Responder,
    ) {
        let limit = limit.unwrap_or(MAX_LISTED_ROOMS).min(MAX_LISTED_ROOMS);
        let listed = if self.healthy() {
            self.registry.list(room_type.as_deref(), offset, limit).await.ok()
        } else {
            None
        };
        let Some((rooms, total)) = listed else {
            return self.rooms.list_public(room_type.as_deref(), offset, Some(limit), respond);
        };
        let page = rooms.into_iter().filter_map(|room| Payload::from_bytes(Bytes::from(room)).ok());
        // The stored listings are spliced in as they are.
        answer_room_page(respond, page, total, Payload::len, |room, w| {
            w.raw(room.as_bytes());
        });
    }

    fn new_request(&self) -> (u64, oneshot::Receiver<NodeMessage>) {
        let number = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        lock(&self.pending).insert(number, sender);
        (number, receiver)
    }

    fn forget(&self, number: u64) {
        lock(&self.pending).remove(&number);
    }

    /// Keeps this node's key alive, reaps dead nodes, and notices Redis
    /// going away and coming back.
    async fn heartbeat(self: Arc<Cluster>, shutdown: CancellationToken) {
        let ttl = self.config.node_ttl();
        let mut beats = tokio::time::interval(ttl / 3);
        let mut reaps = tokio::time::interval(ttl / 2);
        beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        reaps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = beats.tick() => self.beat().await,
                _ = reaps.tick() => {
                    if !self.healthy() {
                        continue;
                    }
                    match self.registry.reap().await {
                        Ok(reaped) => {
                            for (node, rooms) in reaped {
                                info!(node = %node, rooms, "reaped a dead node: its rooms left the listings");
                            }
                        }
                        Err(err) => debug!(%err, "reaping failed"),
                    }
                }
            }
        }
    }

    async fn beat(&self) {
        // Counted under the lock: a creation either is in the count or
        // announces itself after this write.
        let _counting = self.load_lock.lock().await;
        let record = NodeRecord {
            address: self.config.advertise_address.clone(),
            rooms: self.rooms.room_load() as u64,
        };
        match self.registry.heartbeat(&record, self.config.node_ttl_ms).await {
            Ok(still_registered) => {
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    info!("the cluster store is reachable again; writing this node's rooms again");
                    self.resync.notify_one();
                } else if !still_registered {
                    warn!(
                        node = %self.node,
                        "this node's registration had expired (paused, or Redis lost its data); writing its rooms again"
                    );
                    self.resync.notify_one();
                }
            }
            Err(err) => {
                if self.healthy.swap(false, Ordering::Relaxed) {
                    warn!(%err, "the cluster store is unreachable; serving this node's rooms only");
                }
            }
        }
    }

    /// Copies room listings to Redis as they change; everything again when
    /// asked (after an outage, a lost registration, or a failed write).
    async fn writer(
        self: Arc<Cluster>,
        mut listings: mpsc::UnboundedReceiver<RoomId>,
        shutdown: CancellationToken,
    ) {
        let mut dirty: HashSet<RoomId> = HashSet::new();
        // Rooms this node has written and their types, to remove them.
        let mut written: HashMap<RoomId, String> = HashMap::new();
        let mut full = false;
        // A change is written at once, unless the last write was less than
        // WRITE_EVERY ago: then with whatever else changed meanwhile.
        let mut last_write = tokio::time::Instant::now() - WRITE_EVERY;
        loop {
            let due = last_write + WRITE_EVERY;
            let pending = full || !dirty.is_empty();
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = listings.recv() => match changed {
                    Some(room) => { dirty.insert(room); }
                    None => return,
                },
                () = self.resync.notified() => full = true,
                () = tokio::time::sleep_until(due), if pending => {}
            }
            if tokio::time::Instant::now() < due || !full && dirty.is_empty() {
                continue;
            }
            while let Ok(room) = listings.try_recv() {
                dirty.insert(room);
            }
            last_write = tokio::time::Instant::now();
            if !self.healthy() {
                // Written in full once Redis is back.
                dirty.clear();
                continue;
            }
            if full {
                dirty.clear();
                full = self.write_all(&mut written).await.is_err();
            } else {
                let changed: Vec<RoomId> = dirty.drain().collect();
                full = self.write_changed(changed, &mut written).await.is_err();
            }
        }
    }

    async fn write_changed(
        &self,
        changed: Vec<RoomId>,
        written: &mut HashMap<RoomId, String>,
    ) -> redis::RedisResult<()> {
        let mut live = Vec::new();
        let mut gone = HashMap::new();
        for room in changed {
            match self.rooms.get(&room) {
                Ok(handle) => live.push(handle),
                Err(_) => {
                    if let Some(room_type) = written.remove(&room) {
                        gone.insert(room, room_type);
                    }
                }
            }
        }
        for handle in &live {
            written.insert(handle.id().clone(), handle.info().room_type);
        }
        self.registry.write_rooms(&live, &gone).await
    }

    async fn write_all(&self, written: &mut HashMap<RoomId, String>) -> redis::RedisResult<()> {
        let live = self.rooms.rooms();
        let live_ids: HashSet<&RoomId> = live.iter().map(|handle| handle.id()).collect();
        let mut gone = self.registry.registered_rooms().await?;
        gone.retain(|room, _| !live_ids.contains(room));
        for (room, room_type) in written.drain() {
            if !live_ids.contains(&room) {
                gone.insert(room, room_type);
            }
        }
        self.registry.write_rooms(&live, &gone).await?;
        written.extend(live.iter().map(|handle| (handle.id().clone(), handle.info().room_type)));
        debug!(rooms = live.len(), removed = gone.len(), "wrote every room of this node");
        Ok(())
    }

    /// Receives other nodes' requests and the replies to ours, on a
    /// connection of its own, reconnecting while Redis is away.
    async fn inbox(self: Arc<Cluster>, shutdown: CancellationToken) {
        let channel = self.registry.inbox();
        loop {
            let connected = async {
                let mut pubsub = self.client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub)
            };
            let pubsub = tokio::select! {
                () = shutdown.cancelled() => return,
                connected = connected => connected,
            };
            match pubsub {
                Ok(pubsub) => {
                    let mut messages = pubsub.into_on_message();
                    loop {
                        let message = tokio::select! {
                            () = shutdown.cancelled() => return,
                            message = messages.next() => message,
                        };
                        let Some(message) = message else { break };
                        self.clone().received(message.get_payload_bytes());
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

    fn received(self: Arc<Cluster>, bytes: &[u8]) {
        let message = match messages::decode(bytes) {
            Ok(message) => message,
            Err(err) => return warn!(%err, "an inbox message this node cannot read"),
        };
        if let Some(number) = message.answers() {
            if let Some(waiting) = lock(&self.pending).remove(&number) {
                let _ = waiting.send(message);
            }
            return;
        }
        tokio::spawn(async move {
            match message {
                NodeMessage::Create { request, from, create, password_hash, owner } => {
                    self.create_here(request, from, create, password_hash, owner).await;
                }
                NodeMessage::Reserve {
                    request,
                    from,
                    room,
                    user_id,
                    password,
                    invite,
                    address,
                } => {
                    let address = address.unwrap_or(IpAddr::from([0, 0, 0, 0]));
                    let outcome = match self.rooms.get(&room) {
                        // A seat is held only for a joiner past the room's
                        // password or invite, checked here as for this
                        // node's own clients.
                        Ok(handle) => {
                            match self.gate.admit(&handle, password, invite, address).await {
                                Ok(_) => handle
                                    .reserve_seat(self.config.reservation_ttl(), user_id)
                                    .await
                                    .map(|reservation| Seat {
                                        reservation,
                                        expires_in_ms: self.config.reservation_ttl().as_millis()
                                            as u64,
                                        address: self.config.advertise_address.clone(),
                                    })
                                    .map_err(Failure::from),
                                Err(Refused::WrongGuess(refusal) | Refused::Other(refusal)) => {
                                    Err(refusal.into())
                                }
                            }
                        }
                        Err(err) => Err(err.into()),
                    };
                    let reply = NodeMessage::Reserved { request, outcome };
                    let _ = self.registry.publish(&from, messages::encode(&reply)).await;
                }
                NodeMessage::Administer { request, from, room, act, by } => {
                    let outcome = self.administer_for(&room, act, &by).await;
                    let reply = NodeMessage::Administered { request, outcome };
                    let _ = self.registry.publish(&from, messages::encode(&reply)).await;
                }
                NodeMessage::Created { .. }
                | NodeMessage::Reserved { .. }
                | NodeMessage::Administered { .. } => {}
            }
        });
    }

    /// Creates a room another node placed here, unless that node gave up
    /// on it first.
    async fn create_here(
        &self,
        request: u64,
        from: String,
        create: Vec<u8>,
        password_hash: Option<String>,
        owner: Owner,
    ) {
        match self.registry.settle(&from, request, "taken").await {
            Ok(true) => {}
            Ok(false) => return debug!(node = %from, "a placement its node gave up on"),
            Err(err) => return warn!(%err, "cannot take a room placement"),
        }
        let settings = match vampire_protocol::request::decode(&Bytes::from(create)) {
            Ok(frame) => match frame.request {
                Request::CreateRoom(settings) => Ok(settings),
                other => Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("a placement carried {}", other.op()),
                )),
            },
            Err(rejected) => Err(ApiError::new(rejected.code, rejected.message)),
        };
        let outcome = match settings {
            Ok(settings) => self.create_for(settings, password_hash, &owner).await,
            Err(err) => Err(err.into()),
        };
        let reply = NodeMessage::Created { request, outcome };
        if let Err(err) = self.registry.publish(&from, messages::encode(&reply)).await {
            warn!(%err, node = %from, "cannot answer a room placement");
        }
    }

    /// Creates a room whose creator is on another node; its owner here is
    /// a stand-in with the creator's identity, gone once the room exists.
    async fn create_for(
        &self,
        settings: CreateRoom,
        password_hash: Option<String>,
        owner: &Owner,
    ) -> Result<Vec<u8>, Failure> {
        let stand_in = ClientHandle::new(CREATOR_STAND_IN, self.limits, owner.identity());
        let respond = Responder::new(stand_in.clone(), Some(0), None);
        self.create_locally(settings, password_hash.map(Arc::from), stand_in.clone(), respond)
            .await;
        answer_of(stand_in).await
    }

    /// Deletes or invites into one of this node's rooms for a client of
    /// another node, as that client.
    async fn administer_for(&self, room: &str, act: Act, by: &Owner) -> Result<Vec<u8>, Failure> {
        // A session no connection has, so only the identity can match the
        // room's owner.
        let stand_in = ClientHandle::new(ASKER_STAND_IN, self.limits, by.identity());
        let respond = Responder::new(stand_in.clone(), Some(0), None);
        let handle = self.rooms.get(room).map_err(Failure::from)?;
        match act {
            Act::Delete => handle.delete(respond).await,
            Act::Invite => handle.create_invite(respond).await,
        }
        answer_of(stand_in).await
    }

    /// Answers a `delete_room` or `create_invite` of a room another node
    /// holds, by asking that node.
    pub async fn administer(self: Arc<Cluster>, room: RoomId, act: Act, respond: Responder) {
        let Some(node) = node_of(&room).map(str::to_owned) else {
            return respond.fail(ApiError::room_not_found(&room));
        };
        if !self.healthy() {
            return respond.fail(ApiError::room_not_found(&room));
        }
        let by = Owner::of(respond.client().identity());
        let answer = self
            .ask(&node, &room, |request| NodeMessage::Administer {
                request,
                from: self.node.clone(),
                room: room.clone(),
                act,
                by,
            })
            .await;
        match answer {
            Ok(NodeMessage::Administered { outcome: Ok(result), .. }) => respond.ok(&result),
            Ok(NodeMessage::Administered { outcome: Err(failure), .. }) => {
                respond.fail(failure.into());
            }
            Ok(_) => respond.fail(late(&node)),
            Err(err) => respond.fail(err),
        }
    }
}

/// `server_busy`: `node` did not answer in time.
/// `server_busy` for a node that cannot be reached now (retryable).
fn unreachable(node: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ServerBusy,
        format!("node {} cannot be reached now; try again", quote(node)),
    )
}

fn late(node: &str) -> ApiError {
    ApiError::new(ErrorCode::ServerBusy, format!("node {} did not answer in time", quote(node)))
}

/// The session of the stand-in owner of a room created for a client of
/// another node (no connection has it).
const CREATOR_STAND_IN: SessionId = 0;

/// The session of the stand-in for a client of another node that deletes
/// or invites: never a room's owner session, so only its identity counts.
const ASKER_STAND_IN: SessionId = SessionId::MAX;

/// The first answer queued for `stand_in`, as a result or a failure; the
/// stand-in is closed after it.
async fn answer_of(stand_in: ClientHandle) -> Result<Vec<u8>, Failure> {
    let mut queued = std::collections::VecDeque::new();
    let answer = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            stand_in.take_queued(&mut queued);
            if let Some(queued) = queued.pop_front() {
                return queued.frames;
            }
            stand_in.queued().await;
        }
    })
    .await;
    stand_in.close();
    let Ok(frame) = answer else {
        return Err(Failure {
            code: ErrorCode::Internal.as_str().to_owned(),
            message: "the room did not answer in time".to_owned(),
        });
    };
    match ServerMessage::decode(&frame.slice(frame::LENGTH_PREFIX..)) {
        Ok(ServerMessage::Response { result, .. }) => Ok(result.as_bytes().to_vec()),
        Ok(ServerMessage::Error { code, message, .. }) => {
            Err(Failure { code: code.as_str().to_owned(), message })
        }
        _ => Err(Failure {
            code: ErrorCode::Internal.as_str().to_owned(),
            message: "the room answered oddly".to_owned(),
        }),
    }
}

/// Answers a client's `create_room` with what the placed node said; a
/// room that was not created gives `owner` its quota back.
fn answer_created(answer: NodeMessage, owner: &ClientHandle, respond: Responder) {
    match answer {
        NodeMessage::Created { outcome: Ok(room), .. } => respond.ok(&room),
        NodeMessage::Created { outcome: Err(failure), .. } => {
            owner.release_room();
            respond.fail(failure.into());
        }
        _ => {
            owner.release_room();
            respond.fail(ApiError::new(ErrorCode::Internal, "a placement got a wrong reply"));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
