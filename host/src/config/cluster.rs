//! `cluster`: this node's place in a cluster of servers sharing rooms
//! through Redis (see `docs/ARCHITECTURE.md`, "Cluster").

use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::config::checks::{name, positive};
use crate::config::error::ConfigError;

/// Default of [`ClusterConfig::key_prefix`].
pub const DEFAULT_KEY_PREFIX: &str = "vampire";
/// Default of [`ClusterConfig::node_ttl_ms`].
pub const DEFAULT_NODE_TTL_MS: u64 = 6000;
/// Shortest [`ClusterConfig::node_ttl_ms`] accepted.
pub const MIN_NODE_TTL_MS: u64 = 300;
/// Default of [`ClusterConfig::reservation_ttl_secs`].
pub const DEFAULT_RESERVATION_TTL_SECS: u64 = 15;
/// Default of [`ClusterConfig::reservations_per_connection`].
pub const DEFAULT_RESERVATIONS_PER_CONNECTION: usize = 4;
/// Default of [`ClusterConfig::request_timeout_ms`].
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 2000;
/// Longest [`ClusterConfig::node_id`] accepted, in bytes.
pub const MAX_NODE_ID_BYTES: usize = 32;
/// Longest [`ClusterConfig::key_prefix`] accepted, in bytes.
pub const MAX_KEY_PREFIX_BYTES: usize = 64;

/// Whether `address` is `host:port`, with a host and a port number.
fn is_host_and_port(address: &str) -> bool {
    address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// `cluster`: this node's place in a cluster of servers sharing rooms
/// through Redis.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    /// The Redis server, as `redis://[user:password@]host:port[/db]`.
    /// Required. Shown with its password left out.
    #[serde(serialize_with = "without_password")]
    pub redis_url: String,
    /// Where clients reach this node (`host:port` of its TCP port), given
    /// to clients redirected here. Required.
    pub advertise_address: String,
    /// Where WebSocket clients reach this node (`host:port` of its
    /// WebSocket port), given to them in redirects beside
    /// `advertiseAddress`; a browser cannot follow a redirect without it.
    /// Default: none.
    #[serde(default)]
    pub advertise_ws_address: Option<String>,
    /// This node's name in the cluster: 1 to [`MAX_NODE_ID_BYTES`]
    /// letters, digits or `_`; every room id starts with it. Default: 8
    /// random hex digits, new at each start.
    #[serde(default)]
    pub node_id: Option<String>,
    /// What every key and channel of the cluster starts with, so several
    /// clusters can share one Redis. Default [`DEFAULT_KEY_PREFIX`].
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// A node is alive while its key, refreshed every third of this, has
    /// not expired; a dead node's rooms leave listings within 1.5 times
    /// this. At least [`MIN_NODE_TTL_MS`]. Default [`DEFAULT_NODE_TTL_MS`].
    #[serde(default = "default_node_ttl_ms")]
    pub node_ttl_ms: u64,
    /// How long a seat reservation (a redirect) holds its place. Default
    /// [`DEFAULT_RESERVATION_TTL_SECS`].
    #[serde(default = "default_reservation_ttl_secs", deserialize_with = "positive")]
    pub reservation_ttl_secs: u64,
    /// Seat reservations one connection may hold at once (being asked
    /// for, or granted and not expired); one more join of a room on
    /// another node is refused with `quota_exceeded`. Default
    /// [`DEFAULT_RESERVATIONS_PER_CONNECTION`].
    #[serde(default = "default_reservations_per_connection", deserialize_with = "positive")]
    pub reservations_per_connection: usize,
    /// How long a node waits for another to create a room, reserve a seat
    /// or run an operation before it gives up on it. Default
    /// [`DEFAULT_REQUEST_TIMEOUT_MS`].
    #[serde(default = "default_request_timeout_ms", deserialize_with = "positive")]
    pub request_timeout_ms: u64,
}

fn default_key_prefix() -> String {
    DEFAULT_KEY_PREFIX.to_owned()
}

fn default_node_ttl_ms() -> u64 {
    DEFAULT_NODE_TTL_MS
}

fn default_reservation_ttl_secs() -> u64 {
    DEFAULT_RESERVATION_TTL_SECS
}

fn default_reservations_per_connection() -> usize {
    DEFAULT_RESERVATIONS_PER_CONNECTION
}

fn default_request_timeout_ms() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_MS
}

/// A Redis address with the password of its user part replaced.
fn without_password<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?))) {
        Some((scheme, (user, host))) => {
            let user = user.split_once(':').map_or(user, |(user, _)| user);
            serializer.serialize_str(&format!("{scheme}://{user}:(redacted)@{host}"))
        }
        None => serializer.serialize_str(url),
    }
}

impl ClusterConfig {
    /// [`ClusterConfig::node_ttl_ms`] as a duration.
    pub fn node_ttl(&self) -> Duration {
        Duration::from_millis(self.node_ttl_ms)
    }

    /// [`ClusterConfig::reservation_ttl_secs`] as a duration.
    pub fn reservation_ttl(&self) -> Duration {
        Duration::from_secs(self.reservation_ttl_secs)
    }

    /// [`ClusterConfig::request_timeout_ms`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// Checks the section's values.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a bad node id, Redis address,
    /// advertised address or key prefix, or too short a node TTL.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::invalid(origin, field, message);
        let valid_id = |id: &str| {
            (1..=MAX_NODE_ID_BYTES).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if self.node_id.as_deref().is_some_and(|id| !valid_id(id)) {
            let why = format!("must be 1 to {MAX_NODE_ID_BYTES} letters, digits or `_`");
            return Err(invalid(name!("cluster", node_id), why));
        }
        if !self.redis_url.starts_with("redis://") {
            let why = "must start with redis:// (redis://host:port)".to_owned();
            return Err(invalid(name!("cluster", redis_url), why));
        }
        if !is_host_and_port(&self.advertise_address) {
            let why = "must be host:port, where clients reach this node".to_owned();
            return Err(invalid(name!("cluster", advertise_address), why));
        }
        if self.advertise_ws_address.as_deref().is_some_and(|address| !is_host_and_port(address)) {
            let why = "must be host:port, where WebSocket clients reach this node".to_owned();
            return Err(invalid(name!("cluster", advertise_ws_address), why));
        }
        if self.key_prefix.is_empty() || self.key_prefix.len() > MAX_KEY_PREFIX_BYTES {
            let why = format!("must have 1 to {MAX_KEY_PREFIX_BYTES} bytes");
            return Err(invalid(name!("cluster", key_prefix), why));
        }
        if self.node_ttl_ms < MIN_NODE_TTL_MS {
            let why = format!("must be at least {MIN_NODE_TTL_MS}");
            return Err(invalid(name!("cluster", node_ttl_ms), why));
        }
        Ok(())
    }
}
