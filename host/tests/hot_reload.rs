//! Hot reload with the real binary, a real plugins folder and connected
//! clients: plugin files replaced (by rename and in place), corrupted,
//! truncated, added and removed while rooms run.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{ADMIN_TOKEN, ServerProcess, admin_section, http};
use vampire_client::{Client, CreateRoom, ErrorCode, Event, Incoming, Payload, Value};

const PATIENCE: Duration = Duration::from_secs(10);

/// The built module of test plugin `name`.
fn module(name: &str) -> Vec<u8> {
    let (_, path) = support::built_plugins().iter().find(|(n, _)| n == name).unwrap();
    std::fs::read(path).unwrap()
}

/// A plugins folder holding only `reloadable.wasm`, version 1.
fn folder_with_v1() -> PathBuf {
    let folder = support::temp_dir("reload");
    std::fs::write(folder.join("reloadable.wasm"), module("reload-v1")).unwrap();
    folder
}

/// Replaces `path` the way editors and careful operators do: a temporary
/// file in the same folder, renamed over it.
fn replace_by_rename(path: &Path, bytes: &[u8]) {
    let temporary = path.with_file_name(".reloadable.wasm.tmp");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

fn room_type(name: &str) -> CreateRoom {
    CreateRoom { room_type: Some(name.into()), auto_dispose: Some(false), ..CreateRoom::default() }
}

async fn version(client: &Client, room: &str) -> u64 {
    client.invoke(room, "version", Value::Nil).await.unwrap().to_value().as_u64().unwrap()
}

/// Waits until the room answers `expected` to `version`.
async fn wait_for_version(client: &Client, room: &str, expected: u64) {
    let deadline = Instant::now() + PATIENCE;
    while version(client, room).await != expected {
        assert!(Instant::now() < deadline, "the room never answered version {expected}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_plugin_swaps_under_live_rooms_keeping_clients_and_state() {
    let folder = folder_with_v1();
    let path = folder.join("reloadable.wasm");
    let server = ServerProcess::start(json!({"pluginsDir": folder}));
    let mut a = Client::connect(server.addr).await.unwrap();
    let b = Client::connect(server.addr).await.unwrap();
    let room = a.create_room(room_type("reloadable")).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    b.join(&room, None).await.unwrap();
    a.set_variable(&room, "kept", Payload::from(7), None).await.unwrap();
    for _ in 0..3 {
        a.invoke(&room, "count", Value::Nil).await.unwrap();
    }
    assert_eq!(version(&a, &room).await, 1);

    // Replaced by rename: the same connections get version 2's answers.
    replace_by_rename(&path, &module("reload-v2"));
    wait_for_version(&b, &room, 2).await;
    // Snapshot and restore carried the count across; variables stayed.
    let count = a.invoke(&room, "count", Value::Nil).await.unwrap();
    assert_eq!(count.to_value().as_u64(), Some(4));
    assert_eq!(a.get_variable(&room, "kept").await.unwrap(), Payload::from(7));
    assert_eq!(a.get_variable(&room, "started_as").await.unwrap(), Payload::from("Reloaded v2"));
    let reloaded = loop {
        match a.next_event_within(PATIENCE).await {
            Some(Incoming::Event(event @ Event::RoomReloaded { .. })) => break event,
            Some(_) => continue,
            None => panic!("no room_reloaded"),
        }
    };
    assert_eq!(reloaded, Event::RoomReloaded { room: room.clone() });

    // Replaced in place (truncate and write).
    std::fs::write(&path, module("reload-v1")).unwrap();
    wait_for_version(&a, &room, 1).await;
    assert_eq!(a.invoke(&room, "count", Value::Nil).await.unwrap().to_value().as_u64(), Some(5));
    // New rooms get the new version too.
    let fresh = b.create_room(room_type("reloadable")).await.unwrap().id;
    b.join(&fresh, None).await.unwrap();
    assert_eq!(version(&b, &fresh).await, 1);
    assert_eq!(b.get_variable(&fresh, "started_as").await.unwrap(), Payload::from("New v1"));

    // A version whose restore fails: the rooms keep the old one.
    replace_by_rename(&path, &module("reload-bad"));
    server.wait_for_log("some rooms kept the old version");
    assert_eq!(version(&a, &room).await, 1);
    assert_eq!(a.invoke(&room, "count", Value::Nil).await.unwrap().to_value().as_u64(), Some(6));
}

/// What the admin API says compiled the code serving `room_type`.
async fn code_of(server: &ServerProcess, room_type: &str) -> String {
    let types = http::get(server.admin.unwrap(), "/admin/room-types", ADMIN_TOKEN).await.json();
    let entry = types["room_types"].as_array().unwrap().iter().find(|t| t["name"] == room_type);
    entry.unwrap()["plugin"]["code"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_answers_from_quick_code_then_swaps_to_optimised_code_unannounced() {
    let folder = folder_with_v1();
    let path = folder.join("reloadable.wasm");
    let server =
        ServerProcess::start(json!({"pluginsDir": folder, "admin": admin_section(json!({}))}));
    assert_eq!(
        code_of(&server, "reloadable").await,
        "optimised",
        "start-up compiles optimised code"
    );
    let mut a = Client::connect(server.addr).await.unwrap();
    let room = a.create_room(room_type("reloadable")).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    a.invoke(&room, "count", Value::Nil).await.unwrap();

    replace_by_rename(&path, &module("reload-v2"));
    wait_for_version(&a, &room, 2).await;
    server.wait_for_log("plugin's optimised code swapped in");
    assert_eq!(code_of(&server, "reloadable").await, "optimised");
    // The second swap kept the room's state and its member, and said
    // nothing: one `room_reloaded`, for the new version.
    assert_eq!(a.invoke(&room, "count", Value::Nil).await.unwrap().to_value().as_u64(), Some(2));
    assert_eq!(version(&a, &room).await, 2);
    let mut announced = 0;
    while let Some(incoming) = a.next_event_within(Duration::from_millis(300)).await {
        if matches!(incoming, Incoming::Event(Event::RoomReloaded { .. })) {
            announced += 1;
        }
    }
    assert_eq!(announced, 1, "members hear of the new version once");
    let log = server.log();
    let quick = log.lines().find(|l| l.contains("plugin reloaded")).expect("the reload is logged");
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        assert!(quick.contains("baseline"), "the first version is the quick compiler's: {quick}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_truncated_files_leave_the_old_version_serving_and_are_logged_once() {
    let folder = folder_with_v1();
    let path = folder.join("reloadable.wasm");
    let server = ServerProcess::start(json!({"pluginsDir": folder}));
    let client = Client::connect(server.addr).await.unwrap();
    let room = client.create_room(room_type("reloadable")).await.unwrap().id;
    client.join(&room, None).await.unwrap();

    std::fs::write(&path, b"this is not a WebAssembly module").unwrap();
    server.wait_for_log("the old version keeps serving");
    // The same corrupt content again is not reported again.
    std::fs::write(&path, b"this is not a WebAssembly module").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(version(&client, &room).await, 1);
    let v2 = module("reload-v2");
    std::fs::write(&path, &v2[..v2.len() / 2]).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(version(&client, &room).await, 1, "a truncated file is not loaded");
    let log = server.log();
    let refusals = log.lines().filter(|l| l.contains("the old version keeps serving")).count();
    assert_eq!(refusals, 2, "one line for the corrupt file, one for the truncated one:\n{log}");
    assert!(
        log.lines().filter(|l| l.contains("keeps serving")).all(|l| l.contains("reloadable.wasm"))
    );
    // Once the file is whole, the new version loads.
    std::fs::write(&path, &v2).unwrap();
    wait_for_version(&client, &room, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_file_adds_a_room_type_and_a_removed_one_stops_new_rooms_only() {
    let folder = folder_with_v1();
    let server = ServerProcess::start(json!({"pluginsDir": folder}));
    let client = Client::connect(server.addr).await.unwrap();
    let err = client.create_room(room_type("extra")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownRoomType));

    replace_by_rename(&folder.join("extra.wasm"), &module("reload-v2"));
    let deadline = Instant::now() + PATIENCE;
    let room = loop {
        match client.create_room(room_type("extra")).await {
            Ok(info) => break info.id,
            Err(err) if err.code() == Some(ErrorCode::UnknownRoomType) => {
                assert!(Instant::now() < deadline, "the new file never became a room type");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => panic!("{err}"),
        }
    };
    client.join(&room, None).await.unwrap();
    assert_eq!(version(&client, &room).await, 2);

    std::fs::remove_file(folder.join("extra.wasm")).unwrap();
    server.wait_for_log("plugin removed");
    let err = client.create_room(room_type("extra")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownRoomType));
    assert_eq!(version(&client, &room).await, 2, "the live room keeps running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_in_a_closed_loop_during_swaps_are_neither_lost_nor_doubled() {
    let folder = folder_with_v1();
    let path = folder.join("reloadable.wasm");
    let server = ServerProcess::start(json!({
        "pluginsDir": folder,
        "limits": {"requestsPerSecond": 100000, "requestBurst": 100000}
    }));
    let sender = Client::connect(server.addr).await.unwrap();
    let mut receiver = Client::connect(server.addr).await.unwrap();
    let room = sender.create_room(room_type("reloadable")).await.unwrap().id;
    sender.join(&room, None).await.unwrap();
    receiver.join(&room, None).await.unwrap();

    let sending = tokio::spawn({
        let room = room.clone();
        async move {
            let mut sent = 0u64;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(3) {
                sender.send_message(&room, Payload::from(sent)).await.unwrap();
                sent += 1;
            }
            sent
        }
    });
    let (v1, v2) = (module("reload-v1"), module("reload-v2"));
    for swap in 0..6 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        replace_by_rename(&path, if swap % 2 == 0 { &v2 } else { &v1 });
    }
    let sent = sending.await.unwrap();
    let mut next = 0u64;
    let mut reloads = 0;
    while next < sent {
        match receiver.next_event_within(PATIENCE).await {
            Some(Incoming::Event(Event::RoomMessage { data, .. })) => {
                let seq = data.to_value().as_u64().unwrap();
                assert_eq!(seq, next, "message {seq} came when {next} was due");
                next += 1;
            }
            Some(Incoming::Event(Event::RoomReloaded { .. })) => reloads += 1,
            Some(_) => {}
            None => panic!("only {next} of {sent} messages arrived"),
        }
    }
    assert!(sent > 100 && reloads >= 3, "{sent} messages, {reloads} reloads");
}
