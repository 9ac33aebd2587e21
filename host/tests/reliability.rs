//! Hostile clients and plugins against the real server binary: each
//! scenario ends with a healthy client still served promptly and the
//! server's memory (read from `/proc`) bounded.
//!
//! The bounds asserted are generous multiples of the configured budgets;
//! what they rule out is growth without end (hundreds of megabytes to
//! gigabytes before these budgets existed).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::ServerProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vampire_client::{
    Client, CreateRoom, ErrorCode, Event, Incoming, Payload, Request, RoomOp, ServerOp, Value,
};

const MIB: u64 = 1 << 20;
const PATIENCE: Duration = Duration::from_secs(10);

/// A connection that writes requests and never reads.
async fn never_reading(server: &ServerProcess) -> TcpStream {
    let socket = TcpStream::connect(server.addr).await.unwrap();
    // A small receive buffer, so the server's queue is what fills up.
    socket.set_nodelay(true).unwrap();
    socket
}

async fn send(socket: &mut TcpStream, request: Request, id: u32) {
    socket.write_all(&request.encode(Some(id))).await.unwrap();
}

/// A new client answers a ping within a second.
async fn assert_served(server: &ServerProcess) {
    let client = Client::connect(server.addr).await.expect("a new client connects");
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(1), client.ping())
        .await
        .expect("a healthy client is answered within a second")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

fn assert_memory_below(server: &ServerProcess, mib: u64) {
    let (now, peak) = server.memory();
    assert!(peak < mib * MIB, "peak resident memory {} MiB (now {} MiB)", peak / MIB, now / MIB);
}

fn kept(room_type: &str) -> CreateRoom {
    CreateRoom {
        room_type: Some(room_type.into()),
        auto_dispose: Some(false),
        max_clients: Some(100),
        ..CreateRoom::default()
    }
}

fn repeat(count: u64, bytes: u64) -> Payload {
    Payload::from(Value::Map(vec![
        (Value::from("count"), Value::from(count)),
        (Value::from("bytes"), Value::from(bytes)),
    ]))
}

