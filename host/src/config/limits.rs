//! `limits`: what one client, room or plugin may consume, each with its
//! default as a named constant.
//!
//! The section's keys stay flat in the JSON (operators' files keep
//! working); its rules are checked by concern: frames and queues,
//! variables, plugins.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::checks::{name, positive};
use crate::config::error::ConfigError;

/// Largest frame the server can be configured to accept (16 MiB): a bound
/// on the memory one connection can make the server hold for one frame.
pub const MAX_FRAME_BYTES_CEILING: usize = 16 * 1024 * 1024;

/// Smallest frame the server can be configured to accept.
pub const MIN_FRAME_BYTES: usize = 64;

/// What `limits.maxOutboundFrameBytes` must leave beyond
/// `limits.maxRoomVariableBytes` for the rest of a join result (the room's
/// description and member list): 128 KiB.
pub const MIN_OUTBOUND_FRAME_MARGIN: usize = 128 * 1024;

/// Default of [`Limits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Default of [`Limits::max_connections_per_address`].
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 1_024;

/// Default of [`Limits::max_rooms`].
pub const DEFAULT_MAX_ROOMS: usize = 10_000;

/// Default of [`Limits::max_frame_bytes`].
pub const DEFAULT_MAX_FRAME_BYTES: usize = 65_536;

/// Default of [`Limits::max_outbound_frame_bytes`] (1 MiB).
pub const DEFAULT_MAX_OUTBOUND_FRAME_BYTES: usize = 1 << 20;

/// Default of [`Limits::max_clients_per_room`].
pub const DEFAULT_MAX_CLIENTS_PER_ROOM: u32 = 1_000;

/// Default of [`Limits::outbound_queue_frames`].
pub const DEFAULT_OUTBOUND_QUEUE_FRAMES: usize = 4_096;

/// Default of [`Limits::outbound_queue_bytes`] (4 MiB).
pub const DEFAULT_OUTBOUND_QUEUE_BYTES: usize = 4 << 20;

/// Default of [`Limits::unreliable_queue_bytes`] (256 KiB).
pub const DEFAULT_UNRELIABLE_QUEUE_BYTES: usize = 256 << 10;

/// Default of [`Limits::room_mailbox`].
pub const DEFAULT_ROOM_MAILBOX: usize = 4_096;

/// Default of [`Limits::max_room_variables`].
pub const DEFAULT_MAX_ROOM_VARIABLES: usize = 1_024;

/// Default of [`Limits::max_room_variable_bytes`] (512 KiB).
pub const DEFAULT_MAX_ROOM_VARIABLE_BYTES: usize = 512 << 10;

/// Default of [`Limits::max_variable_bytes`].
pub const DEFAULT_MAX_VARIABLE_BYTES: usize = 65_536;

/// Default of [`Limits::max_variable_name_bytes`].
pub const DEFAULT_MAX_VARIABLE_NAME_BYTES: usize = 128;

/// Default of [`Limits::max_listed_metadata_bytes`].
pub const DEFAULT_MAX_LISTED_METADATA_BYTES: usize = 4_096;

/// Default of [`Limits::pending_join_bytes`] (256 KiB).
pub const DEFAULT_PENDING_JOIN_BYTES: usize = 256 << 10;

/// Default of [`Limits::unjoined_room_timeout_secs`].
pub const DEFAULT_UNJOINED_ROOM_TIMEOUT_SECS: u64 = 60;

/// Default of [`Limits::orphan_room_timeout_secs`].
pub const DEFAULT_ORPHAN_ROOM_TIMEOUT_SECS: u64 = 300;

/// Default of [`Limits::max_rooms_per_connection`].
pub const DEFAULT_MAX_ROOMS_PER_CONNECTION: usize = 16;

/// Default of [`Limits::max_joined_rooms_per_connection`].
pub const DEFAULT_MAX_JOINED_ROOMS_PER_CONNECTION: usize = 64;

/// Default of [`Limits::requests_per_second`].
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 300;

