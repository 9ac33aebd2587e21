//! Sessions that survive a dropped connection: a cutting proxy between a
//! client and a real server severs, stalls and restores the connection;
//! the client resumes and its application sees every event once, in
//! order.

use std::time::Duration;

use vampire_client::{
    Client, ConnectOptions, ConnectionEvent, ErrorCode, Event, Incoming, Payload, ReconnectPolicy,
    ResumeResult, ServerMessage, ServerOp, Value,
};
use vampire_tests::proxy::CuttingProxy;
use vampire_tests::{PATIENCE, RawConnection, TestServer, json, next_event, wait_for};

/// Options that resume at once after a drop.
fn resuming() -> ConnectOptions {
    ConnectOptions {
        reconnect: Some(ReconnectPolicy {
            first_delay: Duration::from_millis(20),
            ..ReconnectPolicy::default()
        }),
        ..ConnectOptions::default()
    }
}

/// A room of `room_type` that stays when empty.
fn kept(room_type: &str) -> vampire_client::CreateRoom {
    vampire_client::CreateRoom {
        room_type: Some(room_type.into()),
        auto_dispose: Some(false),
        ..Default::default()
    }
}

/// A public room both `a` and `b` joined (b after a, so a saw it join).
async fn shared_room(a: &mut Client, b: &Client) -> String {
    let room = a.create_room(Default::default()).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    b.join(&room, None).await.unwrap();
    wait_for(a, |e| matches!(e, Event::MemberJoined { .. })).await;
    room
}

/// The next connection change `client` sees, skipping room events.
async fn next_connection_event(client: &mut Client) -> ConnectionEvent {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_event_within(left).await {
            Some(Incoming::Connection(change)) => return change,
            Some(_) => continue,
            None => panic!("no connection event within {PATIENCE:?}"),
        }
    }
}

/// Sends `resume` with `token` as a new connection's first request.
async fn resume_with(server: &TestServer, token: &str, auth_token: Option<String>) -> ErrorCode {
    let client = Client::connect(server.addr).await.unwrap();
    let resume = ServerOp::Resume { token: token.to_owned(), last_seq: 0, auth_token };
    match client.request(resume.into()).await {
        Err(err) => err.code().expect("a refusal from the server"),
        Ok(result) => panic!("resume accepted: {result:?}"),
    }
}

#[tokio::test]
async fn a_member_cut_ten_times_during_a_conversation_sees_every_message_once_in_order() {
    let server = TestServer::start().await;
    let proxy = CuttingProxy::start(server.addr).await;
    let mut a = Client::connect_with(proxy.addr, resuming()).await.unwrap();
    let b = server.client().await;
    let room = shared_room(&mut a, &b).await;

    // b talks at 50 messages a second while a's connection is cut ten
    // times, once every 300 ms.
    let talker = tokio::spawn({
        let room = room.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for n in 0..200i64 {
                tick.tick().await;
                b.send_message(&room, Value::from(n)).await.unwrap();
            }
            b
        }
    });
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.cut();
    }
    let _b = talker.await.unwrap();

    let (mut heard, mut resumed) = (Vec::new(), 0);
    while heard.len() < 200 {
        match a.next_event_within(PATIENCE).await {
            Some(Incoming::Event(Event::RoomMessage { data, .. })) => {
                heard.push(data.to_value().as_i64().unwrap());
            }
            Some(Incoming::Connection(ConnectionEvent::Reconnected { .. })) => resumed += 1,
            Some(Incoming::Connection(ConnectionEvent::Lost { reason })) => {
                panic!("lost: {reason}")
            }
            Some(_) => {}
            None => panic!("only {} messages came: {heard:?}", heard.len()),
        }
    }
    assert_eq!(heard, (0..200).collect::<Vec<_>>(), "every message once, in order");
    assert!(resumed >= 9, "resumed {resumed} times");
    // The session is the same one, still in the room, and still serves
    // requests.
    assert_eq!(a.room_info(&room).await.unwrap().members, 2);
}

