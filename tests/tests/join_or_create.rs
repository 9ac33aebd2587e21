//! `join_or_create` against a real server: racing requests fill rooms
//! before opening new ones and never take the same last seat; filters
//! pick what listings say; a locked, full or password-protected room is
//! never chosen.

use std::collections::HashMap;

use vampire_client::{Condition, CreateRoom, ErrorCode, ListQuery, Value};
use vampire_tests::{TestServer, json};

/// A public generic room of at most `max_clients`, as `join_or_create`
/// creates it.
fn room_of(max_clients: u32) -> CreateRoom {
    CreateRoom { max_clients: Some(max_clients), ..CreateRoom::default() }
}

fn mode(mode: &str) -> ListQuery {
    ListQuery {
        filters: vec![("mode".to_owned(), Condition::Equals(mode.into()))],
        ..ListQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_racing_clients_fill_exactly_twenty_five_rooms_of_eight() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for _ in 0..200 {
        clients.push(server.client().await);
    }
    // Every request is sent before any answer is read.
    let mut joins = tokio::task::JoinSet::new();
    for client in clients {
        joins.spawn(async move {
            let joined = client.join_or_create(room_of(8), &mode("ctf"), None).await;
            (client, joined.unwrap())
        });
    }
    let (_kept, results): (Vec<_>, Vec<_>) = joins.join_all().await.into_iter().unzip();

    let mut rooms: HashMap<String, (usize, usize)> = HashMap::new();
    for result in &results {
        let (joined, created) = rooms.entry(result.room.id.clone()).or_default();
        *joined += 1;
        *created += usize::from(result.created);
        assert!(result.room.members <= 8, "a room over its limit: {:?}", result.room);
    }
    assert_eq!(rooms.len(), 25, "rooms: {rooms:?}");
    for (room, (joined, created)) in &rooms {
        assert_eq!(*joined, 8, "room {room} got {joined} joiners");
        assert_eq!(*created, 1, "room {room} was created by {created} requests");
    }
    // What the rooms say now: 25 full rooms, none listed with a free seat.
    let lister = server.client().await;
    let full = lister.list_rooms_where(None, &mode("ctf"), None, None).await.unwrap();
    assert_eq!(full.total, 25);
    assert!(full.rooms.iter().all(|room| room.members == 8 && room.max_clients == 8));
    let open = ListQuery { free_seats: true, ..mode("ctf") };
    assert_eq!(lister.list_rooms_where(None, &open, None, None).await.unwrap().total, 0);
}

#[tokio::test]
async fn filters_pick_the_fullest_matching_room_and_make_the_created_one_match() {
    let server = TestServer::start().await;
    let first = server.client().await;
    let created = first.join_or_create(room_of(4), &mode("ctf"), None).await.unwrap();
    assert!(created.created);
    let made = created.room.metadata.to_value();
    assert_eq!(made, Value::Map(vec![("mode".into(), "ctf".into())]), "from the filters");

    // Another mode gets its own room; the same mode joins the first.
    let other = server.client().await;
    let dm = other.join_or_create(room_of(4), &mode("dm"), None).await.unwrap();
    assert!(dm.created);
    assert_ne!(dm.room.id, created.room.id);
    let second = server.client().await;
    let joined = second.join_or_create(room_of(4), &mode("ctf"), None).await.unwrap();
    assert!(!joined.created);
    assert_eq!(joined.room.id, created.room.id);
    assert_eq!(joined.members.len(), 2);

    // The fullest first: a newer ctf room with one member loses to the
    // first one's two.
    let owner = server.client().await;
    let settings = CreateRoom {
        metadata: Some(Value::Map(vec![("mode".into(), "ctf".into())]).into()),
        max_clients: Some(4),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    };
    let newer = owner.create_room(settings).await.unwrap().id;
    owner.join(&newer, None).await.unwrap();
    let third = server.client().await;
    let placed = third.join_or_create(room_of(4), &mode("ctf"), None).await.unwrap();
    assert_eq!(placed.room.id, created.room.id, "the fullest matching room");

    // Ranges and join options: the join hook's options reach the room
    // (the generic room answers nil), a range matches by number.
    let rated = ListQuery {
        filters: vec![("mode".to_owned(), Condition::Equals("ctf".into()))],
        ..ListQuery::default()
    };
    let fourth = server.client().await;
    let options = Some(Value::from("blue").into());
    let placed = fourth.join_or_create(room_of(4), &rated, options).await.unwrap();
    assert_eq!(placed.room.id, created.room.id);
    assert_eq!(placed.room.members, 4, "now full");
    let fifth = server.client().await;
    let placed = fifth.join_or_create(room_of(4), &mode("ctf"), None).await.unwrap();
    assert_eq!(placed.room.id, newer, "the full room is passed over");
    let again = fifth.join_or_create(room_of(4), &mode("ctf"), None).await.unwrap();
    assert!(again.created, "a room the client is in already is passed over");
    assert_ne!(again.room.id, newer);
}

#[tokio::test]
async fn locked_and_password_protected_rooms_are_never_chosen() {
    let server = TestServer::with_plugins(|_| {}, |_| {}).await;
    let clockwork = |max: u32| CreateRoom {
        room_type: Some("clockwork".into()),
        max_clients: Some(max),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    };
    let locker = server.client().await;
    let locked = locker.join_or_create(clockwork(4), &ListQuery::default(), None).await.unwrap();
    assert!(locked.created);
    locker.invoke(&locked.room.id, "lock", json!({"locked": true})).await.unwrap();
    let next = server.client().await;
    let other = next.join_or_create(clockwork(4), &ListQuery::default(), None).await.unwrap();
    assert!(other.created, "the locked room is not chosen");
    assert_ne!(other.room.id, locked.room.id);

    let protected = CreateRoom { password: Some("sesame".into()), ..room_of(4) };
    let owner = server.client().await;
    let secret = owner.join_or_create(protected.clone(), &mode("x"), None).await.unwrap();
    assert!(secret.created && secret.room.password_protected, "its creator is in");
    let guest = server.client().await;
    let open = guest.join_or_create(room_of(4), &mode("x"), None).await.unwrap();
    assert!(open.created, "a room with a password is not chosen");
    assert_ne!(open.room.id, secret.room.id);
}

#[tokio::test]
async fn metadata_a_plugin_sets_is_what_the_filters_read() {
    let server = TestServer::with_plugins(|_| {}, |_| {}).await;
    let clockwork = CreateRoom {
        room_type: Some("clockwork".into()),
        max_clients: Some(4),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    };
    let host = server.client().await;
    let room = host.join_or_create(clockwork.clone(), &mode("lobby"), None).await.unwrap();
    assert!(room.created);
    // The room moves on to another mode by itself.
    host.invoke(&room.room.id, "set_metadata", json!({"metadata": {"mode": "ctf"}})).await.unwrap();
    let guest = server.client().await;
    let placed = guest.join_or_create(clockwork.clone(), &mode("ctf"), None).await.unwrap();
    assert_eq!((placed.room.id.as_str(), placed.created), (room.room.id.as_str(), false));
    let late = server.client().await;
    let other = late.join_or_create(clockwork, &mode("lobby"), None).await.unwrap();
    assert!(other.created, "no room shows the old mode any more");
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_reason() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let range = ListQuery {
        filters: vec![("rating".to_owned(), Condition::Within { min: Some(1.0), max: None })],
        ..ListQuery::default()
    };
    let err = client.join_or_create(room_of(4), &range, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    assert!(err.to_string().contains("does not meet its filters"), "{err}");
    let rated = CreateRoom {
        metadata: Some(Value::Map(vec![("rating".into(), 5.into())]).into()),
        ..room_of(4)
    };
    assert!(client.join_or_create(rated, &range, None).await.unwrap().created);

    let unknown = CreateRoom { room_type: Some("nonesuch".into()), ..room_of(4) };
    let err = client.join_or_create(unknown, &ListQuery::default(), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownRoomType));
    let huge = CreateRoom { max_clients: Some(1 << 30), ..room_of(4) };
    let err = client.join_or_create(huge, &mode("y"), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
}
