//! Room variables: get/set, and broadcast decided per variable flag, per
//! room setting and per config default.

use vampire_client::{Client, CreateRoom, ErrorCode, Event, VariableBroadcast};
use vampire_tests::{TestServer, assert_no_event, json, next_event};

/// Two members of a new room made with `settings`.
async fn pair(server: &TestServer, settings: CreateRoom) -> (Client, Client, String) {
    let a = server.client().await;
    let mut b = server.client().await;
    let id = a.create_room(settings).await.unwrap().id;
    a.join(&id, None).await.unwrap();
    b.join(&id, None).await.unwrap();
    let _ = b.ping().await;
    while b.try_next_event().is_some() {}
    (a, b, id)
}

async fn drain_join_event(client: &mut Client) {
    assert!(matches!(next_event(client).await, Event::MemberJoined { .. }));
}

#[tokio::test]
async fn set_then_get_one_and_all() {
    let server = TestServer::start().await;
    let (mut a, _b, room) = pair(&server, CreateRoom::default()).await;
    drain_join_event(&mut a).await;
    a.set_variable(&room, "score", json!({"red": 3, "blue": [1, 2]}), None).await.unwrap();
    a.set_variable(&room, "round", json!(2), None).await.unwrap();
    assert_eq!(a.get_variable(&room, "score").await.unwrap(), json!({"red": 3, "blue": [1, 2]}));
    let all = a.get_variables(&room).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(vampire_tests::variable(&all, "round"), Some(&json!(2)));
    let err = a.get_variable(&room, "missing").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::VariableNotFound));
    // A later joiner gets the variables with its join result.
    let late = server.client().await;
    let joined = late.join(&room, None).await.unwrap();
    assert_eq!(vampire_tests::variable(&joined.variables, "round"), Some(&json!(2)));
}

#[tokio::test]
async fn broadcast_follows_the_per_variable_flag() {
    let server = TestServer::start().await;
    let (mut a, mut b, room) = pair(&server, CreateRoom::default()).await;
    drain_join_event(&mut a).await;

    // Config default: broadcast on.
    assert!(a.set_variable(&room, "hp", json!(10), None).await.unwrap());
    let expected = Event::VariableChanged {
        room: room.clone(),
        name: "hp".into(),
        value: json!(10),
        by: Some(a.session()),
    };
    assert_eq!(next_event(&mut b).await, expected);
    assert_eq!(next_event(&mut a).await, expected, "the setter is a member too");

    // Flag off for this variable: nobody is told, now or on later sets.
    assert!(!a.set_variable(&room, "secret", json!(1), Some(false)).await.unwrap());
    assert!(!a.set_variable(&room, "secret", json!(2), None).await.unwrap());
    assert_no_event(&mut b).await;
    assert_eq!(b.get_variable(&room, "secret").await.unwrap(), json!(2));

    // And back on.
    assert!(a.set_variable(&room, "secret", json!(3), Some(true)).await.unwrap());
    assert!(
        matches!(next_event(&mut b).await, Event::VariableChanged { value, .. } if value == json!(3))
    );
}

#[tokio::test]
async fn a_room_with_broadcast_disabled_never_broadcasts() {
    let server = TestServer::start().await;
    let settings = CreateRoom {
        variable_broadcast: Some(VariableBroadcast { enabled: Some(false), default: None }),
        ..CreateRoom::default()
    };
    let (a, mut b, room) = pair(&server, settings).await;
    assert!(!a.set_variable(&room, "x", json!(1), Some(true)).await.unwrap());
    assert!(!a.set_variable(&room, "y", json!(1), None).await.unwrap());
    assert_no_event(&mut b).await;
}

#[tokio::test]
async fn the_room_default_flag_applies_to_new_variables() {
    let server = TestServer::start().await;
    let settings = CreateRoom {
        variable_broadcast: Some(VariableBroadcast { enabled: None, default: Some(false) }),
        ..CreateRoom::default()
    };
    let (a, mut b, room) = pair(&server, settings).await;
    assert!(!a.set_variable(&room, "quiet", json!(1), None).await.unwrap());
    assert_no_event(&mut b).await;
    assert!(a.set_variable(&room, "loud", json!(1), Some(true)).await.unwrap());
    assert!(
        matches!(next_event(&mut b).await, Event::VariableChanged { name, .. } if name == "loud")
    );
}

#[tokio::test]
async fn config_defaults_apply_when_the_room_gives_none() {
    let server = TestServer::start_with(|c| {
        c.default_room_settings.variable_broadcast.default = false;
    })
    .await;
    let (a, mut b, room) = pair(&server, CreateRoom::default()).await;
    assert!(!a.set_variable(&room, "v", json!(1), None).await.unwrap());
    assert_no_event(&mut b).await;

    let server = TestServer::start_with(|c| {
        c.default_room_settings.variable_broadcast.enabled = false;
    })
    .await;
    let (a, mut b, room) = pair(&server, CreateRoom::default()).await;
    assert!(!a.set_variable(&room, "v", json!(1), Some(true)).await.unwrap());
    assert_no_event(&mut b).await;
}

#[tokio::test]
async fn invoking_a_method_the_generic_room_lacks_is_method_not_found() {
    let server = TestServer::start().await;
    let (a, _b, room) = pair(&server, CreateRoom::default()).await;
    let err = a.invoke(&room, "teleport", json!({"x": 1})).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MethodNotFound));
}

#[tokio::test]
async fn messages_are_relayed_to_every_member() {
    let server = TestServer::start().await;
    let (mut a, mut b, room) = pair(&server, CreateRoom::default()).await;
    drain_join_event(&mut a).await;
    a.send_message(&room, json!("hello")).await.unwrap();
    let expected =
        Event::RoomMessage { room: room.clone(), from: Some(a.session()), data: json!("hello") };
    assert_eq!(next_event(&mut b).await, expected);
    assert_eq!(next_event(&mut a).await, expected);
}
