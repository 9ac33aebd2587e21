//! Room plugins end to end: real `.wasm` built from `plugins/` and
//! `tests/plugins/`, loaded by a real server, driven over real TCP.

use std::time::{Duration, Instant};

use vampire_client::{Client, CreateRoom, ErrorCode, Event};
use vampire_tests::{TestServer, as_json, assert_no_event, json, next_event, serde_json, wait_for};

fn of_type(room_type: &str) -> CreateRoom {
    CreateRoom {
        room_type: Some(room_type.into()),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    }
}

async fn server() -> TestServer {
    TestServer::with_plugins(|_| {}, |_| {}).await
}

#[tokio::test]
async fn plugin_room_types_are_loaded_from_the_folder() {
    let server = server().await;
    let client = server.client().await;
    for room_type in ["chat", "tictactoe", "faulty"] {
        let info = client.create_room(of_type(room_type)).await.unwrap();
        assert_eq!(info.room_type, room_type);
    }
    assert_eq!(client.list_rooms(Some("chat")).await.unwrap().len(), 1);
}

#[tokio::test]
async fn chat_welcomes_newcomers_then_relays_messages() {
    let server = server().await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    let room = alice.create_room(of_type("chat")).await.unwrap().id;

    alice.join(&room, None).await.unwrap();
    let welcome = next_event(&mut alice).await;
    assert_eq!(
        welcome,
        Event::RoomMessage {
            room: room.clone(),
            from: None,
            data: json!({"welcome": format!("Welcome to the chat, {}!", alice.session())}),
        }
    );
    bob.join(&room, None).await.unwrap();
    assert!(matches!(next_event(&mut bob).await, Event::RoomMessage { from: None, .. }));
    // The default behaviour follows: the others hear of the join.
    assert_eq!(
        next_event(&mut alice).await,
        Event::MemberJoined {
            room: room.clone(),
            session: bob.session(),
            user_id: None,
            user_name: None,
        }
    );

    bob.send_message(&room, json!("hi all")).await.unwrap();
    let bob_session = bob.session();
    for member in [&mut alice, &mut bob] {
        // A guest-set broadcast variable reaches every member...
        assert_eq!(
            next_event(member).await,
            Event::VariableChanged {
                room: room.clone(),
                name: "messages".into(),
                value: json!(1),
                by: None
            }
        );
        // ...and so does the relayed message, from its sender.
        assert_eq!(
            next_event(member).await,
            Event::RoomMessage {
                room: room.clone(),
                from: Some(bob_session),
                data: json!("hi all")
            }
        );
    }
    let history = alice.invoke(&room, "history", json!({"last": 5})).await.unwrap();
    assert_eq!(as_json(&history), serde_json::json!([{"from": bob.session(), "data": "hi all"}]));
    let err = alice.send_message(&room, json!(null)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
}

/// Plays a move and returns the resulting game.
async fn play(
    client: &Client,
    room: &str,
    cell: u32,
) -> Result<serde_json::Value, vampire_client::ClientError> {
    client.invoke(room, "play", json!({"cell": cell})).await.map(|game| as_json(&game))
}

#[tokio::test]
async fn tictactoe_methods_return_results_and_errors() {
    let server = server().await;
    let mut x = server.client().await;
    let o = server.client().await;
    let third = server.client().await;
    let room = x.create_room(of_type("tictactoe")).await.unwrap().id;
    x.join(&room, None).await.unwrap();

    let err = play(&x, &room, 0).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomError));
    assert!(err.to_string().contains("waiting for a second player"), "{err}");

    o.join(&room, None).await.unwrap();
    let err = third.join(&room, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    assert!(err.to_string().contains("two players"), "{err}");

    let game = play(&x, &room, 4).await.unwrap();
    assert_eq!(game["board"][4], "X");
    assert_eq!(game["turn"], serde_json::json!(o.session()));
    let err = play(&x, &room, 0).await.unwrap_err();
    assert!(err.to_string().contains("not your turn"), "{err}");
    let err = play(&o, &room, 4).await.unwrap_err();
    assert!(err.to_string().contains("taken"), "{err}");
    let err = play(&o, &room, 9).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    let err = o.invoke(&room, "play", json!({"cel": 1})).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    let err = o.invoke(&room, "resign", json!(null)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MethodNotFound));

    // X wins on the diagonal 0-4-8.
    play(&o, &room, 1).await.unwrap();
    play(&x, &room, 0).await.unwrap();
    play(&o, &room, 2).await.unwrap();
    let game = play(&x, &room, 8).await.unwrap();
    assert_eq!(game["winner"], "X");
    let err = play(&o, &room, 3).await.unwrap_err();
    assert!(err.to_string().contains("over"), "{err}");

    // Every move was broadcast through the board variable.
    wait_for(&mut x, |e| {
        matches!(e, Event::VariableChanged { name, value, .. } if name == "winner" && as_json(value) == "X")
    })
    .await;
    assert_eq!(as_json(&x.get_variable(&room, "board").await.unwrap())[8], "X");
    let game = as_json(&x.invoke(&room, "reset", json!(null)).await.unwrap());
    assert_eq!(game["board"], serde_json::json!(["", "", "", "", "", "", "", "", ""]));
}

