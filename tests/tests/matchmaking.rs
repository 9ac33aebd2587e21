//! The ticket matchmaker against a real server: rated tickets form matches
//! whose spread respects the widening window, every ticket is matched once
//! or times out, nobody is in two rooms, a connection that leaves takes
//! its ticket with it, and a plugin room sees who the match sends.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use vampire_client::{Client, ErrorCode, Event, Incoming, Payload, Value};
use vampire_tests::{TestServer, as_json, serde_json, wait_for};
use vampiretcp::config::QueueConfig;
use vampiretcp::config::matchmaking::PropertyType;

/// A queue of `room_type` for `min` to `max` players with a `rating`.
fn queue(name: &str, room_type: &str, min: u32, max: u32) -> QueueConfig {
    QueueConfig {
        name: name.into(),
        room_type: room_type.into(),
        min_players: min,
        max_players: max,
        start_with_fewer_after_ms: 1_500,
        ticket_timeout_ms: 6_000,
        properties: BTreeMap::from([("rating".to_owned(), PropertyType::Number)]),
    }
}

async fn server_with(queues: Vec<QueueConfig>) -> TestServer {
    TestServer::with_plugins(|_| {}, |config| config.matchmaking.queues = queues).await
}

fn rating(rating: i64) -> Option<Payload> {
    Some(Value::Map(vec![("rating".into(), rating.into())]).into())
}

/// Within 50 of my rating, 50 wider each second I wait.
fn near_me() -> Option<Payload> {
    let window = Value::Map(vec![
        ("within".into(), 50.into()),
        ("widen".into(), 50.into()),
        ("every_ms".into(), 1000.into()),
    ]);
    Some(Value::Map(vec![("rating".into(), window)]).into())
}

