//! Cluster mode end to end: one real Redis and three server processes on
//! 127.0.0.1. Rooms created through one node spread over the three; any
//! node lists the whole cluster and redirects a join to the room's node
//! with a seat reserved there; a killed node's rooms leave the listings
//! in time; a paused node comes back without duplicates or hidden rooms;
//! the nodes ride out Redis going away and coming back.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::json;
use support::cluster::{TTL_MS, kept_room, node, node_of, node_with, three_nodes};
use support::{RedisServer, free_port};
use vampire_client::{
    Client, ClientError, Condition, ConnectOptions, CreateRoom, ErrorCode, Event, Incoming,
    ListQuery, Request, RoomOp, RoomSort, Value,
};

/// Room ids in the listing a node gives, with how often each appears.
async fn listed(client: &Client) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for room in client.list_rooms(None).await.unwrap() {
        *ids.entry(room.id).or_insert(0) += 1;
    }
    ids
}

/// Waits until `check` holds for `client`'s listing; fails after `limit`.
async fn listing_until(
    client: &Client,
    limit: Duration,
    what: &str,
    check: impl Fn(&BTreeMap<String, usize>) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let ids = listed(client).await;
        if check(&ids) {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what} did not happen within {limit:?}: {ids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn rooms_spread_listings_span_the_cluster_and_joins_follow_redirects() {
    let redis = RedisServer::start();
    let [a, _b, c] = three_nodes(&redis, json!({}));
    let mut alice = Client::connect(a.addr).await.unwrap();

    let mut rooms = Vec::new();
    for _ in 0..6 {
        rooms.push(alice.create_room(kept_room()).await.unwrap().id);
    }
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for room in &rooms {
        *per_node.entry(node_of(room)).or_default() += 1;
    }
    assert_eq!(per_node, BTreeMap::from([("a", 2), ("b", 2), ("c", 2)]), "{rooms:?}");

    // Any node lists every room, once.
    let all: BTreeSet<String> = rooms.iter().cloned().collect();
    listing_until(&alice, Duration::from_secs(5), "a full listing", |ids| {
        ids.keys().cloned().collect::<BTreeSet<_>>() == all && ids.values().all(|n| *n == 1)
    })
    .await;

    // A room on c, joined from a: the client follows the redirect.
    let on_c = rooms.iter().find(|room| node_of(room) == "c").unwrap().clone();
    let joined = alice.join(&on_c, None).await.unwrap();
    assert_eq!(joined.room.id, on_c);
    let mut carol = Client::connect(c.addr).await.unwrap();
    carol.join(&on_c, None).await.unwrap();
    let event = vampire_tests_wait(&mut alice, |e| matches!(e, Event::MemberJoined { .. })).await;
    assert!(matches!(event, Event::MemberJoined { room, .. } if room == on_c));
    // Requests about the room go to its node, events come back.
    alice.send_message(&on_c, Value::from("hello from a")).await.unwrap();
    let heard = vampire_tests_wait(&mut carol, |e| matches!(e, Event::RoomMessage { .. })).await;
    let Event::RoomMessage { data, .. } = heard else { unreachable!() };
    assert_eq!(data.to_value(), Value::from("hello from a"));
    alice.leave(&on_c).await.unwrap();
}

#[tokio::test]
async fn a_seat_reservation_works_once_holds_its_place_and_expires() {
    let redis = RedisServer::start();
    let [a, _b, c] = three_nodes(&redis, json!({ "reservationTtlSecs": 1 }));
    let owner = Client::connect(c.addr).await.unwrap();
    let room =
        owner.create_room(CreateRoom { max_clients: Some(1), ..kept_room() }).await.unwrap().id;
    assert_eq!(node_of(&room), "c");
    let bob = Client::connect(a.addr).await.unwrap();
    let redirect = redirect_for(&bob, &room).await;
    assert_eq!(redirect.address, format!("127.0.0.1:{}", c.addr.port()));
    assert_eq!(redirect.ws_address, None, "c advertises no WebSocket address");

    // The held seat fills the one-place room for everyone else.
    let carol = Client::connect(c.addr).await.unwrap();
    let full = carol.join(&room, None).await.unwrap_err();
    assert_eq!(full.code(), Some(ErrorCode::RoomFull));

    let at_c = Client::connect(c.addr).await.unwrap();
    at_c.request(join_with(&room, &redirect.reservation)).await.unwrap();
    at_c.leave(&room).await.unwrap();
    let again = at_c.request(join_with(&room, &redirect.reservation)).await.unwrap_err();
    assert_eq!(again.code(), Some(ErrorCode::NotAuthorized));

    let late = redirect_for(&bob, &room).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let expired = at_c.request(join_with(&room, &late.reservation)).await.unwrap_err();
    assert_eq!(expired.code(), Some(ErrorCode::NotAuthorized));
    // Its place is free again.
    carol.join(&room, None).await.unwrap();
}

/// Issue 17, item 5: a seat is held only for a joiner past the room's
/// password (checked on the room's node), a connection may hold only a
/// few reservations at once, and a reservation brought to a node that
/// does not hold the room buys no other seat.
#[tokio::test]
async fn item_05_seats_are_reserved_only_after_the_checks_and_only_a_few_per_connection() {
    let redis = RedisServer::start();
    let [a, b] = ["a", "b"].map(|id| node(&redis, id, json!({ "reservationsPerConnection": 2 })));
    let owner = Client::connect(b.addr).await.unwrap();
    let settings = CreateRoom {
        max_clients: Some(2),
        public: Some(false),
        password: Some("correct horse".into()),
        ..kept_room()
    };
    // Rooms go to the least loaded node: create until one is on b.
    let mut private = "x-".to_owned();
    while node_of(&private) != "b" {
        private = owner.create_room(settings.clone()).await.unwrap().id;
    }

    // A stranger without the password holds no seat, however often it asks.
    let stranger = Client::connect(a.addr).await.unwrap();
    for _ in 0..2 {
        let refused = stranger.request(join_with(&private, "")).await.unwrap_err();
        assert_eq!(refused.code(), Some(ErrorCode::RoomNotFound), "{refused}");
    }
    // Both places are still free for joiners with the password.
    for _ in 0..2 {
        let friend = Client::connect(a.addr).await.unwrap();
        friend.join(&private, Some("correct horse")).await.unwrap();
    }

    // One connection may hold two reservations at once, not a third.
    let mut open = "x-".to_owned();
    while node_of(&open) != "b" {
        open = owner.create_room(kept_room()).await.unwrap().id;
    }
    let hoarder = Client::connect(a.addr).await.unwrap();
    let first = redirect_for(&hoarder, &open).await;
    redirect_for(&hoarder, &open).await;
    let third = hoarder.request(join_with(&open, "")).await.unwrap_err();
    assert_eq!(third.code(), Some(ErrorCode::QuotaExceeded), "{third}");

    // A reservation sent to the wrong node is refused, not redirected.
    let wrong_node = stranger.request(join_with(&open, &first.reservation)).await.unwrap_err();
    assert_eq!(wrong_node.code(), Some(ErrorCode::NotAuthorized), "{wrong_node}");
}

#[tokio::test]
async fn rooms_placed_elsewhere_count_against_the_creators_quota() {
    let redis = RedisServer::start();
    let limits = json!({ "limits": { "maxRoomsPerConnection": 2 } });
    let [a, _b, _c] = ["a", "b", "c"].map(|id| node_with(&redis, id, json!({}), limits.clone()));
    let alice = Client::connect(a.addr).await.unwrap();
    let first = alice.create_room(kept_room()).await.unwrap().id;
    let second = alice.create_room(kept_room()).await.unwrap().id;
    assert_ne!(node_of(&first), node_of(&second), "placed on two nodes");
    let third = alice.create_room(kept_room()).await.unwrap_err();
    assert_eq!(third.code(), Some(ErrorCode::QuotaExceeded));
    // Another connection has its own quota.
    let bob = Client::connect(a.addr).await.unwrap();
    bob.create_room(kept_room()).await.unwrap();
}

#[tokio::test]
async fn owners_delete_and_invite_into_their_rooms_on_other_nodes() {
    const SECRET: &str = "a-cluster-secret-of-at-least-32-bytes";
    let redis = RedisServer::start();
    let auth = json!({ "auth": { "mode": "jwt", "secret": SECRET } });
    let [a, _b, _c] = ["a", "b", "c"].map(|id| node_with(&redis, id, json!({}), auth.clone()));
    let token = |user: &str| {
        let exp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
                + 3600;
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
        let claims = json!({ "sub": user, "exp": exp });
        ConnectOptions {
            token: Some(jsonwebtoken::encode(&Default::default(), &claims, &key).unwrap()),
            ..ConnectOptions::default()
        }
    };
    let alice = Client::connect_with(a.addr, token("alice")).await.unwrap();
    let bob = Client::connect_with(a.addr, token("bob")).await.unwrap();
    let protected = CreateRoom { password: Some("secret".into()), ..kept_room() };
    // The first room stays on a, the next two go to b and c.
    let mut rooms = Vec::new();
    for _ in 0..3 {
        rooms.push(alice.create_room(protected.clone()).await.unwrap().id);
    }
    let elsewhere: Vec<&String> = rooms.iter().filter(|room| node_of(room) != "a").collect();
    assert_eq!(elsewhere.len(), 2, "{rooms:?}");

    let refused = bob.delete_room(elsewhere[0]).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::NotAuthorized));
    let refused = bob.create_invite(elsewhere[0]).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::NotAuthorized));
    // The owner invites bob into a room on another node, then deletes it.
    let invite = alice.create_invite(elsewhere[0]).await.unwrap();
    bob.join_with_invite(elsewhere[0], &invite).await.unwrap();
    alice.delete_room(elsewhere[1]).await.unwrap();
    let gone = bob.join(elsewhere[1], Some("secret")).await.unwrap_err();
    assert_eq!(gone.code(), Some(ErrorCode::RoomNotFound));
}

