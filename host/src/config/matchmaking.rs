//! `matchmaking`: the matchmaker's queues (see [`crate::matchmaking`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::error::ConfigError;
use crate::config::limits::Limits;

/// Default of [`QueueConfig::start_with_fewer_after_ms`].
pub const DEFAULT_START_WITH_FEWER_AFTER_MS: u64 = 30_000;
/// Default of [`QueueConfig::ticket_timeout_ms`].
pub const DEFAULT_TICKET_TIMEOUT_MS: u64 = 120_000;
/// Default of [`MatchmakingConfig::interval_ms`].
pub const DEFAULT_INTERVAL_MS: u64 = 100;
/// Default of [`MatchmakingConfig::max_tickets`].
pub const DEFAULT_MAX_TICKETS: usize = 100_000;

/// `matchmaking`: queues players wait in until the matchmaker forms a
/// match and creates its room. Default: no queue.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MatchmakingConfig {
    /// The queues, in any order (names are unique).
    pub queues: Vec<QueueConfig>,
    /// How often the matchmaker looks for matches, in milliseconds: the
    /// most a complete match waits. Default [`DEFAULT_INTERVAL_MS`].
    pub interval_ms: u64,
    /// Tickets waiting in all queues at most (of the whole cluster, in
    /// one); one more is `server_busy`. Default [`DEFAULT_MAX_TICKETS`].
    pub max_tickets: usize,
}

impl Default for MatchmakingConfig {
    fn default() -> Self {
        MatchmakingConfig {
            queues: Vec::new(),
            interval_ms: DEFAULT_INTERVAL_MS,
            max_tickets: DEFAULT_MAX_TICKETS,
        }
    }
}

/// A property's type, as a queue declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyType {
    /// A number (integer or float).
    Number,
    /// A string.
    String,
    /// A boolean.
    Bool,
}

/// One queue.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueConfig {
    /// What `matchmaker_add` names it by.
    pub name: String,
    /// The room type matches are played in. Default `"generic"`.
    #[serde(default = "generic")]
    pub room_type: String,
    /// Players a match needs at least.
    pub min_players: u32,
    /// Players a match takes at most (the room's `max_clients`); a match
    /// this full starts at once.
    pub max_players: u32,
    /// How long the oldest ticket of a match waits for a full one before
    /// it starts with `minPlayers` or more. Default
    /// [`DEFAULT_START_WITH_FEWER_AFTER_MS`].
    #[serde(default = "start_with_fewer_after_ms")]
    pub start_with_fewer_after_ms: u64,
    /// How long a ticket waits at most; then its client gets
    /// `match_timeout`. Default [`DEFAULT_TICKET_TIMEOUT_MS`].
    #[serde(default = "ticket_timeout_ms")]
    pub ticket_timeout_ms: u64,
    /// The properties a ticket may carry, with their types; a ticket with
    /// another, or of another type, is refused. Default none.
    #[serde(default)]
    pub properties: BTreeMap<String, PropertyType>,
}

fn generic() -> String {
    crate::rooms::GENERIC_ROOM_TYPE.to_owned()
}

fn start_with_fewer_after_ms() -> u64 {
    DEFAULT_START_WITH_FEWER_AFTER_MS
}

fn ticket_timeout_ms() -> u64 {
    DEFAULT_TICKET_TIMEOUT_MS
}

impl QueueConfig {
    /// [`QueueConfig::start_with_fewer_after_ms`] as a duration.
    pub fn start_with_fewer_after(&self) -> Duration {
        Duration::from_millis(self.start_with_fewer_after_ms)
    }

    /// [`QueueConfig::ticket_timeout_ms`] as a duration.
    pub fn ticket_timeout(&self) -> Duration {
        Duration::from_millis(self.ticket_timeout_ms)
    }
}

impl MatchmakingConfig {
    /// The queue named `name`.
    pub fn queue(&self, name: &str) -> Option<&QueueConfig> {
        self.queues.iter().find(|queue| queue.name == name)
    }

    /// Checks each queue.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a queue with no name or a name given
    /// twice, `minPlayers` of 0 or above `maxPlayers`, `maxPlayers` above
    /// `limits.maxClientsPerRoom`, a zero interval, time-out or
    /// `maxTickets`.
    pub fn validate(&self, limits: &Limits, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field: String, why: String| Err(ConfigError::invalid(origin, field, why));
        if self.interval_ms == 0 {
            return invalid("matchmaking.intervalMs".into(), "must be at least 1".into());
        }
        if self.max_tickets == 0 {
            return invalid("matchmaking.maxTickets".into(), "must be at least 1".into());
        }
        for (n, queue) in self.queues.iter().enumerate() {
            let field = |name: &str| format!("matchmaking.queues[{n}].{name}");
            if queue.name.is_empty() {
                return invalid(field("name"), "must not be empty".into());
            }
            if self.queues[..n].iter().any(|q| q.name == queue.name) {
                return invalid(field("name"), format!("{:?} names two queues", queue.name));
            }
            if queue.min_players == 0 || queue.min_players > queue.max_players {
                let why = format!("must be 1 to maxPlayers ({})", queue.max_players);
                return invalid(field("minPlayers"), why);
            }
            if queue.max_players > limits.max_clients_per_room {
                let why = format!(
                    "must be at most limits.maxClientsPerRoom ({})",
                    limits.max_clients_per_room
                );
                return invalid(field("maxPlayers"), why);
            }
            if queue.ticket_timeout_ms == 0 {
                return invalid(field("ticketTimeoutMs"), "must be at least 1".into());
            }
        }
        Ok(())
    }
}
