//! Hostile clients and plugins against the real server binary, the
//! budgets side: each scenario ends with a healthy client still served
//! promptly and the server's memory (read from `/proc`) bounded.
//!
//! The bounds asserted are generous multiples of the configured budgets;
//! what they rule out is growth without end (hundreds of megabytes to
//! gigabytes before these budgets existed).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::ServerProcess;
use support::hostile::*;
use tokio::io::AsyncReadExt;
use vampire_client::{Client, CreateRoom, ErrorCode, Payload, Request, RoomOp, ServerOp, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_pipelines_large_answers_and_never_reads_is_dropped() {
    // Its session is held a second after its connection is dropped, then
    // it leaves the room.
    let server = ServerProcess::start(json!({"reconnect": {"windowSecs": 1}}));
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
    let server = ServerProcess::with_plugins(json!({
        "limits": {"maxOutboundFrameBytes": 2097152},
        "reconnect": {"windowSecs": 1}
    }));
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
    // They leave for good (`close_session`): a client that only drops its
    // connection has its session held for a resume, by design.
    for client in clients {
        client.close().await.unwrap();
    }
    // Within 20% of idle, or 8 MiB on a small idle figure.
    let bound = (idle + (idle / 5).max(8 * MIB)) / MIB;
    memory_falls_below(
        &server,
        bound,
        &format!("idle {} MiB, loaded {} MiB", idle / MIB, loaded / MIB),
    )
    .await;
}
