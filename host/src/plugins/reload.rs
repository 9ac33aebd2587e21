//! [`Reloader`]: loads a plugin file again and swaps it into the live
//! rooms of its type, for the folder watcher (a file changed) and for the
//! admin API (an operator asked).
//!
//! - a changed file is compiled, checked and tried off the reactor; only
//!   then do new rooms get the new version, and every live room of the
//!   type swaps to it between two of its commands, keeping its members,
//!   variables and clock (see `RoomBehaviour::reload`);
//! - a new file adds a room type; a removed file stops new rooms of its
//!   type (`unknown_room_type`) while live ones keep running;
//! - a file that does not compile or fails the ABI check (say, one still
//!   being written) leaves the old version serving; the failure is logged
//!   once per content and kept in the [`Catalog`], and the file is tried
//!   again when it changes;
//! - a file whose content did not change is skipped, unless an operator
//!   asks for it.
//!
//! One reload runs at a time, so the watcher and an operator never race
//! to swap the same rooms.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tracing::{info, warn};

use crate::plugins::catalog::{Catalog, content_hash};
use crate::plugins::loader;
use crate::plugins::room::PluginRoomType;
use crate::plugins::runtime::PluginRuntime;
use crate::rooms::RoomManager;
use crate::rooms::manager::ReloadReport;

/// What a reload did.
#[derive(Debug)]
pub enum Reloaded {
    /// The file's content is what already serves (or already failed).
    Unchanged,
    /// A new room type.
    Added,
    /// A new version of a room type, and what its live rooms did.
    Swapped(ReloadReport),
    /// The file is gone: new rooms of the type are refused.
    Removed,
}

/// Loads plugin files again (see the module docs).
pub struct Reloader {
    runtime: Arc<PluginRuntime>,
    rooms: Arc<RoomManager>,
    folder: PathBuf,
    catalog: Arc<Catalog>,
    /// Held for the whole of a reload.
    turn: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// A reloader of the plugins in `folder`, whose state is `catalog`.
    pub fn new(
        runtime: Arc<PluginRuntime>,
        rooms: Arc<RoomManager>,
        folder: PathBuf,
        catalog: Arc<Catalog>,
    ) -> Reloader {
        Reloader { runtime, rooms, folder, catalog, turn: tokio::sync::Mutex::new(()) }
    }

    /// The plugins folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// What the folder serves.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Acts on a path of the folder the watcher saw change: loads it if
    /// its content is new, forgets its type if it is gone. Paths that
    /// are not plugins are ignored.
    pub async fn file_changed(&self, path: &Path) {
        // The watch is not recursive: every path is a child of the folder.
        let Some(file) = path.file_name() else { return };
        let path = self.folder.join(file);
        if !loader::is_plugin_name(&path) {
            return;
        }
        let Ok(name) = loader::room_type_of(&path) else { return };
        let _ = self.load(&name, &path, false).await;
    }

    /// Loads the file of room type `room_type` again, whether or not it
    /// changed (an operator's reload).
    ///
    /// # Errors
    /// Why it could not load (the old version keeps serving), in one line.
    pub async fn reload(&self, room_type: &str) -> Result<Reloaded, String> {
        let path = match self.catalog.status(room_type).and_then(|s| s.loaded) {
            Some(loaded) => loaded.file,
            None => self.folder.join(format!("{room_type}.wasm")),
        };
        self.load(room_type, &path, true).await
    }

    /// Loads `path` as room type `name` (skipping content already known,
    /// unless `force`), records the outcome and counts it.
    async fn load(&self, name: &str, path: &Path, force: bool) -> Result<Reloaded, String> {
        let _turn = self.turn.lock().await;
        if std::fs::symlink_metadata(path).is_err() {
            self.catalog.removed(name);
            if self.rooms.unregister_type(name) {
                info!(plugin = %name, "plugin removed: new rooms of this type are refused; live rooms keep running");
                return Ok(Reloaded::Removed);
            }
            return Err(format!("no plugin file {}", path.display()));
        }
        let started = Instant::now();
        let metrics = self.runtime.metrics();
        let loaded = match loader::read_file(&self.folder, path).await {
            Ok(bytes) if !force && self.catalog.knows(name, &content_hash(&bytes)) => {
                return Ok(Reloaded::Unchanged);
            }
            Ok(bytes) => loader::compile_file(&self.runtime, name, bytes).await,
            Err(failure) => Err(failure),
        };
        let module = match loaded {
            Ok(module) => module,
            Err(failure) => {
                let reason = failure.reason.clone();
                if self.rooms.has_type(name) {
                    warn!(module = %path.display(), "plugin not reloaded, the old version keeps serving: {reason}");
                } else {
                    warn!(module = %path.display(), "plugin refused: {reason}");
                }
                self.catalog.failed(name, failure);
                metrics.reload(false, started.elapsed());
                return Err(reason);
            }
        };
        self.catalog.loaded(name, loader::loaded_from(path, &module));
        let compile_ms = started.elapsed().as_millis() as u64;
        let new_type = !self.rooms.has_type(name);
        let report = self.rooms.reload_type(Arc::new(PluginRoomType(Arc::new(module)))).await;
        metrics.reload(true, started.elapsed());
        let total_ms = started.elapsed().as_millis() as u64;
        if new_type {
            info!(plugin = %name, path = %path.display(), compile_ms, "plugin loaded: a new room type");
            return Ok(Reloaded::Added);
        }
        info!(plugin = %name, path = %path.display(), rooms_swapped = report.swapped, rooms_kept = report.kept.len(), compile_ms, total_ms, "plugin reloaded");
        if let Some((room, reason)) = report.kept.first() {
            warn!(
                plugin = %name,
                rooms = report.kept.len(),
                first = %room,
                "some rooms kept the old version: {reason}"
            );
        }
        Ok(Reloaded::Swapped(report))
    }
}
