//! What the hostile-input tests share: connections that never read,
//! raw requests, checks that the server still serves and stays within
//! its memory.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use vampire_client::{Client, CreateRoom, Payload, Request, Value};

use super::ServerProcess;

pub const MIB: u64 = 1 << 20;
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A connection that writes requests and never reads.
pub async fn never_reading(server: &ServerProcess) -> TcpStream {
    let socket = TcpStream::connect(server.addr).await.unwrap();
    // A small receive buffer, so the server's queue is what fills up.
    socket.set_nodelay(true).unwrap();
    socket
}

pub async fn send(socket: &mut TcpStream, request: Request, id: u32) {
    socket.write_all(&request.encode(Some(id))).await.unwrap();
}

/// A new client answers a ping within a second.
pub async fn assert_served(server: &ServerProcess) {
    let client = Client::connect(server.addr).await.expect("a new client connects");
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(1), client.ping())
        .await
        .expect("a healthy client is answered within a second")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

pub fn assert_memory_below(server: &ServerProcess, mib: u64) {
    let (now, peak) = server.memory();
    assert!(peak < mib * MIB, "peak resident memory {} MiB (now {} MiB)", peak / MIB, now / MIB);
}

pub fn kept(room_type: &str) -> CreateRoom {
    CreateRoom {
        room_type: Some(room_type.into()),
        auto_dispose: Some(false),
        max_clients: Some(100),
        ..CreateRoom::default()
    }
}

pub fn repeat(count: u64, bytes: u64) -> Payload {
    Payload::from(Value::Map(vec![
        (Value::from("count"), Value::from(count)),
        (Value::from("bytes"), Value::from(bytes)),
    ]))
}

/// Waits until `room` shows `members` members in the listing.
pub async fn wait_for_members(client: &Client, room: &str, members: u32) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let rooms = client.list_rooms(None).await.unwrap();
        if rooms.iter().any(|r| r.id == room && r.members == members) {
            return;
        }
        assert!(Instant::now() < deadline, "room {room} never had {members} members: {rooms:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the server's resident memory is under `mib` MiB, failing
/// after ten seconds with what it was.
pub async fn memory_falls_below(server: &ServerProcess, mib: u64, after: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (now, peak) = server.memory();
        if now < mib * MIB {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{after}: resident memory still {} MiB (peak {} MiB), not under {mib}",
            now / MIB,
            peak / MIB
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
