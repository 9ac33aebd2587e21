//! [`PluginState`]: the data of one room's wasmtime `Store`, which the
//! host imports act on, and [`MemoryCap`], its memory limiter.

use std::sync::Arc;

use wasmtime::{Memory, ResourceLimiter};

use crate::logging::Throttle;
use crate::plugins::runtime::MemoryBudget;
use crate::plugins::scheduling::{CallSlices, CpuShare};
use crate::rooms::RoomState;

/// Tables one instance may have, and their elements.
const MAX_TABLE_ELEMENTS: usize = 100_000;

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

/// Which memory limit refused a growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryRefusal {
    /// The room's own cap.
    RoomCap,
    /// The budget all plugin rooms share.
    ServerBudget,
}

/// The memory limiter of one store: the room's cap and the shared budget.
/// It notes which one refused a growth, so a trap that follows can be
/// reported as "out of memory", and gives its memory back to the shared
/// budget when the store is dropped.
pub struct MemoryCap {
    /// The room's cap, in bytes.
    pub bytes: usize,
    /// Bytes this store's memory holds now.
    current: usize,
    budget: Arc<MemoryBudget>,
    /// Set when a growth was refused during the current call.
    pub refused: Option<MemoryRefusal>,
}

impl MemoryCap {
    fn new(bytes: usize, budget: Arc<MemoryBudget>) -> MemoryCap {
        MemoryCap { bytes, current: 0, budget, refused: None }
    }

    /// The shared budget.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }
}

impl Drop for MemoryCap {
    fn drop(&mut self) {
        self.budget.give_back(self.current);
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.bytes {
            self.refused = Some(MemoryRefusal::RoomCap);
            return Ok(false);
        }
        let growth = desired.saturating_sub(current);
        if !self.budget.take(growth) {
            self.refused = Some(MemoryRefusal::ServerBudget);
            return Ok(false);
        }
        self.current += growth;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        1
    }

    fn memories(&self) -> usize {
        1
    }
}
