//! [`PluginState`]: the data of one room's wasmtime `Store`, which the
//! host imports act on.

use std::sync::Arc;

use wasmtime::Memory;

use crate::logging::Throttle;
use crate::plugins::memory::{MemoryBudget, MemoryCap};
use crate::plugins::scheduling::{CallSlices, CpuShare, Scheduled};
use crate::rooms::RoomState;

/// What host imports can reach during a call into a guest.
pub struct PluginState {
    /// The room's state, lent to the store for the duration of each call
    /// (and a detached stand-in between calls).
    pub room: RoomState,
    /// The guest's memory, once instantiated.
    pub memory: Option<Memory>,
    /// The memory cap, and whether the guest ran into it.
    pub limits: MemoryCap,
    /// The start of the last error the guest logged during the current
    /// call (a panic message, typically), reported with a trap.
    pub last_error: Option<Vec<u8>>,
    /// Room type, for log lines.
    pub plugin: String,
    /// The room's log rate limit (shared by its successive instances).
    pub log_throttle: Arc<Throttle>,
    /// What the current call may still run.
    pub slices: CallSlices,
    /// The room's share of a plugin thread (shared by its successive
    /// instances).
    pub cpu_share: Arc<CpuShare>,
}

impl PluginState {
    /// State for a new store of plugin `plugin` capped at `memory_bytes`,
    /// drawing from `budget`.
    pub fn new(
        plugin: &str,
        memory_bytes: usize,
        budget: Arc<MemoryBudget>,
        log_throttle: Arc<Throttle>,
        cpu_share: Arc<CpuShare>,
    ) -> PluginState {
        PluginState {
            room: RoomState::detached(),
            memory: None,
            limits: MemoryCap::new(memory_bytes, budget),
            last_error: None,
            plugin: plugin.to_owned(),
            log_throttle,
            slices: CallSlices::default(),
            cpu_share,
        }
    }
}

impl Scheduled for PluginState {
    fn slices(&mut self) -> &mut CallSlices {
        &mut self.slices
    }

    fn cpu_share(&self) -> &CpuShare {
        &self.cpu_share
    }
}
