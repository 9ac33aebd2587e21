//! Authentication and authorization, end to end: signed tokens at the
//! start of a connection, identities in member events and plugin hooks,
//! private rooms with passwords and invites, guards by identity, who may
//! delete a room, and one user signing in twice.

use std::time::{Duration, Instant};

use serde_json::json;
use vampire_client::{
    Client, ClientError, ConnectOptions, CreateRoom, ErrorCode, Event, Incoming, Value,
};
use vampire_tests::{PATIENCE, RawConnection, TestServer, wait_for};
use vampiretcp::Config;
use vampiretcp::config::{AuthMode, SameUserPolicy, TokenAlgorithm};

const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A token signed with `secret` carrying `claims`.
fn signed(secret: &str, claims: serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
}

/// A valid token for `user`, an hour long, for audience `game`.
fn token(user: &str) -> String {
    signed(SECRET, json!({"sub": user, "exp": now() + 3600, "aud": "game"}))
}

/// Turns on HS256 tokens for audience `game`.
fn with_tokens(config: &mut Config) {
    config.auth.mode = AuthMode::Jwt;
    config.auth.algorithm = TokenAlgorithm::Hs256;
    config.auth.secret = Some(SECRET.to_owned());
    config.auth.audience = Some("game".to_owned());
}

async fn connect_as(server: &TestServer, token: String) -> Result<Client, ClientError> {
    Client::connect_with(server.addr, ConnectOptions { token: Some(token), ..Default::default() })
        .await
}

async fn refused_with(server: &TestServer, token: String) -> String {
    match connect_as(server, token).await {
        Err(ClientError::Server { code: ErrorCode::NotAuthenticated, message }) => message,
        Err(other) => panic!("expected not_authenticated, got {other}"),
        Ok(_) => panic!("the token was accepted"),
    }
}

/// Waits until the server closes `client`'s connection.
async fn closed(client: &Client) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while client.ping().await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "the connection stayed open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn missing_forged_expired_early_and_misaddressed_tokens_are_refused() {
    let server = TestServer::start_with(with_tokens).await;

    let anonymous = server.client().await;
    assert!(anonymous.welcome().auth_required);
    let err = anonymous.ping().await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthenticated));
    closed(&anonymous).await;

    let forged = signed(
        "another-secret-of-at-least-32-bytes!",
        json!({"sub": "eve", "exp": now() + 60, "aud": "game"}),
    );
    assert!(refused_with(&server, forged).await.contains("signature"));
    let expired = signed(SECRET, json!({"sub": "eve", "exp": now() - 600, "aud": "game"}));
    assert!(refused_with(&server, expired).await.contains("expired"));
    let early = signed(
        SECRET,
        json!({"sub": "eve", "exp": now() + 7200, "nbf": now() + 3600, "aud": "game"}),
    );
    assert!(refused_with(&server, early).await.contains("not valid yet"));
    let elsewhere = signed(SECRET, json!({"sub": "eve", "exp": now() + 60, "aud": "other-game"}));
    assert!(refused_with(&server, elsewhere).await.contains("audience"));
    let nobody = signed(SECRET, json!({"exp": now() + 60, "aud": "game"}));
    assert!(refused_with(&server, nobody).await.contains("sub"));
    assert!(refused_with(&server, "not.a.token".to_owned()).await.contains("well-formed"));

    let alice = connect_as(&server, token("alice")).await.unwrap();
    alice.ping().await.unwrap();
    let again = alice.authenticate(&token("alice")).await.unwrap_err();
    assert_eq!(again.code(), Some(ErrorCode::InvalidRequest));
    server.stop().await;
}