/// Waits until `room` shows `members` members in the listing.
async fn wait_for_members(client: &Client, room: &str, members: u32) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_pipelines_large_answers_and_never_reads_is_dropped() {
    let server = ServerProcess::start(json!({}));
    let owner = Client::connect(server.addr).await.unwrap();
    let room = owner.create_room(kept("generic")).await.unwrap().id;
    owner.join(&room, None).await.unwrap();
    // About 420 KB of variables: every get_variables answer carries them.
    for i in 0..7 {
        owner.set_variable(&room, &format!("v{i}"), "x".repeat(60_000), Some(false)).await.unwrap();
    }
    let mut reader = never_reading(&server).await;
    send(&mut reader, Request::join(room.clone()), 1).await;
    wait_for_members(&owner, &room, 2).await;
    // 200 answers of 420 KB would be 84 MB.
    for id in 2..202 {
        send(&mut reader, Request::room(room.clone(), RoomOp::GetVariables {}), id).await;
    }
    wait_for_members(&owner, &room, 1).await;
    assert_served(&server).await;
    owner.ping().await.unwrap();
    assert_memory_below(&server, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_broadcasting_large_values_to_a_member_that_never_reads() {
    let server = ServerProcess::with_plugins(json!({"limits": {"maxOutboundFrameBytes": 2097152}}));
    let mut owner = Client::connect(server.addr).await.unwrap();
    let room = owner.create_room(kept("faulty")).await.unwrap().id;
    owner.join(&room, None).await.unwrap();
    let mut silent = never_reading(&server).await;
    send(&mut silent, Request::join(room.clone()), 1).await;
    wait_for_members(&owner, &room, 2).await;
    let mut events = owner.take_event_stream();
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
    // 50 broadcasts of 1 MiB: 50 MiB for each member, in bursts a reading
    // client's queue (4 MiB) can take.
    for _ in 0..25 {
        owner.invoke(&room, "flood", repeat(2, MIB)).await.unwrap();
    }
    wait_for_members(&owner, &room, 1).await;
    assert_served(&server).await;
    assert_memory_below(&server, 150);
    drain.abort();
}

/// Issue 17, item 10: unreliable data a plugin floods to a member
/// without UDP is dropped once that member falls behind; it stays a
/// member, and reads on normally once it catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_10_an_unreliable_flood_never_disconnects_a_member_without_udp() {
    let server = ServerProcess::with_plugins(json!({}));
    let mut owner = Client::connect(server.addr).await.unwrap();
    let room = owner.create_room(kept("faulty")).await.unwrap().id;
    owner.join(&room, None).await.unwrap();
    let mut behind = never_reading(&server).await;
    send(&mut behind, Request::join(room.clone()), 1).await;
    wait_for_members(&owner, &room, 2).await;
    let mut events = owner.take_event_stream();
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
    // 24 MiB of unreliable messages, six times what the member's queue
    // holds before it counts as too slow.
    for _ in 0..24 {
        owner.invoke(&room, "unreliable_flood", repeat(16, 64 * 1024)).await.unwrap();
    }
    owner.ping().await.unwrap();
    assert_eq!(owner.list_rooms(None).await.unwrap()[0].members, 2, "the member was dropped");

    // It catches up: reads what was kept, then its ping's answer.
    send(&mut behind, ServerOp::Ping {}.into(), 99).await;
    let answered = tokio::time::timeout(PATIENCE, async {
        let mut len = [0u8; 4];
        loop {
            behind.read_exact(&mut len).await.unwrap();
            let mut body = vec![0; u32::from_be_bytes(len) as usize];
            behind.read_exact(&mut body).await.unwrap();
            match vampire_protocol::ServerMessage::decode(&body.into()).unwrap() {
                vampire_protocol::ServerMessage::Response { id: 99, .. } => return,
                vampire_protocol::ServerMessage::Error { code, message, .. } => {
                    panic!("{code}: {message}")
                }
                _ => {}
            }
        }
    })
    .await;
    assert!(answered.is_ok(), "the ping was never answered");
    drain.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_setting_variables_without_end_is_held_to_the_room_budget() {
    let server = ServerProcess::with_plugins(json!({}));
    let owner = Client::connect(server.addr).await.unwrap();
    let room = owner.create_room(kept("faulty")).await.unwrap().id;
    owner.join(&room, None).await.unwrap();
    let mut taken = Vec::new();
    for _ in 0..5 {
        let result = owner.invoke(&room, "fill", repeat(20_000, 100)).await.unwrap();
        taken.push(result.to_value().as_u64().unwrap());
    }
    // The budget of 1024 variables.
    assert_eq!(taken.iter().sum::<u64>(), 1024, "{taken:?}");
    assert_eq!(taken[1..], [0, 0, 0, 0]);
    let joiner = Client::connect(server.addr).await.unwrap();
    let joined = tokio::time::timeout(Duration::from_secs(1), joiner.join(&room, None))
        .await
        .expect("the join is answered promptly")
        .unwrap();
    assert_eq!(joined.variables.len(), 1024);
    assert_served(&server).await;
    assert_memory_below(&server, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_held_for_a_pending_joiner_are_bounded() {
    let server = ServerProcess::with_plugins(json!({}));
    let owner = Client::connect(server.addr).await.unwrap();
    let room = owner.create_room(kept("faulty")).await.unwrap().id;
    owner.join(&room, None).await.unwrap();
    // The join hook then sends each joiner 100 messages of 64 KB.
    owner.set_variable(&room, "spam_joiners", 64_000u32, Some(false)).await.unwrap();
    let joiner = Client::connect(server.addr).await.unwrap();
    let err = joiner.join(&room, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::PluginError), "{err}");
    assert!(err.to_string().contains("joiner"), "{err}");
    owner.ping().await.unwrap();
    assert_eq!(owner.list_rooms(None).await.unwrap()[0].members, 1);
    assert_served(&server).await;
    assert_memory_below(&server, 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_rooms_share_one_memory_budget() {
    let server = ServerProcess::with_plugins(json!({
        "limits": {"pluginMemoryBytes": 16777216, "pluginMemoryTotalBytes": 50331648}
    }));
    let client = Client::connect(server.addr).await.unwrap();
    let mut rooms = Vec::new();
    for _ in 0..6 {
        let room = client.create_room(kept("faulty")).await.unwrap().id;
        client.join(&room, None).await.unwrap();
        rooms.push(room);
    }
    let (mut grown, mut refused) = (0, 0);
    for room in &rooms {
        match client.invoke(room, "grow", repeat(10, 0)).await {
            Ok(_) => grown += 1,
            Err(err) => {
                assert_eq!(err.code(), Some(ErrorCode::PluginError), "{err}");
                assert!(err.to_string().contains("plugin memory budget"), "{err}");
                refused += 1;
            }
        }
    }
    assert!(grown >= 2 && refused >= 1, "grown {grown}, refused {refused}");
    // Every room, refused or not, goes on.
    for room in &rooms {
        client.invoke(room, "ok", Value::Nil).await.unwrap();
    }
    assert_served(&server).await;
    assert_memory_below(&server, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looping_plugins_do_not_delay_an_unrelated_ping() {
    let server = ServerProcess::with_plugins(json!({"limits": {"pluginFailuresToClose": 1000}}));
    let mut spinners = Vec::new();
    for _ in 0..2 {
        let client = Client::connect(server.addr).await.unwrap();
        let room = client.create_room(kept("faulty")).await.unwrap().id;
        client.join(&room, None).await.unwrap();
        spinners.push(tokio::spawn(async move {
            loop {
                let err = client.invoke(&room, "spin", Value::Nil).await.unwrap_err();
                assert_eq!(err.code(), Some(ErrorCode::PluginError));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pinger = Client::connect(server.addr).await.unwrap();
    let mut round_trips = Vec::new();
    for _ in 0..60 {
        let started = Instant::now();
        pinger.ping().await.unwrap();
        round_trips.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for spinner in spinners {
        spinner.abort();
    }
    round_trips.sort();
    let p90 = round_trips[round_trips.len() * 9 / 10];
    assert!(p90 < Duration::from_millis(20), "ping p90 {p90:?}: {round_trips:?}");
}

/// Issue 17, item 9: plugin rooms that never idle (many timers, each
/// running close to the call budget) neither starve a healthy plugin room
/// on the same threads nor keep their own owner's `delete_room` waiting
/// behind their timers. Before fair scheduling, each busy room held a
/// thread for its whole batch of timers (about ten seconds here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_09_busy_plugin_rooms_share_the_plugin_threads_fairly() {
    let server = ServerProcess::with_plugins(json!({
        "limits": {"pluginThreads": 2, "pluginFailuresToClose": 1000}
    }));
    let owner = Client::connect(server.addr).await.unwrap();
    let busy = Payload::from(Value::Map(vec![
        (Value::from("timers"), Value::from(64)),
        (Value::from("ms"), Value::from(150)),
    ]));
    let mut busy_rooms = Vec::new();
    for _ in 0..4 {
        let room = owner.create_room(kept("faulty")).await.unwrap().id;
        owner.join(&room, None).await.unwrap();
        owner.invoke(&room, "busy", busy.clone()).await.unwrap();
        busy_rooms.push(room);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let healthy = Client::connect(server.addr).await.unwrap();
    let room = healthy.create_room(kept("chat")).await.unwrap().id;
    healthy.join(&room, None).await.unwrap();
    let bound = Duration::from_secs(3);
    for _ in 0..5 {
        let started = Instant::now();
        healthy.invoke(&room, "history", Value::Nil).await.unwrap();
        assert!(started.elapsed() < bound, "a healthy invoke took {:?}", started.elapsed());
    }
    for busy_room in busy_rooms {
        let started = Instant::now();
        owner.delete_room(&busy_room).await.unwrap();
        assert!(started.elapsed() < bound, "delete_room took {:?}", started.elapsed());
    }
}

/// Waits until the server's resident memory is under `mib` MiB, failing
/// after ten seconds with what it was.
async fn memory_falls_below(server: &ServerProcess, mib: u64, after: &str) {
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

/// Issue 17, item 4: many wrong room passwords at once are checked a few
/// at a time (argon2, about 19 MiB each), and their memory goes back to
/// the system afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_04_a_burst_of_password_checks_gives_its_memory_back() {
    let server = ServerProcess::start(json!({"limits": {"requestsPerSecond": 10000}}));
    let owner = Client::connect(server.addr).await.unwrap();
    let settings = CreateRoom { password: Some("correct horse".into()), ..kept("generic") };
    let room = owner.create_room(settings).await.unwrap().id;
    let (idle, _) = server.memory();
    let mut guessers = Vec::new();
    for _ in 0..24 {
        let guesser = Client::connect(server.addr).await.unwrap();
        let room = room.clone();
        guessers.push(tokio::spawn(async move {
            let refused = guesser.join(&room, Some("battery staple")).await.unwrap_err();
            assert!(
                matches!(
                    refused.code(),
                    Some(ErrorCode::NotAuthorized | ErrorCode::RateLimited | ErrorCode::ServerBusy)
                ),
                "{refused}"
            );
        }));
    }
    for guesser in guessers {
        guesser.await.unwrap();
    }
    memory_falls_below(&server, idle / MIB + 40, "after 24 wrong passwords").await;
    owner.ping().await.unwrap();
}

/// Issue 17, item 15: memory taken by many clients and rooms goes back
/// to the system once they have all left (a smaller run of the
/// `memory` benchmark's 10 000 clients).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_15_memory_goes_back_after_clients_and_rooms_leave() {
    let server = ServerProcess::with_plugins(json!({"limits": {
        "requestsPerSecond": 100000, "requestBurst": 100000, "maxRoomsPerConnection": 1000
    }}));
    let owner = Client::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle, _) = server.memory();
    let mut rooms = Vec::new();
    for _ in 0..100 {
        let settings = CreateRoom { room_type: Some("chat".into()), ..CreateRoom::default() };
        rooms.push(owner.create_room(settings).await.unwrap().id);
    }
    let mut clients = Vec::new();
    for i in 0..1000 {
        let client = Client::connect(server.addr).await.unwrap();
        client.join(&rooms[i % rooms.len()], None).await.unwrap();
        client.send_message(&rooms[i % rooms.len()], Value::from("hello")).await.unwrap();
        clients.push(client);
    }
    let (loaded, _) = server.memory();
    drop(clients);
    // Within 20% of idle, or 8 MiB on a small idle figure.
    let bound = (idle + (idle / 5).max(8 * MIB)) / MIB;
    memory_falls_below(
        &server,
        bound,
        &format!("idle {} MiB, loaded {} MiB", idle / MIB, loaded / MIB),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_connections_are_dropped_by_the_timeouts() {
    let server = ServerProcess::start(json!({"limits": {
        "maxConnections": 20, "handshakeTimeoutSecs": 1, "frameTimeoutSecs": 1, "idleTimeoutSecs": 2
    }}));
    let mut held = Vec::new();
    for i in 0..20 {
        let mut socket = TcpStream::connect(server.addr).await.unwrap();
        if i % 2 == 1 {
            // A length prefix announcing 100 bytes, and 3 of them.
            socket.write_all(&[0, 0, 0, 100, 1, 2, 3]).await.unwrap();
        }
        held.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = Client::connect(server.addr).await.err().expect("the server is full");
    assert_eq!(err.code(), Some(ErrorCode::ServerBusy));
    // Each held connection is told `timeout`, then closed.
    for mut socket in held {
        let mut received = Vec::new();
        tokio::time::timeout(PATIENCE, socket.read_to_end(&mut received))
            .await
            .expect("the server closes the connection")
            .unwrap();
        let text = String::from_utf8_lossy(&received);
        assert!(text.contains("timeout"), "{text}");
    }
    assert_served(&server).await;
    // A client that keeps quiet after its first request is closed too; the
    // client library's heartbeat keeps its own connection open.
    let mut quiet = TcpStream::connect(server.addr).await.unwrap();
    quiet.write_all(&Request::from(ServerOp::Ping {}).encode(Some(1))).await.unwrap();
    let kept_alive = Client::connect(server.addr).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, quiet.read_to_end(&mut received)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&received).contains("idle"));
    kept_alive.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_rate_limit_are_refused_and_each_answered_once() {
    let server =
        ServerProcess::start(json!({"limits": {"requestsPerSecond": 20, "requestBurst": 20}}));
    let client = Client::connect(server.addr).await.unwrap();
    let mut calls = Vec::new();
    for _ in 0..100 {
        calls.push(client.request(ServerOp::Ping {}.into()));
    }
    let outcomes = futures_util::future::join_all(calls).await;
    let limited = outcomes
        .iter()
        .filter(|o| matches!(o, Err(err) if err.code() == Some(ErrorCode::RateLimited)))
        .count();
    let answered = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(limited + answered, 100);
    assert!(limited >= 50 && answered >= 20, "limited {limited}, answered {answered}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.ping().await.unwrap();
    assert_served(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_left_behind_by_a_gone_creator_are_disposed_and_quotas_hold() {
    let server = ServerProcess::start(json!({"limits": {
        "maxRooms": 4, "maxRoomsPerConnection": 4, "orphanRoomTimeoutSecs": 1
    }}));
    let creator = Client::connect(server.addr).await.unwrap();
    for _ in 0..4 {
        creator.create_room(kept("generic")).await.unwrap();
    }
    let err = creator.create_room(kept("generic")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ServerBusy));
    drop(creator);
    let other = Client::connect(server.addr).await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        match other.create_room(kept("generic")).await {
            Ok(_) => break,
            Err(err) if err.code() == Some(ErrorCode::ServerBusy) => {
                assert!(Instant::now() < deadline, "the orphaned rooms were never disposed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("{err}"),
        }
    }
    // One connection may not hold more than its quota.
    let server = ServerProcess::start(json!({"limits": {"maxRoomsPerConnection": 2}}));
    let client = Client::connect(server.addr).await.unwrap();
    client.create_room(kept("generic")).await.unwrap();
    client.create_room(kept("generic")).await.unwrap();
    let err = client.create_room(kept("generic")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::QuotaExceeded));
    assert_served(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_hook_that_kicks_the_joiner_answers_the_join_with_an_error() {
    let server = ServerProcess::with_plugins(json!({}));
    let mut owner = Client::connect(server.addr).await.unwrap();
    let room = owner.create_room(kept("faulty")).await.unwrap().id;
    owner.join(&room, None).await.unwrap();
    owner.set_variable(&room, "kick_joiners", true, Some(false)).await.unwrap();
    let mut joiner = Client::connect(server.addr).await.unwrap();
    let err = tokio::time::timeout(PATIENCE, joiner.join(&room, None))
        .await
        .expect("the join is answered")
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    assert!(err.to_string().contains("no newcomers"), "{err}");
    joiner.ping().await.unwrap();
    assert_eq!(joiner.try_next_event(), None, "nothing about the room reached the joiner");
    owner.ping().await.unwrap();
    assert!(
        !matches!(owner.try_next_event(), Some(Incoming::Event(Event::MemberJoined { .. }))),
        "the members were not told of a join that did not happen"
    );
    assert_served(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_whose_plugin_cannot_restart_is_closed_and_its_members_told() {
    let server = ServerProcess::with_plugins(json!({}));
    let mut member = Client::connect(server.addr).await.unwrap();
    let room = member.create_room(kept("faulty")).await.unwrap().id;
    member.join(&room, None).await.unwrap();
    let err = member.invoke(&room, "break_create", Value::Nil).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::PluginError));
    let event = loop {
        match member.next_event_within(PATIENCE).await {
            Some(Incoming::Event(event @ Event::RoomClosed { .. })) => break event,
            Some(_) => continue,
            None => panic!("no room_closed"),
        }
    };
    let Event::RoomClosed { room: closed, reason } = event else { unreachable!() };
    assert_eq!(closed, room);
    assert!(reason.contains("cannot restart"), "{reason}");
    let err = member.invoke(&room, "ok", Value::Nil).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
    assert_served(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_log_flood_is_capped_and_lines_stay_short() {
    let server = ServerProcess::with_plugins(json!({"limits": {"pluginLogLinesPerSecond": 20}}));
    let client = Client::connect(server.addr).await.unwrap();
    let room = client.create_room(kept("faulty")).await.unwrap().id;
    client.join(&room, None).await.unwrap();
    // Many lines in one call (as many as a debug build gets through in its
    // time budget), each a megabyte spanning lines.
    client.invoke(&room, "log_flood", repeat(5_000, MIB)).await.unwrap();
    // A failing call's message is one short line as well.
    let err = client.invoke(&room, "panic", Value::Nil).await.unwrap_err();
    assert!(!err.to_string().contains('\n') && err.to_string().len() < 400, "{err}");
    let log = server.wait_for_log("asked to panic");
    let plugin_lines: Vec<&str> = log.lines().filter(|line| line.contains("plugin:")).collect();
    assert!(plugin_lines.len() <= 40, "{} plugin lines logged", plugin_lines.len());
    assert!(log.lines().all(|line| line.len() < 1200), "a log line is too long");
    assert!(!log.contains('\u{1b}'), "colour codes in a log that is not a terminal");
    assert_served(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_every_client_and_exits_cleanly() {
    let mut server = ServerProcess::with_plugins(json!({}));
    let mut clients = Vec::new();
    for room_type in ["generic", "chat"] {
        let client = Client::connect(server.addr).await.unwrap();
        let room = client.create_room(kept(room_type)).await.unwrap().id;
        client.join(&room, None).await.unwrap();
        clients.push(client);
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (status, server.log())
    });
    for client in &mut clients {
        let farewell = loop {
            match client.next_event_within(PATIENCE).await {
                Some(Incoming::Error { code, .. }) => break code,
                Some(_) => continue,
                None => panic!("no farewell"),
            }
        };
        assert_eq!(farewell, ErrorCode::ServerShutdown);
    }
    let (status, log) = status.await.unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("SIGTERM") && log.contains("shutdown complete"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_regular_files_inside_the_plugins_folder_load() {
    let base = support::temp_dir("links");
    let folder = base.join("plugins");
    std::fs::create_dir_all(folder.join("nested")).unwrap();
    let chat = &support::built_plugins().iter().find(|(name, _)| name == "chat").unwrap().1;
    std::fs::copy(chat, base.join("outside.wasm")).unwrap();
    std::fs::copy(chat, folder.join("nested").join("real.bin")).unwrap();
    support::symlink(&base.join("outside.wasm"), &folder.join("escape.wasm"));
    support::symlink(std::path::Path::new("nested/real.bin"), &folder.join("inside.wasm"));
    support::symlink(std::path::Path::new("nowhere.wasm"), &folder.join("dangling.wasm"));
    std::fs::create_dir_all(folder.join("dir.wasm")).unwrap();
    let fifo = std::process::Command::new("mkfifo").arg(folder.join("fifo.wasm")).status();
    let server = ServerProcess::start(json!({"pluginsDir": folder}));
    let log = server.wait_for_log("listening on TCP");
    for (file, reason) in [
        ("escape.wasm", "outside the plugins folder"),
        ("dangling.wasm", "leads nowhere"),
        ("dir.wasm", "a directory"),
    ] {
        assert!(
            log.lines().any(|line| line.contains(file) && line.contains(reason)),
            "{file}: {log}"
        );
    }
    if fifo.is_ok_and(|status| status.success()) {
        assert!(log.lines().any(|l| l.contains("fifo.wasm") && l.contains("not a regular file")));
    }
    let client = Client::connect(server.addr).await.unwrap();
    client.create_room(kept("inside")).await.unwrap();
    let err = client.create_room(kept("escape")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownRoomType));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_larger_than_a_frame_are_refused_and_errors_quote_little() {
    let server = ServerProcess::with_plugins(json!({}));
    let client = Client::connect(server.addr).await.unwrap();
    let room = client.create_room(kept("faulty")).await.unwrap().id;
    client.join(&room, None).await.unwrap();
    let err = client.invoke(&room, "big_result", repeat(0, 2 * MIB)).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ResponseTooLarge), "{err}");
    let err = client
        .create_room(CreateRoom { room_type: Some("t".repeat(60_000)), ..CreateRoom::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownRoomType));
    assert!(err.to_string().len() < 200, "{} bytes: {err}", err.to_string().len());
    assert_served(&server).await;
}
