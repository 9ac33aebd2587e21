//! [`Catalog`]: what the plugins folder holds, as the server loaded it: for
//! each room type, the file and version serving it, when it loaded, and
//! the last attempt that failed. The loader and the reloader write it; the
//! admin API reads it (`GET /admin/room-types`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::lock::lock;
use crate::plugins::runtime::Tier;

/// The SHA-256 of a plugin file, in lowercase hex: the version a room
/// runs, and how a change of content is seen.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The version of a plugin that serves a room type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The file it came from.
    pub file: PathBuf,
    /// Its [`content_hash`].
    pub sha256: String,
    /// The ABI version it declares.
    pub abi_version: i32,
    /// When it started serving.
    pub at: SystemTime,
    /// Which compiler made the code serving (a reload is baseline code
    /// until its optimised code is swapped in).
    pub code: Tier,
}

/// An attempt to load a plugin file that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The [`content_hash`] of what failed (empty when it could not be
    /// read), so a failure is logged once per content.
    pub sha256: String,
    /// Why, in one line.
    pub reason: String,
    /// When.
    pub at: SystemTime,
}

/// What the catalog knows of one room type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginStatus {
    /// The version serving new rooms; `None` when none loaded, or its file
    /// was removed.
    pub loaded: Option<Loaded>,
    /// The last failed attempt since the version serving loaded.
    pub failed: Option<Failure>,
}

/// Every room type's [`PluginStatus`], shared by the loader, the
/// reloader and the admin API. A lock guards it: it changes when a file
/// does and is read by operators, never on a room's path.
#[derive(Debug, Default)]
pub struct Catalog {
    types: Mutex<BTreeMap<String, PluginStatus>>,
}

impl Catalog {
    /// Records that `room_type` is now served by `loaded`.
    pub fn loaded(&self, room_type: &str, loaded: Loaded) {
        let mut types = lock(&self.types);
        let status = types.entry(room_type.to_owned()).or_default();
        status.loaded = Some(loaded);
        status.failed = None;
    }

    /// Records that loading a file of `room_type` failed.
    pub fn failed(&self, room_type: &str, failure: Failure) {
        lock(&self.types).entry(room_type.to_owned()).or_default().failed = Some(failure);
    }

    /// Records that the file of `room_type` was removed.
    pub fn removed(&self, room_type: &str) {
        lock(&self.types).remove(room_type);
    }

    /// Whether `sha256` is what serves `room_type` or what last failed
    /// for it: a file changed back to either need not load again.
    pub fn knows(&self, room_type: &str, sha256: &str) -> bool {
        lock(&self.types).get(room_type).is_some_and(|status| {
            status.loaded.as_ref().is_some_and(|l| l.sha256 == sha256)
                || status.failed.as_ref().is_some_and(|f| f.sha256 == sha256)
        })
    }

    /// Records that `room_type`'s version `sha256` now runs optimised code;
    /// `false` (nothing changed) when another version serves it now.
    pub fn optimised(&self, room_type: &str, sha256: &str) -> bool {
        let mut types = lock(&self.types);
        let serving = types.get_mut(room_type).and_then(|status| status.loaded.as_mut());
        match serving {
            Some(loaded) if loaded.sha256 == sha256 => {
                loaded.code = Tier::Optimised;
                true
            }
            _ => false,
        }
    }

    /// Whether `sha256` is the version serving `room_type`.
    pub fn serves(&self, room_type: &str, sha256: &str) -> bool {
        lock(&self.types)
            .get(room_type)
            .and_then(|status| status.loaded.as_ref())
            .is_some_and(|loaded| loaded.sha256 == sha256)
    }

    /// The status of `room_type`, if the folder ever had it.
    pub fn status(&self, room_type: &str) -> Option<PluginStatus> {
        lock(&self.types).get(room_type).cloned()
    }

    /// Every room type's status, by name.
    pub fn all(&self) -> BTreeMap<String, PluginStatus> {
        lock(&self.types).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_sha256_and_failures_are_remembered_until_a_load() {
        assert_eq!(
            content_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let catalog = Catalog::default();
        let failure = Failure { sha256: "f".into(), reason: "bad".into(), at: SystemTime::now() };
        catalog.failed("chat", failure);
        assert!(catalog.knows("chat", "f"));
        let loaded = Loaded {
            file: "chat.wasm".into(),
            sha256: "l".into(),
            abi_version: 1,
            at: SystemTime::now(),
            code: Tier::Optimised,
        };
        catalog.loaded("chat", loaded);
        assert!(catalog.knows("chat", "l") && !catalog.knows("chat", "f"));
        catalog.removed("chat");
        assert_eq!(catalog.status("chat"), None);
    }
}
