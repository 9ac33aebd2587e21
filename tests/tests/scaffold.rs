//! `cargo xtask new-plugin`: a new plugin crate, made outside this
//! repository as an author would, builds and loads, and its room works.

use std::process::Command;

use vampire_client::CreateRoom;
use vampire_tests::{TestServer, json};

/// `docs/PLUGINS.md` opens with the very room the scaffold writes, so the
/// guide's first example is known to build and work.
#[test]
fn the_guide_opens_with_the_scaffolded_room_in_25_lines() {
    let guide = include_str!("../../docs/PLUGINS.md");
    let start = guide.find("```rust\n").unwrap() + "```rust\n".len();
    let example = &guide[start..start + guide[start..].find("```").unwrap()];
    assert!(example.lines().count() <= 25, "{} lines", example.lines().count());
    let template = xtask::PLUGIN_TEMPLATE.replace("Room_", "Greeter");
    let template = template.split_once("\n\n").unwrap().1;
    assert_eq!(example, template);
}

#[tokio::test]
async fn a_scaffolded_plugin_builds_loads_and_answers() {
    let parent = std::env::temp_dir().join(format!("vampiretcp-scaffold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    let crate_dir = xtask::new_plugin("fresh-room", &parent).unwrap();
    assert!(xtask::new_plugin("fresh-room", &parent).is_err(), "it does not overwrite");
    assert!(xtask::new_plugin("generic", &parent).is_err());

    xtask::ensure_wasm_target().unwrap();
    let target_dir = xtask::workspace_root().join("target").join("scaffold");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(&crate_dir)
        .args(["build", "--quiet", "--release", "--offline", "--target", xtask::WASM_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success(), "the scaffolded crate builds");
    let built = target_dir.join(xtask::WASM_TARGET).join("release").join("fresh_room.wasm");

    let server = TestServer::with_plugins(
        |folder| {
            std::fs::copy(&built, folder.join("fresh-room.wasm")).unwrap();
        },
        |_| {},
    )
    .await;
    let client = server.client().await;
    let settings = CreateRoom { room_type: Some("fresh-room".into()), ..CreateRoom::default() };
    let room = client.create_room(settings).await.unwrap().id;
    client.join(&room, None).await.unwrap();
    let answer = client.invoke(&room, "hello", json!({"name": "Ada"})).await.unwrap();
    assert_eq!(answer, json!("hello, Ada"));
    assert_eq!(client.get_variable(&room, "greeted").await.unwrap(), json!(1));
}
