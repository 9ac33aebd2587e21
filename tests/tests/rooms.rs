//! Rooms over real TCP: create, list, join, leave, delete, private rooms,
//! member events, capacity, disconnects, auto-dispose.

use std::collections::BTreeSet;

use vampire_client::{Client, CreateRoom, ErrorCode, Event};
use vampire_tests::{TestServer, assert_no_event, json, next_event, wait_for};

fn room(public: bool) -> CreateRoom {
    CreateRoom { public: Some(public), name: Some("lobby".into()), ..CreateRoom::default() }
}

#[tokio::test]
async fn create_list_join_leave_delete() {
    let server = TestServer::start().await;
    let owner = server.client().await;
    let mut guest = server.client().await;

    let info = owner
        .create_room(CreateRoom { metadata: Some(json!({"mode": "duel"})), ..room(true) })
        .await
        .unwrap();
    assert_eq!(info.room_type, "generic");
    assert_eq!(info.name, "lobby");
    assert_eq!(info.members, 0);
    assert_eq!(info.max_clients, 64, "defaultRoomSettings.maxClients");

    let listed = guest.list_rooms(None).await.unwrap();
    assert_eq!(listed, vec![info.clone()]);
    assert_eq!(guest.list_rooms(Some("generic")).await.unwrap().len(), 1);
    assert!(guest.list_rooms(Some("chat")).await.unwrap().is_empty());

    owner.join(&info.id, None).await.unwrap();
    let joined = guest.join(&info.id, None).await.unwrap();
    assert_eq!(joined.members, vec![owner.session(), guest.session()]);
    assert_eq!(joined.room.members, 2);
    assert_eq!(guest.list_rooms(None).await.unwrap()[0].members, 2);

    guest.leave(&info.id).await.unwrap();
    owner.delete_room(&info.id).await.unwrap();
    assert!(guest.list_rooms(None).await.unwrap().is_empty());
    let err = guest.join(&info.id, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
    assert_no_event(&mut guest).await;
}

#[tokio::test]
async fn private_rooms_are_not_listed_but_joinable_by_id() {
    let server = TestServer::start().await;
    let owner = server.client().await;
    let guest = server.client().await;
    let hidden = owner.create_room(room(false)).await.unwrap();
    let shown = owner.create_room(room(true)).await.unwrap();
    assert!(!hidden.public);
    assert_eq!(public_room_ids(&guest).await, vec![shown.id]);
    guest.join(&hidden.id, None).await.unwrap();
}

#[tokio::test]
async fn default_visibility_comes_from_the_config() {
    let server = TestServer::start_with(|c| c.default_room_settings.public = false).await;
    let client = server.client().await;
    let info = client.create_room(CreateRoom::default()).await.unwrap();
    assert!(!info.public);
    assert!(client.list_rooms(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn password_protected_rooms_need_the_password() {
    let server = TestServer::start().await;
    let owner = server.client().await;
    let guest = server.client().await;
    let info = owner
        .create_room(CreateRoom { password: Some("s3cret".into()), ..room(false) })
        .await
        .unwrap();
    assert!(info.password_protected);
    // A private room answers as a missing room would; a public one says
    // why.
    let err = guest.join(&info.id, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
    let err = guest.join(&info.id, Some("guess")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
    guest.join(&info.id, Some("s3cret")).await.unwrap();

    let public = owner
        .create_room(CreateRoom { password: Some("s3cret".into()), ..room(true) })
        .await
        .unwrap();
    let err = guest.join(&public.id, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    let err = guest.join(&public.id, Some("guess")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    guest.join(&public.id, Some("s3cret")).await.unwrap();
}

#[tokio::test]
async fn members_are_told_who_joins_and_leaves() {
    let server = TestServer::start().await;
    let mut first = server.client().await;
    let mut second = server.client().await;
    let info = first.create_room(room(true)).await.unwrap();
    first.join(&info.id, None).await.unwrap();
    second.join(&info.id, None).await.unwrap();
    assert_eq!(
        next_event(&mut first).await,
        Event::MemberJoined {
            room: info.id.clone(),
            session: second.session(),
            user_id: None,
            user_name: None,
        }
    );
    second.leave(&info.id).await.unwrap();
    assert_eq!(
        next_event(&mut first).await,
        Event::MemberLeft {
            room: info.id.clone(),
            session: second.session(),
            reason: "left".into()
        }
    );
    assert_no_event(&mut second).await;
}

#[tokio::test]
async fn only_the_creator_may_delete_and_members_are_told() {
    let server = TestServer::start().await;
    let owner = server.client().await;
    let mut member = server.client().await;
    let info = owner.create_room(room(true)).await.unwrap();
    member.join(&info.id, None).await.unwrap();
    let err = member.delete_room(&info.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotAuthorized));
    owner.delete_room(&info.id).await.unwrap();
    assert_eq!(next_event(&mut member).await, Event::RoomDeleted { room: info.id.clone() });
    let err = member.get_variables(&info.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
}

#[tokio::test]
async fn joining_a_missing_or_full_room_and_joining_twice_fail() {
    let server = TestServer::start().await;
    let a = server.client().await;
    let b = server.client().await;
    let err = a.join("r999", None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));

    let info = a.create_room(CreateRoom { max_clients: Some(1), ..room(true) }).await.unwrap();
    a.join(&info.id, None).await.unwrap();
    let err = a.join(&info.id, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::AlreadyInRoom));
    let err = b.join(&info.id, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomFull));
    // The failed joins changed nothing.
    assert_eq!(b.list_rooms(None).await.unwrap()[0].members, 1);
}

#[tokio::test]
async fn leaving_a_room_one_is_not_in_fails() {
    let server = TestServer::start().await;
    let a = server.client().await;
    let b = server.client().await;
    let info = a.create_room(CreateRoom { auto_dispose: Some(false), ..room(true) }).await.unwrap();
    let err = b.leave(&info.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotInRoom));
    let err = b.leave("r424242").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
    // Non-members cannot read or write the room either.
    let err = b.get_variables(&info.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NotInRoom));
}

#[tokio::test]
async fn max_clients_is_bounded_by_the_server_limit() {
    let server = TestServer::start_with(|c| c.limits.max_clients_per_room = 100).await;
    let client = server.client().await;
    let err = client
        .create_room(CreateRoom { max_clients: Some(101), ..CreateRoom::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    let err = client
        .create_room(CreateRoom { room_type: Some("no-such-type".into()), ..CreateRoom::default() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownRoomType));
}

#[tokio::test]
async fn rooms_dispose_when_the_last_member_leaves_unless_kept() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let disposable = client.create_room(room(true)).await.unwrap();
    let kept =
        client.create_room(CreateRoom { auto_dispose: Some(false), ..room(true) }).await.unwrap();
    for id in [&disposable.id, &kept.id] {
        client.join(id, None).await.unwrap();
        client.leave(id).await.unwrap();
    }
    // The actor disposes right after the leave; listing may race it by a
    // hair, so wait for it.
    let ids = wait_until_listed(&client, |ids| ids.len() == 1).await;
    assert_eq!(ids, vec![kept.id.clone()]);
    let err = client.join(&disposable.id, None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
}

#[tokio::test]
async fn unjoined_rooms_are_disposed_after_the_timeout() {
    let server = TestServer::start_with(|c| c.limits.unjoined_room_timeout_secs = 1).await;
    let client = server.client().await;
    client.create_room(room(true)).await.unwrap();
    assert_eq!(client.list_rooms(None).await.unwrap().len(), 1);
    wait_until_listed(&client, |ids| ids.is_empty()).await;
}

async fn public_room_ids(client: &vampire_client::Client) -> Vec<String> {
    let rooms = client.list_rooms(None).await.unwrap();
    rooms.into_iter().map(|r| r.id).collect()
}

async fn wait_until_listed(
    client: &vampire_client::Client,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + vampire_tests::PATIENCE;
    loop {
        let ids = public_room_ids(client).await;
        if done(&ids) {
            return ids;
        }
        assert!(tokio::time::Instant::now() < deadline, "listing stayed {ids:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A public room `stayer` and then `leaver` joined (the stayer saw the
/// leaver come), and the room's id.
async fn stayer_and_leaver(server: &TestServer) -> (Client, Client, String) {
    let mut stayer = server.client().await;
    let leaver = server.client().await;
    let room = stayer.create_room(room(true)).await.unwrap().id;
    stayer.join(&room, None).await.unwrap();
    leaver.join(&room, None).await.unwrap();
    wait_for(&mut stayer, |e| matches!(e, Event::MemberJoined { .. })).await;
    (stayer, leaver, room)
}

#[tokio::test]
async fn a_dropped_connection_holds_the_seat_until_the_window_passes() {
    let server = TestServer::start_with(|config| config.reconnect.window_secs = 1).await;
    let (mut stayer, leaver, room) = stayer_and_leaver(&server).await;
    let gone = leaver.session();
    drop(leaver); // closes the socket without a leave request
    assert_eq!(
        next_event(&mut stayer).await,
        Event::MemberDisconnected { room: room.clone(), session: gone }
    );
    // The seat is held while the session may come back.
    assert_eq!(stayer.list_rooms(None).await.unwrap()[0].members, 2);
    assert_eq!(
        next_event(&mut stayer).await,
        Event::MemberLeft { room: room.clone(), session: gone, reason: "timeout".into() }
    );
    assert_eq!(stayer.list_rooms(None).await.unwrap()[0].members, 1);
}

#[tokio::test]
async fn without_a_window_a_dropped_connection_leaves_at_once() {
    let server = TestServer::start_with(|config| config.reconnect.window_secs = 0).await;
    let (mut stayer, leaver, room) = stayer_and_leaver(&server).await;
    assert!(leaver.welcome().resume_token.is_none());
    let gone = leaver.session();
    drop(leaver);
    assert_eq!(
        next_event(&mut stayer).await,
        Event::MemberLeft { room, session: gone, reason: "disconnected".into() }
    );
}

#[tokio::test]
async fn closing_the_session_leaves_every_room_at_once() {
    let server = TestServer::start().await;
    let (mut stayer, leaver, room) = stayer_and_leaver(&server).await;
    let gone = leaver.session();
    leaver.close().await.unwrap();
    assert_eq!(
        next_event(&mut stayer).await,
        Event::MemberLeft { room, session: gone, reason: "left".into() }
    );
}

#[tokio::test]
async fn two_hundred_concurrent_joins_end_with_one_member_list() {
    const CLIENTS: usize = 200;
    let server = TestServer::start().await;
    let owner = server.client().await;
    let info = owner
        .create_room(CreateRoom { max_clients: Some(CLIENTS as u32), ..room(true) })
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (addr, room_id) = (server.addr, info.id.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = vampire_client::Client::connect(addr).await.unwrap();
            let joined = client.join(&room_id, None).await.unwrap();
            let mut members: BTreeSet<u64> = joined.members.into_iter().collect();
            // Every join after ours arrives as an event; stop once all are in.
            while members.len() < CLIENTS {
                match vampire_tests::next_event(&mut client).await {
                    Event::MemberJoined { session, .. } => {
                        members.insert(session);
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            (client, members)
        }));
    }
    let mut lists = Vec::new();
    let mut clients = Vec::new();
    for task in tasks {
        let (client, members) = task.await.unwrap();
        clients.push(client);
        lists.push(members);
    }
    let expected: BTreeSet<u64> = clients.iter().map(|c| c.session()).collect();
    assert_eq!(expected.len(), CLIENTS);
    assert!(lists.iter().all(|list| *list == expected));
    assert_eq!(owner.list_rooms(None).await.unwrap()[0].members, CLIENTS as u32);
}

/// `room_info` describes a public room to anyone and a private one to its
/// members only (anyone else is told it does not exist).
#[tokio::test]
async fn room_info_describes_a_public_room_to_anyone_and_a_private_one_to_members() {
    let server = TestServer::start().await;
    let owner = server.client().await;
    let stranger = server.client().await;
    let public = owner.create_room(room(true)).await.unwrap();
    owner.join(&public.id, None).await.unwrap();
    let seen = stranger.room_info(&public.id).await.unwrap();
    assert_eq!(
        (seen.id.as_str(), seen.members, seen.name.as_str()),
        (public.id.as_str(), 1, "lobby")
    );

    let private = owner.create_room(room(false)).await.unwrap();
    let err = owner.room_info(&private.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound), "not a member yet");
    owner.join(&private.id, None).await.unwrap();
    assert_eq!(owner.room_info(&private.id).await.unwrap().members, 1);
    let err = stranger.room_info(&private.id).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RoomNotFound));
    assert_eq!(
        err.to_string(),
        stranger.room_info("r0").await.unwrap_err().to_string().replace("r0", &private.id)
    );
    server.stop().await;
}
