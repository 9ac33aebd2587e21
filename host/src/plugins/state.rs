//! [`PluginState`]: the data of one room's wasmtime `Store`, which the
//! host imports act on.

use wasmtime::{Memory, ResourceLimiter, StoreLimits, StoreLimitsBuilder};

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
    /// The last error the guest logged during the current call (a panic
    /// message, typically), reported with a trap.
    pub last_error: Option<String>,
    /// Room type, for log lines.
    pub plugin: String,
}

impl PluginState {
    /// State for a new store of plugin `plugin` capped at `memory_bytes`.
    pub fn new(plugin: &str, memory_bytes: usize) -> PluginState {
        PluginState {
            room: RoomState::detached(),
            memory: None,
            limits: MemoryCap::new(memory_bytes),
            last_error: None,
            plugin: plugin.to_owned(),
        }
    }
}

/// wasmtime's [`StoreLimits`] plus a note of whether a growth was refused,
/// so a trap that follows can be reported as "out of memory".
pub struct MemoryCap {
    inner: StoreLimits,
    /// Set when the guest asked for more memory than the cap.
    pub exceeded: bool,
    /// The cap, in bytes.
    pub bytes: usize,
}

impl MemoryCap {
    fn new(bytes: usize) -> MemoryCap {
        MemoryCap {
            inner: StoreLimitsBuilder::new()
                .memory_size(bytes)
                .instances(1)
                .memories(1)
                .tables(1)
                .table_elements(100_000)
                .build(),
            exceeded: false,
            bytes,
        }
    }
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        self.exceeded |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}
