//! Operating the real binary: a drain for a deploy (by the admin API and
//! by `SIGUSR1`) takes no new rooms, keeps its players playing, fails
//! `/readyz` and exits 0 once empty or at its timeout; `logFormat: json`
//! writes one JSON object a line.

mod support;

use std::time::Duration;

use serde_json::json;
use support::http;
use support::{ADMIN_TOKEN, ServerProcess, admin_section};
use vampire_client::{Client, CreateRoom, ErrorCode, Event};

fn kept() -> CreateRoom {
    CreateRoom { auto_dispose: Some(false), ..CreateRoom::default() }
}

#[tokio::test]
async fn a_drain_takes_no_new_rooms_keeps_its_players_and_exits_0_when_empty() {
    let mut server = ServerProcess::start(json!({ "admin": admin_section(json!({})) }));
    let admin = server.admin.unwrap();
    let mut alice = Client::connect(server.addr).await.unwrap();
    let bob = Client::connect(server.addr).await.unwrap();
    let room = alice.create_room(kept()).await.unwrap().id;
    alice.join(&room, None).await.unwrap();
    bob.join(&room, None).await.unwrap();
    assert_eq!(http::request(admin, "GET", "/readyz", None, None).await.status, 200);

    let drain = http::post(admin, "/admin/drain", ADMIN_TOKEN, "").await;
    assert_eq!(drain.status, 202, "{}", drain.text());
    let again = http::post(admin, "/admin/drain", ADMIN_TOKEN, "").await;
    assert_eq!(again.status, 200);
    let ready = http::request(admin, "GET", "/readyz", None, None).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["reason"], "draining");
    server.wait_for_log("draining for a deploy");

    // No new rooms; the room there goes on.
    let refused = alice.create_room(kept()).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::ServerBusy));
    bob.send_message(&room, vampire_tests_json("still playing")).await.unwrap();
    let heard = wait_for(&mut alice, |e| matches!(e, Event::RoomMessage { .. })).await;
    assert!(matches!(heard, Event::RoomMessage { .. }));
    let info = http::get(admin, "/admin/server", ADMIN_TOKEN).await.json();
    assert_eq!(info["draining"]["by"], "admin token");
    assert!(server.wait_exit(Duration::from_millis(600)).is_none(), "exited with members left");

    // Once the last member leaves, the node exits, 0.
    alice.leave(&room).await.unwrap();
    bob.leave(&room).await.unwrap();
    let status = server.wait_exit(Duration::from_secs(10)).expect("the drained server exits");
    assert!(status.success(), "{status:?}\n{}", server.log());
    assert!(server.log().contains("drained: no member is left"));
}

#[tokio::test]
async fn sigusr1_drains_and_the_timeout_tells_members_the_server_is_going() {
    let mut server = ServerProcess::start(json!({
        "admin": admin_section(json!({ "drainTimeoutSecs": 1 })),
    }));
    let mut player = Client::connect(server.addr).await.unwrap();
    let room = player.create_room(kept()).await.unwrap().id;
    player.join(&room, None).await.unwrap();
    server.signal("USR1");
    server.wait_for_log("draining for a deploy");
    let status = server.wait_exit(Duration::from_secs(10)).expect("the drain timed out and exited");
    assert!(status.success(), "{status:?}\n{}", server.log());
    // The member stayed to the end and was told why the server went.
    let mut told = None;
    while let Some(incoming) = player.next_event_within(Duration::from_secs(5)).await {
        if let vampire_client::Incoming::Error { code, message } = incoming {
            told = Some((code, message));
            break;
        }
    }
    let (code, message) = told.expect("the member was told");
    assert_eq!(code, ErrorCode::ServerShutdown);
    assert!(message.contains("deploy"), "{message}");
}

#[tokio::test]
async fn a_drain_without_the_admin_listener_works_by_signal() {
    let mut server = ServerProcess::start(json!({}));
    server.signal("USR1");
    let status = server.wait_exit(Duration::from_secs(10)).expect("an empty node exits at once");
    assert!(status.success(), "{}", server.log());
}

#[test]
fn json_logs_are_one_object_a_line() {
    let mut server = ServerProcess::start(json!({ "logFormat": "json" }));
    server.wait_for_log("listening on TCP");
    server.terminate();
    let log = server.log();
    let mut lines = 0;
    for line in log.lines() {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}"));
        assert!(object["timestamp"].is_string() && object["level"].is_string(), "{line}");
        lines += 1;
    }
    assert!(lines >= 2, "{log}");
    assert!(log.contains(r#""message":"listening on TCP""#), "{log}");
    assert!(log.contains(r#""address":"127.0.0.1:"#), "{log}");
}

fn vampire_tests_json(text: &str) -> vampire_client::Payload {
    vampire_client::Payload::from_value(&vampire_client::Value::from(text))
}

async fn wait_for(client: &mut Client, matches: impl Fn(&Event) -> bool) -> Event {
    loop {
        match client.next_event_within(Duration::from_secs(10)).await {
            Some(vampire_client::Incoming::Event(event)) if matches(&event) => return event,
            Some(_) => {}
            None => panic!("the event did not come"),
        }
    }
}
