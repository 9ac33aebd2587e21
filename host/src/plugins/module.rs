//! [`PluginModule`]: one compiled, checked plugin (a room type), linked
//! once so that a room costs an instantiation.

use std::sync::Arc;

use wasmtime::InstancePre;

use crate::plugins::runtime::PluginRuntime;
use crate::plugins::state::PluginState;

/// A compiled, checked plugin: one room type.
pub struct PluginModule {
    /// Room type: the file's stem.
    name: String,
    pre: InstancePre<PluginState>,
    runtime: Arc<PluginRuntime>,
    /// Which hooks the module exports, by `Hook::index`.
    exported: [bool; vampire_abi::Hook::ALL.len()],
}

impl PluginModule {
    /// The room type name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn instance_pre(&self) -> &InstancePre<PluginState> {
        &self.pre
    }

    pub(crate) fn runtime(&self) -> &PluginRuntime {
        &self.runtime
    }

    /// Whether the module exports `hook`.
    pub fn exports(&self, hook: vampire_abi::Hook) -> bool {
        self.exported[hook.index()]
    }
}

impl PluginModule {
    /// A module of room type `name`, prepared as `pre`, exporting the hooks
    /// `exported` marks (by `Hook::index`).
    pub(crate) fn new(
        name: String,
        pre: InstancePre<PluginState>,
        runtime: Arc<PluginRuntime>,
        exported: [bool; vampire_abi::Hook::ALL.len()],
    ) -> PluginModule {
        PluginModule { name, pre, runtime, exported }
    }
}
