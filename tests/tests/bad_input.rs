//! Bad input over raw TCP: each case gets a clear error, loses nothing else,
//! and the server stays up.

use tokio::io::AsyncWriteExt;
use vampire_client::{CreateRoom, ErrorCode, ServerMessage};
use vampire_tests::{RawConnection, TestServer, json};

#[tokio::test]
async fn an_oversized_frame_closes_the_connection_with_a_reason() {
    let server = TestServer::start_with(|c| c.limits.max_frame_bytes = 1024).await;
    let mut raw = RawConnection::connect(&server).await;
    raw.send(&(1_000_000u32).to_be_bytes()).await;
    raw.send(&[0u8; 2048]).await;
    let (id, code, message) = raw.read_error().await;
    assert_eq!((id, code), (None, ErrorCode::FrameTooLarge));
    assert!(message.contains("1024"), "{message}");
    assert_eq!(raw.read().await, None, "then the connection is closed");
    RawConnection::connect(&server).await.assert_alive().await;
}

#[tokio::test]
async fn a_truncated_body_ends_only_that_connection() {
    let server = TestServer::start().await;
    let mut other = RawConnection::connect(&server).await;
    let mut raw = RawConnection::connect(&server).await;
    raw.send(&100u32.to_be_bytes()).await;
    raw.send(&[0x80; 10]).await;
    raw.socket.shutdown().await.unwrap();
    assert_eq!(raw.read().await, None);
    other.assert_alive().await;
    RawConnection::connect(&server).await.assert_alive().await;
}

#[tokio::test]
async fn bytes_that_are_not_messagepack_get_an_error_and_the_connection_stays() {
    let server = TestServer::start().await;
    let mut raw = RawConnection::connect(&server).await;
    raw.send_frame(&[0xc1, 0xc1, 0xc1]).await;
    let (id, code, _) = raw.read_error().await;
    assert_eq!((id, code), (None, ErrorCode::InvalidFrame));
    raw.send_frame(&[]).await;
    assert_eq!(raw.read_error().await.1, ErrorCode::InvalidFrame);
    raw.assert_alive().await;
}

#[tokio::test]
async fn unknown_operations_and_wrong_field_types_get_error_responses() {
    let server = TestServer::start().await;
    let mut raw = RawConnection::connect(&server).await;

    raw.send_value(json!({"id": 1, "op": "teleport"})).await;
    let (id, code, message) = raw.read_error().await;
    assert_eq!((id, code), (Some(1), ErrorCode::UnknownOperation));
    assert!(message.contains("teleport"), "{message}");

    raw.send_value(json!({"id": 2, "op": "join", "room": 17})).await;
    let (id, code, message) = raw.read_error().await;
    assert_eq!((id, code), (Some(2), ErrorCode::InvalidRequest));
    assert!(message.contains("`room` must be a string, found an unsigned integer"), "{message}");

    raw.send_value(json!({"id": 3, "op": "create_room", "max_clients": "many"})).await;
    assert_eq!(raw.read_error().await.1, ErrorCode::InvalidRequest);

    raw.send_value(json!({"id": 4, "op": "set_variable", "room": "r1", "name": "x"})).await;
    let (id, code, message) = raw.read_error().await;
    assert_eq!((id, code), (Some(4), ErrorCode::InvalidRequest));
    assert!(message.contains("value"), "{message}");

    raw.send_value(json!({"op": "ping", "id": "seven"})).await;
    assert_eq!(
        raw.read_error().await,
        (
            None,
            ErrorCode::InvalidRequest,
            "`id` must be an unsigned 32-bit integer, found a string".into()
        )
    );

    raw.send_value(json!([1, 2, 3])).await;
    assert_eq!(raw.read_error().await.1, ErrorCode::InvalidRequest);

    raw.send_value(json!({"id": 5})).await;
    assert_eq!(raw.read_error().await.1, ErrorCode::InvalidRequest);

    raw.assert_alive().await;
}

#[tokio::test]
async fn a_bad_frame_loses_nothing_for_the_room() {
    let server = TestServer::start().await;
    let owner = server.client().await;
    let room = owner.create_room(CreateRoom::default()).await.unwrap().id;
    let mut raw = RawConnection::connect(&server).await;
    raw.send_value(json!({"id": 1, "op": "join", "room": room})).await;
    assert!(matches!(raw.read().await, Some(ServerMessage::Response { id: 1, .. })));
    raw.send_frame(b"\xc1garbage").await;
    assert_eq!(raw.read_error().await.1, ErrorCode::InvalidFrame);
    // Still a member.
    raw.send_value(json!({"id": 2, "op": "set_variable", "room": room, "name": "n", "value": 1}))
        .await;
    let response = loop {
        match raw.read().await {
            Some(ServerMessage::Response { id: 2, result }) => break result,
            Some(ServerMessage::Event(_)) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(response, json!({"broadcast": true}));
}

#[tokio::test]
async fn a_client_that_stops_reading_is_disconnected_and_the_room_goes_on() {
    // No session is held (`reconnect.windowSecs` 0), so the member count
    // shows the slow client gone; a held one is reconnect.rs's case.
    let server = TestServer::start_with(|c| {
        c.limits.outbound_queue_frames = 8;
        c.reconnect.window_secs = 0;
    })
    .await;
    let sender = server.client().await;
    let room = sender
        .create_room(CreateRoom { auto_dispose: Some(false), ..CreateRoom::default() })
        .await
        .unwrap()
        .id;
    sender.join(&room, None).await.unwrap();
    let mut slow = RawConnection::connect(&server).await;
    slow.send_value(json!({"id": 1, "op": "join", "room": room})).await;
    let mut watcher = server.client().await;
    watcher.join(&room, None).await.unwrap();

    // ~30 MB of broadcasts: far more than the socket buffers hold, so the
    // slow client's queue must fill.
    let payload = "x".repeat(60_000);
    for _ in 0..500 {
        sender.send_message(&room, json!(payload)).await.unwrap();
        if sender.list_rooms(None).await.unwrap()[0].members == 2 {
            break;
        }
    }
    assert_eq!(sender.list_rooms(None).await.unwrap()[0].members, 2, "the slow client was removed");

    // The slow client gets what was in flight, then the reason, then EOF.
    let mut reason = None;
    while let Some(message) = slow.read().await {
        if let ServerMessage::Error { code, .. } = message {
            reason = Some(code);
        }
    }
    assert_eq!(reason, Some(ErrorCode::SlowConsumer));

    // The others keep going.
    sender.send_message(&room, json!("still here")).await.unwrap();
    vampire_tests::wait_for(&mut watcher, |e| {
        matches!(e, vampire_client::Event::RoomMessage { data, .. } if data == &json!("still here"))
    })
    .await;
}