#[tokio::test]
async fn an_eddsa_token_signed_by_the_account_service_is_accepted() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let folder = std::env::temp_dir().join(format!("vampire-eddsa-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let public = folder.join("public.pem");
    std::fs::write(&public, key.public_key_pem()).unwrap();
    let server = TestServer::start_with(|config| {
        config.auth.mode = AuthMode::Jwt;
        config.auth.algorithm = TokenAlgorithm::EdDsa;
        config.auth.public_key_file = Some(public.clone());
        config.auth.issuer = Some("accounts".to_owned());
    })
    .await;
    let signing = jsonwebtoken::EncodingKey::from_ed_pem(key.serialize_pem().as_bytes()).unwrap();
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    let claims = json!({"sub": "dana", "name": "Dana", "exp": now() + 60, "iss": "accounts"});
    let token = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
    let dana = connect_as(&server, token).await.unwrap();
    assert_eq!(dana.authenticate("x").await.unwrap_err().code(), Some(ErrorCode::InvalidRequest));

    let hs256 = signed(SECRET, json!({"sub": "eve", "exp": now() + 60, "iss": "accounts"}));
    assert!(refused_with(&server, hs256).await.contains("algorithm"));
    let stranger = jsonwebtoken::encode(
        &header,
        &json!({"sub": "eve", "exp": now() + 60, "iss": "elsewhere"}),
        &signing,
    )
    .unwrap();
    assert!(refused_with(&server, stranger).await.contains("issuer"));
    server.stop().await;
}

#[tokio::test]
async fn identities_reach_member_events_join_results_and_plugins() {
    let server = TestServer::with_plugins(|_| {}, with_tokens).await;
    let alice_token =
        signed(SECRET, json!({"sub": "alice", "name": "Alice", "exp": now() + 60, "aud": "game"}));
    let mut alice = connect_as(&server, alice_token).await.unwrap();
    let mut bob = connect_as(&server, token("bob")).await.unwrap();
    let room = alice
        .create_room(CreateRoom { room_type: Some("chat".into()), ..CreateRoom::default() })
        .await
        .unwrap()
        .id;
    alice.join(&room, None).await.unwrap();
    // The chat plugin greets by the name in the token.
    let welcome = wait_for(&mut alice, |e| matches!(e, Event::RoomMessage { .. })).await;
    let Event::RoomMessage { data, .. } = welcome else { unreachable!() };
    assert_eq!(
        data.to_value(),
        Value::Map(vec![("welcome".into(), "Welcome to the chat, Alice!".into())])
    );

    let joined = bob.join(&room, None).await.unwrap();
    let alice_entry = joined.roster.iter().find(|m| m.session == alice.session()).unwrap();
    assert_eq!(alice_entry.user_id.as_deref(), Some("alice"));
    assert_eq!(alice_entry.user_name.as_deref(), Some("Alice"));
    let event = wait_for(&mut alice, |e| matches!(e, Event::MemberJoined { .. })).await;
    assert_eq!(
        event,
        Event::MemberJoined {
            room: room.clone(),
            session: bob.session(),
            user_id: Some("bob".into()),
            user_name: None,
        }
    );
    let greeting = wait_for(&mut bob, |e| matches!(e, Event::RoomMessage { .. })).await;
    let Event::RoomMessage { data, .. } = greeting else { unreachable!() };
    assert!(format!("{:?}", data.to_value()).contains("Welcome to the chat, bob!"));
    server.stop().await;
}

#[tokio::test]
async fn a_plugin_admits_and_lets_write_by_identity_item_13_and_a_kicked_writer_is_refused() {
    let server = TestServer::with_plugins(|_| {}, with_tokens).await;
    let alice = connect_as(&server, token("alice")).await.unwrap();
    let bob = connect_as(&server, token("bob")).await.unwrap();
    let carol = connect_as(&server, token("carol")).await.unwrap();
    let options = vampire_tests::json!({"guests": ["alice", "bob"], "scorekeeper": "alice"});
    let room = alice
        .create_room(CreateRoom {
            room_type: Some("guarded".into()),
            options: Some(options),
            ..CreateRoom::default()
        })
        .await
        .unwrap()
        .id;
    let joined = alice.join(&room, None).await.unwrap();
    assert_eq!(vampire_tests::as_json(&joined.reply), json!({"user_id": "alice", "name": null}));
    bob.join(&room, None).await.unwrap();
    let refused = carol.join(&room, None).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::NotAuthorized));
    assert!(refused.to_string().contains("guest list"));

    let denied = bob.set_variable(&room, "score", Value::from(99), None).await.unwrap_err();
    assert_eq!(denied.code(), Some(ErrorCode::NotAuthorized));
    alice.set_variable(&room, "score", Value::from(3), None).await.unwrap();
    bob.set_variable(&room, "note", Value::from("gg"), None).await.unwrap();

    // Issue 17, item 13: a writer the guard kicks while deciding is not
    // in the room any more, and its write is refused.
    let kicked = bob.set_variable(&room, "cheat", Value::from(1), None).await.unwrap_err();
    assert_eq!(kicked.code(), Some(ErrorCode::NotInRoom), "{kicked}");
    let variables = alice.get_variables(&room).await.unwrap();
    assert!(vampire_tests::variable(&variables, "cheat").is_none(), "the write was kept");
    server.stop().await;
}

