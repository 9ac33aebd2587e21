//! Cluster mode: many nodes sharing rooms through Redis.
//!
//! Each room lives on exactly one node, the one whose id starts the room's
//! id (`{node}-r{n}`). Through Redis ([`registry`]) every node can list
//! every public room, place a new room on the least loaded node, send a
//! joiner to the node that holds its room with a seat reserved there, and
//! run other operations on that node's rooms for its own clients.
//!
//! When Redis is unreachable the node serves its own rooms only: listings
//! show its rooms, creations stay on it, operations on other nodes' rooms
//! fail with `server_busy`. It logs one line when Redis goes and one when
//! it comes back, and then writes its rooms again.
//!
//! # Layout
//! - [`keys`]: the names of every Redis key and channel.
//! - [`registry`]: the Redis commands.
//! - [`messages`]: what nodes ask each other over their inboxes.
//! - [`peers`]: this node's requests to other nodes, waiting for replies.
//! - [`node`]: what the parts share (id, registry, rooms, health).
//! - [`placement`]: where a new room goes, and rooms placed here.
//! - [`remote`]: joins (redirects) and other operations on rooms of other
//!   nodes, and serving those of other nodes' clients.
//! - [`matching`]: `join_or_create` across the nodes (a seat claimed in
//!   Redis, a creation turn held there).
//! - [`tickets`]: the matchmaker's pool, in Redis.
//! - Three tasks per node ([`Cluster::start`]): the [`heartbeat`], the
//!   listing [`writer`], and the [`inbox`].

pub mod heartbeat;
pub mod inbox;
pub mod keys;
pub mod matching;
pub mod messages;
pub mod node;
pub mod operators;
pub mod peers;
pub mod placement;
pub mod registry;
pub mod remote;
pub mod tickets;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vampire_protocol::listing::ListQuery;
use vampire_protocol::{CreateRoom, Payload, RoomId, RoomInfo, RoomOp};

use crate::config::ClusterConfig;
use crate::config::MatchmakingConfig;
use crate::matchmaking::{Matchmaker, TicketPool};
use crate::outbound::{ClientHandle, ClientLimits, Identity, Responder};
use crate::rooms::RoomManager;
use crate::rooms::admission::Gate;
use crate::rooms::listing::{MAX_LISTED_ROOMS, answer_room_page};
use crate::rooms::matching::JoinOrCreate;
use keys::node_of;
use node::Node;
pub use remote::RemoteJoin;

/// How long a node leaving the cluster at shutdown waits for Redis.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(1);

/// This node's membership of the cluster.
pub struct Cluster {
    node: Arc<Node>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node", &self.node.id).finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to Redis and registers this node, whose rooms `rooms`
    /// holds (their ids get the node's prefix from now on).
    ///
    /// # Errors
    /// When Redis cannot be reached, or a live node already holds the
    /// configured `cluster.nodeId` (after waiting for a previous run of
    /// this node to expire).
    pub async fn join(
        config: &ClusterConfig,
        rooms: Arc<RoomManager>,
        limits: ClientLimits,
        gate: Arc<Gate>,
    ) -> anyhow::Result<Arc<Cluster>> {
        let node = Node::connect(config, rooms, limits, gate).await?;
        Ok(Arc::new(Cluster { node: Arc::new(node) }))
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node.id
    }

    /// Starts the heartbeat, the writer and the inbox, until `shutdown`.
    pub fn start(self: &Arc<Cluster>, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
        let listings = self.node.rooms.watch_listings().expect("only the cluster follows listings");
        // Whatever existed before the first heartbeat (a previous run's
        // rooms under this node id) is settled by a first full write.
        self.node.resync.notify_one();
        vec![
            tokio::spawn(heartbeat::run(self.node.clone(), shutdown.clone())),
            tokio::spawn(writer::run(self.node.clone(), listings, shutdown.clone())),
            tokio::spawn(inbox::run(self.node.clone(), shutdown)),
        ]
    }

    /// Removes this node and its rooms from the registry at once (at
    /// shutdown), rather than after its key expires, once the requests of
    /// other nodes it was serving are done.
    pub async fn leave(&self) {
        self.node.tasks.close();
        let served = tokio::time::timeout(self.node.peers.timeout(), self.node.tasks.wait());
        if served.await.is_err() {
            warn!("some requests of other nodes were still being served at shutdown");
        }
        match tokio::time::timeout(LEAVE_TIMEOUT, self.node.registry.leave()).await {
            Ok(Ok(())) => info!(node = %self.node.id, "left the cluster"),
            Ok(Err(err)) => warn!(%err, "could not remove this node from the cluster store"),
            Err(_) => warn!("the cluster store did not answer in time at shutdown"),
        }
    }