/// Default of [`Limits::request_burst`].
pub const DEFAULT_REQUEST_BURST: u32 = 600;

/// Default of [`Limits::handshake_timeout_secs`].
pub const DEFAULT_HANDSHAKE_TIMEOUT_SECS: u64 = 10;

/// Default of [`Limits::idle_timeout_secs`].
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;

/// Default of [`Limits::frame_timeout_secs`].
pub const DEFAULT_FRAME_TIMEOUT_SECS: u64 = 10;

/// Default of [`Limits::plugin_call_timeout_ms`].
pub const DEFAULT_PLUGIN_CALL_TIMEOUT_MS: u64 = 200;

/// Default of [`Limits::plugin_cpu_percent`].
pub const DEFAULT_PLUGIN_CPU_PERCENT: u32 = 50;

/// Default of [`Limits::plugin_memory_bytes`] (16 MiB).
pub const DEFAULT_PLUGIN_MEMORY_BYTES: usize = 16 << 20;

/// Default of [`Limits::plugin_memory_total_bytes`] (2 GiB: about 10 000 rooms of the example plugins, which start at 192 KiB).
pub const DEFAULT_PLUGIN_MEMORY_TOTAL_BYTES: usize = 2 << 30;

/// Default of [`Limits::plugin_failures_to_close`].
pub const DEFAULT_PLUGIN_FAILURES_TO_CLOSE: u32 = 5;

/// Default of [`Limits::plugin_failure_window_secs`].
pub const DEFAULT_PLUGIN_FAILURE_WINDOW_SECS: u64 = 60;

/// Default of [`Limits::plugin_log_lines_per_second`].
pub const DEFAULT_PLUGIN_LOG_LINES_PER_SECOND: u32 = 20;

/// Default of [`Limits::plugin_threads`].
pub const DEFAULT_PLUGIN_THREADS: usize = 0;

/// Default of [`Limits::shutdown_grace_secs`].
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 5;

/// Default of [`Limits::udp_key_lifetime_secs`].
pub const DEFAULT_UDP_KEY_LIFETIME_SECS: u64 = 3_600;

