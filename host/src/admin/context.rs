//! [`AdminContext`]: what every admin endpoint may read or act on.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::admin::access::Access;
use crate::admin::history::History;
use crate::cluster::Cluster;
use crate::config::{AdminConfig, Config};
use crate::drain::Drain;
use crate::metrics::{Gauges, Metrics};
use crate::net::udp::UdpChannel;
use crate::plugins::{PluginRuntime, Reloader};
use crate::rooms::RoomManager;

/// How handlers take the context.
pub type Context = axum::extract::State<Arc<AdminContext>>;

/// What every admin endpoint may read or act on.
pub struct AdminContext {
    /// The whole configuration (shown redacted at `/admin/server`).
    pub config: Arc<Config>,
    /// This node's rooms.
    pub rooms: Arc<RoomManager>,
    /// This node's cluster, when `cluster` is set.
    pub cluster: Option<Arc<Cluster>>,
    /// Loads plugins again.
    pub reloader: Arc<Reloader>,
    /// The plugin runtime (its memory in use and budget).
    pub plugins: Arc<PluginRuntime>,
    /// The UDP channel, when on (its datagram counts).
    pub udp: Option<Arc<UdpChannel>>,
    /// The server's counters.
    pub metrics: Arc<Metrics>,
    /// The node's drain.
    pub drain: Arc<Drain>,
    /// What the monitor page charts.
    pub history: Arc<History>,
    /// Who may call the admin API.
    pub access: Access,
    /// When the server started.
    pub started: Instant,
    /// Cancelled when the server stops: event streams end.
    pub stopping: CancellationToken,
}

impl AdminContext {
    /// The `admin` section (present: the listener runs only with it).
    pub fn admin_config(&self) -> &AdminConfig {
        self.config.admin.as_ref().expect("the admin listener runs with its section")
    }

    /// This node's id in its cluster, when clustered.
    pub fn node(&self) -> Option<&str> {
        self.cluster.as_deref().map(Cluster::node)
    }

    /// The levels `/metrics` reads from their owners.
    pub fn gauges(&self) -> Gauges {
        let budget = self.plugins.memory_total();
        Gauges {
            rooms: self.rooms.census(),
            plugin_memory: (budget.used() as u64, budget.total() as u64),
            udp: self.udp.as_ref().map(|udp| udp.traffic()),
            cluster_up: self.cluster.as_ref().map(|cluster| cluster.is_healthy()),
            draining: self.rooms.is_draining(),
        }
    }
}
