//! Server limits and shutdown: a client past a limit is told why, and a
//! stopping server says goodbye.

use vampire_client::{Client, CreateRoom, ErrorCode, Incoming};
use vampire_tests::{PATIENCE, RawConnection, TestServer, json};

#[tokio::test]
async fn a_connection_past_the_limit_is_told_server_busy() {
    let server = TestServer::start_with(|c| c.limits.max_connections = 2).await;
    let first = server.client().await;
    let _second = server.client().await;
    match Client::connect(server.addr).await {
        Err(err) => assert_eq!(err.code(), Some(ErrorCode::ServerBusy), "{err}"),
        Ok(_) => panic!("a third connection was accepted"),
    }
    // Those already in are served, and a freed place can be taken.
    first.ping().await.unwrap();
    drop(first);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match Client::connect(server.addr).await {
            Ok(client) => break client.ping().await.unwrap(),
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(err) => panic!("the freed place was not given back: {err}"),
        }
    }
}

#[tokio::test]
async fn room_creation_past_the_limit_is_server_busy() {
    let server = TestServer::start_with(|c| c.limits.max_rooms = 2).await;
    let client = server.client().await;
    client.create_room(CreateRoom::default()).await.unwrap();
    client.create_room(CreateRoom::default()).await.unwrap();
    let err = client.create_room(CreateRoom::default()).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ServerBusy));
}

#[tokio::test]
async fn shutdown_tells_connected_clients() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    client.ping().await.unwrap();
    server.stop().await;
    match client.next_event_within(PATIENCE).await {
        Some(Incoming::Error { code, .. }) => assert_eq!(code, ErrorCode::ServerShutdown),
        other => panic!("expected server_shutdown, got {other:?}"),
    }
    assert_eq!(client.next_event_within(PATIENCE).await, None, "then the connection closes");
}

/// Issue 17, item 8: rooms with large metadata never break the listing:
/// a page stops before the frame limit (fewer than asked, with the
/// total), the next pages hold the rest, and metadata past
/// `limits.maxListedMetadataBytes` is refused at creation.
#[tokio::test]
async fn item_08_listings_are_paged_by_bytes_and_metadata_is_capped() {
    let server = TestServer::start_with(|config| {
        let limits = &mut config.limits;
        limits.max_variable_bytes = 4096;
        limits.max_room_variable_bytes = 8192;
        limits.max_outbound_frame_bytes = 8192 + 128 * 1024;
        limits.max_rooms_per_connection = 64;
    })
    .await;
    let client = server.client().await;
    let too_big = "x".repeat(4096);
    let refused = client
        .create_room(CreateRoom {
            metadata: Some(json!({ "blob": too_big })),
            ..CreateRoom::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InvalidRequest));
    assert!(refused.to_string().contains("maxListedMetadataBytes"), "{refused}");

    let blob = "x".repeat(4000);
    for _ in 0..40 {
        let room = CreateRoom {
            metadata: Some(json!({ "blob": blob })),
            auto_dispose: Some(false),
            ..CreateRoom::default()
        };
        client.create_room(room).await.unwrap();
    }
    let first = client.list_rooms_page(None, None, None).await.unwrap();
    assert_eq!(first.total, 40);
    assert!(!first.rooms.is_empty() && first.rooms.len() < 40, "{} rooms", first.rooms.len());
    let mut seen = first.rooms.len();
    while seen < 40 {
        let page = client.list_rooms_page(None, Some(seen as u32), None).await.unwrap();
        assert!(!page.rooms.is_empty());
        seen += page.rooms.len();
    }
    assert_eq!(seen, 40);
    server.stop().await;
}

#[tokio::test]
async fn a_flood_past_the_rate_limit_is_read_no_faster_than_the_rate() {
    let server = TestServer::start_with(|c| {
        c.limits.requests_per_second = 1;
        c.limits.request_burst = 5;
    })
    .await;
    let mut flood = RawConnection::connect(&server).await;
    let mut pings = Vec::new();
    for id in 1..=2000u32 {
        let body = json!({"id": id, "op": "ping"});
        pings.extend_from_slice(&(body.as_bytes().len() as u32).to_be_bytes());
        pings.extend_from_slice(body.as_bytes());
    }
    flood.send(&pings).await;
    // Five answered, five refused, then the server waits for the rate
    // instead of refusing the rest as fast as it can read them.
    let mut answers = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, flood.read()).await {
        answers += 1;
    }
    assert!((10..100).contains(&answers), "{answers} answers in the first second of 2000 sent");
    // Everyone else is served.
    server.client().await.ping().await.unwrap();
}
