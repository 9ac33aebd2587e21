//! The WebSocket port end to end: the upgrade and its refusals, every
//! operation over it, a WebSocket member beside a TCP member, and the
//! limits, timeouts and refusals TCP has, over real sockets.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vampire_client::{CreateRoom, ErrorCode, Event, ServerMessage, Value};
use vampire_tests::websocket::{
    BINARY, CONTINUATION, PING, PONG, RawWebSocket, TEXT, frame_bytes, http_exchange,
    upgrade_request,
};
use vampire_tests::{TestServer, as_json, json, next_event, variable, wait_for};

#[tokio::test]
async fn the_upgrade_answers_101_and_each_frame_is_one_binary_message() {
    let server = TestServer::start().await;
    let mut raw = RawWebSocket::connect(server.ws_addr()).await;
    raw.send_binary(json!({"id": 1, "op": "ping"}).as_bytes()).await;
    assert_eq!(
        raw.read().await,
        Some(ServerMessage::Response { id: 1, result: vampire_client::Payload::nil() })
    );
    // Two requests in one TCP segment are still two messages, two answers.
    let mut both = Vec::new();
    for id in [2, 3] {
        let body = json!({"id": id, "op": "ping"});
        both.extend(frame_bytes(BINARY, true, true, body.as_bytes().len() as u64, body.as_bytes()));
    }
    raw.socket.write_all(&both).await.unwrap();
    for id in [2, 3] {
        assert!(
            matches!(raw.read().await, Some(ServerMessage::Response { id: got, .. }) if got == id)
        );
    }
}

#[tokio::test]
async fn every_operation_works_over_websocket() {
    let server = TestServer::with_plugins(|_| {}, |_| {}).await;
    let mut alice = server.ws_client().await;
    let mut bob = server.ws_client().await;
    alice.ping().await.unwrap();

    let room = alice
        .create_room(CreateRoom {
            room_type: Some("chat".into()),
            name: Some("over ws".into()),
            ..CreateRoom::default()
        })
        .await
        .unwrap();
    assert_eq!(bob.list_rooms(Some("chat")).await.unwrap(), vec![room.clone()]);
    assert_eq!(bob.room_info(&room.id).await.unwrap().name, "over ws");
    alice.join(&room.id, None).await.unwrap();
    bob.join(&room.id, None).await.unwrap();
    wait_for(&mut alice, |e| matches!(e, Event::MemberJoined { .. })).await;

    bob.send_message(&room.id, json!("hello over ws")).await.unwrap();
    wait_for(
        &mut alice,
        |e| matches!(e, Event::RoomMessage { data, .. } if data == &json!("hello over ws")),
    )
    .await;
    let history = alice.invoke(&room.id, "history", json!({"last": 5})).await.unwrap();
    assert_eq!(as_json(&history)[0]["data"], "hello over ws");
    let err = alice.invoke(&room.id, "no_such_method", json!(null)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MethodNotFound));

    alice.set_variable(&room.id, "topic", json!({"big": u64::MAX}), Some(true)).await.unwrap();
    let changed =
        wait_for(&mut bob, |e| matches!(e, Event::VariableChanged { name, .. } if name == "topic"))
            .await;
    let Event::VariableChanged { value, .. } = changed else { unreachable!() };
    assert_eq!(value, json!({"big": u64::MAX}));
    assert_eq!(bob.get_variable(&room.id, "topic").await.unwrap(), json!({"big": u64::MAX}));
    let all = bob.get_variables(&room.id).await.unwrap();
    assert_eq!(variable(&all, "topic"), Some(&json!({"big": u64::MAX})));

    // Unreliable data without UDP goes over the WebSocket.
    alice.send_unreliable(&room.id, json!("fast")).await.unwrap();
    wait_for(&mut bob, |e| matches!(e, Event::RoomMessage { data, .. } if data == &json!("fast")))
        .await;

    bob.leave(&room.id).await.unwrap();
    let err = bob.leave(&room.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotInRoom));
    let generic = bob.create_room(CreateRoom::default()).await.unwrap();
    bob.delete_room(&generic.id).await.unwrap();
    let err = alice.join("no-such-room", None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
    bob.bind_udp().await.unwrap();
}