#[tokio::test]
async fn a_gap_larger_than_the_replay_gets_a_resync_with_the_rooms_state() {
    let server = TestServer::start_with(|config| config.reconnect.replay_bytes = 2048).await;
    let proxy = CuttingProxy::start(server.addr).await;
    let slow = ConnectOptions {
        reconnect: Some(ReconnectPolicy {
            first_delay: Duration::from_millis(800),
            ..ReconnectPolicy::default()
        }),
        ..ConnectOptions::default()
    };
    let mut a = Client::connect_with(proxy.addr, slow).await.unwrap();
    let b = server.client().await;
    let room = shared_room(&mut a, &b).await;
    proxy.cut();
    // Far more than 2 KiB while a is away.
    for n in 0..100i64 {
        b.set_variable(&room, "score", Value::from(n), None).await.unwrap();
    }
    match next_connection_event(&mut a).await {
        ConnectionEvent::Reconnecting { attempt: 1, .. } => {}
        other => panic!("expected reconnecting, got {other:?}"),
    }
    assert_eq!(
        next_connection_event(&mut a).await,
        ConnectionEvent::Resynced { rooms: vec![room.clone()] }
    );
    let state = wait_for(&mut a, |e| matches!(e, Event::RoomState { .. })).await;
    let Event::RoomState { state, .. } = state else { unreachable!() };
    let state = vampire_client::JoinResult::from_payload(&state).unwrap();
    assert_eq!(state.members.len(), 2);
    assert_eq!(vampire_tests::variable(&state.variables, "score"), Some(&Value::from(99).into()));
}

#[tokio::test]
async fn a_member_away_past_the_window_leaves_with_reason_timeout() {
    let server = TestServer::start_with(|config| config.reconnect.window_secs = 1).await;
    let proxy = CuttingProxy::start(server.addr).await;
    let mut a = Client::connect_with(proxy.addr, ConnectOptions::default()).await.unwrap();
    let mut b = server.client().await;
    let room = b.create_room(Default::default()).await.unwrap().id;
    b.join(&room, None).await.unwrap();
    a.join(&room, None).await.unwrap();
    wait_for(&mut b, |e| matches!(e, Event::MemberJoined { .. })).await;
    let token = a.resumption().token().unwrap();
    let gone = a.session();
    proxy.cut();
    assert_eq!(
        next_event(&mut b).await,
        Event::MemberDisconnected { room: room.clone(), session: gone }
    );
    assert_eq!(
        next_event(&mut b).await,
        Event::MemberLeft { room: room.clone(), session: gone, reason: "timeout".into() }
    );
    // Its token is worth nothing now.
    assert_eq!(resume_with(&server, &token, None).await, ErrorCode::SessionNotFound);
    drop(a.next_event_within(Duration::from_millis(10)).await);
}

#[tokio::test]
async fn a_token_is_refused_while_its_session_is_live_and_once_it_was_used() {
    let server = TestServer::start().await;
    let proxy = CuttingProxy::start(server.addr).await;
    let mut a = Client::connect_with(proxy.addr, resuming()).await.unwrap();
    let b = server.client().await;
    let room = shared_room(&mut a, &b).await;
    let first = a.resumption().token().unwrap();
    // Stolen: a's connection works, so its session is not to be taken.
    assert_eq!(resume_with(&server, &first, None).await, ErrorCode::SessionInUse);
    assert_eq!(resume_with(&server, "0123", None).await, ErrorCode::SessionNotFound);
    proxy.cut();
    assert!(matches!(next_connection_event(&mut a).await, ConnectionEvent::Reconnecting { .. }));
    assert!(matches!(next_connection_event(&mut a).await, ConnectionEvent::Reconnected { .. }));
    // The token that served is spent; the session has a new one.
    assert_ne!(a.resumption().token().unwrap(), first);
    assert_eq!(resume_with(&server, &first, None).await, ErrorCode::SessionNotFound);
    assert_eq!(a.room_info(&room).await.unwrap().members, 2);
}

#[tokio::test]
async fn resume_must_come_first_on_a_connection() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client.ping().await.unwrap();
    let token = client.resumption().token().unwrap();
    let resume = ServerOp::Resume { token, last_seq: 0, auth_token: None };
    let refused = client.request(resume.into()).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InvalidRequest));
}

