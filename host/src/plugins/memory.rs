//! Plugin memory: [`MemoryBudget`], the bytes every plugin room's linear
//! memory draws from together, and [`MemoryCap`], the limiter of one
//! room's store (its own cap, and its draw on the shared budget).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::ResourceLimiter;

/// Tables one instance may have, and their elements.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The memory all plugin rooms share: a byte count every store's growth
/// draws from and gives back when the store is dropped.
#[derive(Debug)]
pub struct MemoryBudget {
    used: AtomicUsize,
    total: usize,
}

impl MemoryBudget {
    /// A budget of `total` bytes.
    pub fn new(total: usize) -> MemoryBudget {
        MemoryBudget { used: AtomicUsize::new(0), total }
    }

    /// Takes `bytes` from the budget; `false` (taking nothing) when they
    /// are not left.
    pub fn take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|after| *after <= self.total)
            })
            .is_ok()
    }

    /// Gives `bytes` back.
    pub fn give_back(&self, bytes: usize) {
        let _ = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            Some(used.saturating_sub(bytes))
        });
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// The budget in bytes.
    pub fn total(&self) -> usize {
        self.total
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
    /// A cap of `bytes` for one store, drawing from `budget`.
    pub fn new(bytes: usize, budget: Arc<MemoryBudget>) -> MemoryCap {
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
