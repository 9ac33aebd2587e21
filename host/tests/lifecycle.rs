//! Plugin loading and room lifecycle as the server's log shows them, with
//! the real binary: a module of another ABI version is refused naming both
//! versions, and a room's dispose hook runs when it is auto-disposed and
//! when the server shuts down.

mod support;

use serde_json::json;
use support::ServerProcess;
use vampire_client::{Client, CreateRoom};

/// A module that follows `docs/ABI.md` but claims ABI version 1.
const VERSION_ONE: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "vampire_abi_version") (result i32) (i32.const 1))
  (func (export "vampire_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "vampire_dealloc") (param i32 i32))
  (func $ok (param i32 i32) (result i64) (i64.const 0))
  (export "vampire_create" (func $ok))
  (export "vampire_join" (func $ok))
  (export "vampire_leave" (func $ok))
  (export "vampire_invoke" (func $ok))
  (export "vampire_message" (func $ok)))
"#;

#[test]
fn a_module_of_another_abi_version_is_refused_naming_both() {
    let folder = support::plugins_folder();
    std::fs::write(folder.join("old.wasm"), wat::parse_str(VERSION_ONE).unwrap()).unwrap();
    let server = ServerProcess::start(json!({"pluginsDir": folder}));
    let log = server.wait_for_log("listening on TCP");
    let refusal = log
        .lines()
        .find(|line| line.contains("plugin refused") && line.contains("old.wasm"))
        .unwrap_or_else(|| panic!("no refusal of old.wasm:\n{log}"));
    assert!(refusal.contains("built for ABI version 1; this server speaks version 2"), "{refusal}");
}

fn kept(keep: bool) -> CreateRoom {
    CreateRoom {
        room_type: Some("clockwork".into()),
        auto_dispose: Some(!keep),
        ..CreateRoom::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispose_runs_on_auto_dispose_and_on_shutdown() {
    let mut server = ServerProcess::with_plugins(json!({}));
    let client = Client::connect(server.addr).await.unwrap();
    let disposable = client.create_room(kept(false)).await.unwrap().id;
    client.join(&disposable, None).await.unwrap();
    client.leave(&disposable).await.unwrap();
    server.wait_for_log("clockwork disposed: disposed");
    let staying = client.create_room(kept(true)).await.unwrap().id;
    client.join(&staying, None).await.unwrap();
    let log = tokio::task::spawn_blocking(move || {
        server.terminate();
        server.log()
    })
    .await
    .unwrap();
    assert!(log.contains("clockwork disposed: shutdown"), "{log}");
}
