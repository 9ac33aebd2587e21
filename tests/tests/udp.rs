//! The UDP channel with real UDP sockets: binding through TCP, unreliable
//! messages to rooms and members, datagrams the server must drop, a
//! spoofed source, a rebound address, TCP fallback, and UDP off.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use vampire_client::{Client, CreateRoom, ErrorCode, Event, Incoming, Payload, ServerOp};
use vampire_protocol::ServerMessage;
use vampire_protocol::udp::{
    Binding, ClientDatagram, Direction, HEADER_BYTES, Header, MAX_DATAGRAM_BYTES, SealKey,
};
use vampire_tests::{TestServer, as_json, json, serde_json, wait_for};

/// A client speaking UDP by hand, with the keys a `udp_bind` gave.
struct RawUdp {
    socket: UdpSocket,
    binding: Binding,
    server: SocketAddr,
    next: u64,
}

impl RawUdp {
    async fn bind(client: &Client, server: &TestServer) -> RawUdp {
        let result = client.request(ServerOp::UdpBind {}.into()).await.unwrap();
        let binding = Binding::from_payload(&result).unwrap();
        let server = SocketAddr::new(server.addr.ip(), binding.port);
        RawUdp { socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(), binding, server, next: 0 }
    }

    /// A sealed datagram with the next sequence number.
    fn datagram(&mut self, plaintext: &ClientDatagram) -> Vec<u8> {
        let key = SealKey::new(&self.binding.to_server_key);
        let header = Header { session: self.binding.session, sequence: self.next };
        self.next += 1;
        let mut sealed = Vec::new();
        key.seal(Direction::ToServer, header, &plaintext.encode(), &mut sealed).unwrap();
        sealed
    }

    async fn send(&self, datagram: &[u8]) {
        self.socket.send_to(datagram, self.server).await.unwrap();
    }

    /// The next event that arrives on this socket within `wait`, opened
    /// with the server's key.
    async fn receive(&self, wait: Duration) -> Option<Event> {
        let mut buf = vec![0u8; MAX_DATAGRAM_BYTES + 1];
        let key = SealKey::new(&self.binding.to_client_key);
        loop {
            let (len, _) =
                tokio::time::timeout(wait, self.socket.recv_from(&mut buf)).await.ok()?.ok()?;
            let datagram = &mut buf[..len];
            let Ok(end) = key.open(Direction::ToClient, datagram) else { continue };
            let body = bytes::Bytes::copy_from_slice(&datagram[HEADER_BYTES..end]);
            if let Ok(ServerMessage::Event(event)) = ServerMessage::decode(&body) {
                return Some(event);
            }
        }
    }
}

fn message(room: &str, text: &str) -> ClientDatagram {
    ClientDatagram::Message { room: room.to_owned(), data: Payload::from(text) }
}

/// Two members of a generic room: `a` with the client library's UDP, `b`
/// over TCP only.
async fn room_of_two(server: &TestServer) -> (Client, Client, String) {
    let mut a = server.client().await;
    let b = server.client().await;
    let room = a.create_room(CreateRoom::default()).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    b.join(&room, None).await.unwrap();
    a.bind_udp().await.unwrap();
    (a, b, room)
}

async fn next_message(client: &mut Client) -> Payload {
    let event = wait_for(client, |e| matches!(e, Event::RoomMessage { .. })).await;
    let Event::RoomMessage { data, .. } = event else { unreachable!() };
    data
}

/// Waits briefly and says whether any room message arrived.
async fn any_message(client: &mut Client, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
        match client.next_event_within(left).await {
            Some(Incoming::Event(Event::RoomMessage { .. })) => return true,
            Some(_) => {}
            None => return false,
        }
    }
    false
}

