//! [`PluginWatcher`]: hot reload. Watches the plugins folder (the folder,
//! not the files: editors and `cp` replace files by rename or by
//! truncate-and-write) and, when a plugin file settles, hands it to the
//! [`Reloader`], which loads it again (what a reload does is described
//! there).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify_debouncer_full::notify::event::ModifyKind;
use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::Notify;
use tracing::info;

use crate::plugins::reload::Reloader;

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
    /// Starts watching the folder of `reloader`.
    ///
    /// # Errors
    /// When the folder cannot be watched (it does not exist, or the system
    /// refuses a watch).
    pub fn start(reloader: Arc<Reloader>) -> anyhow::Result<PluginWatcher> {
        let folder = reloader.folder().to_owned();
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
            loop {
                wake.notified().await;
                let paths = std::mem::take(&mut *changed.lock().unwrap_or_else(|p| p.into_inner()));
                for path in paths {
                    reloader.file_changed(&path).await;
                }
            }
        });
        Ok(PluginWatcher { _debouncer: debouncer, task })
    }
}