#[tokio::test]
async fn a_killed_node_leaves_the_listings_within_the_bound() {
    let redis = RedisServer::start();
    let [a, _b, c] = three_nodes(&redis, json!({}));
    let at_c = Client::connect(c.addr).await.unwrap();
    let mut rooms = BTreeSet::new();
    for _ in 0..6 {
        rooms.insert(at_c.create_room(kept_room()).await.unwrap().id);
    }
    let survivors: BTreeSet<String> =
        rooms.iter().filter(|room| node_of(room) != "c").cloned().collect();
    assert_eq!(survivors.len(), 4, "two rooms on each node: {rooms:?}");
    let watcher = Client::connect(a.addr).await.unwrap();
    listing_until(&watcher, Duration::from_secs(5), "every room listed", |ids| ids.len() == 6)
        .await;
    c.signal("KILL");
    let bound = Duration::from_millis(TTL_MS * 3 / 2) + Duration::from_secs(1);
    let took = listing_until(&watcher, bound, "the dead node's rooms leaving", |ids| {
        ids.keys().cloned().collect::<BTreeSet<_>>() == survivors
    })
    .await;
    a.wait_for_log("reaped a dead node");
    println!("a killed node's rooms left the listings after {took:?}");
    // Its rooms can no longer be joined: nobody answers for node c.
    let gone = rooms.iter().find(|room| node_of(room) == "c").unwrap();
    let refused = watcher.join(gone, None).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::RoomNotFound));
    // New rooms go to the living.
    let fresh = watcher.create_room(kept_room()).await.unwrap().id;
    assert_ne!(node_of(&fresh), "c");
}