#[tokio::test]
async fn a_panicking_method_fails_alone_and_the_room_goes_on() {
    let server = server().await;
    let mut a = server.client().await;
    let room = a.create_room(of_type("faulty")).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    a.set_variable(&room, "kept", json!("yes"), Some(false)).await.unwrap();
    assert_eq!(a.invoke(&room, "ok", json!(null)).await.unwrap(), json!(1));
    assert_eq!(a.invoke(&room, "ok", json!(null)).await.unwrap(), json!(2));

    let err = a.invoke(&room, "panic", json!(null)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::PluginError));
    assert!(err.to_string().contains("asked to panic"), "{err}");

    // Same members, same variables (including one set just before the
    // panic), and a fresh instance (its counter restarted).
    assert_eq!(a.get_variable(&room, "kept").await.unwrap(), json!("yes"));
    assert_eq!(a.get_variable(&room, "before_panic").await.unwrap(), json!(true));
    assert_eq!(a.list_rooms(None).await.unwrap()[0].members, 1);
    assert_eq!(a.invoke(&room, "ok", json!(null)).await.unwrap(), json!(1));
    while a.try_next_event().is_some() {}
    assert_no_event(&mut a).await;
}

// A guest call occupies its worker thread until it returns or its deadline
// passes, so the server needs more than one worker for other rooms to
// answer meanwhile, as the server binary has on any multi-core machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_by_the_deadline_while_other_rooms_answer() {
    let server = TestServer::with_plugins(|_| {}, |c| c.limits.plugin_call_timeout_ms = 300).await;
    let looper = server.client().await;
    let other = server.client().await;
    let stuck = looper.create_room(of_type("faulty")).await.unwrap().id;
    let fine = other.create_room(of_type("chat")).await.unwrap().id;
    looper.join(&stuck, None).await.unwrap();
    other.join(&fine, None).await.unwrap();

    let started = Instant::now();
    let spin = tokio::spawn({
        let stuck = stuck.clone();
        async move {
            let err = looper.invoke(&stuck, "spin", json!(null)).await.unwrap_err();
            (looper, err, started.elapsed())
        }
    });
    // While one room spins, another room answers.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let history = other.invoke(&fine, "history", json!(null)).await.unwrap();
    assert_eq!(history, json!([]));
    let answered_during_spin = started.elapsed();

    let (looper, err, elapsed) = spin.await.unwrap();
    assert_eq!(err.code(), Some(ErrorCode::PluginError));
    assert!(err.to_string().contains("time budget of 300 ms"), "{err}");
    assert!(answered_during_spin < elapsed, "the other room answered while the loop ran");
    // The looping room works again.
    assert_eq!(looper.invoke(&stuck, "ok", json!(null)).await.unwrap(), json!(1));
}

#[tokio::test]
async fn running_out_of_memory_fails_the_call_not_the_room() {
    let server = TestServer::with_plugins(|_| {}, |c| c.limits.plugin_memory_bytes = 8 << 20).await;
    let a = server.client().await;
    let room = a.create_room(of_type("faulty")).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    let err = a.invoke(&room, "hog", json!(null)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::PluginError));
    assert!(err.to_string().contains("ran out of memory"), "{err}");
    assert_eq!(a.invoke(&room, "ok", json!(null)).await.unwrap(), json!(1));
}

#[tokio::test]
async fn a_guest_join_refusal_reaches_the_client_with_its_reason() {
    let server = server().await;
    let owner = server.client().await;
    let guest = server.client().await;
    let room = owner.create_room(of_type("faulty")).await.unwrap().id;
    owner.join(&room, None).await.unwrap();
    owner.set_variable(&room, "closed", json!(true), None).await.unwrap();
    let err = guest.join(&room, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    assert!(err.to_string().contains(&format!("room closed to {}", guest.session())), "{err}");
    assert_eq!(owner.list_rooms(None).await.unwrap()[0].members, 1);
}

#[tokio::test]
async fn broken_modules_are_refused_and_the_others_still_load() {
    let server = TestServer::with_plugins(
        |folder| {
            std::fs::write(folder.join("garbage.wasm"), b"not wasm at all").unwrap();
            // Valid wasm, but none of the ABI's exports.
            std::fs::write(folder.join("empty.wasm"), wat::parse_str("(module)").unwrap()).unwrap();
            std::fs::write(folder.join("generic.wasm"), wat::parse_str("(module)").unwrap())
                .unwrap();
        },
        |_| {},
    )
    .await;
    let client = server.client().await;
    for refused in ["garbage", "empty"] {
        let err = client.create_room(of_type(refused)).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::UnknownRoomType), "{refused}");
    }
    client.create_room(of_type("chat")).await.unwrap();
    client.create_room(of_type("generic")).await.unwrap();
}

