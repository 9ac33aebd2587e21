//! Misbehaving clients and plugins against the real server binary, the
//! lifetimes side: silent and slow connections, request floods, rooms
//! left behind, plugins that cannot restart or flood the log, files that
//! are not plugins, answers too large, and a clean stop on SIGTERM.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::ServerProcess;
use support::hostile::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vampire_client::{Client, CreateRoom, ErrorCode, Event, Incoming, Request, ServerOp, Value};

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
    // 20 let through, 20 refused; past that the session waits for the
    // rate after each refusal, so the rest alternate.
    assert!(limited >= 40 && answered >= 20, "limited {limited}, answered {answered}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client.ping().await.unwrap();
    assert_served(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_left_behind_by_a_gone_creator_are_disposed_and_quotas_hold() {
    // The creator's session is held a second after it drops, then ends.
    let server = ServerProcess::start(json!({
        "limits": {"maxRooms": 4, "maxRoomsPerConnection": 4, "orphanRoomTimeoutSecs": 1},
        "reconnect": {"windowSecs": 1}
    }));
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
