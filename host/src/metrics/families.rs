//! [`FAMILIES`]: every metric family's name and help text, in the order
//! the exposition writes them.

/// Every metric family: its name and what it counts. `docs/OPERATIONS.md`
/// lists each (a test checks both ways), and [`Metrics::render`] writes
/// each (a test checks that too).
pub const FAMILIES: &[(&str, &str)] = &[
    ("vampire_up_seconds", "Seconds since the server started."),
    ("vampire_draining", "1 while the node drains for a deploy: it takes no new rooms."),
    ("vampire_connections_open", "Client connections open now."),
    ("vampire_connections_accepted_total", "Client connections accepted."),
    ("vampire_connections_refused_total", "Client connections refused as they came, by reason."),
    (
        "vampire_tls_handshakes_failed_total",
        "TLS handshakes that failed (a plain client on the TLS port, a bad certificate).",
    ),
    ("vampire_sessions_authenticated_total", "Connections that authenticated with a valid token."),
    ("vampire_sessions_auth_failed_total", "Connections closed for authentication, by reason."),
    (
        "vampire_requests_total",
        "Requests answered, by operation and outcome (ok or the error code).",
    ),
    ("vampire_rate_limited_total", "Requests refused for their connection's rate."),
    ("vampire_messages_total", "Room messages sent by rooms (relayed or their own)."),
    (
        "vampire_deliveries_total",
        "Room messages handed to members (a message to ten members is ten).",
    ),
    ("vampire_bytes_received_total", "Bytes read from client connections."),
    ("vampire_bytes_sent_total", "Bytes written to client connections."),
    (
        "vampire_slow_consumers_total",
        "Clients disconnected because their outbound queue filled up.",
    ),
    ("vampire_unreliable_dropped_total", "Unreliable frames dropped for clients that fell behind."),
    ("vampire_rooms", "Rooms alive now, by room type."),
    ("vampire_members", "Members of rooms now, by room type."),
    ("vampire_rooms_created_total", "Rooms created, by room type."),
    ("vampire_plugin_call_seconds", "Running time of plugin calls, by room type and hook."),
    ("vampire_plugin_failures_total", "Plugin calls that failed, by room type and kind."),
    ("vampire_plugin_memory_bytes", "Linear memory all plugin rooms hold now."),
    (
        "vampire_plugin_memory_budget_bytes",
        "The memory budget all plugin rooms share (limits.pluginMemoryTotalBytes).",
    ),
    ("vampire_plugin_reloads_total", "Plugin files loaded again after a change, by outcome."),
    ("vampire_plugin_reload_seconds", "Time from a changed plugin file to its rooms swapped."),
    ("vampire_udp_datagrams_received_total", "UDP datagrams received."),
    ("vampire_udp_datagrams_sent_total", "UDP datagrams sent."),
    ("vampire_udp_datagrams_dropped_total", "UDP datagrams dropped, by reason."),
    (
        "vampire_cluster_node_up",
        "1 while the cluster store (Redis) answers this node's heartbeats.",
    ),
    ("vampire_cluster_redis_seconds", "Round trip of this node's heartbeat to Redis."),
    (
        "vampire_cluster_redirects_total",
        "Joins answered with a redirect to another node, a seat held there.",
    ),
    (
        "vampire_cluster_reservations_total",
        "Seats this node held for joiners other nodes redirected here.",
    ),
    (
        "vampire_cluster_forwarded_total",
        "Room operations this node ran for clients of other nodes.",
    ),
    (
        "vampire_cluster_placement_failures_total",
        "Room placements on another node that failed or timed out.",
    ),
    (
        "vampire_join_or_create_rooms_created_total",
        "Rooms join_or_create requests of this node created (no room had a seat).",
    ),
    ("vampire_matchmaker_matches_total", "Matches this node's matchmaker formed."),
    (
        "vampire_matchmaker_timeouts_total",
        "Tickets that waited their queue's time-out without a match.",
    ),
];
