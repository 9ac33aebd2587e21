//! [`PluginWatcher`]: hot reload. Watches the plugins folder (the folder,
//! not the files: editors and `cp` replace files by rename or by
//! truncate-and-write) and, when a plugin file settles, loads it again:
//!
//! - a changed file is compiled, checked and tried off the reactor; only
//!   then do new rooms get the new version, and every live room of the
//!   type swaps to it between two of its commands, keeping its members,
//!   variables and clock (see `RoomBehaviour::reload`);
//! - a new file adds a room type; a removed file stops new rooms of its
//!   type (`unknown_room_type`) while live ones keep running;
//! - a file that does not compile or fails the ABI check (say, one still
//!   being written) leaves the old version serving; the failure is logged
//!   once per content, and the file is tried again when it changes;
//! - a file whose content did not change is skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify_debouncer_full::notify::event::ModifyKind;
use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::plugins::loader::{self, Catalog, content_hash};
use crate::plugins::room::PluginRoomType;
use crate::plugins::runtime::PluginRuntime;
use crate::rooms::RoomManager;

/// How long a file must be quiet before it is loaded: writes closer
/// together than this count as one change.
pub const SETTLE_TIME: Duration = Duration::from_millis(50);

/// A running watch of the plugins folder; dropping it stops the watch.
pub struct PluginWatcher {
    _debouncer: Debouncer<notify_debouncer_full::notify::RecommendedWatcher, RecommendedCache>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PluginWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether a file-system event can change a file's content: a creation,
/// a write, a rename or a removal. Reading a plugin (as the server itself
/// does) raises access and metadata events, which must not count.
fn is_content_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        _ => false,
    }
}

impl PluginWatcher {
    /// Starts watching `folder`, with `catalog` describing what was loaded
    /// at start.
    ///
    /// # Errors
    /// When the folder cannot be watched (it does not exist, or the system
    /// refuses a watch).
    pub fn start(
        runtime: Arc<PluginRuntime>,
        rooms: Arc<RoomManager>,
        folder: PathBuf,
        catalog: Catalog,
    ) -> anyhow::Result<PluginWatcher> {
        let changed: Arc<Mutex<BTreeSet<PathBuf>>> = Arc::default();
        let wake = Arc::new(Notify::new());
        let (sink, waker) = (changed.clone(), wake.clone());
        let mut debouncer =
            new_debouncer(SETTLE_TIME, None, move |result: DebounceEventResult| {
                let Ok(events) = result else { return };
                let mut changed = sink.lock().unwrap_or_else(|p| p.into_inner());
                for event in events.iter().filter(|e| is_content_change(&e.event.kind)) {
                    changed.extend(event.event.paths.iter().cloned());
                }
                drop(changed);
                waker.notify_one();
            })?;
        debouncer.watch(&folder, RecursiveMode::NonRecursive)?;
        info!(folder = %folder.display(), "watching the plugins folder for changes");
        let task = tokio::spawn(async move {
            let mut catalog = catalog;
            loop {
                wake.notified().await;
                let paths = std::mem::take(&mut *changed.lock().unwrap_or_else(|p| p.into_inner()));
                for path in paths {
                    reload_file(&runtime, &rooms, &folder, &mut catalog, &path).await;
                }
            }
        });
        Ok(PluginWatcher { _debouncer: debouncer, task })
    }
}

/// Acts on one path of the folder that changed.
async fn reload_file(
    runtime: &Arc<PluginRuntime>,
    rooms: &Arc<RoomManager>,
    folder: &Path,
    catalog: &mut Catalog,
    path: &Path,
) {
    // The watch is not recursive: every path is a child of the folder.
    let Some(file) = path.file_name() else { return };
    let path = &folder.join(file);
    if !loader::is_plugin_name(path) {
        return;
    }
    let Ok(name) = loader::room_type_of(path) else { return };
    if std::fs::symlink_metadata(path).is_err() {
        catalog.loaded.remove(&name);
        catalog.failed.remove(&name);
        if rooms.unregister_type(&name) {
            info!(plugin = %name, "plugin removed: new rooms of this type are refused; live rooms keep running");
        }
        return;
    }
    if let Err(reason) = loader::check_plugin_file(folder, path) {
        warn!(module = %path.display(), "plugin refused: {reason}");
        return;
    }
    let reading = path.clone();
    let read = tokio::task::spawn_blocking(move || std::fs::read(reading)).await;
    let bytes = match read.unwrap_or_else(|join| Err(std::io::Error::other(join.to_string()))) {
        Ok(bytes) => bytes,
        Err(err) => {
            warn!(module = %path.display(), %err, "cannot read a changed plugin");
            return;
        }
    };
    let hash = content_hash(&bytes);
    if catalog.loaded.get(&name) == Some(&hash) || catalog.failed.get(&name) == Some(&hash) {
        return;
    }
    let (compiler, type_name) = (runtime.clone(), name.clone());
    let started = std::time::Instant::now();
    let compiled =
        tokio::task::spawn_blocking(move || loader::compile_bytes(&compiler, &type_name, &bytes))
            .await
            .unwrap_or_else(|join| Err(wasmtime::format_err!("compilation panicked: {join}")));
    let module = match compiled {
        Ok(module) => module,
        Err(err) => {
            catalog.failed.insert(name.clone(), hash);
            let reason = format!("{err:#}").split_whitespace().collect::<Vec<_>>().join(" ");
            if rooms.has_type(&name) {
                warn!(module = %path.display(), "plugin not reloaded, the old version keeps serving: {reason}");
            } else {
                warn!(module = %path.display(), "plugin refused: {reason}");
            }
            return;
        }
    };
    catalog.loaded.insert(name.clone(), hash);
    catalog.failed.remove(&name);
    let compile_ms = started.elapsed().as_millis() as u64;
    let new_type = !rooms.has_type(&name);
    let report = rooms.reload_type(Arc::new(PluginRoomType(Arc::new(module)))).await;
    let total_ms = started.elapsed().as_millis() as u64;
    if new_type {
        info!(plugin = %name, path = %path.display(), compile_ms, "plugin loaded: a new room type");
    } else {
        info!(plugin = %name, path = %path.display(), rooms_swapped = report.swapped, rooms_kept = report.kept.len(), compile_ms, total_ms, "plugin reloaded");
    }
    if let Some((room, reason)) = report.kept.first() {
        warn!(
            plugin = %name,
            rooms = report.kept.len(),
            first = %room,
            "some rooms kept the old version: {reason}"
        );
    }
}