#[tokio::test]
async fn the_other_members_see_a_member_drop_and_come_back() {
    let server = TestServer::start().await;
    let proxy = CuttingProxy::start(server.addr).await;
    let a = Client::connect_with(proxy.addr, resuming()).await.unwrap();
    let mut b = server.client().await;
    let room = b.create_room(Default::default()).await.unwrap().id;
    b.join(&room, None).await.unwrap();
    a.join(&room, None).await.unwrap();
    wait_for(&mut b, |e| matches!(e, Event::MemberJoined { .. })).await;
    let session = a.session();
    proxy.cut();
    assert_eq!(next_event(&mut b).await, Event::MemberDisconnected { room: room.clone(), session });
    assert_eq!(next_event(&mut b).await, Event::MemberReconnected { room: room.clone(), session });
    // Requests made while away are answered once the session is back.
    proxy.stall();
    let asked = tokio::spawn(async move {
        let answer = a.set_variable(&room, "x", Value::from(1), None).await;
        (a, answer)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    proxy.cut();
    proxy.flow();
    let (_a, answer) = asked.await.unwrap();
    assert!(answer.unwrap());
}

#[tokio::test]
async fn a_tictactoe_player_who_drops_mid_game_comes_back_to_the_same_board() {
    let server = TestServer::with_plugins(|_| {}, |_| {}).await;
    let proxy = CuttingProxy::start(server.addr).await;
    let mut x = Client::connect_with(proxy.addr, resuming()).await.unwrap();
    let mut o = server.client().await;
    let room = x.create_room(kept("tictactoe")).await.unwrap().id;
    x.join(&room, None).await.unwrap();
    o.join(&room, None).await.unwrap();
    x.invoke(&room, "play", json!({"cell": 4})).await.unwrap();
    proxy.cut();
    // The disconnect hook names the absent player; the board stays.
    let away = json!(x.session());
    wait_for(&mut o, |e| {
        matches!(e, Event::VariableChanged { name, value, .. } if name == "away" && *value == away)
    })
    .await;
    o.invoke(&room, "play", json!({"cell": 0})).await.unwrap();
    assert!(matches!(next_connection_event(&mut x).await, ConnectionEvent::Reconnecting { .. }));
    assert!(matches!(next_connection_event(&mut x).await, ConnectionEvent::Reconnected { .. }));
    // The reconnect hook clears it, and the game goes on where it was:
    // x saw o's move while away, replayed.
    wait_for(&mut o, |e| {
        matches!(e, Event::VariableChanged { name, value, .. } if name == "away" && value.to_value().is_nil())
    })
    .await;
    let board = json!(["O", "", "", "", "X", "", "", "", ""]);
    wait_for(&mut x, |e| {
        matches!(e, Event::VariableChanged { name, value, .. } if name == "board" && *value == board)
    })
    .await;
    x.invoke(&room, "play", json!({"cell": 8})).await.unwrap();
}

#[tokio::test]
async fn a_lobby_lets_a_dropped_member_go_at_once_before_the_game_starts() {
    let server = TestServer::with_plugins(|_| {}, |_| {}).await;
    let proxy = CuttingProxy::start(server.addr).await;
    let a = Client::connect_with(proxy.addr, ConnectOptions::default()).await.unwrap();
    let mut b = server.client().await;
    let room = b.create_room(kept("lobby")).await.unwrap().id;
    b.join(&room, None).await.unwrap();
    a.join(&room, None).await.unwrap();
    wait_for(&mut b, |e| matches!(e, Event::MemberJoined { .. })).await;
    let session = a.session();
    proxy.cut();
    // The lobby's disconnect hook releases the seat: no
    // member_disconnected, the member is gone now.
    let left = wait_for(&mut b, |e| {
        matches!(e, Event::MemberLeft { .. } | Event::MemberDisconnected { .. })
    })
    .await;
    assert_eq!(left, Event::MemberLeft { room, session, reason: "disconnected".into() });
}

#[tokio::test]
async fn a_member_that_stops_reading_is_held_not_dropped() {
    let server = TestServer::start_with(|config| config.limits.outbound_queue_frames = 8).await;
    let mut b = server.client().await;
    let room = b.create_room(Default::default()).await.unwrap().id;
    b.join(&room, None).await.unwrap();
    let mut slow = vampire_tests::RawConnection::connect(&server).await;
    slow.send_value(json!({"id": 1, "op": "join", "room": room})).await;
    wait_for(&mut b, |e| matches!(e, Event::MemberJoined { .. })).await;
    let payload = "x".repeat(60_000);
    let mut disconnected = false;
    for _ in 0..200 {
        b.send_message(&room, Value::from(payload.as_str())).await.unwrap();
        while let Some(incoming) = b.try_next_event() {
            disconnected |= matches!(incoming, Incoming::Event(Event::MemberDisconnected { .. }));
        }
        if disconnected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(disconnected, "the slow member's connection was closed and its session held");
    assert_eq!(b.room_info(&room).await.unwrap().members, 2);
}

/// A session that was sent four numbered frames (three pings' answers and
/// the answer to its `ack` of `acked`), then dropped; returns its token.
/// (By hand: the client crate acknowledges by itself.)
async fn dropped_after_acking(server: &TestServer, acked: u64) -> String {
    let socket = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut raw = RawConnection { socket };
    let Some(ServerMessage::Welcome(welcome)) = raw.read().await else { panic!("no welcome") };
    for id in 1..=3 {
        raw.send_value(json!({"id": id, "op": "ping"})).await;
        assert!(matches!(raw.read().await, Some(ServerMessage::Response { .. })));
    }
    raw.send_value(json!({"id": 4, "op": "ack", "seq": acked})).await;
    assert_eq!(raw.read().await, Some(ServerMessage::Response { id: 4, result: Payload::nil() }));
    welcome.resume_token.expect("the server holds sessions")
}

/// Resumes `token` from `last_seq` once the server has seen the old
/// connection drop.
async fn resume_from(server: &TestServer, token: &str, last_seq: u64) -> ResumeResult {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let client = Client::connect(server.addr).await.unwrap();
        let resume = ServerOp::Resume { token: token.to_owned(), last_seq, auth_token: None };
        match client.request(resume.into()).await {
            Ok(result) => return ResumeResult::from_payload(&result).unwrap(),
            Err(err) if err.code() == Some(ErrorCode::SessionInUse) => {
                assert!(tokio::time::Instant::now() < deadline, "the drop was never seen");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => panic!("resume refused: {err}"),
        }
    }
}

#[tokio::test]
async fn what_the_client_acknowledged_is_let_go_and_what_it_did_not_is_replayed() {
    let server = TestServer::start().await;
    let token = dropped_after_acking(&server, 2).await;
    let resumed = resume_from(&server, &token, 2).await;
    assert!(!resumed.resync);
    assert_eq!((resumed.seq, resumed.replayed), (2, 2), "frames 3 and 4 come again");

    // Frames 1 and 2 were acknowledged: a resume from before them can only
    // be a resync.
    let token = dropped_after_acking(&server, 2).await;
    let resumed = resume_from(&server, &token, 1).await;
    assert!(resumed.resync);
    assert_eq!(resumed.seq, 4);
}

#[tokio::test]
async fn an_ack_of_frames_never_sent_is_refused() {
    let server = TestServer::start().await;
    let client = server.client().await;
    client.ping().await.unwrap();
    let refused = client.request(ServerOp::Ack { seq: 1000 }.into()).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InvalidRequest));
    client.ping().await.unwrap();
}

#[tokio::test]
async fn the_udp_channel_carries_on_after_a_resume() {
    let server = TestServer::start().await;
    let proxy = CuttingProxy::start(server.addr).await;
    let mut a = Client::connect_with(proxy.addr, resuming()).await.unwrap();
    let mut b = server.client().await;
    let room = shared_room(&mut a, &b).await;
    a.bind_udp().await.unwrap();
    proxy.cut();
    assert!(matches!(next_connection_event(&mut a).await, ConnectionEvent::Reconnecting { .. }));
    assert!(matches!(next_connection_event(&mut a).await, ConnectionEvent::Reconnected { .. }));

    // With a's connection stalled, what passes between a and the room
    // can only go over the UDP channel the session kept.
    proxy.stall();
    let says = |text: &'static str| move |event: &Event| matches!(event, Event::RoomMessage { data, .. } if *data == Payload::from(text));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        assert!(tokio::time::Instant::now() < deadline, "a's datagrams never reached b");
        a.send_unreliable(&room, "from a").await.unwrap();
        match b.next_event_within(Duration::from_millis(200)).await {
            Some(Incoming::Event(event)) if says("from a")(&event) => break,
            _ => continue,
        }
    }
    // The room relays it unreliably to every member, a too: over UDP.
    wait_for(&mut a, says("from a")).await;
    proxy.flow();
}
