//! [`PluginModule`]: one compiled, checked plugin (a room type), linked
//! once so that a room costs an instantiation.

use std::sync::Arc;

use wasmtime::InstancePre;

use crate::metrics::TypeMetrics;
use crate::plugins::runtime::{PluginRuntime, Tier};
use crate::plugins::state::PluginState;

/// A compiled, checked plugin: one room type.
pub struct PluginModule {
    /// Room type: the file's stem.
    name: String,
    /// The SHA-256 of the file it was compiled from: the version its rooms
    /// run.
    sha256: String,
    pre: InstancePre<PluginState>,
    runtime: Arc<PluginRuntime>,
    /// Which hooks the module exports, by `Hook::index`.
    exported: [bool; vampire_abi::Hook::ALL.len()],
    /// Where the type's calls and failures are counted.
    metrics: Arc<TypeMetrics>,
    /// Which compiler made its code.
    tier: Tier,
}

impl PluginModule {
    /// The room type name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SHA-256 of the file it was compiled from, in hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub(crate) fn instance_pre(&self) -> &InstancePre<PluginState> {
        &self.pre
    }

    pub(crate) fn runtime(&self) -> &PluginRuntime {
        &self.runtime
    }

    /// Where the type's calls and failures are counted.
    pub(crate) fn metrics(&self) -> &TypeMetrics {
        &self.metrics
    }

    /// Which compiler made its code.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Whether the module exports `hook`.
    pub fn exports(&self, hook: vampire_abi::Hook) -> bool {
        self.exported[hook.index()]
    }
}

impl PluginModule {
    /// A module of room type `name` compiled from a file of hash `sha256`,
    /// prepared as `pre`, exporting the hooks `exported` marks (by
    /// `Hook::index`), its code made by `tier`.
    pub(crate) fn new(
        name: String,
        sha256: String,
        pre: InstancePre<PluginState>,
        runtime: Arc<PluginRuntime>,
        exported: [bool; vampire_abi::Hook::ALL.len()],
        tier: Tier,
    ) -> PluginModule {
        let metrics = runtime.metrics().for_type(&name);
        PluginModule { name, sha256, pre, runtime, exported, metrics, tier }
    }
}