#[tokio::test]
async fn unreliable_messages_reach_the_room_over_udp_and_tcp_members_get_them_over_tcp() {
    let server = TestServer::start().await;
    let (a, mut b, room) = room_of_two(&server).await;
    let mut raw = RawUdp::bind(&b, &server).await;
    // b's own datagrams bind its raw socket's address.
    let hello = raw.datagram(&ClientDatagram::Hello);
    raw.send(&hello).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.send_unreliable(&room, "over udp").await.unwrap();
    let event = raw.receive(Duration::from_secs(5)).await.expect("a datagram for b");
    assert!(
        matches!(&event, Event::RoomMessage { data, .. } if *data == Payload::from("over udp")),
        "{event:?}"
    );

    // A member that never bound UDP gets the same messages over TCP.
    let mut c = server.client().await;
    c.join(&room, None).await.unwrap();
    let datagram = raw.datagram(&message(&room, "from b"));
    raw.send(&datagram).await;
    assert_eq!(next_message(&mut c).await, Payload::from("from b"));
    // b sent it, and is a member: it gets it too, over UDP.
    let event = raw.receive(Duration::from_secs(5)).await.unwrap();
    assert!(matches!(&event, Event::RoomMessage { data, .. } if *data == Payload::from("from b")));
    drop(b.try_next_event());
}

#[tokio::test]
async fn a_plugin_hook_is_told_a_message_came_unreliably() {
    let server = TestServer::with_plugins(|_| {}, |_| {}).await;
    let mut a = server.client().await;
    let settings = CreateRoom { room_type: Some("clockwork".into()), ..CreateRoom::default() };
    let room = a.create_room(settings).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    a.bind_udp().await.unwrap();
    a.send_unreliable(&room, "x").await.unwrap();
    assert_eq!(
        as_json(&next_message(&mut a).await),
        serde_json::json!({"message": {"from": a.session(), "unreliable": true}})
    );
    a.send_message(&room, "y").await.unwrap();
    assert_eq!(
        as_json(&next_message(&mut a).await),
        serde_json::json!({"message": {"from": a.session(), "unreliable": false}})
    );
}

#[tokio::test]
async fn bad_datagrams_are_dropped_while_the_server_and_the_session_go_on() {
    let server = TestServer::start().await;
    let (_a, mut b, room) = room_of_two(&server).await;
    let c = server.client().await;
    c.join(&room, None).await.unwrap();
    let mut raw = RawUdp::bind(&c, &server).await;

    // Wrong key.
    let mut wrong = raw.datagram(&message(&room, "wrong key"));
    let end = wrong.len() - 1;
    wrong[end] ^= 0xff;
    raw.send(&wrong).await;
    // Malformed (too short) and oversized.
    raw.send(&[1, 2, 3]).await;
    raw.send(&vec![0u8; MAX_DATAGRAM_BYTES + 100]).await;
    // Replayed: the same valid datagram twice.
    let valid = raw.datagram(&message(&room, "once"));
    raw.send(&valid).await;
    raw.send(&valid).await;
    assert_eq!(next_message(&mut b).await, Payload::from("once"));
    // Stale: older than the replay window.
    raw.next = 1000;
    let newest = raw.datagram(&message(&room, "newest"));
    raw.send(&newest).await;
    assert_eq!(next_message(&mut b).await, Payload::from("newest"));
    raw.next = 10;
    let stale = raw.datagram(&message(&room, "stale"));
    raw.send(&stale).await;
    raw.next = 1001;
    // Not a datagram the server knows, though authentic.
    let junk = ClientDatagram::Message { room: "r404".into(), data: Payload::nil() };
    let junk = raw.datagram(&junk);
    raw.send(&junk).await;
    assert!(!any_message(&mut b, Duration::from_millis(300)).await, "a bad datagram got through");
    // The session and the server go on.
    let after = raw.datagram(&message(&room, "after"));
    raw.send(&after).await;
    assert_eq!(next_message(&mut b).await, Payload::from("after"));
    b.ping().await.unwrap();
}

