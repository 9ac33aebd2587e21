//! [`CreationTurns`]: the turn a node's `join_or_create`s of one room type
//! take before creating a room (see [`crate::rooms::matching`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::lock::lock;

/// The turns `join_or_create`s of this node take before creating a room,
/// one per room type (types are few: only known ones get a turn).
#[derive(Debug, Default)]
pub struct CreationTurns {
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl CreationTurns {
    /// Waits for `room_type`'s turn; it ends when the guard drops.
    pub async fn take(&self, room_type: &str) -> OwnedMutexGuard<()> {
        let turn = lock(&self.turns).entry(room_type.to_owned()).or_default().clone();
        turn.lock_owned().await
    }
}