    /// The matchmaker's pool of the cluster, for `config`'s queues; the
    /// events of this node's clients' tickets go to `matchmaker`, once it
    /// is made ([`Cluster::serve_matchmaker`]).
    pub fn ticket_pool(&self, config: &MatchmakingConfig) -> Arc<dyn TicketPool> {
        let queues = config.queues.iter().map(|queue| queue.name.clone()).collect();
        Arc::new(tickets::ClusterTickets::new(self.node.clone(), queues, config.interval_ms))
    }

    /// Hands the ticket events other nodes send here to `matchmaker`.
    pub fn serve_matchmaker(&self, matchmaker: Arc<Matchmaker>) {
        let _ = self.node.matchmaker.set(matchmaker);
    }

    /// Whether Redis answers this node's heartbeats.
    pub fn is_healthy(&self) -> bool {
        self.node.healthy()
    }

    /// Whether `room` belongs to another node (by its id).
    pub fn is_elsewhere(&self, room: &str) -> bool {
        node_of(room).is_some_and(|node| node != self.node.id)
    }

    /// Where clients reach live node `node` (TCP, and WebSocket when it
    /// says): for a `resume` of a session that node holds. `None` when it
    /// is not live or Redis cannot say.
    pub async fn node_address(&self, node: &str) -> Option<(String, Option<String>)> {
        self.node.address_of(node).await
    }

    /// How many seat reservations one connection may have live, and for
    /// how long each counts.
    pub fn reservation_limits(&self) -> (usize, Duration) {
        let config = &self.node.config;
        (config.reservations_per_connection, config.reservation_ttl())
    }

    /// Answers `owner`'s `create_room`: on the least loaded live node
    /// (see [`placement`]).
    pub async fn create_room(
        &self,
        settings: CreateRoom,
        password_hash: Option<Arc<str>>,
        owner: ClientHandle,
        reply: Responder,
    ) {
        placement::create_room(&self.node, settings, password_hash, owner, None, reply).await;
    }

    /// Answers a `join` of a room another node holds with a redirect to
    /// that node and a seat reserved there. Returns whether a seat was
    /// reserved.
    pub async fn redirect(&self, room: RoomId, join: RemoteJoin, reply: Responder) -> bool {
        remote::redirect(&self.node, room, join, reply).await
    }

    /// Runs `op` (not a `join`) on a room another node holds, for `by`,
    /// and relays the answer.
    pub async fn forward(&self, room: RoomId, op: RoomOp, by: Identity, reply: Responder) {
        remote::forward(&self.node, room, op, by, reply).await;
    }

    /// Answers `client`'s `join_or_create` across the cluster (see
    /// [`matching`]): the room's join answer here, or a redirect with the
    /// seat taken on the room's node.
    pub async fn join_or_create(
        &self,
        request: JoinOrCreate,
        client: ClientHandle,
        reply: Responder,
    ) {
        matching::join_or_create(&self.node, request, client, reply).await;
    }

    /// Answers a `list_rooms` with the public rooms of the whole cluster,
    /// or of this node alone while Redis is unreachable.
    pub async fn list_rooms(
        &self,
        room_type: Option<String>,
        query: ListQuery,
        offset: usize,
        limit: Option<usize>,
        reply: Responder,
    ) {
        let node = &self.node;
        let limit = limit.unwrap_or(MAX_LISTED_ROOMS).min(MAX_LISTED_ROOMS);
        let local = |reply| {
            node.rooms.list_public(room_type.as_deref(), &query, offset, Some(limit), reply)
        };
        if !node.healthy() {
            return local(reply);
        }
        if query != ListQuery::default() {
            let listed = node.registry.list_matching(room_type.as_deref(), &query).await;
            let Ok(rooms) = listed else { return local(reply) };
            let total = rooms.len();
            let page = rooms.into_iter().skip(offset).take(limit);
            let size = RoomInfo::encoded_size_bound;
            return answer_room_page(reply, page, total, size, |room, w| room.write(w));
        }
        let listed = node.registry.list(room_type.as_deref(), offset, limit).await;
        let Ok((rooms, total)) = listed else { return local(reply) };
        let page = rooms.into_iter().filter_map(|room| Payload::from_bytes(Bytes::from(room)).ok());
        // The stored listings are spliced in as they are.
        answer_room_page(reply, page, total, Payload::len, |room, w| {
            w.raw(room.as_bytes());
        });
    }
}
