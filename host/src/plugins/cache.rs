//! [`ModuleCache`]: compiled plugins kept on disk, so a restart loads
//! them without compiling again.
//!
//! A plugin's compiled code is stored under its room type, the SHA-256 of
//! its `.wasm` file and the engine's compatibility hash (what wasmtime says
//! must match for compiled code to be loaded: its version, the compiler's
//! settings, the CPU's features), so a changed plugin, an upgraded server
//! or another machine never loads stale code; it compiles, and the cache
//! is written again. Writing a room type's code removes its older files:
//! the cache holds one file per room type (per engine).
//!
//! Loading compiled code runs what is in the file as native code: unlike a
//! `.wasm`, it is not checked. The cache is therefore trusted only in a
//! folder of this user's alone: owned by it, writable by nobody else
//! (created `0700` when missing). A folder that is not is not used, and
//! the server says so once; every plugin is then compiled.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{debug, warn};
use wasmtime::{Engine, Module};

/// Writes begun by this process, to name each one's file apart.
static WRITERS: AtomicU64 = AtomicU64::new(0);

/// Compiled plugins on disk, for one engine.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    folder: PathBuf,
    /// The engine's compatibility hash, in every file name.
    engine: String,
}

impl ModuleCache {
    /// The cache in `folder` for `engine`, created (`0700`) when missing;
    /// `None`, with a warning, when it cannot be made or is not this
    /// user's alone.
    pub fn open(folder: &Path, engine: &Engine) -> Option<ModuleCache> {
        if let Err(err) = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(folder) {
            warn!(folder = %folder.display(), %err, "cannot create the compiled-plugin cache; plugins compile at every start");
            return None;
        }
        let metadata = std::fs::metadata(folder).ok()?;
        // This process's own entry is owned by the user it runs as.
        let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
        if Some(metadata.uid()) != me || metadata.permissions().mode() & 0o022 != 0 {
            warn!(folder = %folder.display(), "the compiled-plugin cache is not this user's alone (owner, or group/other write): not used");
            return None;
        }
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Some(ModuleCache { folder: folder.to_owned(), engine: format!("{:016x}", hasher.finish()) })
    }

    /// The compiled module of room type `name`'s `.wasm`, whose SHA-256 is
    /// `sha256`, when the cache holds one this engine can load.
    #[allow(unsafe_code)]
    pub fn load(&self, engine: &Engine, name: &str, sha256: &str) -> Option<Module> {
        let path = self.path(name, sha256);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `store` from `Module::serialize`
        // of an engine with the same compatibility hash (its name says so),
        // in a folder only this user can write (checked in `open`).
        match unsafe { Module::deserialize_file(engine, &path) } {
            Ok(module) => Some(module),
            Err(err) => {
                debug!(path = %path.display(), %err, "a cached plugin did not load; compiling");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps `module`, compiled from room type `name`'s `.wasm` whose
    /// SHA-256 is `sha256` (written aside, then renamed: a reader never
    /// sees half a file), and removes the type's older files. A failure is
    /// logged and changes nothing else.
    pub fn store(&self, name: &str, sha256: &str, module: &Module) {
        let final_path = self.path(name, sha256);
        let written = module.serialize().map_err(|err| err.to_string()).and_then(|bytes| {
            // Unique to this writer: two rooms types of one file may be
            // compiled at once, in this process or another.
            let writer = WRITERS.fetch_add(1, Ordering::Relaxed);
            let aside = final_path.with_extension(format!("{}-{writer}.tmp", std::process::id()));
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&aside)
                .map_err(|err| err.to_string())?;
            file.write_all(&bytes).map_err(|err| err.to_string())?;
            std::fs::rename(&aside, &final_path).map_err(|err| err.to_string())
        });
        if let Err(err) = written {
            return debug!(%err, "cannot keep a compiled plugin in the cache");
        }
        let older = std::fs::read_dir(&self.folder).into_iter().flatten().flatten();
        for file in older.map(|entry| entry.path()) {
            let of_type = file.file_name().and_then(|f| f.to_str()).is_some_and(|f| {
                f.strip_prefix(name).and_then(|rest| rest.strip_prefix('.')).is_some()
                    && f.ends_with(".cwasm")
            });
            if of_type && file != final_path {
                let _ = std::fs::remove_file(file);
            }
        }
    }

    /// `{type}.{sha256}-{engine}.cwasm` (room types hold no `.`).
    fn path(&self, name: &str, sha256: &str) -> PathBuf {
        self.folder.join(format!("{name}.{sha256}-{}.cwasm", self.engine))
    }
}