#[tokio::test]
async fn leaves_reach_the_guest() {
    let server = server().await;
    let x = server.client().await;
    let mut o = server.client().await;
    let room = x.create_room(of_type("tictactoe")).await.unwrap().id;
    x.join(&room, None).await.unwrap();
    o.join(&room, None).await.unwrap();
    assert_eq!(o.get_variable(&room, "players").await.unwrap(), json!([x.session(), o.session()]));
    x.close().await.unwrap();
    // The guest's leave hook frees the seat, in a broadcast variable.
    let left_alone = json!([o.session()]);
    wait_for(&mut o, |e| {
        matches!(e, Event::VariableChanged { name, value, .. } if name == "players" && *value == left_alone)
    })
    .await;
}

#[tokio::test]
async fn guest_set_variables_follow_the_room_broadcast_setting() {
    let server = server().await;
    let mut a = server.client().await;
    let quiet = CreateRoom {
        variable_broadcast: Some(vampire_client::VariableBroadcast {
            enabled: Some(false),
            default: None,
        }),
        ..of_type("chat")
    };
    let room = a.create_room(quiet).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    a.send_message(&room, json!("hello")).await.unwrap();
    // The welcome and the relayed message arrive; `messages` changes
    // without a broadcast, since the room broadcasts no variable.
    assert!(matches!(next_event(&mut a).await, Event::RoomMessage { from: None, .. }));
    assert!(matches!(next_event(&mut a).await, Event::RoomMessage { from: Some(_), .. }));
    assert_no_event(&mut a).await;
    assert_eq!(a.get_variable(&room, "messages").await.unwrap(), json!(1));
}

#[tokio::test]
async fn a_room_whose_calls_keep_failing_is_closed_with_a_reason() {
    let server = TestServer::with_plugins(|_| {}, |c| c.limits.plugin_failures_to_close = 3).await;
    let mut a = server.client().await;
    let room = a.create_room(of_type("faulty")).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    for _ in 0..3 {
        let err = a.invoke(&room, "panic", json!(null)).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::PluginError));
    }
    let event = wait_for(&mut a, |e| matches!(e, Event::RoomClosed { .. })).await;
    let Event::RoomClosed { reason, .. } = event else { unreachable!() };
    assert!(reason.contains("failed 3 times"), "{reason}");
    let err = a.invoke(&room, "ok", json!(null)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
}

#[tokio::test]
async fn the_lobby_counts_down_once_everyone_is_ready_then_locks() {
    let server = server().await;
    let mut a = server.client().await;
    let b = server.client().await;
    let settings = CreateRoom {
        options: Some(json!({"min_players": 2, "countdown_secs": 2})),
        ..of_type("lobby")
    };
    let room = a.create_room(settings).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    b.join(&room, None).await.unwrap();
    a.invoke(&room, "ready", json!({"ready": true})).await.unwrap();
    // A client cannot mark the others ready.
    let err = b.set_variable(&room, "ready", json!([a.session(), b.session()]), None).await;
    assert_eq!(err.unwrap_err().code(), Some(ErrorCode::NotAuthorized));
    let ready = b.invoke(&room, "ready", json!({"ready": true})).await.unwrap();
    assert_eq!(as_json(&ready), serde_json::json!([a.session(), b.session()]));
    // Un-readying stops the countdown; readying again restarts it.
    b.invoke(&room, "ready", json!({"ready": false})).await.unwrap();
    assert_eq!(b.get_variable(&room, "countdown").await.unwrap(), json!(null));
    b.invoke(&room, "ready", json!({"ready": true})).await.unwrap();
    let go = wait_for(&mut a, |e| matches!(e, Event::RoomMessage { from: None, .. })).await;
    let Event::RoomMessage { data, .. } = go else { unreachable!() };
    assert_eq!(as_json(&data), serde_json::json!({"go": true}));
    assert_eq!(a.get_variable(&room, "started").await.unwrap(), json!(true));
    let late = server.client().await;
    assert_eq!(late.join(&room, None).await.unwrap_err().code(), Some(ErrorCode::RoomLocked));
    assert!(late.list_rooms(Some("lobby")).await.unwrap().is_empty());
}
