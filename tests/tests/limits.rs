//! Server limits and shutdown: a client past a limit is told why, and a
//! stopping server says goodbye.

use vampire_client::{Client, CreateRoom, ErrorCode, Incoming};
use vampire_tests::{PATIENCE, TestServer};

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
