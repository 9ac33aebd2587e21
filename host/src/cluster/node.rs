//! [`Node`]: what every part of this node's cluster membership shares:
//! its id and configuration, the registry, the rooms it holds, its
//! requests to other nodes, and whether Redis answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::cluster::keys::Keys;
use crate::cluster::peers::Peers;
use crate::cluster::registry::{NodeRecord, Registry};
use crate::config::ClusterConfig;
use crate::outbound::ClientLimits;
use crate::rooms::RoomManager;
use crate::rooms::admission::Gate;

/// How long Redis may take to accept a connection or answer a command
/// before the node treats it as unreachable and serves its own rooms.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a node waits between tries to claim its id while a previous
/// run's key is still alive.
const CLAIM_RETRY: Duration = Duration::from_millis(100);

/// This node, as the parts of the cluster see it.
pub(crate) struct Node {
    /// The `cluster` section.
    pub(crate) config: ClusterConfig,
    /// This node's id.
    pub(crate) id: String,
    /// The Redis commands.
    pub(crate) registry: Registry,
    /// For the inbox's own connection (pub/sub needs one of its own).
    pub(crate) pubsub: redis::Client,
    /// The rooms this node holds.
    pub(crate) rooms: Arc<RoomManager>,
    /// The per-client bounds: the largest answer (for what other nodes
    /// ask) and the rooms a connection may own.
    pub(crate) limits: ClientLimits,
    /// Checks the password or invite of a joiner another node sends here
    /// before a seat is held for it.
    pub(crate) gate: Arc<Gate>,
    /// This node's requests to other nodes.
    pub(crate) peers: Peers,
    /// Held while this node writes its load to Redis and while it creates
    /// a room (after counting it there first), so a heartbeat never writes
    /// a count older than a creation already announced.
    pub(crate) load_lock: tokio::sync::Mutex<()>,
    /// Whether Redis answered the last heartbeat.
    healthy: AtomicBool,
    /// Asks the writer to write every room again.
    pub(crate) resync: Notify,
    /// The tasks that serve other nodes' requests, so the node stops
    /// with none running.
    pub(crate) tasks: TaskTracker,
    /// This node's matchmaker, which the tickets' events of its clients
    /// go to (set once, when the server starts).
    pub(crate) matchmaker: std::sync::OnceLock<Arc<crate::matchmaking::Matchmaker>>,
}

impl Node {
    /// Connects to Redis and registers this node, whose rooms `rooms`
    /// holds (their ids get the node's prefix from now on).
    ///
    /// # Errors
    /// When Redis cannot be reached, or a live node already holds the
    /// configured `cluster.nodeId` (after waiting two TTLs for a previous
    /// run of this node to expire).
    pub(crate) async fn connect(
        config: &ClusterConfig,
        rooms: Arc<RoomManager>,
        limits: ClientLimits,
        gate: Arc<Gate>,
    ) -> anyhow::Result<Node> {
        let pubsub = redis::Client::open(config.redis_url.as_str())
            .context("cluster.redisUrl is not a Redis address")?;
        // Commands fail in about a second when Redis is gone, instead of
        // waiting for it: the node then serves its own rooms.
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(REDIS_TIMEOUT / 2);
        let unreachable = |err: redis::RedisError| {
            anyhow::anyhow!("cannot reach Redis (cluster.redisUrl): {err}")
        };
        let redis = ConnectionManager::new_with_config(pubsub.clone(), manager_config)
            .await
            .map_err(unreachable)?;
        let id = match &config.node_id {
            Some(node) => node.clone(),
            None => hex(&random_bytes::<4>()?),
        };
        let registry = Registry::new(redis, Keys::new(&config.key_prefix), id.clone());
        let record = NodeRecord {
            address: config.advertise_address.clone(),
            ws_address: config.advertise_ws_address.clone(),
            rooms: 0,
        };
        // A node restarted right after a crash finds its old key still
        // there: wait for it to expire, but not for another live node.
        let deadline = tokio::time::Instant::now() + config.node_ttl() * 2;
        while !registry.claim(&record, config.node_ttl_ms).await.map_err(unreachable)? {
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!("cluster.nodeId {id:?} is held by another live node");
            }
            tokio::time::sleep(CLAIM_RETRY).await;
        }
        // Request numbers name placement keys, which outlive a restart of
        // this node by up to a minute: each run starts at a random place.
        let first_request = u64::from_le_bytes(random_bytes::<8>()?) >> 1;
        rooms.set_id_prefix(format!("{id}-"));
        info!(node = %id, address = %config.advertise_address, "joined the cluster");
        Ok(Node {
            peers: Peers::new(first_request, config.request_timeout()),
            config: config.clone(),
            id,
            registry,
            pubsub,
            rooms,
            limits,
            gate,
            load_lock: tokio::sync::Mutex::new(()),
            healthy: AtomicBool::new(true),
            resync: Notify::new(),
            tasks: TaskTracker::new(),
            matchmaker: std::sync::OnceLock::new(),
        })
    }

    /// Where clients reach live node `node` (TCP, and WebSocket when it
    /// says); `None` when it is not live or Redis cannot say.
    pub(crate) async fn address_of(&self, node: &str) -> Option<(String, Option<String>)> {
        let record = self.registry.node_record(node).await.ok().flatten()?;
        Some((record.address, record.ws_address))
    }

    /// Whether Redis answered the last heartbeat.
    pub(crate) fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Records whether Redis answered; returns what it was before.
    pub(crate) fn set_healthy(&self, healthy: bool) -> bool {
        self.healthy.swap(healthy, Ordering::Relaxed)
    }
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
