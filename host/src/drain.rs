//! [`Drain`]: taking a node out of service for a deploy without cutting
//! its players off. Started by `SIGUSR1` or `POST /admin/drain`, it stops
//! new rooms here (a cluster places them on other nodes), keeps serving
//! the rooms the node holds, fails `/readyz`, and asks the server to stop
//! once no member is left or `admin.drainTimeoutSecs` passed; the members
//! still there are then told `server_shutdown` with [`DRAINED`].

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::cluster::Cluster;
use crate::rooms::RoomManager;

/// What members still in a room are told when a drain ends the server.
pub const DRAINED: &str = "the server is restarting for a deploy; reconnect to another server";

/// How often a drain looks whether the node's rooms are empty.
const CHECK_EVERY: Duration = Duration::from_millis(250);

/// A drain that started: when and who asked.
#[derive(Debug, Clone)]
pub struct Draining {
    /// When it started.
    pub since: SystemTime,
    /// Who started it ("SIGUSR1", or the operator at the admin API).
    pub by: String,
}

/// The node's drain, started at most once.
pub struct Drain {
    rooms: Arc<RoomManager>,
    cluster: Option<Arc<Cluster>>,
    timeout: Duration,
    started: OnceLock<Draining>,
    /// Cancelled when the drain is over: the server should stop now.
    over: CancellationToken,
    /// Set when a drain ends the server: what its clients are told.
    farewell: Arc<OnceLock<&'static str>>,
}

impl std::fmt::Debug for Drain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drain").field("started", &self.started.get()).finish_non_exhaustive()
    }
}

impl Drain {
    /// The drain of the node holding `rooms` (in `cluster`, when set),
    /// which waits at most `timeout` for its rooms to empty; it sets
    /// `farewell` before it asks the server to stop.
    pub fn new(
        rooms: Arc<RoomManager>,
        cluster: Option<Arc<Cluster>>,
        timeout: Duration,
        farewell: Arc<OnceLock<&'static str>>,
    ) -> Drain {
        Drain {
            rooms,
            cluster,
            timeout,
            started: OnceLock::new(),
            over: CancellationToken::new(),
            farewell,
        }
    }

    /// Starts draining, for `by`; returns `false` when a drain had
    /// already started (it goes on, as it was).
    pub fn start(self: &Arc<Self>, by: &str) -> bool {
        let draining = Draining { since: SystemTime::now(), by: by.to_owned() };
        if self.started.set(draining).is_err() {
            return false;
        }
        self.rooms.start_draining();
        let members = self.rooms.member_total();
        info!(
            by,
            members,
            timeout_secs = self.timeout.as_secs(),
            "draining for a deploy: no new rooms; the server stops when its rooms are empty"
        );
        tokio::spawn(self.clone().wait_until_empty());
        true
    }

    /// The drain, once started.
    pub fn state(&self) -> Option<&Draining> {
        self.started.get()
    }

    /// Completes once a drain is over and the server should stop.
    pub async fn over(&self) {
        self.over.cancelled().await;
    }

    async fn wait_until_empty(self: Arc<Self>) {
        if let Some(cluster) = &self.cluster {
            cluster.withdraw().await;
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut checks = tokio::time::interval(CHECK_EVERY);
        loop {
            checks.tick().await;
            let members = self.rooms.member_total();
            if members == 0 {
                info!("drained: no member is left");
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                info!(
                    members,
                    "the drain timed out: the members left are told the server is going"
                );
                break;
            }
        }
        let _ = self.farewell.set(DRAINED);
        self.over.cancel();
    }
}