#[tokio::test]
async fn a_websocket_member_and_a_tcp_member_see_each_others_messages_and_variables() {
    let server = TestServer::start().await;
    let mut browser = server.ws_client().await;
    let mut native = server.client().await;
    let room = native.create_room(CreateRoom::default()).await.unwrap().id;
    native.join(&room, None).await.unwrap();
    browser.join(&room, None).await.unwrap();
    let joined = next_event(&mut native).await;
    assert!(matches!(joined, Event::MemberJoined { session, .. } if session == browser.session()));

    browser.send_message(&room, Value::Binary(vec![0, 255])).await.unwrap();
    native.send_message(&room, Value::F64(f64::NAN)).await.unwrap();
    wait_for(
        &mut native,
        |e| matches!(e, Event::RoomMessage { from, .. } if *from == Some(browser.session())),
    )
    .await;
    let from_native = wait_for(
        &mut browser,
        |e| matches!(e, Event::RoomMessage { from, .. } if *from == Some(native.session())),
    )
    .await;
    let Event::RoomMessage { data, .. } = from_native else { unreachable!() };
    // The exact bytes the sender sent, NaN included.
    assert_eq!(data, vampire_client::Payload::from(Value::F64(f64::NAN)));

    native.set_variable(&room, "score", json!(7), Some(true)).await.unwrap();
    wait_for(&mut browser, |e| matches!(e, Event::VariableChanged { name, value, .. } if name == "score" && value == &json!(7))).await;
    browser.set_variable(&room, "score", json!(8), Some(true)).await.unwrap();
    wait_for(&mut native, |e| matches!(e, Event::VariableChanged { name, value, .. } if name == "score" && value == &json!(8))).await;
}

#[tokio::test]
async fn bad_upgrades_get_their_http_status_and_the_port_keeps_serving() {
    let server = TestServer::start().await;
    let addr = server.ws_addr();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "HTTP/1.1 426"),
        (upgrade_request("").replace("Version: 13", "Version: 8").into_bytes(), "HTTP/1.1 426"),
        (
            upgrade_request("")
                .replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")
                .into_bytes(),
            "HTTP/1.1 400",
        ),
        (upgrade_request("").replacen("GET", "POST", 1).into_bytes(), "HTTP/1.1 405"),
        (b"\x00\x00\x00\x0a\x82\xa2id\x01\xa2op\xa4ping".to_vec(), "HTTP/1.1 400"),
        (b"garbage before any upgrade\r\n\r\n".to_vec(), "HTTP/1.1 400"),
        (
            upgrade_request(&format!("X-Padding: {}\r\n", "a".repeat(20_000))).into_bytes(),
            "HTTP/1.1 431",
        ),
    ];
    for (request, status) in cases {
        let (answer, _) = http_exchange(addr, &request).await;
        assert!(answer.starts_with(status), "{status} expected, got {answer:?}");
        if status != "HTTP/1.1 431" && status != "HTTP/1.1 400" || answer.contains("bad_upgrade") {
            assert!(answer.contains("\"code\":\"bad_upgrade\""), "{answer}");
        }
    }
    server.ws_client().await.ping().await.unwrap();
}