#[tokio::test]
async fn private_rooms_are_joined_with_a_password_or_an_invite() {
    let server = TestServer::start().await;
    let owner = server.client().await;
    let guest = server.client().await;
    let friend = server.client().await;
    let room = owner
        .create_room(CreateRoom {
            public: Some(false),
            password: Some("correct horse".into()),
            ..CreateRoom::default()
        })
        .await
        .unwrap();
    assert!(room.password_protected);
    assert!(guest.list_rooms(None).await.unwrap().iter().all(|r| r.id != room.id));

    // A private room answers a joiner without the right password as a
    // room that does not exist would.
    let missing = guest.join(&room.id, None).await.unwrap_err();
    assert_eq!(missing.code(), Some(ErrorCode::RoomNotFound));
    // Each wrong password waits longer before its answer: 100, 200, 400 ms.
    for attempt in 1..=3u32 {
        let started = Instant::now();
        let wrong = guest.join(&room.id, Some("battery staple")).await.unwrap_err();
        assert_eq!(wrong.code(), Some(ErrorCode::RoomNotFound));
        let least = Duration::from_millis(100 << (attempt - 1));
        assert!(started.elapsed() >= least, "attempt {attempt} was answered too soon");
    }
    guest.join(&room.id, Some("correct horse")).await.unwrap();

    let refused = guest.create_invite(&room.id).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::NotAuthorized));
    let invite = owner.create_invite(&room.id).await.unwrap();
    friend.join_with_invite(&room.id, &invite).await.unwrap();
    friend.leave(&room.id).await.unwrap();
    let reused = friend.join_with_invite(&room.id, &invite).await.unwrap_err();
    assert_eq!(reused.code(), Some(ErrorCode::RoomNotFound));
    server.stop().await;
}

