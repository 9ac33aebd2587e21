//! The create options of a match's room: who the matchmaker is sending.
//!
//! When the matchmaker forms a match it creates the room of the queue's
//! type with these options (a MessagePack map), and holds a seat for each
//! player; a plugin decodes them in its create hook to prepare for its
//! players (teams by rating, say) before any of them joins.
//!
//! ```text
//! {"queue": "ranked",
//!  "players": [{"ticket": "9f3c…", "session": 41, "user_id": "alice",
//!               "properties": {"rating": 1510, "mode": "ctf"}}, …]}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The create options of a match's room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchOptions {
    /// The queue the match formed in.
    pub queue: String,
    /// Its players, oldest ticket first.
    pub players: Vec<MatchedPlayer>,
}

/// One player of a match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedPlayer {
    /// The player's ticket.
    pub ticket: String,
    /// The player's session (the member it will be once it joins).
    pub session: u64,
    /// The player's user id, when the server authenticates.
    pub user_id: Option<String>,
    /// The properties its ticket carried.
    pub properties: BTreeMap<String, rmpv::Value>,
}
