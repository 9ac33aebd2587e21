//! `list_rooms` with conditions on the rooms' metadata, free seats and a
//! sort, against a real server: what a listing says is what the rooms
//! are.

use vampire_client::{Client, Condition, CreateRoom, ErrorCode, ListQuery, RoomSort, Value};
use vampire_tests::TestServer;

/// A public generic room with `metadata`, room for `max_clients`, and
/// `members` members joined (the clients are returned to keep them in).
async fn room(
    server: &TestServer,
    metadata: Value,
    max_clients: u32,
    members: usize,
) -> (String, Vec<Client>) {
    let owner = server.client().await;
    let settings = CreateRoom {
        max_clients: Some(max_clients),
        metadata: Some(metadata.into()),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    };
    let id = owner.create_room(settings).await.unwrap().id;
    let mut joined = vec![owner];
    for _ in 0..members {
        let member = server.client().await;
        member.join(&id, None).await.unwrap();
        joined.push(member);
    }
    (id, joined)
}

fn meta(mode: &str, rating: i64) -> Value {
    Value::Map(vec![("mode".into(), mode.into()), ("rating".into(), rating.into())])
}

#[tokio::test]
async fn filters_free_seats_and_sorts_select_and_order_the_listing() {
    let server = TestServer::start().await;
    let (ctf_low, _a) = room(&server, meta("ctf", 900), 4, 1).await;
    let (ctf_mid, _b) = room(&server, meta("ctf", 1400), 4, 3).await;
    let (ctf_full, _c) = room(&server, meta("ctf", 1500), 2, 2).await;
    let (dm, _d) = room(&server, meta("dm", 1400), 4, 2).await;
    let guest = server.client().await;
    let ids = |query: ListQuery| {
        let guest = &guest;
        async move {
            let list = guest.list_rooms_where(None, &query, None, None).await.unwrap();
            assert_eq!(list.total as usize, list.rooms.len());
            list.rooms.into_iter().map(|room| room.id).collect::<Vec<String>>()
        }
    };

    let ctf = vec![("mode".to_owned(), Condition::Equals("ctf".into()))];
    assert_eq!(
        ids(ListQuery { filters: ctf.clone(), ..ListQuery::default() }).await,
        vec![ctf_low.clone(), ctf_mid.clone(), ctf_full.clone()]
    );
    let rated = vec![
        ("mode".to_owned(), Condition::Equals("ctf".into())),
        ("rating".to_owned(), Condition::Within { min: Some(1200.0), max: Some(1600.0) }),
    ];
    assert_eq!(
        ids(ListQuery { filters: rated.clone(), ..ListQuery::default() }).await,
        vec![ctf_mid.clone(), ctf_full.clone()]
    );
    assert_eq!(
        ids(ListQuery { filters: rated, free_seats: true, ..ListQuery::default() }).await,
        vec![ctf_mid.clone()]
    );
    let fullest =
        ListQuery { free_seats: true, sort: RoomSort::MostMembers, ..ListQuery::default() };
    assert_eq!(ids(fullest).await, vec![ctf_mid.clone(), dm.clone(), ctf_low.clone()]);
    let newest = ListQuery { filters: ctf, sort: RoomSort::Newest, ..ListQuery::default() };
    assert_eq!(ids(newest).await, vec![ctf_full.clone(), ctf_mid.clone(), ctf_low.clone()]);

    // Pages are cut after the conditions and the sort (ties stay oldest
    // first: 1, 2, 2, 3 members).
    let sorted = ListQuery { sort: RoomSort::FewestMembers, ..ListQuery::default() };
    let page = guest.list_rooms_where(None, &sorted, Some(1), Some(2)).await.unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        page.rooms.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        vec![ctf_full.clone(), dm.clone()]
    );
}

#[tokio::test]
async fn a_query_the_server_cannot_read_is_refused_with_a_reason() {
    let server = TestServer::start().await;
    let guest = server.client().await;
    for (request, says) in [
        (vampire_tests::json!({"id": 1, "op": "list_rooms", "filters": 3}), "map"),
        (vampire_tests::json!({"id": 1, "op": "list_rooms", "sort": "size"}), "sort"),
        (
            vampire_tests::json!({"id": 1, "op": "list_rooms", "filters": {"r": {"min": "x"}}}),
            "numbers",
        ),
    ] {
        let mut raw = vampire_tests::RawConnection::connect(&server).await;
        raw.send_value(request).await;
        let answer = raw.read().await.expect("an answer");
        let vampire_client::ServerMessage::Error { code, message, .. } = answer else {
            panic!("expected a refusal, got {answer:?}")
        };
        assert_eq!(code, ErrorCode::InvalidRequest);
        assert!(message.contains(says), "{message}");
    }
    assert!(guest.list_rooms(None).await.unwrap().is_empty(), "the server still answers");
}
