//! [`Ticket`]: a player waiting in a matchmaking queue, as every pool
//! keeps it (in a cluster, encoded in Redis).

use serde::{Deserialize, Serialize};
use vampire_protocol::matchmaking::{Properties, TicketQuery};
use vampire_protocol::{ErrorCode, SessionId};

use crate::error::ApiError;

/// A waiting player.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// Its id (random, 128 bits).
    pub id: String,
    /// The queue it waits in.
    pub queue: String,
    /// The node its client is connected to, in a cluster.
    pub node: Option<String>,
    /// Its client's session.
    pub session: SessionId,
    /// Its client's user id, when signed in: the match's seat is bound to
    /// it.
    pub user_id: Option<String>,
    /// What the player is.
    pub properties: Properties,
    /// Whom it accepts.
    pub query: TicketQuery,
    /// When it was added, in Unix milliseconds.
    pub created_unix_ms: u64,
}

/// The refusal of a ticket past `matchmaking.maxTickets`.
pub fn pool_full(max_tickets: usize) -> ApiError {
    ApiError::new(
        ErrorCode::ServerBusy,
        format!("{max_tickets} tickets are waiting already, the most the matchmaker holds"),
    )
}
