//! Loading plugins: compile each `.wasm` of the plugins folder off the
//! async reactor, check it against the ABI, and prepare it
//! ([`InstancePre`]) so creating a room costs an instantiation, not a link.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use tracing::{info, warn};
use wasmtime::error::Context;
use wasmtime::{Linker, Module, Result, Store, bail, format_err};

use crate::logging::Throttle;
use crate::plugins::abi;
use crate::plugins::catalog::{Catalog, Failure, Loaded, content_hash};
use crate::plugins::module::PluginModule;
use crate::plugins::runtime::{PluginRuntime, Tier};
use crate::plugins::scheduling::CpuShare;
use crate::plugins::state::PluginState;
use crate::rooms::GENERIC_ROOM_TYPE;

/// The room type a plugin file provides: its stem, which must be a plain
/// name (letters, digits, `-`, `_`) and not `generic`.
///
/// # Errors
/// A sentence saying what is wrong with the name.
pub fn room_type_of(path: &Path) -> Result<String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| format_err!("file name is not UTF-8"))?;
    if stem.is_empty() || !stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        bail!("room type {stem:?} (the file stem) may hold only letters, digits, '-' and '_'");
    }
    if stem == GENERIC_ROOM_TYPE {
        bail!("room type {GENERIC_ROOM_TYPE:?} is built in and cannot be replaced");
    }
    Ok(stem.to_owned())
}

/// Compiles and checks one plugin, optimised. Blocking: run it off the
/// reactor.
///
/// # Errors
/// A bad name, an unreadable file, invalid wasm, a missing or mistyped
/// export, an import the host does not provide, or a wrong ABI version.
pub fn compile(runtime: &Arc<PluginRuntime>, path: &Path) -> Result<PluginModule> {
    let name = room_type_of(path)?;
    let bytes = std::fs::read(path).context("cannot read the file")?;
    compile_bytes(runtime, &name, &bytes, Tier::Optimised)
}

/// Compiles and checks the module `bytes` as room type `name`, and tries
/// an instance of it. Blocking: run it off the reactor.
///
/// `tier` is the code wanted: [`Tier::Optimised`] is read from the cache
/// when it holds it and written there when it did not;
/// [`Tier::Baseline`] (a reload's first version) is the cache's optimised
/// code when it holds some, else a baseline compile, never cached. The
/// module says which it got ([`PluginModule::tier`]).
///
/// # Errors
/// Invalid wasm, a missing or mistyped export, an import the host does not
/// provide, or a wrong ABI version.
pub fn compile_bytes(
    runtime: &Arc<PluginRuntime>,
    name: &str,
    bytes: &[u8],
    tier: Tier,
) -> Result<PluginModule> {
    let name = name.to_owned();
    let hash = content_hash(bytes);
    let cached = runtime.cache().and_then(|cache| cache.load(runtime.engine(), &name, &hash));
    let fresh = cached.is_none();
    let (module, tier) = match cached {
        Some(module) => (module, Tier::Optimised),
        None => {
            let (engine, tier) = runtime.engine_for(tier);
            (Module::new(engine, bytes).context("not a valid WebAssembly module")?, tier)
        }
    };
    abi::check_exports(&module).map_err(|problem| format_err!(problem))?;
    // The version first: a module of another ABI version imports other
    // things, and is told so rather than that an import does not match.
    let version = declared_version(runtime, &name, &module)?;
    if version != vampire_abi::ABI_VERSION {
        bail!("{}", abi::version_mismatch(version));
    }
    let pre = runtime
        .linker_for(module.engine())
        .instantiate_pre(&module)
        .context("it imports something the host does not provide")?;
    let exported = vampire_abi::Hook::ALL.map(|hook| module.get_export(hook.export()).is_some());
    if let Some(cache) = runtime.cache().filter(|_| fresh && tier == Tier::Optimised) {
        // Written beside the load, not before it: a reload's new version
        // serves as soon as it is compiled.
        let (cache, key, compiled, room_type) =
            (cache.clone(), hash.clone(), module.clone(), name.clone());
        let store = move || cache.store(&room_type, &key, &compiled);
        match tokio::runtime::Handle::try_current() {
            Ok(tokio) => drop(tokio.spawn_blocking(store)),
            Err(_) => store(),
        }
    }
    Ok(PluginModule::new(name, hash, pre, runtime.clone(), exported, tier))
}

/// The ABI version `module` exports, read from an instance whose imports
/// all trap (the version export calls none), so it can be read whatever
/// the module imports. The call has the usual time and memory budgets.
///
/// # Errors
/// When the module cannot be instantiated that way or its
/// `vampire_abi_version` fails.
fn declared_version(runtime: &Arc<PluginRuntime>, name: &str, module: &Module) -> Result<i32> {
    let state = PluginState::new(
        name,
        runtime.memory_bytes(),
        runtime.memory_total().clone(),
        Arc::new(Throttle::per_second(runtime.log_lines_per_second())),
        Arc::new(CpuShare::new(runtime.cpu_percent())),
    );
    let mut store = Store::new(module.engine(), state);
    store.limiter(|state| &mut state.limits);
    store.set_epoch_deadline(runtime.deadline_ticks());
    let mut stubs = Linker::new(module.engine());
    stubs.define_unknown_imports_as_traps(module)?;
    let instance = stubs.instantiate(&mut store, module).context("cannot instantiate it")?;
    instance
        .get_typed_func::<(), i32>(&mut store, vampire_abi::exports::ABI_VERSION)?
        .call(&mut store, ())
        .context("its vampire_abi_version failed")
}

