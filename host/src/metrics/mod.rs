//! Monitoring: [`Metrics`], the counters and distributions the server
//! keeps about itself, and their Prometheus text exposition
//! ([`Metrics::render`]), which the admin listener serves at `/metrics`.
//!
//! Every counter is an atomic and every distribution a [`Histogram`] of
//! atomic buckets: the hot paths (requests, deliveries, bytes, plugin
//! calls) pay an atomic addition, never a lock. Labels are bounded: an
//! operation, an error code, a room type (one per plugin file), a hook, a
//! reason from a fixed list; never a room or a user. What is a level
//! rather than a count (rooms and members by type, plugin memory) is read
//! from its owner at each scrape ([`Gauges`]).
//!
//! Metrics are kept only when the admin listener is on
//! ([`Metrics::new`] with `enabled`); off, every `record` returns at once.
//!
//! # Layout
//! - this module: [`Metrics`], the per-room-type [`TypeMetrics`], the
//!   label lists, and [`Gauges`].
//! - `families`: [`FAMILIES`], every family's name and help (which
//!   `docs/OPERATIONS.md` must list).
//! - `exposition`: the text encoder.
//! - [`histogram`] holds [`Histogram`].

mod exposition;
mod families;
pub mod histogram;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use families::FAMILIES;
pub use histogram::Histogram;
use vampire_abi::Hook;
use vampire_protocol::{ErrorCode, Request};

use crate::lock::lock;

/// Operations counted: every op, and one more for frames that do not
/// decode.
const OPS: usize = Request::OP_COUNT + 1;

/// Outcomes counted: success, and every error code.
const OUTCOMES: usize = ErrorCode::ALL.len() + 2;

/// Why a connection was refused as it was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `limits.maxConnections` were open.
    MaxConnections,
    /// `limits.maxConnectionsPerAddress` were open from its address.
    MaxPerAddress,
}

impl Refusal {
    const ALL: [Refusal; 2] = [Refusal::MaxConnections, Refusal::MaxPerAddress];

    fn label(self) -> &'static str {
        match self {
            Refusal::MaxConnections => "max_connections",
            Refusal::MaxPerAddress => "max_per_address",
        }
    }
}

/// Why a connection failed to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Its token was refused (forged, malformed, expired, wrong audience).
    TokenRefused,
    /// It sent something else first.
    NotFirst,
    /// Its token expired while it was connected.
    Expired,
}

impl AuthFailure {
    const ALL: [AuthFailure; 3] =
        [AuthFailure::TokenRefused, AuthFailure::NotFirst, AuthFailure::Expired];

    fn label(self) -> &'static str {
        match self {
            AuthFailure::TokenRefused => "token_refused",
            AuthFailure::NotFirst => "not_first",
            AuthFailure::Expired => "expired",
        }
    }
}

/// How a plugin call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginFailure {
    /// A trap: a panic, `unreachable`, a bad memory access or reply.
    Trap,
    /// It ran past its time budget.
    Timeout,
    /// It needed more memory than its cap or the shared budget allow.
    OutOfMemory,
}

impl PluginFailure {
    const ALL: [PluginFailure; 3] =
        [PluginFailure::Trap, PluginFailure::Timeout, PluginFailure::OutOfMemory];

    fn label(self) -> &'static str {
        match self {
            PluginFailure::Trap => "trap",
            PluginFailure::Timeout => "timeout",
            PluginFailure::OutOfMemory => "out_of_memory",
        }
    }
}

/// What one room type's rooms and plugin did.
#[derive(Debug, Default)]
pub struct TypeMetrics {
    enabled: bool,
    rooms_created: AtomicU64,
    /// Plugin call durations, by [`Hook::index`].
    calls: [Histogram; Hook::ALL.len()],
    /// Failed plugin calls, by [`PluginFailure`].
    failures: [AtomicU64; 3],
}

