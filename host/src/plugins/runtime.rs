//! [`PluginRuntime`]: the wasmtime engines every plugin shares (the
//! optimising one, and a baseline one for reloads), the epoch ticker
//! behind per-call deadlines, the memory budgets, and the threads plugin
//! rooms run on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use wasmtime::{Config, Engine, Linker, Strategy};

use crate::config::Limits;
use crate::metrics::Metrics;
use crate::plugins::cache::ModuleCache;
use crate::plugins::imports;
use crate::plugins::memory::MemoryBudget;
use crate::plugins::scheduling::{CpuShare, EPOCH_TICK};
use crate::plugins::state::PluginState;

/// Which compiler made a module's code.
///
/// A reload is compiled by the baseline compiler first (Winch: several
/// times faster to compile, slower code), so the new version answers
/// within the watcher's settle time; the optimising compiler (Cranelift)
/// then compiles it again in the background and the rooms swap to that
/// code. Everything else (start-up, new types, the cache) is optimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Cranelift's code: what every plugin ends on.
    Optimised,
    /// Winch's code: a reload's first version, until its optimised code
    /// is ready.
    Baseline,
}

impl Tier {
    /// How the admin API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Optimised => "optimised",
            Tier::Baseline => "baseline",
        }
    }
}

/// An engine and the host imports linked for it: a module compiled by one
/// engine runs only in stores of that engine, with that engine's linker.
struct Compiler {
    engine: Engine,
    linker: Linker<PluginState>,
}

impl Compiler {
    /// An engine with epoch interruption on, compiling with `strategy`.
    fn new(strategy: Strategy) -> anyhow::Result<Compiler> {
        let mut config = Config::new();
        config.epoch_interruption(true).strategy(strategy);
        let engine = Engine::new(&config)?;
        let linker = imports::linker(&engine)?;
        Ok(Compiler { engine, linker })
    }
}

/// The shared engines, linker, budgets and threads.
pub struct PluginRuntime {
    engine: Engine,
    linker: Linker<PluginState>,
    /// The baseline compiler, made at the first reload (most servers never
    /// reload, and an engine costs memory); `None` inside when this
    /// platform has none (Winch compiles for x86-64 and AArch64).
    baseline: Arc<OnceLock<Option<Compiler>>>,
    /// Running-time budget of one call into a guest.
    call_timeout: Duration,
    /// `call_timeout` in epoch ticks (see [`PluginRuntime::deadline_ticks`]).
    deadline_ticks: u64,
    /// Linear memory one room's instance may grow to, in bytes.
    memory_bytes: usize,
    /// Linear memory of every plugin room together.
    memory_total: Arc<MemoryBudget>,
    /// Failed calls within `failure_window` after which a room closes.
    failures_to_close: u32,
    failure_window: Duration,
    /// Log lines a room may write per second.
    log_lines_per_second: u32,
    /// Percent of one plugin thread a room may run, over a second.
    cpu_percent: u32,
    /// The threads plugin rooms run on.
    threads: PluginThreads,
    /// Tells the ticker thread to stop when the runtime is dropped.
    ticker_stop: Arc<AtomicBool>,
    /// Where plugins' calls, failures and reloads are counted.
    metrics: Arc<Metrics>,
    /// Compiled plugins on disk, when kept.
    cache: Option<ModuleCache>,
}

/// A multi-thread tokio runtime of its own for plugin rooms. It is shut
/// down in the background when dropped, which is allowed from inside
/// another runtime (a plain drop is not).
struct PluginThreads(Option<Runtime>);