/// Loads every `*.wasm` file directly in `folder`, in name order, and
/// records each in `catalog`. A module that cannot be loaded is logged
/// (naming the file and the problem) and skipped; the others still load.
/// A missing folder loads nothing.
///
/// Only regular files load, and links that lead to a regular file inside
/// the folder: a link leading outside it (or nowhere), a directory, a FIFO
/// or a device named `*.wasm` is refused with a log line, so the folder is
/// the whole of what an operator exposes.
pub async fn load_folder(
    runtime: &Arc<PluginRuntime>,
    folder: &Path,
    catalog: &Catalog,
) -> Vec<PluginModule> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(folder) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| is_plugin_name(path))
            .collect(),
        Err(err) => {
            info!(folder = %folder.display(), %err, "no plugins folder; only the generic room is available");
            return Vec::new();
        }
    };
    paths.sort();
    let mut loaded = Vec::new();
    for path in paths {
        let name = match room_type_of(&path) {
            Ok(name) => name,
            Err(reason) => {
                warn!(module = %path.display(), "plugin refused: {reason}");
                continue;
            }
        };
        match load_file(runtime, folder, &path, &name).await {
            Ok(module) => {
                info!(plugin = module.name(), path = %path.display(), "plugin loaded");
                catalog.loaded(&name, loaded_from(&path, &module));
                loaded.push(module);
            }
            Err(failure) => {
                warn!(module = %path.display(), "plugin refused: {}", failure.reason);
                catalog.failed(&name, failure);
            }
        }
    }
    loaded
}

/// Checks, reads and compiles the plugin file `path` of room type `name`,
/// off the reactor.
///
/// # Errors
/// What is wrong with the file (see [`read_file`], [`compile_file`]).
pub async fn load_file(
    runtime: &Arc<PluginRuntime>,
    folder: &Path,
    path: &Path,
    name: &str,
) -> std::result::Result<PluginModule, Failure> {
    let bytes = read_file(folder, path).await?;
    compile_file(runtime, name, bytes, Tier::Optimised).await
}

/// Checks that `path` may load (see [`check_plugin_file`]) and reads it,
/// off the reactor.
///
/// # Errors
/// Why it may not load or cannot be read, with an empty hash.
pub async fn read_file(folder: &Path, path: &Path) -> std::result::Result<Arc<[u8]>, Failure> {
    let failure = |reason: String| Failure { sha256: String::new(), reason, at: SystemTime::now() };
    let (folder, path) = (folder.to_owned(), path.to_owned());
    tokio::task::spawn_blocking(move || {
        check_plugin_file(&folder, &path)?;
        std::fs::read(&path).map(Arc::from).map_err(|err| format!("cannot read the file: {err}"))
    })
    .await
    .unwrap_or_else(|join| Err(join.to_string()))
    .map_err(failure)
}

/// Compiles and checks `bytes` as room type `name`, off the reactor, for
/// `tier` (see [`compile_bytes`]).
///
/// # Errors
/// Why the module is refused, in one line, with the hash of `bytes`.
pub async fn compile_file(
    runtime: &Arc<PluginRuntime>,
    name: &str,
    bytes: Arc<[u8]>,
    tier: Tier,
) -> std::result::Result<PluginModule, Failure> {
    let sha256 = content_hash(&bytes);
    let (compiler, type_name) = (runtime.clone(), name.to_owned());
    tokio::task::spawn_blocking(move || compile_bytes(&compiler, &type_name, &bytes, tier))
        .await
        .unwrap_or_else(|join| Err(format_err!("compilation panicked: {join}")))
        .map_err(|err| Failure {
            sha256,
            // One line per refusal: some parser errors span several.
            reason: format!("{err:#}").split_whitespace().collect::<Vec<_>>().join(" "),
            at: SystemTime::now(),
        })
}

/// What the catalog records of `module`, loaded from `path` now.
pub fn loaded_from(path: &Path, module: &PluginModule) -> Loaded {
    Loaded {
        file: path.to_owned(),
        sha256: module.sha256().to_owned(),
        abi_version: vampire_abi::ABI_VERSION,
        at: SystemTime::now(),
        code: module.tier(),
    }
}

/// Whether `path` names a plugin: `*.wasm`, not hidden.
pub fn is_plugin_name(path: &Path) -> bool {
    let hidden = path.file_name().and_then(|n| n.to_str()).is_none_or(|n| n.starts_with('.'));
    !hidden && path.extension().is_some_and(|ext| ext == "wasm")
}

/// Checks that `path` is a regular file, or a link to one inside `folder`.
///
/// # Errors
/// A sentence saying why the file may not load.
pub fn check_plugin_file(folder: &Path, path: &Path) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|err| format!("cannot read it: {err}"))?;
    if meta.file_type().is_symlink() {
        let target = std::fs::canonicalize(path)
            .map_err(|_| "it is a link that leads nowhere".to_owned())?;
        let folder = std::fs::canonicalize(folder)
            .map_err(|err| format!("cannot resolve the plugins folder: {err}"))?;
        if !target.starts_with(&folder) {
            return Err(format!(
                "it is a link leading outside the plugins folder (to {})",
                target.display()
            ));
        }
        let target_meta =
            std::fs::metadata(&target).map_err(|err| format!("cannot read its target: {err}"))?;
        if !target_meta.is_file() {
            return Err("it is a link to something that is not a regular file".to_owned());
        }
        return Ok(());
    }
    if !meta.is_file() {
        let kind = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(format!("it is {kind}"));
    }
    Ok(())
}
