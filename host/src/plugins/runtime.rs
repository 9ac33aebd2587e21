//! [`PluginRuntime`]: the wasmtime engine every plugin shares, the epoch
//! ticker behind per-call deadlines, and the per-room resource budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine, Linker};

use crate::plugins::imports;
use crate::plugins::state::PluginState;

/// How often the engine's epoch advances. A call's deadline is a number of
/// ticks, so a deadline is met within about one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The shared engine, linker and budgets.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<PluginState>,
    /// Wall-clock budget of one call into a guest.
    call_timeout: Duration,
    /// Linear memory one room's instance may grow to, in bytes.
    memory_bytes: usize,
    /// Tells the ticker thread to stop when the runtime is dropped.
    ticker_stop: Arc<AtomicBool>,
}

impl PluginRuntime {
    /// An engine with epoch interruption on, and a thread that advances
    /// the epoch every [`EPOCH_TICK`].
    ///
    /// # Errors
    /// When wasmtime cannot create the engine or define the imports.
    pub fn new(call_timeout: Duration, memory_bytes: usize) -> anyhow::Result<PluginRuntime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let linker = imports::linker(&engine)?;
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (ticking, stop) = (engine.clone(), ticker_stop.clone());
        std::thread::Builder::new().name("wasm-epoch".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                ticking.increment_epoch();
            }
        })?;
        Ok(PluginRuntime { engine, linker, call_timeout, memory_bytes, ticker_stop })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker holding the host imports.
    pub fn linker(&self) -> &Linker<PluginState> {
        &self.linker
    }

    /// The per-call time budget.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The per-room memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    /// The per-call budget in epoch ticks (rounded up, plus one for the
    /// tick in progress).
    pub fn deadline_ticks(&self) -> u64 {
        let ticks = self.call_timeout.as_micros().div_ceil(EPOCH_TICK.as_micros());
        ticks as u64 + 1
    }
}

impl Drop for PluginRuntime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}