/// Resource limits: what one client, room or plugin may consume. Each
/// field's default is the constant named on it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Limits {
    /// Connections served at once; one more is told `server_busy` and closed.
    /// Default [`DEFAULT_MAX_CONNECTIONS`].
    #[serde(deserialize_with = "positive")]
    pub max_connections: usize,
    /// Connections served at once from one client address; one more is told
    /// `server_busy` and closed. Default
    /// [`DEFAULT_MAX_CONNECTIONS_PER_ADDRESS`].
    #[serde(deserialize_with = "positive")]
    pub max_connections_per_address: usize,
    /// Rooms alive at once; `create_room` beyond it fails with `server_busy`.
    /// Default [`DEFAULT_MAX_ROOMS`].
    #[serde(deserialize_with = "positive")]
    pub max_rooms: usize,
    /// Largest frame body a client may send, in bytes (64 to 16 MiB); a longer
    /// one closes the connection (`frame_too_large`). Default
    /// [`DEFAULT_MAX_FRAME_BYTES`].
    pub max_frame_bytes: usize,
    /// Largest frame the server sends, in bytes; an answer that would be longer
    /// is refused with `response_too_large` before it is built, and an event
    /// that would be longer is not sent (a plugin's call fails). Default
    /// [`DEFAULT_MAX_OUTBOUND_FRAME_BYTES`].
    pub max_outbound_frame_bytes: usize,
    /// Upper bound on any room's `max_clients`. Default
    /// [`DEFAULT_MAX_CLIENTS_PER_ROOM`].
    #[serde(deserialize_with = "positive")]
    pub max_clients_per_room: u32,
    /// Frames (or batches of frames) queued for one client before it counts as
    /// too slow and is disconnected (`slow_consumer`). Default
    /// [`DEFAULT_OUTBOUND_QUEUE_FRAMES`].
    #[serde(deserialize_with = "positive")]
    pub outbound_queue_frames: usize,
    /// Bytes queued for one client before it counts as too slow and is
    /// disconnected (`slow_consumer`). Default
    /// [`DEFAULT_OUTBOUND_QUEUE_BYTES`].
    pub outbound_queue_bytes: usize,
    /// Bytes queued for one client past which unreliable data to it (UDP's
    /// fallback over the connection) is dropped, oldest first, and counted,
    /// instead of queued; it never disconnects anyone. At most
    /// `outboundQueueBytes`. Default [`DEFAULT_UNRELIABLE_QUEUE_BYTES`].
    #[serde(deserialize_with = "positive")]
    pub unreliable_queue_bytes: usize,
    /// Commands queued for one room before senders wait. Default
    /// [`DEFAULT_ROOM_MAILBOX`].
    #[serde(deserialize_with = "positive")]
    pub room_mailbox: usize,
    /// Variables one room may hold; a new one past it is refused with
    /// `variable_limit`. Default [`DEFAULT_MAX_ROOM_VARIABLES`].
    #[serde(deserialize_with = "positive")]
    pub max_room_variables: usize,
    /// Bytes of variable names and values one room may hold together. Default
    /// [`DEFAULT_MAX_ROOM_VARIABLE_BYTES`].
    #[serde(deserialize_with = "positive")]
    pub max_room_variable_bytes: usize,
    /// Largest value of one variable, in bytes of MessagePack. Default
    /// [`DEFAULT_MAX_VARIABLE_BYTES`].
    #[serde(deserialize_with = "positive")]
    pub max_variable_bytes: usize,
    /// Longest variable name, in bytes. Default
    /// [`DEFAULT_MAX_VARIABLE_NAME_BYTES`].
    #[serde(deserialize_with = "positive")]
    pub max_variable_name_bytes: usize,
    /// Largest room metadata, in bytes of MessagePack: every listing and room
    /// info carries it, so it is kept small; `create_room` past it is
    /// `invalid_request`, a plugin's `room_set_metadata` is refused. Default
    /// [`DEFAULT_MAX_LISTED_METADATA_BYTES`].
    #[serde(deserialize_with = "positive")]
    pub max_listed_metadata_bytes: usize,
    /// Bytes a room may send a joiner while its join is being decided (held
    /// until the join response); past it the join fails with `plugin_error`.
    /// Default [`DEFAULT_PENDING_JOIN_BYTES`].
    #[serde(deserialize_with = "positive")]
    pub pending_join_bytes: usize,
    /// A room nobody has joined this long after its creation is deleted (when
    /// it auto-disposes). Default [`DEFAULT_UNJOINED_ROOM_TIMEOUT_SECS`].
    pub unjoined_room_timeout_secs: u64,
    /// A room that does not auto-dispose is deleted once it has been empty this
    /// long after its creator disconnected. Default
    /// [`DEFAULT_ORPHAN_ROOM_TIMEOUT_SECS`].
    pub orphan_room_timeout_secs: u64,
    /// Rooms one connection may have created and still alive; more are refused
    /// with `quota_exceeded`. Default [`DEFAULT_MAX_ROOMS_PER_CONNECTION`].
    #[serde(deserialize_with = "positive")]
    pub max_rooms_per_connection: usize,
    /// Rooms one connection may be a member of at once; more are refused with
    /// `quota_exceeded`. Default [`DEFAULT_MAX_JOINED_ROOMS_PER_CONNECTION`].
    #[serde(deserialize_with = "positive")]
    pub max_joined_rooms_per_connection: usize,
    /// Requests one connection may send per second on average; more are refused
    /// with `rate_limited`. Default [`DEFAULT_REQUESTS_PER_SECOND`].
    #[serde(deserialize_with = "positive")]
    pub requests_per_second: u32,
    /// Requests one connection may send in a burst above the rate. Default
    /// [`DEFAULT_REQUEST_BURST`].
    #[serde(deserialize_with = "positive")]
    pub request_burst: u32,
    /// A new connection must send its first complete frame within this many
    /// seconds, or it is closed (`timeout`). Default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT_SECS`].
    #[serde(deserialize_with = "positive")]
    pub handshake_timeout_secs: u64,
    /// A connection that sends no complete frame for this many seconds is
    /// closed (`timeout`); clients keep it open with `ping`. Default
    /// [`DEFAULT_IDLE_TIMEOUT_SECS`].
    #[serde(deserialize_with = "positive")]
    pub idle_timeout_secs: u64,
    /// A frame whose first bytes arrived must be complete within this many
    /// seconds, or the connection is closed (`timeout`). Default
    /// [`DEFAULT_FRAME_TIMEOUT_SECS`].
    #[serde(deserialize_with = "positive")]
    pub frame_timeout_secs: u64,
    /// Running-time budget of one call into a plugin, in milliseconds; a call
    /// that runs longer is stopped with `plugin_error`. Time the call spends
    /// paused while other rooms run is not counted. Default
    /// [`DEFAULT_PLUGIN_CALL_TIMEOUT_MS`].
    #[serde(deserialize_with = "positive")]
    pub plugin_call_timeout_ms: u64,
    /// Percent of one plugin thread a plugin room may run, averaged over a
    /// second (1 to 100); a room past it is paused until it is back within its
    /// share (throttled, never closed for it). Default
    /// [`DEFAULT_PLUGIN_CPU_PERCENT`].
    #[serde(deserialize_with = "positive")]
    pub plugin_cpu_percent: u32,
    /// Linear memory one plugin room may grow to, in bytes. Default
    /// [`DEFAULT_PLUGIN_MEMORY_BYTES`].
    #[serde(deserialize_with = "positive")]
    pub plugin_memory_bytes: usize,
    /// Linear memory all plugin rooms together may hold, in bytes; a room that
    /// would pass it cannot grow (its call fails as out of memory) and a new
    /// plugin room cannot start. Default [`DEFAULT_PLUGIN_MEMORY_TOTAL_BYTES`].
    #[serde(deserialize_with = "positive")]
    pub plugin_memory_total_bytes: usize,
    /// Failed plugin calls (traps, budget overruns) within
    /// `pluginFailureWindowSecs` after which the room is closed. Default
    /// [`DEFAULT_PLUGIN_FAILURES_TO_CLOSE`].
    #[serde(deserialize_with = "positive")]
    pub plugin_failures_to_close: u32,
    /// The window of `pluginFailuresToClose`, in seconds. Default
    /// [`DEFAULT_PLUGIN_FAILURE_WINDOW_SECS`].
    #[serde(deserialize_with = "positive")]
    pub plugin_failure_window_secs: u64,
    /// Log lines one plugin room may write per second; the rest are counted and
    /// reported once. Default [`DEFAULT_PLUGIN_LOG_LINES_PER_SECOND`].
    #[serde(deserialize_with = "positive")]
    pub plugin_log_lines_per_second: u32,
    /// Threads that run plugin rooms, apart from the network threads so that a
    /// plugin running to its time budget never delays a connection; `0` means
    /// four per CPU (at least four). Default [`DEFAULT_PLUGIN_THREADS`].
    pub plugin_threads: usize,
    /// How long shutdown waits for rooms to run their last hooks and
    /// connections to flush their farewell, in seconds. Default
    /// [`DEFAULT_SHUTDOWN_GRACE_SECS`].
    #[serde(deserialize_with = "positive")]
    pub shutdown_grace_secs: u64,
    /// How long the keys a `udp_bind` gives stay valid, in seconds; the client
    /// binds again after. Default [`DEFAULT_UDP_KEY_LIFETIME_SECS`].
    #[serde(deserialize_with = "positive")]
    pub udp_key_lifetime_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            max_rooms: DEFAULT_MAX_ROOMS,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_outbound_frame_bytes: DEFAULT_MAX_OUTBOUND_FRAME_BYTES,
            max_clients_per_room: DEFAULT_MAX_CLIENTS_PER_ROOM,
            outbound_queue_frames: DEFAULT_OUTBOUND_QUEUE_FRAMES,
            outbound_queue_bytes: DEFAULT_OUTBOUND_QUEUE_BYTES,
            unreliable_queue_bytes: DEFAULT_UNRELIABLE_QUEUE_BYTES,
            room_mailbox: DEFAULT_ROOM_MAILBOX,
            max_room_variables: DEFAULT_MAX_ROOM_VARIABLES,
            max_room_variable_bytes: DEFAULT_MAX_ROOM_VARIABLE_BYTES,
            max_variable_bytes: DEFAULT_MAX_VARIABLE_BYTES,
            max_variable_name_bytes: DEFAULT_MAX_VARIABLE_NAME_BYTES,
            max_listed_metadata_bytes: DEFAULT_MAX_LISTED_METADATA_BYTES,
            pending_join_bytes: DEFAULT_PENDING_JOIN_BYTES,
            unjoined_room_timeout_secs: DEFAULT_UNJOINED_ROOM_TIMEOUT_SECS,
            orphan_room_timeout_secs: DEFAULT_ORPHAN_ROOM_TIMEOUT_SECS,
            max_rooms_per_connection: DEFAULT_MAX_ROOMS_PER_CONNECTION,
            max_joined_rooms_per_connection: DEFAULT_MAX_JOINED_ROOMS_PER_CONNECTION,
            requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
            request_burst: DEFAULT_REQUEST_BURST,
            handshake_timeout_secs: DEFAULT_HANDSHAKE_TIMEOUT_SECS,
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
            frame_timeout_secs: DEFAULT_FRAME_TIMEOUT_SECS,
            plugin_call_timeout_ms: DEFAULT_PLUGIN_CALL_TIMEOUT_MS,
            plugin_cpu_percent: DEFAULT_PLUGIN_CPU_PERCENT,
            plugin_memory_bytes: DEFAULT_PLUGIN_MEMORY_BYTES,
            plugin_memory_total_bytes: DEFAULT_PLUGIN_MEMORY_TOTAL_BYTES,
            plugin_failures_to_close: DEFAULT_PLUGIN_FAILURES_TO_CLOSE,
            plugin_failure_window_secs: DEFAULT_PLUGIN_FAILURE_WINDOW_SECS,
            plugin_log_lines_per_second: DEFAULT_PLUGIN_LOG_LINES_PER_SECOND,
            plugin_threads: DEFAULT_PLUGIN_THREADS,
            shutdown_grace_secs: DEFAULT_SHUTDOWN_GRACE_SECS,
            udp_key_lifetime_secs: DEFAULT_UDP_KEY_LIFETIME_SECS,
        }
    }
}

