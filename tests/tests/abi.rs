//! Plugins written without the SDK, in WebAssembly text, from
//! `docs/ABI.md` alone: they load and work, and modules that break the ABI
//! are refused while the others load.

use std::path::Path;

use vampire_client::{CreateRoom, ErrorCode, Event};
use vampire_tests::{TestServer, as_json, json, next_event, serde_json, wait_for};

/// A hand-written counter room for ABI 2, written from `docs/ABI.md`:
/// every `invoke` increments variable `hits` (a broadcast variable only
/// the room may set, read back through `variable_get`) and answers
/// `{"ok": hits}`; `message` broadcasts its whole input from the room.
const COUNTER: &str = r#"
(module
  (import "vampire" "variable_get" (func $variable_get (param i32 i32 i32 i32) (result i32)))
  (import "vampire" "variable_set" (func $variable_set (param i32 i32 i32 i32 i32) (result i32)))
  (import "vampire" "broadcast" (func $broadcast (param i64 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hits")
  (func (export "vampire_abi_version") (result i32) (i32.const 2))
  ;; One scratch buffer at 4096, grown as needed.
  (func (export "vampire_alloc") (param $len i32) (result i32)
    (local $pages i32)
    (local.set $pages
      (i32.shr_u (i32.add (i32.add (local.get $len) (i32.const 4096)) (i32.const 65535))
                 (i32.const 16)))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then (drop (memory.grow (i32.sub (local.get $pages) (memory.size))))))
    (i32.const 4096))
  (func (export "vampire_dealloc") (param i32 i32))
  (func $ok (param i32 i32) (result i64) (i64.const 0))
  (export "vampire_create" (func $ok))
  (export "vampire_join" (func $ok))
  (export "vampire_leave" (func $ok))
  (func (export "vampire_message") (param $ptr i32) (param $len i32) (result i64)
    (drop (call $broadcast (i64.const -1) (local.get $ptr) (local.get $len) (i32.const 0)))
    (i64.const 0))
  (func (export "vampire_invoke") (param $ptr i32) (param $len i32) (result i64)
    (local $hits i32)
    (if (i32.ne (call $variable_get (i32.const 0) (i32.const 4) (i32.const 2048) (i32.const 16)) (i32.const -1))
      (then (local.set $hits (i32.load8_u (i32.const 2048)))))
    (local.set $hits (i32.add (local.get $hits) (i32.const 1)))
    (i32.store8 (i32.const 2056) (local.get $hits))
    (drop (call $variable_set (i32.const 0) (i32.const 4) (i32.const 2056) (i32.const 1) (i32.const 1)))
    ;; reply {"ok": hits}: fixmap(1), fixstr "ok", positive fixint
    (i32.store (i32.const 1024) (i32.const 0x6b6fa281))
    (i32.store8 (i32.const 1028) (local.get $hits))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const 5))))
"#;

fn write_wat(folder: &Path, name: &str, wat: &str) {
    let wasm = wat::parse_str(wat).expect("the test's WebAssembly text is valid");
    std::fs::write(folder.join(format!("{name}.wasm")), wasm).unwrap();
}

fn of_type(room_type: &str) -> CreateRoom {
    CreateRoom { room_type: Some(room_type.into()), ..CreateRoom::default() }
}

#[tokio::test]
async fn a_hand_written_module_loads_and_works() {
    let server =
        TestServer::with_plugins(|folder| write_wat(folder, "counter", COUNTER), |_| {}).await;
    let mut client = server.client().await;
    let room = client.create_room(of_type("counter")).await.unwrap().id;
    client.join(&room, None).await.unwrap();

    assert_eq!(client.invoke(&room, "anything", json!(null)).await.unwrap(), json!(1));
    assert_eq!(client.invoke(&room, "count", json!([1, 2])).await.unwrap(), json!(2));
    assert_eq!(client.get_variable(&room, "hits").await.unwrap(), json!(2));
    assert_eq!(
        next_event(&mut client).await,
        Event::VariableChanged {
            room: room.clone(),
            name: "hits".into(),
            value: json!(1),
            by: None
        }
    );

    // The room's own variable: clients may read it but not set it.
    let err = client.set_variable(&room, "hits", json!(99), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized), "{err}");

    client.send_message(&room, json!("ping")).await.unwrap();
    let event = wait_for(&mut client, |e| matches!(e, Event::RoomMessage { .. })).await;
    let Event::RoomMessage { room: from_room, from: None, data } = event else {
        panic!("expected a message from the room, got {event:?}");
    };
    assert_eq!(from_room, room);
    assert_eq!(
        as_json(&data),
        serde_json::json!({"session": client.session(), "unreliable": false, "data": "ping"})
    );
}

/// The example module of `docs/ABI.md`, taken from the document itself.
fn module_from_the_abi_doc() -> String {
    let doc = include_str!("../../docs/ABI.md");
    let start = doc.find("```wat\n").expect("docs/ABI.md has a wat example") + "```wat\n".len();
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_owned()
}

#[tokio::test]
async fn the_example_in_the_abi_doc_works() {
    let server = TestServer::with_plugins(
        |folder| write_wat(folder, "doc", &module_from_the_abi_doc()),
        |_| {},
    )
    .await;
    let mut client = server.client().await;
    let room = client.create_room(of_type("doc")).await.unwrap().id;
    client.join(&room, None).await.unwrap();
    assert_eq!(client.invoke(&room, "answer", json!(null)).await.unwrap(), json!(42));
    // Any number of calls of any size: the scratch buffer grows.
    let large = "x".repeat(200_000);
    let server_limit = 65_536;
    for _ in 0..20 {
        let args = json!({ "text": large[..server_limit - 100] });
        assert_eq!(client.invoke(&room, "answer", args).await.unwrap(), json!(42));
    }
    assert_eq!(
        next_event(&mut client).await,
        Event::VariableChanged {
            room: room.clone(),
            name: "greeted".into(),
            value: json!(true),
            by: None
        }
    );
}

/// `docs/ABI.md`'s module with one change applied.
fn doc_module_with(from: &str, to: &str) -> String {
    let module = module_from_the_abi_doc();
    assert!(module.contains(from), "the doc example contains {from:?}");
    module.replacen(from, to, 1)
}

#[tokio::test]
async fn modules_breaking_the_abi_are_refused_and_the_others_load() {
    let server = TestServer::with_plugins(
        |folder| {
            write_wat(
                folder,
                "old",
                &doc_module_with("(result i32) (i32.const 2)", "(result i32) (i32.const 1)"),
            );
            write_wat(folder, "no-invoke", &doc_module_with("(export \"vampire_invoke\")", ""));
            write_wat(
                folder,
                "bad-alloc",
                &doc_module_with("(param $len i32) (result i32)", "(param $len i64) (result i32)"),
            );
            write_wat(
                folder,
                "foreign-import",
                &doc_module_with(
                    "(import \"vampire\" \"variable_set\"",
                    "(import \"vampire\" \"open_file\"",
                ),
            );
            write_wat(folder, "good", &module_from_the_abi_doc());
        },
        |_| {},
    )
    .await;
    let client = server.client().await;
    for refused in ["old", "no-invoke", "bad-alloc", "foreign-import"] {
        let err = client.create_room(of_type(refused)).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::UnknownRoomType), "{refused}");
    }
    client.create_room(of_type("good")).await.unwrap();
    client.create_room(of_type("chat")).await.unwrap();
}