#[tokio::test]
async fn a_paused_node_comes_back_without_duplicate_or_hidden_rooms() {
    let redis = RedisServer::start();
    let [a, _b, c] = three_nodes(&redis, json!({}));
    let at_c = Client::connect(c.addr).await.unwrap();
    let mut all = BTreeSet::new();
    for _ in 0..6 {
        all.insert(at_c.create_room(kept_room()).await.unwrap().id);
    }
    let elsewhere: BTreeSet<String> =
        all.iter().filter(|room| node_of(room) != "c").cloned().collect();
    let at_a = Client::connect(a.addr).await.unwrap();
    listing_until(&at_a, Duration::from_secs(5), "all rooms listed", |ids| ids.len() == 6).await;

    c.signal("STOP");
    listing_until(&at_a, Duration::from_secs(10), "the paused node's rooms leaving", |ids| {
        ids.keys().cloned().collect::<BTreeSet<_>>() == elsewhere
    })
    .await;
    c.signal("CONT");
    listing_until(&at_a, Duration::from_secs(10), "the paused node's rooms returning", |ids| {
        ids.keys().cloned().collect::<BTreeSet<_>>() == all && ids.values().all(|n| *n == 1)
    })
    .await;
    c.wait_for_log("registration had expired");
    // Still joinable through a redirect, and still the same rooms.
    let room = all.iter().find(|room| node_of(room) == "c").unwrap();
    at_a.join(room, None).await.unwrap();
    // A new room does not reuse an id.
    let fresh = at_c.create_room(kept_room()).await.unwrap().id;
    assert!(!all.contains(&fresh));
}

