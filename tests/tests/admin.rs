//! The admin listener end to end: a real server, real HTTP over real
//! sockets, real clients and plugins. Metrics move under a scripted
//! session; the admin API refuses strangers; operators' actions reach the
//! clients they touch; hostile admin input gets a clear error while the
//! game goes on.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use vampire_client::{Client, CreateRoom, ErrorCode, Event};
use vampire_tests::http::{self, HttpResponse};
use vampire_tests::{
    ADMIN_TOKEN, RawConnection, TestServer, admin_config, json, serde_json, wait_for,
};
use vampiretcp::config::{AuthMode, Config, TokenAlgorithm};
use vampiretcp::metrics::FAMILIES;

fn kept(room_type: &str) -> CreateRoom {
    CreateRoom {
        room_type: Some(room_type.into()),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    }
}

/// A server with the plugins and the admin listener; `adjust` changes the
/// config further.
async fn server(adjust: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::with_plugins(
        |_| {},
        |config| {
            config.admin = Some(admin_config());
            adjust(config);
        },
    )
    .await
}

/// The default request burst a connection may send at once.
fn config_burst() -> u32 {
    Config::embedded_default().limits.request_burst
}

fn admin(server: &TestServer) -> std::net::SocketAddr {
    server.admin.expect("the admin listener is on")
}

/// Each family's total: the sum of its samples (a histogram's count).
fn totals(text: &str) -> BTreeMap<String, f64> {
    let mut totals = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else { continue };
        let name = series.split('{').next().unwrap_or(series);
        if name.ends_with("_bucket") || name.ends_with("_sum") {
            continue;
        }
        let family = name.strip_suffix("_count").unwrap_or(name);
        let value: f64 = value.parse().unwrap_or(0.0);
        *totals.entry(family.to_owned()).or_insert(0.0) += value;
    }
    totals
}