#[tokio::test]
async fn a_spoofed_source_never_receives_anything_and_a_rebound_address_does() {
    let server = TestServer::start().await;
    let (a, _b, room) = room_of_two(&server).await;
    let c = server.client().await;
    c.join(&room, None).await.unwrap();
    let mut raw = RawUdp::bind(&c, &server).await;
    let hello = raw.datagram(&ClientDatagram::Hello);
    raw.send(&hello).await;

    // An attacker with the session id but not the key, and one replaying
    // a captured datagram from its own address.
    let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut forged = raw.datagram(&ClientDatagram::Hello);
    forged[HEADER_BYTES] ^= 1;
    attacker.send_to(&forged, raw.server).await.unwrap();
    attacker.send_to(&hello, raw.server).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..5 {
        a.send_unreliable(&room, "for members").await.unwrap();
    }
    assert!(
        raw.receive(Duration::from_secs(2)).await.is_some(),
        "the member's address still gets them"
    );
    let mut buf = [0u8; 2048];
    let got = tokio::time::timeout(Duration::from_millis(500), attacker.recv_from(&mut buf)).await;
    assert!(got.is_err(), "the spoofed address received a datagram");

    // The member moves to a new address (NAT rebinding): its next
    // authenticated datagram rebinds the session.
    let old = std::mem::replace(&mut raw.socket, UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let hello = raw.datagram(&ClientDatagram::Hello);
    raw.send(&hello).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Drain what the old socket had queued.
    while tokio::time::timeout(Duration::from_millis(50), old.recv_from(&mut buf)).await.is_ok() {}
    a.send_unreliable(&room, "after the move").await.unwrap();
    let event = raw.receive(Duration::from_secs(5)).await.expect("the new address receives");
    assert!(matches!(event, Event::RoomMessage { .. }));
    let stray = tokio::time::timeout(Duration::from_millis(300), old.recv_from(&mut buf)).await;
    assert!(stray.is_err(), "the old address still received");
}

#[tokio::test]
async fn with_udp_off_binding_is_refused_and_unreliable_traffic_goes_over_tcp() {
    let server = TestServer::start_with(|c| c.enable_udp = false).await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let room = a.create_room(CreateRoom::default()).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    b.join(&room, None).await.unwrap();
    let err = a.bind_udp().await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UdpUnavailable));
    a.send_unreliable(&room, "over tcp").await.unwrap();
    assert_eq!(next_message(&mut b).await, Payload::from("over tcp"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_positions_example_moves_dots_on_its_clock_over_udp() {
    let server = TestServer::with_plugins(|_| {}, |_| {}).await;
    let mut a = server.client().await;
    let settings = CreateRoom {
        room_type: Some("positions".into()),
        options: Some(json!({"rate_hz": 30})),
        ..CreateRoom::default()
    };
    let room = a.create_room(settings).await.unwrap().id;
    a.join(&room, None).await.unwrap();
    a.bind_udp().await.unwrap();
    a.send_unreliable(&room, json!({"vx": 100.0, "vy": 0.0})).await.unwrap();
    let mut updates = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Some(left) = deadline.checked_duration_since(tokio::time::Instant::now()) {
        if let Some(Incoming::Event(Event::RoomMessage { data, .. })) =
            a.next_event_within(left).await
        {
            updates.push(as_json(&data));
        }
    }
    assert!((20..=40).contains(&updates.len()), "{} updates in a second", updates.len());
    // Positions are float32, which JSON shows as {"$f32": x}.
    let x = |update: &serde_json::Value| update["dots"][0][1]["$f32"].as_f64().unwrap();
    let (first, last) = (&updates[2], updates.last().unwrap());
    let moved = (x(last) - x(first)).rem_euclid(1000.0);
    assert!((40.0..=120.0).contains(&moved), "moved {moved} in under a second at 100/s");
}

/// Issue 17, item 12: binding again replaces the first binding: the
/// server sends with the new session id and keys, to the address that
/// authenticated with them, and the old ones stop working both ways.
#[tokio::test]
async fn item_12_a_second_udp_bind_replaces_the_first() {
    let server = TestServer::start().await;
    let (a, mut b, room) = room_of_two(&server).await;
    let c = server.client().await;
    c.join(&room, None).await.unwrap();
    let mut first = RawUdp::bind(&c, &server).await;
    let hello = first.datagram(&ClientDatagram::Hello);
    first.send(&hello).await;
    let mut second = RawUdp::bind(&c, &server).await;
    assert_ne!(first.binding.session, second.binding.session);
    let hello = second.datagram(&ClientDatagram::Hello);
    second.send(&hello).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    a.send_unreliable(&room, "after the second bind").await.unwrap();
    let event = second.receive(Duration::from_secs(5)).await.expect("the new binding receives");
    assert!(matches!(event, Event::RoomMessage { .. }));
    assert!(first.receive(Duration::from_millis(300)).await.is_none(), "the old binding received");

    // The old keys no longer reach the room (`b` hears every message of
    // the room over TCP).
    assert_eq!(next_message(&mut b).await.to_value(), "after the second bind".into());
    let old = first.datagram(&message(&room, "with the old keys"));
    first.send(&old).await;
    assert!(!any_message(&mut b, Duration::from_millis(300)).await);
}
