//! The heartbeat: refreshes this node's key every third of
//! `cluster.nodeTtlMs`, reaps dead nodes every half of it, and notices
//! Redis going away and coming back (then the writer writes every room
//! again).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::cluster::node::Node;
use crate::cluster::registry::NodeRecord;

/// Keeps this node's key alive, reaps dead nodes, and notices Redis going
/// away and coming back, until `shutdown`.
pub(crate) async fn run(node: Arc<Node>, shutdown: CancellationToken) {
    let ttl = node.config.node_ttl();
    let mut beats = tokio::time::interval(ttl / 3);
    let mut reaps = tokio::time::interval(ttl / 2);
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    reaps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = beats.tick() => beat(&node).await,
            _ = reaps.tick() => {
                if node.healthy() {
                    reap(&node).await;
                }
            }
        }
    }
}

/// One heartbeat: this node's record with its room count, counted under
/// the load lock, so a creation either is in the count or announces
/// itself after this write.
async fn beat(node: &Node) {
    let _counting = node.load_lock.lock().await;
    let record = NodeRecord {
        address: node.config.advertise_address.clone(),
        ws_address: node.config.advertise_ws_address.clone(),
        rooms: node.rooms.room_load() as u64,
    };
    let started = std::time::Instant::now();
    let draining = node.rooms.is_draining();
    let beat = node.registry.heartbeat(&record, node.config.node_ttl_ms, draining).await;
    node.rooms.metrics().redis_round_trip(started.elapsed());
    match beat {
        Ok(still_registered) => {
            if !node.set_healthy(true) {
                info!("the cluster store is reachable again; writing this node's rooms again");
                node.resync.notify_one();
            } else if !still_registered {
                warn!(
                    node = %node.id,
                    "this node's registration had expired (paused, or Redis lost its data); writing its rooms again"
                );
                node.resync.notify_one();
            }
        }
        Err(err) => {
            if node.set_healthy(false) {
                warn!(%err, "the cluster store is unreachable; serving this node's rooms only");
            }
        }
    }
}

/// Removes dead nodes and their rooms from the registry.
async fn reap(node: &Node) {
    match node.registry.reap().await {
        Ok(reaped) => {
            for (dead, rooms) in reaped {
                info!(node = %dead, rooms, "reaped a dead node: its rooms left the listings");
            }
        }
        Err(err) => debug!(%err, "reaping failed"),
    }
}
