//! `reconnect`: how long a session outlives a connection that dropped
//! without leaving, and what the server keeps for its return.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default of [`ReconnectConfig::window_secs`].
pub const DEFAULT_WINDOW_SECS: u64 = 30;
/// Default of [`ReconnectConfig::replay_bytes`]: 256 KiB.
pub const DEFAULT_REPLAY_BYTES: usize = 256 * 1024;
/// Default of [`ReconnectConfig::max_held_sessions`].
pub const DEFAULT_MAX_HELD_SESSIONS: usize = 10_000;

/// `reconnect`: sessions that survive a dropped connection.
///
/// A connection that ends without `close_session` (end of stream, reset,
/// `timeout`, `slow_consumer`) keeps its session for `windowSecs`: its
/// rooms and seats, its UDP channel and its identity, and the last
/// `replayBytes` of what it was sent, for `resume` to replay.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ReconnectConfig {
    /// Seconds a dropped session is held for `resume`; 0 ends a session
    /// with its connection (members see `member_left`, reason
    /// `"disconnected"`, at once). Default [`DEFAULT_WINDOW_SECS`].
    pub window_secs: u64,
    /// Bytes of the frames most recently sent to a session kept for
    /// replay, while it is connected and while it is held; a resume whose
    /// gap is larger gets `resync` (each room's state) instead. Frames are
    /// shared with the members' queues, so this bounds memory per session,
    /// not a copy per member. Default [`DEFAULT_REPLAY_BYTES`].
    pub replay_bytes: usize,
    /// Sessions held at once at most; a connection that drops past it ends
    /// its session. Held sessions × `replayBytes` bounds what they keep.
    /// Default [`DEFAULT_MAX_HELD_SESSIONS`].
    pub max_held_sessions: usize,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        ReconnectConfig {
            window_secs: DEFAULT_WINDOW_SECS,
            replay_bytes: DEFAULT_REPLAY_BYTES,
            max_held_sessions: DEFAULT_MAX_HELD_SESSIONS,
        }
    }
}

impl ReconnectConfig {
    /// The window, or `None` when sessions end with their connection.
    pub fn window(&self) -> Option<Duration> {
        (self.window_secs > 0 && self.max_held_sessions > 0)
            .then(|| Duration::from_secs(self.window_secs))
    }
}
