//! Cluster nodes for the tests: server processes sharing one real Redis,
//! each advertising its own TCP port.

use serde_json::json;
use vampire_client::CreateRoom;

use super::{RedisServer, ServerProcess, free_port};

/// The node TTL the tests run with: a dead node's rooms must leave the
/// listings within 1.5 times this, plus one reaper round trip.
pub const TTL_MS: u64 = 1500;

/// Node `id`, with `extra` merged into its `cluster` section.
pub fn node(redis: &RedisServer, id: &str, extra: serde_json::Value) -> ServerProcess {
    node_with(redis, id, extra, json!({}))
}

/// Node `id`, with `extra` in its `cluster` section and `server` merged
/// into the rest of its config.
pub fn node_with(
    redis: &RedisServer,
    id: &str,
    extra: serde_json::Value,
    server: serde_json::Value,
) -> ServerProcess {
    let port = free_port();
    let mut cluster = json!({
        "redisUrl": redis.url(),
        "advertiseAddress": format!("127.0.0.1:{port}"),
        "nodeId": id,
        "nodeTtlMs": TTL_MS,
    });
    if let (Some(cluster), Some(extra)) = (cluster.as_object_mut(), extra.as_object()) {
        cluster.extend(extra.clone());
    }
    let mut config =
        json!({ "tcpPort": port, "wsPort": 0, "enableUDP": false, "cluster": cluster });
    if let (Some(config), Some(server)) = (config.as_object_mut(), server.as_object()) {
        config.extend(server.clone());
    }
    ServerProcess::start(config)
}

/// Nodes `a`, `b` and `c`, with `extra` in their `cluster` sections.
pub fn three_nodes(redis: &RedisServer, extra: serde_json::Value) -> [ServerProcess; 3] {
    ["a", "b", "c"].map(|id| node(redis, id, extra.clone()))
}

/// A room that stays when empty.
pub fn kept_room() -> CreateRoom {
    CreateRoom { auto_dispose: Some(false), ..CreateRoom::default() }
}

/// The node a room id names.
pub fn node_of(room: &str) -> &str {
    room.split_once('-').unwrap().0
}