#[tokio::test]
async fn only_the_owner_or_an_operator_deletes_a_room() {
    let server = TestServer::start_with(|config| {
        with_tokens(config);
        config.auth.same_user = SameUserPolicy::Allow;
    })
    .await;
    let alice = connect_as(&server, token("alice")).await.unwrap();
    let alice_again = connect_as(&server, token("alice")).await.unwrap();
    let bob = connect_as(&server, token("bob")).await.unwrap();
    let operator = connect_as(
        &server,
        signed(
            SECRET,
            json!({"sub": "ops", "roles": ["operator"], "exp": now() + 60, "aud": "game"}),
        ),
    )
    .await
    .unwrap();
    let keep = CreateRoom { auto_dispose: Some(false), ..CreateRoom::default() };
    let first = alice.create_room(keep.clone()).await.unwrap().id;
    let second = alice.create_room(keep).await.unwrap().id;

    let refused = bob.delete_room(&first).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::NotAuthorized));
    // The owner is the user, whichever of its connections asks.
    alice_again.delete_room(&first).await.unwrap();
    operator.delete_room(&second).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn signing_in_again_closes_the_older_connection() {
    let server = TestServer::start_with(with_tokens).await;
    let mut first = connect_as(&server, token("alice")).await.unwrap();
    let second = connect_as(&server, token("alice")).await.unwrap();
    match first.next_event_within(PATIENCE).await {
        Some(Incoming::Error { code, .. }) => assert_eq!(code, ErrorCode::SignedInElsewhere),
        other => panic!("expected signed_in_elsewhere, got {other:?}"),
    }
    closed(&first).await;
    second.ping().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_connection_ends_when_its_token_expires() {
    let server = TestServer::start_with(|config| {
        with_tokens(config);
        config.auth.leeway_secs = 0;
    })
    .await;
    let short = signed(SECRET, json!({"sub": "alice", "exp": now() + 2, "aud": "game"}));
    let mut alice = connect_as(&server, short).await.unwrap();
    alice.ping().await.unwrap();
    match alice.next_event_within(Duration::from_secs(5)).await {
        Some(Incoming::Error { code, message }) => {
            assert_eq!(code, ErrorCode::NotAuthenticated);
            assert!(message.contains("expired"), "{message}");
        }
        other => panic!("expected not_authenticated at expiry, got {other:?}"),
    }
    closed(&alice).await;
    server.stop().await;
}

/// Issue 17, item 1: with an issuer and an audience configured, a token
/// that leaves either out is refused. Item 7: a token whose `crit` header
/// names an extension is refused (RFC 7515: this server knows none).
#[tokio::test]
async fn item_01_07_configured_iss_and_aud_are_required_and_crit_is_refused() {
    let server = TestServer::start_with(|config| {
        with_tokens(config);
        config.auth.issuer = Some("accounts".to_owned());
    })
    .await;
    let no_iss = signed(SECRET, json!({"sub": "eve", "exp": now() + 60, "aud": "game"}));
    assert!(refused_with(&server, no_iss).await.contains("`iss`"));
    let no_aud = signed(SECRET, json!({"sub": "eve", "exp": now() + 60, "iss": "accounts"}));
    assert!(refused_with(&server, no_aud).await.contains("`aud`"));

    let claims = json!({"sub": "eve", "exp": now() + 60, "iss": "accounts", "aud": "game"});
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let critical = jsonwebtoken::Header {
        crit: Some(vec!["exp-extension".to_owned()]),
        ..jsonwebtoken::Header::default()
    };
    let critical = jsonwebtoken::encode(&critical, &claims, &key).unwrap();
    assert!(refused_with(&server, critical).await.contains("crit"));

    let plain = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap();
    connect_as(&server, plain).await.unwrap().ping().await.unwrap();
    server.stop().await;
}

/// Issue 17, item 2: before authenticating, any frame other than a good
/// `authenticate` (an unknown op, bytes that are not MessagePack, a token
/// that is not a string) ends the connection, and one that sends nothing
/// more is closed by the handshake timeout even after an earlier frame.
#[tokio::test]
async fn item_02_an_unauthenticated_connection_cannot_outstay_its_first_frame() {
    let server = TestServer::start_with(|config| {
        with_tokens(config);
        config.limits.handshake_timeout_secs = 1;
    })
    .await;
    let unknown_op = vampire_tests::json!({"id": 1, "op": "shout"});
    let number_token = vampire_tests::json!({"id": 2, "op": "authenticate", "token": 42});
    let frames: [&[u8]; 3] = [unknown_op.as_bytes(), &[0xc1, 0xc1], number_token.as_bytes()];
    for frame in frames {
        let mut raw = RawConnection::connect(&server).await;
        raw.send_frame(frame).await;
        raw.read_error().await;
        assert_eq!(raw.read().await, None, "closed after {frame:02x?}");
    }

    // A frame begun and never finished holds nothing past the handshake
    // timeout.
    let mut slow = RawConnection::connect(&server).await;
    let started = Instant::now();
    slow.send(&100u32.to_be_bytes()).await;
    let (_, code, _) = slow.read_error().await;
    assert_eq!(code, ErrorCode::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));
    server.stop().await;
}

/// Issue 17, item 7: an invite is spent only by a join that succeeds (one
/// refused as `room_full` keeps it), and an invite does not admit a
/// joiner who also gave a wrong password.
#[tokio::test]
async fn item_07_invites_are_spent_only_by_a_join_and_never_excuse_a_wrong_password() {
    let server = TestServer::start().await;
    let owner = server.client().await;
    let friend = server.client().await;
    let room = owner
        .create_room(CreateRoom {
            public: Some(false),
            max_clients: Some(1),
            auto_dispose: Some(false),
            password: Some("correct horse".into()),
            ..CreateRoom::default()
        })
        .await
        .unwrap();
    owner.join(&room.id, Some("correct horse")).await.unwrap();
    let invite = owner.create_invite(&room.id).await.unwrap();
    let full = friend.join_with_invite(&room.id, &invite).await.unwrap_err();
    assert_eq!(full.code(), Some(ErrorCode::RoomFull));
    owner.leave(&room.id).await.unwrap();

    let mut both = vampire_client::Request::join(room.id.as_str());
    if let vampire_client::Request::Room {
        op: vampire_client::RoomOp::Join { password, invite: with, .. },
        ..
    } = &mut both
    {
        *password = Some("battery staple".into());
        *with = Some(invite.clone());
    }
    let wrong = friend.request(both).await.unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::RoomNotFound), "a private room's refusal");
    friend.join_with_invite(&room.id, &invite).await.unwrap();
    server.stop().await;
}