#[tokio::test]
async fn a_node_restarted_under_its_id_lists_no_stale_rooms_and_places_again() {
    let redis = RedisServer::start();
    let [a, b, _c] = three_nodes(&redis, json!({}));
    let at_a = Client::connect(a.addr).await.unwrap();
    let mut before = BTreeSet::new();
    for _ in 0..3 {
        before.insert(at_a.create_room(kept_room()).await.unwrap().id);
    }
    drop(at_a);
    a.signal("KILL");
    drop(a);
    // The same id again, at once: it waits for its old key to expire.
    let a = node(&redis, "a", json!({}));
    let at_b = Client::connect(b.addr).await.unwrap();
    let survivors: BTreeSet<String> =
        before.iter().filter(|room| node_of(room) != "a").cloned().collect();
    listing_until(&at_b, Duration::from_secs(5), "the old node's rooms leaving", |ids| {
        ids.keys().cloned().collect::<BTreeSet<_>>() == survivors
    })
    .await;
    // Placements from the new run are not mistaken for the old run's.
    let at_a = Client::connect(a.addr).await.unwrap();
    let mut expected = survivors.clone();
    for _ in 0..3 {
        expected.insert(at_a.create_room(kept_room()).await.unwrap().id);
    }
    assert_eq!(expected.len(), survivors.len() + 3, "no id of a survivor reused");
    listing_until(&at_b, Duration::from_secs(5), "the new rooms listed", |ids| {
        ids.keys().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
}

/// Issue 17, item 11: from the moment Redis dies, a join of a live room
/// on another node is `server_busy` (retryable), never `room_not_found`.
#[tokio::test]
async fn item_11_joins_of_other_nodes_rooms_are_busy_not_missing_while_redis_is_down() {
    let mut redis = RedisServer::start();
    let [a, b] = ["a", "b"].map(|id| node(&redis, id, json!({})));
    let at_a = Client::connect(a.addr).await.unwrap();
    let at_b = Client::connect(b.addr).await.unwrap();
    let on_b = at_b.create_room(kept_room()).await.unwrap().id;
    listing_until(&at_a, Duration::from_secs(5), "b's room listed", |ids| ids.len() == 1).await;

    redis.stop();
    let probing = Instant::now();
    let mut probes = 0;
    while probing.elapsed() < Duration::from_millis(2500) {
        let refused = at_a.join(&on_b, None).await.unwrap_err();
        assert_eq!(refused.code(), Some(ErrorCode::ServerBusy), "probe {probes}: {refused}");
        probes += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(probes > 1);
}

#[tokio::test]
async fn the_nodes_ride_out_redis_going_away_and_coming_back() {
    let mut redis = RedisServer::start();
    let [a, b, _c] = three_nodes(&redis, json!({}));
    let at_a = Client::connect(a.addr).await.unwrap();
    let at_b = Client::connect(b.addr).await.unwrap();
    let on_a = at_a.create_room(kept_room()).await.unwrap().id;
    let on_b = at_b.create_room(kept_room()).await.unwrap().id;
    listing_until(&at_a, Duration::from_secs(5), "both rooms listed", |ids| ids.len() == 2).await;

    redis.stop();
    a.wait_for_log("the cluster store is unreachable");
    // Node a serves its own rooms: they are listed, created and joined.
    listing_until(&at_a, Duration::from_secs(5), "a's own listing", |ids| ids.keys().eq([&on_a]))
        .await;
    let local = at_a.create_room(kept_room()).await.unwrap().id;
    assert_eq!(node_of(&local), "a");
    at_a.join(&on_a, None).await.unwrap();
    let elsewhere = at_a.join(&on_b, None).await.unwrap_err();
    assert_eq!(elsewhere.code(), Some(ErrorCode::ServerBusy));

    // Redis comes back empty: every node writes its rooms again.
    redis.restart();
    a.wait_for_log("reachable again");
    let expected: BTreeSet<String> = [on_a, on_b.clone(), local].into_iter().collect();
    listing_until(&at_a, Duration::from_secs(10), "the whole listing again", |ids| {
        ids.keys().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    at_a.join(&on_b, None).await.unwrap();
}

#[test]
fn redis_unreachable_at_start_is_a_clear_error() {
    let stderr = support::refused_start(json!({
        "cluster": {
            "redisUrl": format!("redis://127.0.0.1:{}", free_port()),
            "advertiseAddress": "127.0.0.1:7777",
        },
    }));
    assert!(stderr.contains("cannot reach Redis"), "{stderr}");
}

/// A `join` of `room` that a node answers with a redirect.
async fn redirect_for(client: &Client, room: &str) -> vampire_client::Redirect {
    match client.request(join_with(room, "")).await {
        Err(ClientError::Redirect(redirect)) => *redirect,
        other => panic!("expected a redirect, got {other:?}"),
    }
}

/// A raw `join` with a seat reservation (none when empty).
fn join_with(room: &str, reservation: &str) -> Request {
    let mut join = Request::join(room);
    if let Request::Room { op: RoomOp::Join { reservation: held, .. }, .. } = &mut join {
        *held = (!reservation.is_empty()).then(|| reservation.to_owned());
    }
    join
}

/// Reads events until one matches, failing after ten seconds.
async fn vampire_tests_wait(client: &mut Client, matches: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event_within(left).await {
            Some(Incoming::Event(event)) if matches(&event) => return event,
            Some(_) => continue,
            None => panic!("the awaited event did not come"),
        }
    }
}

#[tokio::test]
async fn an_operator_lists_and_disposes_rooms_of_other_nodes_and_drains_one() {
    let redis = RedisServer::start();
    let admin = json!({ "admin": support::admin_section(json!({})) });
    let a = node_with(&redis, "a", json!({}), admin.clone());
    let b = node_with(&redis, "b", json!({}), admin);
    let (a_admin, b_admin) = (a.admin.unwrap(), b.admin.unwrap());
    let token = support::ADMIN_TOKEN;
    let alice = Client::connect(a.addr).await.unwrap();
    let mut rooms = Vec::new();
    for _ in 0..4 {
        rooms.push(alice.create_room(kept_room()).await.unwrap().id);
    }
    let on_b: Vec<String> = rooms.iter().filter(|room| node_of(room) == "b").cloned().collect();
    assert_eq!(on_b.len(), 2, "{rooms:?}");
    let mut bob = Client::connect(b.addr).await.unwrap();
    bob.join(&on_b[0], None).await.unwrap();
    bob.join(&on_b[1], None).await.unwrap();
    let on_b_kept = on_b[1].clone();
    let on_b = on_b[0].clone();

    // a's admin API lists both nodes' rooms, with their node.
    let listed = support::http::get(a_admin, "/admin/rooms", token).await.json();
    assert_eq!(listed["total"], 4, "{listed}");
    let nodes: BTreeSet<&str> =
        listed["rooms"].as_array().unwrap().iter().map(|r| r["node"].as_str().unwrap()).collect();
    assert_eq!(nodes, BTreeSet::from(["a", "b"]));
    assert_eq!(listed["unreachable_nodes"], json!([]));
    // And inspects and disposes b's room, whose member is told.
    let inspected = support::http::get(a_admin, &format!("/admin/rooms/{on_b}"), token).await;
    assert_eq!(inspected.status, 200, "{}", inspected.text());
    assert_eq!(inspected.json()["members"][0]["session"], bob.session());
    let path = format!("/admin/rooms/{on_b}/dispose");
    let disposed =
        support::http::post(a_admin, &path, token, r#"{"reason": "node b retires"}"#).await;
    assert_eq!(disposed.status, 200, "{}", disposed.text());
    let closed = vampire_tests_wait(&mut bob, |e| matches!(e, Event::RoomClosed { .. })).await;
    assert_eq!(closed, Event::RoomClosed { room: on_b.clone(), reason: "node b retires".into() });
    b.wait_for_log("admin action from another node");

    // A join from a's client is redirected with a seat held on b, and an
    // operation of a client of a on b's room is run by b.
    alice.join(&on_b_kept, None).await.unwrap();
    let carol = Client::connect(a.addr).await.unwrap();
    let _ = carol.get_variables(&on_b_kept).await;
    let a_metrics = support::http::get(a_admin, "/metrics", token).await.text();
    assert!(!a_metrics.contains("vampire_cluster_redirects_total 0\n"), "{a_metrics}");
    let b_metrics = support::http::get(b_admin, "/metrics", token).await.text();
    assert!(!b_metrics.contains("vampire_cluster_reservations_total 0\n"), "{b_metrics}");
    assert!(!b_metrics.contains("vampire_cluster_forwarded_total 0\n"), "{b_metrics}");
    alice.leave(&on_b_kept).await.unwrap();

    // b drains: new rooms go to a, even those its own clients create; its
    // member plays on.
    let drain = support::http::post(b_admin, "/admin/drain", token, "").await;
    assert_eq!(drain.status, 202);
    for _ in 0..3 {
        let placed = bob.create_room(kept_room()).await.unwrap().id;
        assert_eq!(node_of(&placed), "a", "a draining node took a room");
    }
    let metrics = support::http::get(a_admin, "/metrics", token).await.text();
    assert!(metrics.contains("vampire_cluster_node_up 1"), "{metrics}");
    assert!(!metrics.contains("vampire_cluster_redis_seconds_count 0\n"), "{metrics}");
    let metrics = support::http::get(b_admin, "/metrics", token).await.text();
    assert!(metrics.contains("vampire_draining 1"), "{metrics}");
}

#[tokio::test]
async fn filters_and_sorts_span_the_cluster() {
    let redis = RedisServer::start();
    let nodes = three_nodes(&redis, json!({}));
    let mut rooms = Vec::new();
    let mut members = Vec::new();
    for (n, node) in nodes.iter().enumerate() {
        let owner = Client::connect(node.addr).await.unwrap();
        let mode = if n == 1 { "dm" } else { "ctf" };
        let metadata = Value::Map(vec![("mode".into(), mode.into())]);
        let settings = CreateRoom { metadata: Some(metadata.into()), ..kept_room() };
        let room = owner.create_room(settings).await.unwrap().id;
        // n + 1 members (the client follows the redirect to the room's node).
        for _ in 0..=n {
            let member = Client::connect(nodes[0].addr).await.unwrap();
            member.join(&room, None).await.unwrap();
            members.push(member);
        }
        rooms.push(room);
        members.push(owner);
    }
    let query = ListQuery {
        filters: vec![("mode".to_owned(), Condition::Equals("ctf".into()))],
        sort: RoomSort::MostMembers,
        ..ListQuery::default()
    };
    // The listings in Redis follow the joins within a moment.
    let wanted = vec![rooms[2].clone(), rooms[0].clone()];
    for node in &nodes {
        let guest = Client::connect(node.addr).await.unwrap();
        let started = Instant::now();
        loop {
            let listed = guest.list_rooms_where(None, &query, None, None).await.unwrap();
            let ids: Vec<String> = listed.rooms.into_iter().map(|room| room.id).collect();
            if ids == wanted && listed.total == 2 {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "from {}: {ids:?}", node.addr);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
