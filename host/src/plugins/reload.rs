//! [`Reloader`]: loads a plugin file again and swaps it into the live
//! rooms of its type, for the folder watcher (a file changed) and for the
//! admin API (an operator asked).
//!
//! - a changed file is compiled, checked and tried off the reactor; only
//!   then do new rooms get the new version, and every live room of the
//!   type swaps to it between two of its commands, keeping its members,
//!   variables and clock (see `RoomBehaviour::reload`);
//! - a new version of a type that serves already is compiled by the
//!   baseline compiler first ([`Tier`]), so it answers a few milliseconds
//!   after the file settles; the optimising compiler then compiles it in
//!   the background and the rooms swap again, to that code, without
//!   telling their members (the same version: nothing they see changes);
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
use crate::plugins::runtime::{PluginRuntime, Tier};
use crate::rooms::manager::ReloadReport;
use crate::rooms::{RoomManager, Swap};

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
    pub async fn file_changed(self: &Arc<Self>, path: &Path) {
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
    pub async fn reload(self: &Arc<Self>, room_type: &str) -> Result<Reloaded, String> {
        let path = match self.catalog.status(room_type).and_then(|s| s.loaded) {
            Some(loaded) => loaded.file,
            None => self.folder.join(format!("{room_type}.wasm")),
        };
        self.load(room_type, &path, true).await
    }

    /// Loads `path` as room type `name` (skipping content already known,
    /// unless `force`), records the outcome and counts it.
    async fn load(
        self: &Arc<Self>,
        name: &str,
        path: &Path,
        force: bool,
    ) -> Result<Reloaded, String> {
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
        // Only a type with live rooms waits for its code; a new one is
        // compiled optimised at once.
        let tier = if self.rooms.has_type(name) { Tier::Baseline } else { Tier::Optimised };
        let mut source = None;
        let loaded = match loader::read_file(&self.folder, path).await {
            Ok(bytes) if !force && self.catalog.knows(name, &content_hash(&bytes)) => {
                return Ok(Reloaded::Unchanged);
            }
            Ok(bytes) => {
                source = Some(bytes.clone());
                loader::compile_file(&self.runtime, name, bytes, tier).await
            }
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
        let tier = module.tier();
        let sha256 = module.sha256().to_owned();
        let report = self
            .rooms
            .reload_type(Arc::new(PluginRoomType(Arc::new(module))), Swap::NewVersion)
            .await;
        if let (Tier::Baseline, Some(bytes)) = (tier, source) {
            let reloader = self.clone();
            let name = name.to_owned();
            tokio::spawn(async move { reloader.optimise(&name, &sha256, bytes).await });
        }
        metrics.reload(true, started.elapsed());
        let total_ms = started.elapsed().as_millis() as u64;
        if new_type {
            info!(plugin = %name, path = %path.display(), compile_ms, "plugin loaded: a new room type");
            return Ok(Reloaded::Added);
        }
        info!(plugin = %name, path = %path.display(), rooms_swapped = report.swapped, rooms_kept = report.kept.len(), compile_ms, total_ms, code = tier.as_str(), "plugin reloaded");
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

    /// Compiles version `sha256` of `name` (its file's `bytes`) with the
    /// optimising compiler and swaps it into the type's rooms, unless
    /// another version serves by then (a newer reload, or a removal, won
    /// the turn first).
    async fn optimise(&self, name: &str, sha256: &str, bytes: Arc<[u8]>) {
        let started = Instant::now();
        let module = match loader::compile_file(&self.runtime, name, bytes, Tier::Optimised).await {
            Ok(module) => module,
            Err(failure) => {
                // It compiled once; a second compiler refusing it is ours
                // to explain. The baseline code keeps serving.
                warn!(plugin = %name, "optimised compile failed, baseline code keeps serving: {}", failure.reason);
                return;
            }
        };
        let _turn = self.turn.lock().await;
        if !self.catalog.serves(name, sha256) {
            return;
        }
        let report = self
            .rooms
            .reload_type(
                Arc::new(PluginRoomType(Arc::new(module))),
                Swap::Recompiled { sha256: sha256.to_owned() },
            )
            .await;
        self.catalog.optimised(name, sha256);
        info!(plugin = %name, rooms_swapped = report.swapped, rooms_kept = report.kept.len(), compile_ms = started.elapsed().as_millis() as u64, "plugin's optimised code swapped in");
    }
}