impl Drop for PluginThreads {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl PluginRuntime {
    /// An engine with epoch interruption on, a thread that advances the
    /// epoch every [`EPOCH_TICK`], and `limits.pluginThreads` threads for
    /// plugin rooms, whose calls are counted in `metrics`.
    ///
    /// # Errors
    /// When wasmtime cannot create the engine or define the imports, or
    /// the threads cannot start.
    pub fn new(limits: &Limits, metrics: Arc<Metrics>) -> anyhow::Result<PluginRuntime> {
        let Compiler { engine, linker } = Compiler::new(Strategy::Cranelift)?;
        let baseline: Arc<OnceLock<Option<Compiler>>> = Arc::default();
        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (ticking, ticking_baseline, stop) =
            (engine.clone(), baseline.clone(), ticker_stop.clone());
        std::thread::Builder::new().name("wasm-epoch".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                ticking.increment_epoch();
                if let Some(Some(baseline)) = ticking_baseline.get() {
                    baseline.engine.increment_epoch();
                }
            }
        })?;
        let threads = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(limits.plugin_thread_count())
            .thread_name("plugin-rooms")
            .enable_time()
            .build()?;
        Ok(PluginRuntime {
            engine,
            linker,
            baseline,
            call_timeout: limits.plugin_call_timeout(),
            deadline_ticks: limits
                .plugin_call_timeout()
                .as_micros()
                .div_ceil(EPOCH_TICK.as_micros()) as u64
                + 1,
            memory_bytes: limits.plugin_memory_bytes,
            memory_total: Arc::new(MemoryBudget::new(limits.plugin_memory_total_bytes)),
            failures_to_close: limits.plugin_failures_to_close,
            failure_window: limits.plugin_failure_window(),
            log_lines_per_second: limits.plugin_log_lines_per_second,
            cpu_percent: limits.plugin_cpu_percent,
            threads: PluginThreads(Some(threads)),
            ticker_stop,
            metrics,
            cache: None,
        })
    }

    /// This runtime, keeping compiled plugins in `folder` (see
    /// [`ModuleCache::open`]: a folder that is not this user's alone is
    /// not used). Default: no cache.
    pub fn with_cache(mut self, folder: &std::path::Path) -> PluginRuntime {
        self.cache = ModuleCache::open(folder, &self.engine);
        self
    }

    /// The compiled-plugin cache, when kept.
    pub fn cache(&self) -> Option<&ModuleCache> {
        self.cache.as_ref()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The linker holding the host imports.
    pub fn linker(&self) -> &Linker<PluginState> {
        &self.linker
    }

    /// The engine compiling for `tier`, made on first use. A baseline
    /// that this platform cannot have gives the optimising engine (and
    /// says so with [`Tier::Optimised`]).
    pub fn engine_for(&self, tier: Tier) -> (&Engine, Tier) {
        match (tier, self.baseline_compiler()) {
            (Tier::Baseline, Some(baseline)) => (&baseline.engine, Tier::Baseline),
            _ => (&self.engine, Tier::Optimised),
        }
    }

    /// The linker holding the host imports for modules of `engine`, one of
    /// this runtime's.
    pub fn linker_for(&self, engine: &Engine) -> &Linker<PluginState> {
        match self.baseline.get() {
            Some(Some(baseline)) if Engine::same(engine, &baseline.engine) => &baseline.linker,
            _ => &self.linker,
        }
    }

    fn baseline_compiler(&self) -> Option<&Compiler> {
        self.baseline
            .get_or_init(|| {
                Compiler::new(Strategy::Winch)
                    .inspect_err(|err| {
                        tracing::info!(%err, "no baseline compiler here: reloads compile optimised code at once");
                    })
                    .ok()
            })
            .as_ref()
    }

    /// Every import the host gives a plugin, as (module, name), in the
    /// order they are defined: what ABI.md's imports table must list.
    pub fn import_names(&self) -> Vec<(String, String)> {
        let state = PluginState::new(
            "imports",
            0,
            Arc::new(MemoryBudget::new(0)),
            Arc::new(crate::logging::Throttle::per_second(1)),
            Arc::new(CpuShare::new(1)),
        );
        let mut store = wasmtime::Store::new(&self.engine, state);
        self.linker
            .iter(&mut store)
            .map(|(module, name, _)| (module.to_owned(), name.to_owned()))
            .collect()
    }

    /// Where plugins' calls, failures and reloads are counted.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The per-call time budget.
    pub fn call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// The per-room memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    /// The memory budget all plugin rooms share.
    pub fn memory_total(&self) -> &Arc<MemoryBudget> {
        &self.memory_total
    }

    /// Failed calls within [`PluginRuntime::failure_window`] after which a
    /// room is closed.
    pub fn failures_to_close(&self) -> u32 {
        self.failures_to_close
    }

    /// See [`PluginRuntime::failures_to_close`].
    pub fn failure_window(&self) -> Duration {
        self.failure_window
    }

    /// Log lines a plugin room may write per second.
    pub fn log_lines_per_second(&self) -> u32 {
        self.log_lines_per_second
    }

    /// Percent of one plugin thread a room may run, averaged over a
    /// second (see [`crate::plugins::scheduling`]).
    pub fn cpu_percent(&self) -> u32 {
        self.cpu_percent
    }

    /// The runtime plugin rooms run on.
    pub fn handle(&self) -> Handle {
        self.threads
            .0
            .as_ref()
            .expect("the plugin threads live as long as the runtime")
            .handle()
            .clone()
    }

    /// The per-call budget in epoch ticks (rounded up, plus one for the
    /// tick in progress); worked out once, as every call needs it.
    pub fn deadline_ticks(&self) -> u64 {
        self.deadline_ticks
    }
}

impl Drop for PluginRuntime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}