async fn scrape(server: &TestServer) -> String {
    let response = http::get(admin(server), "/metrics", ADMIN_TOKEN).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.header("content-type").unwrap().starts_with("text/plain"));
    response.text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_family_is_present_and_moves_under_a_scripted_session() {
    let server = server(|config| {
        config.limits.outbound_queue_frames = 8;
        config.limits.max_connections_per_address = 8;
        // The slow consumer's session ends with its connection, so that
        // the room's member count shows it gone.
        config.reconnect.window_secs = 0;
    })
    .await;
    let before = totals(&scrape(&server).await);

    // Connect, create, join, set, message, invoke, a failing call.
    let mut alice = server.client().await;
    let bob = server.client().await;
    let room = alice.create_room(kept("generic")).await.unwrap().id;
    alice.join(&room, None).await.unwrap();
    bob.join(&room, None).await.unwrap();
    alice.set_variable(&room, "score", json!(1), Some(true)).await.unwrap();
    bob.send_message(&room, json!("hello")).await.unwrap();
    wait_for(&mut alice, |e| matches!(e, Event::RoomMessage { .. })).await;
    let faulty = alice.create_room(kept("faulty")).await.unwrap().id;
    alice.join(&faulty, None).await.unwrap();
    alice.invoke(&faulty, "ok", json!(null)).await.unwrap();
    let failed = alice.invoke(&faulty, "panic", json!(null)).await.unwrap_err();
    assert_eq!(failed.code(), Some(ErrorCode::PluginError));

    // A slow consumer: joins, never reads, and the room floods it.
    let mut slow = RawConnection::connect(&server).await;
    slow.send_value(json!({"id": 1, "op": "join", "room": room})).await;
    let payload = "x".repeat(60_000);
    for _ in 0..500 {
        bob.send_message(&room, json!(payload)).await.unwrap();
        if bob.list_rooms(None).await.unwrap().iter().any(|r| r.id == room && r.members == 2) {
            break;
        }
    }
    drop(slow);

    // UDP: a datagram each way (the sender is a member and gets its own
    // message back), and one that is not a datagram of ours, dropped.
    alice.bind_udp().await.unwrap();
    alice.send_unreliable(&room, "over udp").await.unwrap();
    wait_for(
        &mut alice,
        |e| matches!(e, Event::RoomMessage { data, .. } if data == &json!("over udp")),
    )
    .await;
    let prober = server.client().await;
    let binding = prober.request(vampire_client::ServerOp::UdpBind {}.into()).await.unwrap();
    let port =
        vampire_tests::as_json(&binding)["port"].as_u64().expect("udp_bind answers its port");
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(b"not a datagram", ("127.0.0.1", port as u16)).await.unwrap();
    drop(prober);

    // A connection over its request rate (pings sent without waiting),
    // and connections over the per-address limit.
    // The pings go in one write: the spammer never reads, so with
    // outboundQueueFrames 8 the server soon drops it as a slow consumer,
    // and a later write of its own would fail.
    let mut spammer = RawConnection::connect(&server).await;
    let ping = vampire_tests::payload(&serde_json::json!({"op": "ping"}));
    let mut burst = Vec::new();
    for _ in 0..(config_burst() + 100) {
        burst.extend_from_slice(&(ping.as_bytes().len() as u32).to_be_bytes());
        burst.extend_from_slice(ping.as_bytes());
    }
    spammer.send(&burst).await;
    let mut extra = Vec::new();
    for _ in 0..8 {
        if let Ok(client) = Client::connect(server.addr).await {
            extra.push(client);
        }
    }
    drop(extra);

    // A reload.
    let reloaded =
        http::post(admin(&server), "/admin/room-types/chat/reload", ADMIN_TOKEN, "").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());

    let text = scrape(&server).await;
    for (family, _) in FAMILIES {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family} missing:\n{text}");
    }
    let after = totals(&text);
    let moving = [
        "vampire_up_seconds",
        "vampire_connections_open",
        "vampire_connections_accepted_total",
        "vampire_connections_refused_total",
        "vampire_requests_total",
        "vampire_rate_limited_total",
        "vampire_messages_total",
        "vampire_deliveries_total",
        "vampire_bytes_received_total",
        "vampire_bytes_sent_total",
        "vampire_slow_consumers_total",
        "vampire_rooms",
        "vampire_members",
        "vampire_rooms_created_total",
        "vampire_plugin_call_seconds",
        "vampire_plugin_failures_total",
        "vampire_plugin_memory_bytes",
        "vampire_plugin_reloads_total",
        "vampire_plugin_reload_seconds",
        "vampire_udp_datagrams_received_total",
        "vampire_udp_datagrams_sent_total",
        "vampire_udp_datagrams_dropped_total",
    ];
    for family in moving {
        let was = before.get(family).copied().unwrap_or(0.0);
        let now = after.get(family).copied().unwrap_or(0.0);
        assert!(now > was, "{family} did not move: {was} -> {now}\n{text}");
    }
    // Labels are bounded: room types and hooks, never room ids.
    assert!(!text.contains(&room), "a room id in the metrics");
    assert!(text.contains(r#"vampire_rooms{room_type="faulty"} 1"#), "{text}");
    assert!(
        text.contains(r#"vampire_plugin_failures_total{room_type="faulty",kind="trap"} 1"#),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn admin_calls_are_refused_without_a_token_and_with_a_wrong_one() {
    let server = server(|_| {}).await;
    let addr = admin(&server);
    for path in ["/admin/rooms", "/admin/server", "/metrics", "/admin/room-types"] {
        let none = http::request(addr, "GET", path, None, None).await;
        assert_eq!(none.status, 401, "{path}: {}", none.text());
        assert_eq!(none.json()["error"]["code"], "unauthorized");
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        let wrong = http::get(addr, path, "test-admin-token-0123456788").await;
        assert_eq!(wrong.status, 401, "{path}");
        let prefix = http::get(addr, path, "test-admin-token").await;
        assert_eq!(prefix.status, 401, "{path}");
        assert_eq!(http::get(addr, path, ADMIN_TOKEN).await.status, 200, "{path}");
    }
    let drain = http::request(addr, "POST", "/admin/drain", Some("nope"), Some("")).await;
    assert_eq!(drain.status, 401);
    // Health and the page need none.
    assert_eq!(http::request(addr, "GET", "/healthz", None, None).await.status, 200);
    assert_eq!(http::request(addr, "GET", "/readyz", None, None).await.json()["ready"], true);
    let page = http::request(addr, "GET", "/", None, None).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("VampireTCP"));
    assert!(page.header("content-security-policy").is_some());
    server.stop().await;
}

#[tokio::test]
async fn metrics_public_opens_metrics_alone() {
    let server = server(|config| config.admin.as_mut().unwrap().metrics_public = true).await;
    let addr = admin(&server);
    assert_eq!(http::request(addr, "GET", "/metrics", None, None).await.status, 200);
    assert_eq!(http::request(addr, "GET", "/admin/rooms", None, None).await.status, 401);
    server.stop().await;
}

const SECRET: &str = "an-operator-test-secret-of-32-bytes!!";

fn signed(claims: serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn an_operator_jwt_opens_the_admin_api_and_a_player_jwt_does_not() {
    let server = server(|config| {
        config.auth.mode = AuthMode::Jwt;
        config.auth.algorithm = TokenAlgorithm::Hs256;
        config.auth.secret = Some(SECRET.to_owned());
    })
    .await;
    let addr = admin(&server);
    let exp = now() + 3600;
    let operator = signed(serde_json::json!({"sub": "olga", "exp": exp, "roles": ["operator"]}));
    let player = signed(serde_json::json!({"sub": "pete", "exp": exp}));
    let expired = signed(serde_json::json!({"sub": "olga", "exp": 1000, "roles": ["operator"]}));
    assert_eq!(http::get(addr, "/admin/rooms", &operator).await.status, 200);
    let refused = http::get(addr, "/admin/rooms", &player).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.json()["error"]["code"], "forbidden");
    assert_eq!(http::get(addr, "/admin/rooms", &expired).await.status, 401);
    assert_eq!(http::get(addr, "/admin/rooms", ADMIN_TOKEN).await.status, 200);

    // Game clients authenticate and fail as before, and are counted.
    let _player_client = Client::connect_with(
        server.addr,
        vampire_client::ConnectOptions { token: Some(player.clone()), ..Default::default() },
    )
    .await
    .unwrap();
    let _ = Client::connect_with(
        server.addr,
        vampire_client::ConnectOptions { token: Some("forged".into()), ..Default::default() },
    )
    .await;
    let totals = totals(&scrape(&server).await);
    assert!(totals["vampire_sessions_authenticated_total"] >= 1.0);
    assert!(totals["vampire_sessions_auth_failed_total"] >= 1.0);
    server.stop().await;
}

async fn room_closed(client: &mut Client, room: &str) -> String {
    match wait_for(client, |e| matches!(e, Event::RoomClosed { .. })).await {
        Event::RoomClosed { room: closed, reason } => {
            assert_eq!(closed, room);
            reason
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn dispose_kick_message_and_reload_each_reach_the_client() {
    let server = server(|_| {}).await;
    let addr = admin(&server);
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    let room = alice.create_room(kept("chat")).await.unwrap().id;
    alice.join(&room, None).await.unwrap();
    bob.join(&room, None).await.unwrap();
    alice.set_variable(&room, "topic", json!("rust"), Some(true)).await.unwrap();

    // The list and the inspection show what the room holds.
    let listed = http::get(addr, "/admin/rooms", ADMIN_TOKEN).await.json();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["rooms"][0]["id"], room.as_str());
    assert_eq!(listed["rooms"][0]["members"], 2);
    let inspected = http::get(addr, &format!("/admin/rooms/{room}"), ADMIN_TOKEN).await.json();
    assert_eq!(inspected["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        inspected["members"][0]["address"].as_str().unwrap().split(':').next(),
        Some("127.0.0.1")
    );
    let topic =
        inspected["variables"].as_array().unwrap().iter().find(|v| v["name"] == "topic").unwrap();
    assert_eq!(topic["value"], "rust");
    assert_eq!(topic["bytes"], 5);
    assert_eq!(inspected["plugin"]["sha256"].as_str().unwrap().len(), 64);

    // A message to one member, as the server.
    let to_bob = format!(r#"{{"to": {}, "data": {{"notice": "maintenance"}}}}"#, bob.session());
    let sent =
        http::post(addr, &format!("/admin/rooms/{room}/message"), ADMIN_TOKEN, &to_bob).await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let got = wait_for(&mut bob, |e| matches!(e, Event::RoomMessage { from: None, data, .. } if data == &json!({"notice": "maintenance"}))).await;
    assert!(matches!(got, Event::RoomMessage { .. }));

    // A reload: the room keeps its members and is told.
    let reloaded = http::post(addr, "/admin/room-types/chat/reload", ADMIN_TOKEN, "").await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text());
    assert_eq!(reloaded.json()["swapped"], 1);
    wait_for(&mut alice, |e| matches!(e, Event::RoomReloaded { .. })).await;
    let types = http::get(addr, "/admin/room-types", ADMIN_TOKEN).await.json();
    let chat =
        types["room_types"].as_array().unwrap().iter().find(|t| t["name"] == "chat").unwrap();
    assert_eq!(chat["rooms"], 1);
    assert_eq!(chat["plugin"]["file"], "chat.wasm");
    assert_eq!(chat["plugin"]["abi_version"], vampire_abi::ABI_VERSION);

    // A kick.
    let kick = format!(r#"{{"session": {}, "reason": "be nice"}}"#, bob.session());
    let kicked = http::post(addr, &format!("/admin/rooms/{room}/kick"), ADMIN_TOKEN, &kick).await;
    assert_eq!(kicked.status, 200, "{}", kicked.text());
    let event = wait_for(&mut bob, |e| matches!(e, Event::Kicked { .. })).await;
    assert_eq!(event, Event::Kicked { room: room.clone(), reason: "be nice".into() });
    let again = http::post(addr, &format!("/admin/rooms/{room}/kick"), ADMIN_TOKEN, &kick).await;
    assert_eq!(again.status, 404);

    // A dispose.
    let body = r#"{"reason": "maintenance window"}"#;
    let disposed =
        http::post(addr, &format!("/admin/rooms/{room}/dispose"), ADMIN_TOKEN, body).await;
    assert_eq!(disposed.status, 200, "{}", disposed.text());
    assert_eq!(room_closed(&mut alice, &room).await, "maintenance window");
    let gone = http::get(addr, &format!("/admin/rooms/{room}"), ADMIN_TOKEN).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["error"]["code"], "room_not_found");
    server.stop().await;
}

#[tokio::test]
async fn a_room_event_stream_shows_changes_and_the_close() {
    let server = server(|_| {}).await;
    let addr = admin(&server);
    let alice = server.client().await;
    let room = alice.create_room(kept("generic")).await.unwrap().id;
    alice.join(&room, None).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /admin/rooms/{room}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut read_until = async |needle: &str, seen: &mut String| {
        let deadline = tokio::time::Instant::now() + vampire_tests::PATIENCE;
        let mut buf = [0u8; 4096];
        while !seen.contains(needle) {
            let read = tokio::time::timeout_at(
                deadline,
                tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
            )
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in the stream: {seen}"))
            .unwrap();
            assert!(read > 0, "the stream ended: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..read]));
        }
    };
    read_until("event: room", &mut seen).await;
    assert!(seen.contains("text/event-stream"), "{seen}");
    alice.set_variable(&room, "level", json!(7), Some(true)).await.unwrap();
    read_until("\"level\"", &mut seen).await;
    alice.delete_room(&room).await.unwrap();
    read_until("event: closed", &mut seen).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_admin_input_gets_clear_errors_and_the_game_goes_on() {
    let server = server(|config| {
        let admin = config.admin.as_mut().unwrap();
        admin.request_timeout_secs = 1;
        admin.max_connections = 16;
    })
    .await;
    let addr = admin(&server);
    let player = server.client().await;
    let room = player.create_room(kept("generic")).await.unwrap().id;
    player.join(&room, None).await.unwrap();

    // A huge body.
    let huge = format!(r#"{{"reason": "{}"}}"#, "x".repeat(200_000));
    let refused =
        http::post(addr, &format!("/admin/rooms/{room}/dispose"), ADMIN_TOKEN, &huge).await;
    assert_eq!(refused.status, 413, "{}", refused.text());
    assert_eq!(refused.json()["error"]["code"], "body_too_large");
    // Bad JSON, a wrong shape, a long reason.
    let path = format!("/admin/rooms/{room}/kick");
    for body in ["{not json", r#"{"session": "x"}"#, r#"{"session": 1, "extra": 2}"#, "[]"] {
        let bad = http::post(addr, &path, ADMIN_TOKEN, body).await;
        assert_eq!(bad.status, 400, "{body}: {}", bad.text());
        assert_eq!(bad.json()["error"]["code"], "bad_request");
        assert!(bad.json()["error"]["message"].as_str().unwrap().len() < 200);
    }
    let long = format!(r#"{{"reason": "{}"}}"#, "y".repeat(300));
    let bad = http::post(addr, &format!("/admin/rooms/{room}/dispose"), ADMIN_TOKEN, &long).await;
    assert_eq!(bad.status, 400);
    // Path tricks and unknown endpoints.
    for path in [
        "/admin/room-types/..%2F..%2Fetc%2Fpasswd/reload",
        "/admin/room-types/../chat/reload",
        "/admin/rooms/%00/dispose",
        "/admin/../metrics",
        "/nothing",
    ] {
        let answer = http::request(addr, "POST", path, Some(ADMIN_TOKEN), Some("")).await;
        assert!(matches!(answer.status, 400 | 404 | 405), "{path}: {}", answer.status);
    }
    let wrong_method = http::request(addr, "DELETE", "/admin/rooms", Some(ADMIN_TOKEN), None).await;
    assert_eq!(wrong_method.status, 405);
    let query = http::get(addr, "/admin/rooms?limit=100000", ADMIN_TOKEN).await;
    assert_eq!(query.status, 400);
    let query = http::get(addr, "/admin/rooms?limit=abc", ADMIN_TOKEN).await;
    assert_eq!(query.status, 400);
    // Not HTTP at all.
    let garbage = http::raw(addr, b"\x16\x03\x01 hello\r\n\r\n").await;
    assert!(garbage.is_none_or(|answer| answer.status == 400));

    // Slow headers: a client that sends half a request and stops is
    // dropped after admin.requestTimeoutSecs.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    silent.write_all(b"GET /admin/rooms HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut silent, &mut buf),
    )
    .await;
    assert!(closed.is_ok(), "a client with slow headers was kept");

    // Many parallel requests: each answered or its connection refused,
    // while the game answers.
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..2000 {
        requests.spawn(async move {
            let mut socket = tokio::net::TcpStream::connect(addr).await.ok()?;
            let head = format!("GET /admin/rooms?offset={n} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nConnection: close\r\n\r\n");
            socket.write_all(head.as_bytes()).await.ok()?;
            let mut answer = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut socket, &mut answer).await.ok()?;
            http::parse(&answer).map(|answer: HttpResponse| answer.status)
        });
    }
    for _ in 0..20 {
        player.ping().await.unwrap();
        player.send_message(&room, json!("still playing")).await.unwrap();
    }
    let mut answered = 0;
    while let Some(outcome) = requests.join_next().await {
        if let Some(status) = outcome.unwrap() {
            assert_eq!(status, 200);
            answered += 1;
        }
    }
    assert!(answered > 0, "no parallel request was answered");
    // And the listener still serves.
    assert_eq!(http::get(addr, "/admin/rooms", ADMIN_TOKEN).await.status, 200);
    assert_eq!(player.list_rooms(None).await.unwrap().len(), 1);
    server.stop().await;
}
