//! The plugin platform with a real compiled plugin (`tests/plugins/
//! clockwork`): the room clock, the lifecycle hooks and options, room
//! control and variable rules.

use std::time::{Duration, Instant};

use vampire_client::{Client, CreateRoom, ErrorCode, Event, Incoming};
use vampire_tests::{TestServer, as_json, assert_no_event, json, serde_json, wait_for};

fn clockwork() -> CreateRoom {
    CreateRoom {
        room_type: Some("clockwork".into()),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    }
}

async fn server() -> TestServer {
    TestServer::with_plugins(|_| {}, |_| {}).await
}

/// The room's notices (`room_message` from the room) received within
/// `window`, as JSON.
async fn notices_within(client: &mut Client, window: Duration) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + window;
    let mut notices = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match client.next_event_within(left).await {
            Some(Incoming::Event(Event::RoomMessage { from: None, data, .. })) => {
                notices.push(as_json(&data));
            }
            Some(_) => {}
            None => break,
        }
    }
    notices
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_20_hz_tick_reaches_clients_18_to_22_times_a_second() {
    let server = server().await;
    let mut client = server.client().await;
    let room = client.create_room(clockwork()).await.unwrap().id;
    client.join(&room, None).await.unwrap();
    client.invoke(&room, "set_tick", json!({"hz": 20})).await.unwrap();
    // Let the clock settle, then count over three seconds.
    notices_within(&mut client, Duration::from_millis(300)).await;
    let notices = notices_within(&mut client, Duration::from_secs(3)).await;
    let ticks: Vec<&serde_json::Value> = notices.iter().filter_map(|n| n.get("tick")).collect();
    assert!((54..=66).contains(&ticks.len()), "{} ticks in 3 s", ticks.len());
    // Each tick reports the real time since the previous one, about 50 ms.
    let dts: Vec<u64> = ticks.iter().filter_map(|t| t["dt_ms"].as_u64()).collect();
    let mean = dts.iter().sum::<u64>() as f64 / dts.len() as f64;
    assert!((40.0..=60.0).contains(&mean), "mean dt {mean} ms: {dts:?}");
    // Numbered without gaps: missed ticks are coalesced, never skipped in
    // the count.
    let counts: Vec<u64> = ticks.iter().filter_map(|t| t["count"].as_u64()).collect();
    assert!(counts.windows(2).all(|w| w[1] == w[0] + 1), "{counts:?}");
    client.invoke(&room, "set_tick", json!({"hz": 0})).await.unwrap();
    notices_within(&mut client, Duration::from_millis(100)).await;
    let after = notices_within(&mut client, Duration::from_millis(300)).await;
    assert!(after.iter().all(|n| n.get("tick").is_none()), "ticks after stopping: {after:?}");
    let err = client.invoke(&room, "set_tick", json!({"hz": 1000})).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomError));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_fire_once_repeat_and_can_be_cancelled() {
    let server = server().await;
    let mut client = server.client().await;
    let room = client.create_room(clockwork()).await.unwrap().id;
    client.join(&room, None).await.unwrap();
    client
        .invoke(&room, "set_timer", json!({"tag": "once", "ms": 100, "repeat": false}))
        .await
        .unwrap();
    client
        .invoke(&room, "set_timer", json!({"tag": "every", "ms": 100, "repeat": true}))
        .await
        .unwrap();
    client
        .invoke(&room, "set_timer", json!({"tag": "never", "ms": 200, "repeat": false}))
        .await
        .unwrap();
    assert_eq!(
        as_json(&client.invoke(&room, "cancel_timer", json!({"tag": "never"})).await.unwrap()),
        true
    );
    let notices = notices_within(&mut client, Duration::from_millis(550)).await;
    let fired = |tag: &str| notices.iter().filter(|n| n["timer"] == tag).count();
    assert_eq!(fired("once"), 1, "{notices:?}");
    assert!((4..=6).contains(&fired("every")), "{notices:?}");
    assert_eq!(fired("never"), 0, "{notices:?}");
    assert_eq!(
        as_json(&client.invoke(&room, "cancel_timer", json!({"tag": "every"})).await.unwrap()),
        true
    );
    let later = notices_within(&mut client, Duration::from_millis(300)).await;
    assert!(later.iter().all(|n| n.get("timer").is_none()), "{later:?}");
}

#[tokio::test]
async fn dispose_runs_when_the_owner_deletes_the_room() {
    let server = server().await;
    let mut client = server.client().await;
    let room = client.create_room(clockwork()).await.unwrap().id;
    client.join(&room, None).await.unwrap();
    client.delete_room(&room).await.unwrap();
    let disposed = wait_for(&mut client, |e| matches!(e, Event::RoomMessage { .. })).await;
    let Event::RoomMessage { data, .. } = disposed else { unreachable!() };
    assert_eq!(as_json(&data), serde_json::json!({"disposed": "deleted"}));
    let deleted = wait_for(&mut client, |e| matches!(e, Event::RoomDeleted { .. })).await;
    assert_eq!(deleted, Event::RoomDeleted { room });
}