/// The next `matched` or `match_timeout` of `client`, within `limit`.
async fn outcome(client: &mut Client, limit: Duration) -> Option<Event> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event_within(left).await? {
            Incoming::Event(event @ (Event::Matched { .. } | Event::MatchTimeout { .. })) => {
                return Some(event);
            }
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_rated_tickets_match_within_their_widening_windows() {
    let server = server_with(vec![queue("ranked", "generic", 2, 4)]).await;
    let mut players = Vec::new();
    for n in 0..100i64 {
        let client = server.client().await;
        let rated = 1000 + (n * 7919) % 2000;
        let ticket = client.matchmaker_add("ranked", rating(rated), near_me()).await.unwrap();
        players.push((client, rated, ticket, Instant::now()));
    }
    let mut waits = tokio::task::JoinSet::new();
    for (mut client, rated, ticket, added) in players {
        waits.spawn(async move {
            let event = outcome(&mut client, Duration::from_secs(10)).await;
            let waited = added.elapsed();
            // One outcome per ticket: nothing else follows.
            let again = outcome(&mut client, Duration::from_millis(200)).await;
            assert!(again.is_none(), "a second outcome: {again:?}");
            (client, rated, ticket, event.expect("matched or timed out"), waited)
        });
    }
    let done = waits.join_all().await;

    let mut rooms: HashMap<String, Vec<(i64, Duration)>> = HashMap::new();
    let mut timed_out = 0;
    for (client, rated, ticket, event, waited) in &done {
        match event {
            Event::Matched { ticket: matched, room, address, .. } => {
                assert_eq!(matched, ticket);
                assert!(address.is_none(), "alone, the room is here");
                let joined = client.join_match(event).await.unwrap();
                assert_eq!(&joined.room.id, room);
                rooms.entry(room.clone()).or_default().push((*rated, *waited));
            }
            Event::MatchTimeout { ticket: timed } => {
                assert_eq!(timed, ticket);
                timed_out += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    let matched: usize = rooms.values().map(Vec::len).sum();
    assert_eq!(matched + timed_out, 100);
    assert!(matched >= 90, "most tickets match: {matched}");
    for (room, players) in &rooms {
        assert!((2..=4).contains(&players.len()), "room {room}: {players:?}");
        for (a, wait_a) in players {
            for (b, wait_b) in players {
                // Each accepted the other at its own window then; a window
                // is at most what it was when the ticket heard of the match.
                let steps = wait_a.min(wait_b).as_millis() as i64 / 1000;
                assert!((a - b).abs() <= 50 + 50 * steps, "room {room}: {players:?}");
            }
        }
    }
}

#[tokio::test]
async fn a_ticket_leaves_with_its_connection_or_when_removed() {
    let mut duel = queue("duel", "generic", 2, 2);
    duel.properties.clear();
    let server = server_with(vec![duel]).await;
    let gone = server.client().await;
    gone.matchmaker_add("duel", None, None).await.unwrap();
    drop(gone);
    let withdrawn = server.client().await;
    let ticket = withdrawn.matchmaker_add("duel", None, None).await.unwrap();
    withdrawn.matchmaker_remove(&ticket).await.unwrap();
    let err = withdrawn.matchmaker_remove(&ticket).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut first = server.client().await;
    first.matchmaker_add("duel", None, None).await.unwrap();
    assert!(outcome(&mut first, Duration::from_millis(500)).await.is_none(), "nobody to meet");
    let mut second = server.client().await;
    second.matchmaker_add("duel", None, None).await.unwrap();
    let (a, b) = (
        outcome(&mut first, Duration::from_secs(5)).await.unwrap(),
        outcome(&mut second, Duration::from_secs(5)).await.unwrap(),
    );
    let joined_a = first.join_match(&a).await.unwrap();
    let joined_b = second.join_match(&b).await.unwrap();
    assert_eq!(joined_a.room.id, joined_b.room.id);
    assert_eq!(joined_b.members, vec![first.session(), second.session()]);
    assert!(!joined_b.room.public, "a match's room is not listed");
}

#[tokio::test]
async fn the_plugin_of_a_match_sees_its_players() {
    let server = server_with(vec![queue("arena", "clockwork", 2, 2)]).await;
    let mut alice = server.client().await;
    let mut bob = server.client().await;
    alice.matchmaker_add("arena", rating(1500), None).await.unwrap();
    bob.matchmaker_add("arena", rating(1520), None).await.unwrap();
    let matched = wait_for(&mut alice, |e| matches!(e, Event::Matched { .. })).await;
    let room = alice.join_match(&matched).await.unwrap().room.id;
    let theirs = wait_for(&mut bob, |e| matches!(e, Event::Matched { .. })).await;
    bob.join_match(&theirs).await.unwrap();
    let seen = as_json(&alice.get_variable(&room, "matched").await.unwrap());
    assert_eq!(seen, serde_json::json!([[alice.session(), 1500], [bob.session(), 1520]]));
}

#[tokio::test]
async fn bad_tickets_are_refused_with_a_reason() {
    let server = server_with(vec![queue("ranked", "generic", 2, 4)]).await;
    let client = server.client().await;
    let refused = |err: vampire_client::ClientError, part: &str| {
        assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
        assert!(err.to_string().contains(part), "{err} lacks {part}");
    };
    refused(client.matchmaker_add("nonesuch", None, None).await.unwrap_err(), "queues: ranked");
    let undeclared = Some(Value::Map(vec![("skill".into(), 1.into())]).into());
    refused(client.matchmaker_add("ranked", undeclared, None).await.unwrap_err(), "skill");
    let mistyped = Some(Value::Map(vec![("rating".into(), "high".into())]).into());
    refused(client.matchmaker_add("ranked", mistyped, None).await.unwrap_err(), "number");
    refused(client.matchmaker_add("ranked", None, near_me()).await.unwrap_err(), "own properties");
    for n in 0..4 {
        client.matchmaker_add("ranked", rating(n * 10_000), None).await.unwrap();
    }
    let err = client.matchmaker_add("ranked", rating(99_999), None).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::QuotaExceeded));
}