/// Issue 17, item 6: room ids are random and unguessable; a private room
/// refuses a wrong password or invite with the answer a missing room
/// gets; wrong guesses from other connections of the same address, or at
/// the same room, slow the next guess too (invites as passwords); and one
/// address may hold only `limits.maxConnectionsPerAddress` connections.
#[tokio::test]
async fn item_06_private_rooms_cannot_be_found_or_guessed_at_speed() {
    let server = TestServer::start_with(|config| {
        config.limits.max_connections_per_address = 8;
    })
    .await;
    let owner = server.client().await;
    let settings = CreateRoom {
        public: Some(false),
        password: Some("correct horse".into()),
        ..CreateRoom::default()
    };
    let room = owner.create_room(settings).await.unwrap().id;
    let other = owner.create_room(CreateRoom::default()).await.unwrap().id;
    for id in [&room, &other] {
        assert_eq!(id.len(), 13, "{id}");
        assert!(id.starts_with('r') && id[1..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    }
    assert_ne!(room[1..], other[1..]);

    let nowhere = owner.join("r0000000000000", None).await.unwrap_err();
    let first = server.client().await;
    let wrong = first.join(&room, Some("battery staple")).await.unwrap_err();
    assert_eq!(wrong.code(), nowhere.code());
    let wrong = first.join(&room, Some("battery staple")).await.unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::RoomNotFound));
    let wrong = first.join(&room, Some("battery staple")).await.unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::RoomNotFound));

    // Three fresh connections guess at once (invites, this time). Each
    // alone would be answered after 100 ms; the room and the address
    // carry three wrong guesses, so their checks take turns 400 ms apart.
    let started = Instant::now();
    let mut guessers = Vec::new();
    for _ in 0..3 {
        let guesser = server.client().await;
        let room = room.clone();
        guessers.push(tokio::spawn(async move {
            let guessed = guesser.join_with_invite(&room, "0123456789abcdef0123456789abcdef").await;
            assert_eq!(guessed.unwrap_err().code(), Some(ErrorCode::RoomNotFound));
        }));
    }
    for guesser in guessers {
        guesser.await.unwrap();
    }
    assert!(started.elapsed() >= Duration::from_millis(800), "{:?}", started.elapsed());
    let second = server.client().await;

    // The right password still gets in.
    second.join(&room, Some("correct horse")).await.unwrap();

    // The guessers' connections have closed (give the server a moment to
    // see it); owner, first and second hold three of the eight places.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(server.client().await);
    }
    match Client::connect(server.addr).await {
        Err(err) => assert_eq!(err.code(), Some(ErrorCode::ServerBusy), "{err}"),
        Ok(_) => panic!("a ninth connection from one address was served"),
    }
    server.stop().await;
}

#[tokio::test]
async fn a_resume_needs_a_valid_token_of_the_sessions_own_user() {
    let server = TestServer::start_with(with_tokens).await;
    let proxy = vampire_tests::proxy::CuttingProxy::start(server.addr).await;
    let options = ConnectOptions { token: Some(token("alice")), ..Default::default() };
    let alice = Client::connect_with(proxy.addr, options).await.unwrap();
    let (session, resume_token) = (alice.session(), alice.resumption().token().unwrap());
    proxy.cut(); // alice's session is held
    let resume = |auth_token: Option<String>| {
        let resume = vampire_client::ServerOp::Resume {
            token: resume_token.clone(),
            last_seq: alice.resumption().seq(),
            auth_token,
        };
        async move {
            let client = Client::connect(server.addr).await.unwrap();
            client.request(resume.into()).await
        }
    };
    for refused in [None, Some(token("bob")), Some("forged".to_owned())] {
        let err = resume(refused).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::NotAuthenticated), "{err}");
    }
    // Refusals leave the session held for its own user.
    let resumed = resume(Some(token("alice"))).await.unwrap();
    let resumed = vampire_client::ResumeResult::from_payload(&resumed).unwrap();
    assert_eq!(resumed.session, session);
}