impl Limits {
    /// [`Limits::unjoined_room_timeout_secs`] as a duration.
    pub fn unjoined_room_timeout(&self) -> Duration {
        Duration::from_secs(self.unjoined_room_timeout_secs)
    }

    /// [`Limits::orphan_room_timeout_secs`] as a duration.
    pub fn orphan_room_timeout(&self) -> Duration {
        Duration::from_secs(self.orphan_room_timeout_secs)
    }

    /// [`Limits::plugin_call_timeout_ms`] as a duration.
    pub fn plugin_call_timeout(&self) -> Duration {
        Duration::from_millis(self.plugin_call_timeout_ms)
    }

    /// [`Limits::plugin_failure_window_secs`] as a duration.
    pub fn plugin_failure_window(&self) -> Duration {
        Duration::from_secs(self.plugin_failure_window_secs)
    }

    /// [`Limits::handshake_timeout_secs`] as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }

    /// [`Limits::idle_timeout_secs`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// [`Limits::frame_timeout_secs`] as a duration.
    pub fn frame_timeout(&self) -> Duration {
        Duration::from_secs(self.frame_timeout_secs)
    }

    /// [`Limits::shutdown_grace_secs`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// Threads for plugin rooms: [`Limits::plugin_threads`], or four per
    /// CPU (at least four) when it is 0.
    ///
    /// More threads than cores, because a plugin looping to its time
    /// budget holds its thread: with threads to spare, the kernel shares
    /// the cores between it and the healthy rooms, instead of those rooms
    /// waiting for the budget to run out.
    pub fn plugin_thread_count(&self) -> usize {
        match self.plugin_threads {
            0 => 4 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Checks the rules between the section's fields (zero values were
    /// refused as they were read).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first offending field.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        self.validate_frames(origin)?;
        self.validate_variables(origin)?;
        self.validate_plugins(origin)
    }

    /// Frames and the queues that hold them: a frame limit in range, an
    /// outgoing frame large enough for a full room's join result, queues
    /// that hold at least one frame.
    fn validate_frames(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::invalid(origin, field, message);
        if !(MIN_FRAME_BYTES..=MAX_FRAME_BYTES_CEILING).contains(&self.max_frame_bytes) {
            return Err(invalid(
                name!("limits", max_frame_bytes),
                format!(
                    "{} is outside {MIN_FRAME_BYTES}..={MAX_FRAME_BYTES_CEILING}",
                    self.max_frame_bytes
                ),
            ));
        }
        // The largest answer the server must be able to send: a join
        // result holding every variable of a full room.
        let join_bound = self.max_room_variable_bytes + MIN_OUTBOUND_FRAME_MARGIN;
        if !(join_bound..=MAX_FRAME_BYTES_CEILING).contains(&self.max_outbound_frame_bytes) {
            return Err(invalid(
                name!("limits", max_outbound_frame_bytes),
                format!(
                    "{} is outside {join_bound}..={MAX_FRAME_BYTES_CEILING} ({} plus {MIN_OUTBOUND_FRAME_MARGIN})",
                    self.max_outbound_frame_bytes,
                    name!("limits", max_room_variable_bytes)
                ),
            ));
        }
        if self.outbound_queue_bytes < self.max_outbound_frame_bytes {
            return Err(invalid(
                name!("limits", outbound_queue_bytes),
                format!(
                    "{} is less than {} ({})",
                    self.outbound_queue_bytes,
                    name!("limits", max_outbound_frame_bytes),
                    self.max_outbound_frame_bytes
                ),
            ));
        }
        if self.unreliable_queue_bytes > self.outbound_queue_bytes {
            return Err(invalid(
                name!("limits", unreliable_queue_bytes),
                format!(
                    "{} is more than {} ({})",
                    self.unreliable_queue_bytes,
                    name!("limits", outbound_queue_bytes),
                    self.outbound_queue_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Variables and metadata: one variable no larger than a room's
    /// variables together, and a listing page that holds a room.
    fn validate_variables(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::invalid(origin, field, message);
        let most_metadata = MIN_OUTBOUND_FRAME_MARGIN / 2;
        if self.max_listed_metadata_bytes > most_metadata {
            return Err(invalid(
                name!("limits", max_listed_metadata_bytes),
                format!("{} is more than {most_metadata}", self.max_listed_metadata_bytes),
            ));
        }
        if self.max_variable_bytes > self.max_room_variable_bytes {
            return Err(invalid(
                name!("limits", max_variable_bytes),
                format!(
                    "{} is more than {} ({})",
                    self.max_variable_bytes,
                    name!("limits", max_room_variable_bytes),
                    self.max_room_variable_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Plugins: a CPU share that is a percentage, a total memory budget
    /// that holds at least one room.
    fn validate_plugins(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::invalid(origin, field, message);
        if self.plugin_cpu_percent > 100 {
            return Err(invalid(
                name!("limits", plugin_cpu_percent),
                format!("{} is more than 100", self.plugin_cpu_percent),
            ));
        }
        if self.plugin_memory_total_bytes < self.plugin_memory_bytes {
            return Err(invalid(
                name!("limits", plugin_memory_total_bytes),
                format!(
                    "{} is less than {} ({})",
                    self.plugin_memory_total_bytes,
                    name!("limits", plugin_memory_bytes),
                    self.plugin_memory_bytes
                ),
            ));
        }
        Ok(())
    }
}
