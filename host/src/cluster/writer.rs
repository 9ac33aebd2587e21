//! The listing writer: copies this node's room listings to Redis as they
//! change, and all of them again after an outage, a lost registration or
//! a failed write.
//!
//! A change is written at once, unless the last write was less than
//! [`WRITE_EVERY`] ago: then together with whatever else changed
//! meanwhile. So a new room is listed about one Redis round trip after its
//! creation, and a busy room costs at most one write per [`WRITE_EVERY`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::debug;
use vampire_protocol::RoomId;

use crate::cluster::node::Node;

/// How often, at most, the writer copies changed listings to Redis.
pub(crate) const WRITE_EVERY: Duration = Duration::from_millis(50);

/// Copies listings to Redis as the ids on `listings` say they changed;
/// everything again when the node's `resync` is notified; until
/// `shutdown`.
pub(crate) async fn run(
    node: Arc<Node>,
    mut listings: mpsc::UnboundedReceiver<RoomId>,
    shutdown: CancellationToken,
) {
    let mut dirty: HashSet<RoomId> = HashSet::new();
    // Rooms this node has written and their types, to remove them.
    let mut written: HashMap<RoomId, String> = HashMap::new();
    let mut full = false;
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
            () = node.resync.notified() => full = true,
            () = tokio::time::sleep_until(due), if pending => {}
        }
        if tokio::time::Instant::now() < due || !full && dirty.is_empty() {
            continue;
        }
        while let Ok(room) = listings.try_recv() {
            dirty.insert(room);
        }
        last_write = tokio::time::Instant::now();
        if !node.healthy() {
            // Written in full once Redis is back.
            dirty.clear();
            continue;
        }
        if full {
            dirty.clear();
            full = write_all(&node, &mut written).await.is_err();
        } else {
            let changed: Vec<RoomId> = dirty.drain().collect();
            full = write_changed(&node, changed, &mut written).await.is_err();
        }
    }
}

/// Writes the listings of the rooms in `changed` that are alive and
/// removes those of the others.
async fn write_changed(
    node: &Node,
    changed: Vec<RoomId>,
    written: &mut HashMap<RoomId, String>,
) -> redis::RedisResult<()> {
    let mut live = Vec::new();
    let mut gone = HashMap::new();
    for room in changed {
        match node.rooms.get(&room) {
            Ok(handle) => live.push(handle),
            Err(_) => {
                if let Some(room_type) = written.remove(&room) {
                    gone.insert(room, room_type);
                }
            }
        }
    }
    for handle in &live {
        written.insert(handle.id().clone(), handle.room_type());
    }
    node.registry.write_rooms(&live, &gone).await
}

/// Writes every live room and removes whatever the registry lists for
/// this node that is no longer alive.
async fn write_all(node: &Node, written: &mut HashMap<RoomId, String>) -> redis::RedisResult<()> {
    let live = node.rooms.rooms();
    let live_ids: HashSet<&RoomId> = live.iter().map(|handle| handle.id()).collect();
    let mut gone = node.registry.registered_rooms().await?;
    gone.retain(|room, _| !live_ids.contains(room));
    for (room, room_type) in written.drain() {
        if !live_ids.contains(&room) {
            gone.insert(room, room_type);
        }
    }
    node.registry.write_rooms(&live, &gone).await?;
    written.extend(live.iter().map(|handle| (handle.id().clone(), handle.room_type())));
    debug!(rooms = live.len(), removed = gone.len(), "wrote every room of this node");
    Ok(())
}