impl TypeMetrics {
    /// Counts a room of the type created.
    pub fn room_created(&self) {
        if self.enabled {
            self.rooms_created.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a plugin call of `hook` that ran `elapsed`.
    pub fn plugin_call(&self, hook: Hook, elapsed: Duration) {
        if self.enabled {
            self.calls[hook.index()].observe(elapsed);
        }
    }

    /// Counts a plugin call that failed.
    pub fn plugin_failure(&self, kind: PluginFailure) {
        if self.enabled {
            self.failures[kind as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether the metrics are kept (timing a call costs a clock read).
    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

/// The levels read from their owners at each scrape.
#[derive(Debug, Default, Clone)]
pub struct Gauges {
    /// Room type → (rooms, members) now.
    pub rooms: BTreeMap<String, (u64, u64)>,
    /// Plugin memory held now and the budget, in bytes.
    pub plugin_memory: (u64, u64),
    /// UDP datagrams (when the UDP channel is on).
    pub udp: Option<UdpTraffic>,
    /// Whether Redis answers this node (in a cluster).
    pub cluster_up: Option<bool>,
    /// Whether the node is draining.
    pub draining: bool,
}

/// What the UDP channel received, sent and dropped.
#[derive(Debug, Default, Clone)]
pub struct UdpTraffic {
    /// Datagrams received.
    pub received: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams dropped, by reason.
    pub dropped: Vec<(&'static str, u64)>,
}

/// The server's counters and distributions.
#[derive(Debug)]
pub struct Metrics {
    enabled: bool,
    started: Instant,
    connections_open: AtomicI64,
    connections_accepted: AtomicU64,
    connections_refused: [AtomicU64; 2],
    tls_handshakes_failed: AtomicU64,
    sessions_authenticated: AtomicU64,
    auth_failures: [AtomicU64; 3],
    /// Requests by operation (its place in `Request::ops`, then one for
    /// frames that do not decode) and outcome (0 for success, then the
    /// error code's place plus one).
    requests: Box<[[AtomicU64; OUTCOMES]]>,
    rate_limited: AtomicU64,
    messages: AtomicU64,
    deliveries: AtomicU64,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
    slow_consumers: AtomicU64,
    unreliable_dropped: AtomicU64,
    reloads: [AtomicU64; 2],
    reload_seconds: Histogram,
    redis_seconds: Histogram,
    redirects: AtomicU64,
    reservations: AtomicU64,
    forwarded: AtomicU64,
    placement_failures: AtomicU64,
    matched_rooms_created: AtomicU64,
    matches: AtomicU64,
    ticket_timeouts: AtomicU64,
    /// Per room type, created on a type's first room or load (the lock
    /// is taken then and at scrapes, not on the hot path).
    types: Mutex<BTreeMap<String, Arc<TypeMetrics>>>,
}

macro_rules! counters {
    ($($(#[$meta:meta])* $name:ident => $field:ident;)*) => {$(
        $(#[$meta])*
        pub fn $name(&self) {
            if self.enabled {
                self.$field.fetch_add(1, Ordering::Relaxed);
            }
        }
    )*};
}

impl Metrics {
    /// Metrics that are kept when `enabled` (the admin listener is on),
    /// else not.
    pub fn new(enabled: bool) -> Metrics {
        Metrics {
            enabled,
            started: Instant::now(),
            connections_open: AtomicI64::new(0),
            connections_accepted: AtomicU64::new(0),
            connections_refused: Default::default(),
            tls_handshakes_failed: AtomicU64::new(0),
            sessions_authenticated: AtomicU64::new(0),
            auth_failures: Default::default(),
            requests: (0..OPS).map(|_| std::array::from_fn(|_| AtomicU64::new(0))).collect(),
            rate_limited: AtomicU64::new(0),
            messages: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            slow_consumers: AtomicU64::new(0),
            unreliable_dropped: AtomicU64::new(0),
            reloads: Default::default(),
            reload_seconds: Histogram::default(),
            redis_seconds: Histogram::default(),
            redirects: AtomicU64::new(0),
            reservations: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            placement_failures: AtomicU64::new(0),
            matched_rooms_created: AtomicU64::new(0),
            matches: AtomicU64::new(0),
            ticket_timeouts: AtomicU64::new(0),
            types: Mutex::default(),
        }
    }

    /// Metrics that are never kept (tests, benchmarks, a room's stand-in
    /// state): one shared instance, so asking for it allocates nothing.
    pub fn off() -> Arc<Metrics> {
        static OFF: std::sync::LazyLock<Arc<Metrics>> =
            std::sync::LazyLock::new(|| Arc::new(Metrics::new(false)));
        OFF.clone()
    }

    /// Whether they are kept.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The metrics of room type `name`.
    pub fn for_type(&self, name: &str) -> Arc<TypeMetrics> {
        let mut types = lock(&self.types);
        types
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(TypeMetrics { enabled: self.enabled, ..TypeMetrics::default() })
            })
            .clone()
    }

    counters! {
        /// Counts an accepted connection.
        connection_accepted => connections_accepted;
        /// Counts a failed TLS handshake.
        tls_handshake_failed => tls_handshakes_failed;
        /// Counts an authenticated connection.
        authenticated => sessions_authenticated;
        /// Counts a request refused for its connection's rate.
        rate_limited => rate_limited;
        /// Counts a client disconnected as a slow consumer.
        slow_consumer => slow_consumers;
        /// Counts a join answered with a redirect.
        redirected => redirects;
        /// Counts a seat held for a joiner of another node.
        reserved => reservations;
        /// Counts an operation run for a client of another node.
        forwarded => forwarded;
        /// Counts a room placement on another node that failed.
        placement_failed => placement_failures;
        /// Counts a room a `join_or_create` of this node created.
        matched_room_created => matched_rooms_created;
        /// Counts a match this node's matchmaker formed.
        match_formed => matches;
        /// Counts a ticket that waited its queue's time-out.
        ticket_timed_out => ticket_timeouts;
    }

    /// Counts a connection opened (`+1`) or closed (`-1`).
    pub fn connections_open(&self, change: i64) {
        if self.enabled {
            self.connections_open.fetch_add(change, Ordering::Relaxed);
        }
    }

    /// Counts a connection refused as it came.
    pub fn connection_refused(&self, why: Refusal) {
        if self.enabled {
            self.connections_refused[why as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a connection closed for authentication.
    pub fn auth_failed(&self, why: AuthFailure) {
        if self.enabled {
            self.auth_failures[why as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a request answered: `op` is its place in `Request::ops`
    /// (`None` for a frame that did not decode), `outcome` its error code
    /// (`None` for success).
    pub fn request(&self, op: Option<usize>, outcome: Option<ErrorCode>) {
        if self.enabled {
            let op = op.unwrap_or(OPS - 1).min(OPS - 1);
            let outcome = outcome.map_or(0, |code| code.index() + 1);
            self.requests[op][outcome].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a room message sent to `recipients` members.
    pub fn message(&self, recipients: usize) {
        if self.enabled {
            self.messages.fetch_add(1, Ordering::Relaxed);
            self.deliveries.fetch_add(recipients as u64, Ordering::Relaxed);
        }
    }

    /// Counts bytes read from a client.
    pub fn received(&self, bytes: usize) {
        if self.enabled {
            self.bytes_received.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Counts bytes written to a client.
    pub fn sent(&self, bytes: usize) {
        if self.enabled {
            self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    /// Counts unreliable frames dropped for a client behind.
    pub fn unreliable_dropped(&self, frames: u64) {
        if self.enabled {
            self.unreliable_dropped.fetch_add(frames, Ordering::Relaxed);
        }
    }

    /// Records a plugin file loaded again (`ok`) or refused, after
    /// `elapsed`.
    pub fn reload(&self, ok: bool, elapsed: Duration) {
        if self.enabled {
            self.reloads[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
            if ok {
                self.reload_seconds.observe(elapsed);
            }
        }
    }

    /// Records a heartbeat's round trip to Redis.
    pub fn redis_round_trip(&self, elapsed: Duration) {
        if self.enabled {
            self.redis_seconds.observe(elapsed);
        }
    }

    /// The durations of every plugin call, all room types and hooks
    /// merged (for the monitor page's chart of plugin p99).
    pub fn plugin_calls(&self) -> Histogram {
        let merged = Histogram::default();
        for metrics in lock(&self.types).values() {
            for calls in &metrics.calls {
                merged.add(calls);
            }
        }
        merged
    }

    /// Counters the monitor page charts: connections open and deliveries
    /// so far.
    pub fn totals(&self) -> (i64, u64) {
        (self.connections_open.load(Ordering::Relaxed), self.deliveries.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_is_written_and_off_counts_nothing() {
        let metrics = Metrics::new(true);
        metrics.request(Some(0), None);
        metrics.request(None, Some(ErrorCode::InvalidFrame));
        metrics.message(10);
        metrics.for_type("chat").plugin_call(Hook::Invoke, Duration::from_micros(30));
        let metrics = Arc::new(metrics);
        let text = metrics.render(Gauges::default());
        for (name, _) in FAMILIES {
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
        }
        assert!(text.contains("vampire_requests_total{op=\"join\",outcome=\"ok\"} 1"), "{text}");
        assert!(text.contains("op=\"(unreadable)\",outcome=\"invalid_frame\"} 1"));
        assert!(text.contains("vampire_deliveries_total 10"));
        assert!(
            text.contains(
                "vampire_plugin_call_seconds_count{room_type=\"chat\",hook=\"invoke\"} 1"
            )
        );
        let off = Metrics::off();
        off.message(10);
        assert!(off.render(Gauges::default()).contains("vampire_deliveries_total 0"));
    }
}
