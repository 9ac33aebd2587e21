//! The compiled-plugin cache against a real server and real `.wasm`: a
//! restart loads what the first start compiled, a damaged file is compiled
//! again, and a folder others may write is not trusted.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use vampire_client::CreateRoom;
use vampire_tests::{TestServer, built_plugins};

/// A new, empty folder for a cache, `0700`.
fn cache_folder(name: &str) -> PathBuf {
    let folder =
        std::env::temp_dir().join(format!("vampiretcp-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    folder
}

/// The compiled files in `folder`, with when each was last written.
fn compiled(folder: &Path) -> Vec<(PathBuf, SystemTime)> {
    let mut files: Vec<(PathBuf, SystemTime)> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .map(|path| {
            let written = std::fs::metadata(&path).unwrap().modified().unwrap();
            (path, written)
        })
        .collect();
    files.sort();
    files
}

/// The compiled files in `folder` once no write is under way (the cache
/// is written beside the load).
async fn settled(folder: &Path) -> Vec<(PathBuf, SystemTime)> {
    let mut last = compiled(folder);
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let now = compiled(folder);
        let writing = std::fs::read_dir(folder)
            .unwrap()
            .flatten()
            .any(|entry| entry.path().extension().is_some_and(|e| e == "tmp"));
        if now == last && !writing {
            return now;
        }
        last = now;
    }
    last
}

/// Starts a server with every plugin (changed by `change`) and `cache`,
/// checks a plugin room works, and stops it.
async fn start_and_stop_with(cache: &Path, change: impl FnOnce(&Path)) {
    let cache = cache.to_owned();
    let server =
        TestServer::with_plugins(change, |config| config.plugin_cache_dir = Some(cache)).await;
    let client = server.client().await;
    let chat = CreateRoom { room_type: Some("chat".into()), ..CreateRoom::default() };
    let room = client.create_room(chat).await.unwrap().id;
    client.join(&room, None).await.unwrap();
    server.stop().await;
}

async fn start_and_stop(cache: &Path) {
    start_and_stop_with(cache, |_| {}).await;
}

#[tokio::test]
async fn a_restart_loads_the_plugins_the_first_start_compiled() {
    let cache = cache_folder("restart");
    start_and_stop(&cache).await;
    let first = settled(&cache).await;
    // Every plugin that loads (a test plugin or two are refused).
    let plugins = built_plugins().len();
    assert!((4..=plugins).contains(&first.len()), "{} of {plugins}: {first:?}", first.len());

    // Loaded, not compiled again: nothing is written.
    start_and_stop(&cache).await;
    assert_eq!(compiled(&cache), first);

    // A damaged file is compiled again, and written anew.
    let (damaged, _) = &first[0];
    std::fs::write(damaged, b"not compiled code").unwrap();
    start_and_stop(&cache).await;
    let again = settled(&cache).await;
    assert_eq!(again.len(), first.len());
    assert!(std::fs::metadata(damaged).unwrap().len() > 1000, "written again");

    // A new version of a plugin replaces its file: one file a room type.
    let chat_file = |files: &[(PathBuf, SystemTime)]| {
        let named = |path: &PathBuf| path.file_name().unwrap().to_string_lossy().into_owned();
        files.iter().map(|(path, _)| named(path)).find(|name| name.starts_with("chat."))
    };
    let before = chat_file(&again).expect("chat is kept");
    start_and_stop_with(&cache, |folder| {
        std::fs::copy(folder.join("lobby.wasm"), folder.join("chat.wasm")).unwrap();
    })
    .await;
    // The cache is written beside the load: within a moment.
    let started = std::time::Instant::now();
    let after = loop {
        let after = compiled(&cache);
        if chat_file(&after).is_some_and(|now| now != before) || started.elapsed().as_secs() > 5 {
            break after;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(after.len(), again.len());
    assert_ne!(chat_file(&after).expect("chat is kept"), before);
}

#[tokio::test]
async fn a_cache_folder_others_may_write_is_not_used() {
    let cache = cache_folder("shared");
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    start_and_stop(&cache).await;
    assert!(compiled(&cache).is_empty(), "nothing kept where others may write");
}