#[tokio::test]
async fn create_and_join_options_reach_the_hooks_and_the_join_reply_reaches_the_joiner() {
    let server = server().await;
    let client = server.client().await;
    let settings = CreateRoom {
        options: Some(json!({"mode": "duel", "bin": {"$bin": "AAEC"}})),
        ..clockwork()
    };
    let room = client.create_room(settings).await.unwrap().id;
    let joined = client.join_with(&room, None, Some(json!({"team": "red"}))).await.unwrap();
    assert_eq!(as_json(&joined.reply), serde_json::json!({"team": "red"}));
    let options = client.invoke(&room, "options", json!(null)).await.unwrap();
    assert_eq!(options, json!({"mode": "duel", "bin": {"$bin": "AAEC"}}), "the options' own bytes");
    let other = server.client().await;
    let joined = other.join(&room, None).await.unwrap();
    assert_eq!(as_json(&joined.reply), serde_json::json!({"team": "none"}));
    let refused = server.client().await;
    let err = refused.join_with(&room, None, Some(json!({"refuse": true}))).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    // The generic room answers nil.
    let generic = client.create_room(CreateRoom::default()).await.unwrap().id;
    assert!(client.join(&generic, None).await.unwrap().reply.is_nil());
}

#[tokio::test]
async fn a_locked_room_refuses_joins_and_leaves_the_listing() {
    let server = server().await;
    let owner = server.client().await;
    let room = owner.create_room(clockwork()).await.unwrap().id;
    owner.join(&room, None).await.unwrap();
    owner.invoke(&room, "lock", json!({"locked": true})).await.unwrap();
    assert!(owner.list_rooms(None).await.unwrap().is_empty());
    let late = server.client().await;
    let err = late.join(&room, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomLocked));
    let view = as_json(&owner.invoke(&room, "room", json!(null)).await.unwrap());
    assert_eq!(view["locked"], true);
    owner.invoke(&room, "lock", json!({"locked": false})).await.unwrap();
    let listed = owner.list_rooms(None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].locked);
    late.join(&room, None).await.unwrap();
}

#[tokio::test]
async fn metadata_and_member_limit_changes_are_seen_in_the_listing() {
    let server = server().await;
    let owner = server.client().await;
    let room = owner.create_room(clockwork()).await.unwrap().id;
    owner.join(&room, None).await.unwrap();
    owner
        .invoke(&room, "set_metadata", json!({"metadata": {"map": "dust", "round": 3}}))
        .await
        .unwrap();
    owner.invoke(&room, "set_max_clients", json!({"max_clients": 2})).await.unwrap();
    let listed = &owner.list_rooms(Some("clockwork")).await.unwrap()[0];
    assert_eq!(as_json(&listed.metadata), serde_json::json!({"map": "dust", "round": 3}));
    assert_eq!(listed.max_clients, 2);
    let second = server.client().await;
    second.join(&room, None).await.unwrap();
    let err = server.client().await.join(&room, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomFull));
    let err = owner.invoke(&room, "set_max_clients", json!({"max_clients": 0})).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomError));
}

#[tokio::test]
async fn clients_cannot_set_room_only_variables_nor_read_hidden_ones() {
    let server = server().await;
    let mut a = server.client().await;
    let room = a.create_room(clockwork()).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    a.invoke(&room, "set_shared", json!({"value": "from the room"})).await.unwrap();
    wait_for(&mut a, |e| matches!(e, Event::VariableChanged { name, .. } if name == "shared"))
        .await;
    let err = a.set_variable(&room, "shared", json!("overwritten"), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized), "{err}");
    assert_eq!(a.get_variable(&room, "shared").await.unwrap(), json!("from the room"));

    a.invoke(&room, "set_secret", json!({"value": 42})).await.unwrap();
    assert_no_event(&mut a).await;
    let err = a.get_variable(&room, "secret").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::VariableNotFound));
    let names: Vec<String> =
        a.get_variables(&room).await.unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["shared"], "neither `secret` nor the hidden `options`");
    let joined = server.client().await.join(&room, None).await.unwrap();
    assert!(joined.variables.iter().all(|(name, _)| name != "secret"));
    // A hidden variable cannot be overwritten either.
    let err = a.set_variable(&room, "secret", json!(0), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
}

#[tokio::test]
async fn the_room_decides_per_client_who_may_set_a_variable() {
    let server = server().await;
    let a = server.client().await;
    let b = server.client().await;
    let room = a.create_room(clockwork()).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    b.join(&room, None).await.unwrap();
    let err = a.set_variable(&room, "score", json!(1), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    a.invoke(&room, "allow", json!({"session": a.session()})).await.unwrap();
    a.set_variable(&room, "score", json!(2), None).await.unwrap();
    let err = b.set_variable(&room, "score", json!(3), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    b.set_variable(&room, "notes", json!("free for all"), None).await.unwrap();
    assert_eq!(b.get_variable(&room, "score").await.unwrap(), json!(2));
}