#[tokio::test]
async fn an_origin_the_list_does_not_name_is_refused_with_403() {
    let server = TestServer::start_with(|c| {
        c.websocket.allowed_origins = vec!["https://game.example".to_owned()];
    })
    .await;
    let addr = server.ws_addr();
    let (answer, _) =
        http_exchange(addr, upgrade_request("Origin: https://evil.example\r\n").as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let (answer, _) = http_exchange(addr, upgrade_request("").as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "no origin at all: {answer}");
    let (answer, _) =
        http_exchange(addr, upgrade_request("Origin: https://game.example\r\n").as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
}

#[tokio::test]
async fn a_text_message_is_refused_and_the_connection_closed() {
    let server = TestServer::start().await;
    let mut raw = RawWebSocket::connect(server.ws_addr()).await;
    raw.send_frame(TEXT, true, true, br#"{"id":1,"op":"ping"}"#).await;
    let (code, message) = raw.read_error().await;
    assert_eq!(code, ErrorCode::InvalidFrame);
    assert!(message.contains("binary"), "{message}");
    assert_eq!(raw.read().await, None, "closed after the error");
}

#[tokio::test]
async fn messages_over_max_frame_bytes_are_refused_whole_or_fragmented() {
    let server = TestServer::start_with(|c| c.limits.max_frame_bytes = 1024).await;
    let mut whole = RawWebSocket::connect(server.ws_addr()).await;
    whole.send_binary(&[0x90; 2000]).await;
    let (code, message) = whole.read_error().await;
    assert_eq!(code, ErrorCode::FrameTooLarge);
    assert!(message.contains("1024"), "{message}");

    let mut fragmented = RawWebSocket::connect(server.ws_addr()).await;
    fragmented.send_frame(BINARY, false, true, &[0x90; 600]).await;
    fragmented.send_frame(CONTINUATION, true, true, &[0x90; 600]).await;
    assert_eq!(fragmented.read_error().await.0, ErrorCode::FrameTooLarge);

    // A header announcing 2 GiB is refused before anything is buffered.
    let mut huge = RawWebSocket::connect(server.ws_addr()).await;
    huge.socket.write_all(&frame_bytes(BINARY, true, true, 2 << 30, &[])).await.unwrap();
    assert_eq!(huge.read_error().await.0, ErrorCode::FrameTooLarge);

    // A message of the limit, in fragments, is one frame.
    let mut fine = RawWebSocket::connect(server.ws_addr()).await;
    let ping = json!({"id": 9, "op": "ping"});
    let (first, rest) = ping.as_bytes().split_at(3);
    fine.send_frame(BINARY, false, true, first).await;
    fine.send_frame(CONTINUATION, true, true, rest).await;
    assert!(matches!(fine.read().await, Some(ServerMessage::Response { id: 9, .. })));
}

#[tokio::test]
async fn unmasked_client_frames_are_refused_and_pings_get_pongs() {
    let server = TestServer::start().await;
    let mut raw = RawWebSocket::connect(server.ws_addr()).await;
    raw.send_frame(PING, true, true, b"are you there").await;
    assert_eq!(raw.read_frame().await, Some((PONG, b"are you there".to_vec())));
    raw.send_frame(BINARY, true, false, json!({"id": 1, "op": "ping"}).as_bytes()).await;
    let (code, message) = raw.read_error().await;
    assert_eq!(code, ErrorCode::InvalidFrame);
    assert!(message.contains("unmasked") || message.contains("mask"), "{message}");
}

#[tokio::test]
async fn the_clocks_of_tcp_apply_to_websocket_connections() {
    let server = TestServer::start_with(|c| {
        c.limits.handshake_timeout_secs = 2;
        c.limits.frame_timeout_secs = 1;
    })
    .await;
    // Nothing after the upgrade: the handshake timeout.
    let mut silent = RawWebSocket::connect(server.ws_addr()).await;
    let (code, message) = silent.read_error().await;
    assert_eq!(
        (code, message.as_str()),
        (ErrorCode::Timeout, "no request came in time after connecting")
    );

    // Half a message, then nothing: the frame timeout.
    let mut partial = RawWebSocket::connect(server.ws_addr()).await;
    let bytes = frame_bytes(BINARY, true, true, 100, &[1; 100]);
    partial.socket.write_all(&bytes[..20]).await.unwrap();
    let (code, message) = partial.read_error().await;
    assert_eq!((code, message.as_str()), (ErrorCode::Timeout, "a frame took too long to arrive"));

    // An upgrade request that never ends is closed.
    let mut upgrading = tokio::net::TcpStream::connect(server.ws_addr()).await.unwrap();
    upgrading.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut rest = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(5), upgrading.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the half-sent upgrade was closed");
}

#[tokio::test]
async fn the_request_rate_limit_applies_as_on_tcp() {
    let server = TestServer::start_with(|c| {
        c.limits.requests_per_second = 5;
        c.limits.request_burst = 5;
    })
    .await;
    let mut raw = RawWebSocket::connect(server.ws_addr()).await;
    let mut burst = Vec::new();
    for id in 1..=20u32 {
        let body = json!({"id": id, "op": "ping"});
        burst.extend(frame_bytes(
            BINARY,
            true,
            true,
            body.as_bytes().len() as u64,
            body.as_bytes(),
        ));
    }
    raw.socket.write_all(&burst).await.unwrap();
    let mut limited = 0;
    for _ in 1..=20 {
        if let Some(ServerMessage::Error { code: ErrorCode::RateLimited, .. }) = raw.read().await {
            limited += 1;
        }
    }
    assert!(limited >= 8, "{limited} of 20 were rate limited");
}

#[tokio::test]
async fn a_full_server_answers_the_upgrade_with_503() {
    let server = TestServer::start_with(|c| c.limits.max_connections = 1).await;
    let _first = server.ws_client().await;
    let (answer, _) = http_exchange(server.ws_addr(), upgrade_request("").as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("server_busy"), "{answer}");
}

#[tokio::test]
async fn sessions_are_numbered_across_both_ports() {
    let server = TestServer::start().await;
    let tcp = server.client().await;
    let ws = server.ws_client().await;
    assert_ne!(tcp.session(), ws.session());
}

#[tokio::test]
async fn a_ping_flood_is_refused_by_the_request_rate_limit() {
    let server = TestServer::start_with(|c| {
        c.limits.requests_per_second = 5;
        c.limits.request_burst = 5;
    })
    .await;
    let mut flood = RawWebSocket::connect(server.ws_addr()).await;
    let ping = frame_bytes(PING, true, true, 4, b"ping");
    flood.socket.write_all(&ping.repeat(50)).await.unwrap();
    let refused = loop {
        match flood.read_frame().await {
            Some((PONG, _)) => continue,
            Some((BINARY, body)) => break ServerMessage::decode(&body.into()).unwrap(),
            other => panic!("expected the refusal, got {other:?}"),
        }
    };
    assert!(
        matches!(refused, ServerMessage::Error { code: ErrorCode::RateLimited, .. }),
        "{refused:?}"
    );
    // Others are served as before.
    server.ws_client().await.ping().await.unwrap();
}

#[tokio::test]
async fn tokens_passwords_and_invites_work_over_websocket() {
    const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";
    let server = TestServer::start_with(|c| {
        c.auth.mode = vampiretcp::config::AuthMode::Jwt;
        c.auth.secret = Some(SECRET.to_owned());
    })
    .await;
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        + 3600;
    let token = |user: &str| {
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
        let claims = vampire_tests::serde_json::json!({"sub": user, "exp": exp});
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
    };
    let address = server.ws_addr().to_string();
    let options = |user: &str| vampire_client::ConnectOptions {
        token: Some(token(user)),
        ..Default::default()
    };
    let owner = vampire_client::Client::connect_websocket(&address, options("ada")).await.unwrap();
    let guest = vampire_client::Client::connect_websocket(&address, options("bo")).await.unwrap();
    let room = owner
        .create_room(CreateRoom { password: Some("secret".into()), ..CreateRoom::default() })
        .await
        .unwrap()
        .id;
    let err = guest.join(&room, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    let invite = owner.create_invite(&room).await.unwrap();
    let joined = guest.join_with_invite(&room, &invite).await.unwrap();
    assert_eq!(joined.roster[0].user_id.as_deref(), Some("bo"));

    // A connection without a token is told so and closed, as on TCP.
    let mut raw = RawWebSocket::connect(server.ws_addr()).await;
    raw.send_binary(json!({"id": 1, "op": "ping"}).as_bytes()).await;
    assert_eq!(raw.read_error().await.0, ErrorCode::NotAuthenticated);
}
