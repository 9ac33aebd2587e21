//! Matchmaking in a cluster: `join_or_create` from clients of three nodes
//! at once fills rooms before opening new ones, across the nodes, and
//! never takes the same last seat; filters pick what listings say. The
//! ticket matchmaker has one pool for every node, and the node forming
//! matches killed loses no ticket of the others. One real Redis, server
//! processes on 127.0.0.1.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use support::cluster::{TTL_MS, node_of, node_with, three_nodes};
use support::{RedisServer, ServerProcess};
use vampire_client::{Client, Condition, CreateRoom, Event, Incoming, ListQuery, RoomSort, Value};

fn ctf() -> ListQuery {
    ListQuery {
        filters: vec![("mode".to_owned(), Condition::Equals("ctf".into()))],
        ..ListQuery::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_of_three_nodes_fill_exactly_twenty_five_rooms_of_eight() {
    let redis = RedisServer::start();
    let nodes = three_nodes(&redis, json!({}));
    let mut clients = Vec::new();
    for n in 0..200 {
        clients.push(Client::connect(nodes[n % 3].addr).await.unwrap());
    }
    let settings = CreateRoom { max_clients: Some(8), ..CreateRoom::default() };
    let mut joins = tokio::task::JoinSet::new();
    for client in clients {
        let settings = settings.clone();
        joins.spawn(async move {
            let joined = client.join_or_create(settings, &ctf(), None).await;
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
    let spread: HashMap<&str, usize> = rooms.keys().fold(HashMap::new(), |mut by, room| {
        *by.entry(node_of(room)).or_default() += 1;
        by
    });
    assert!(spread.len() > 1, "placement spreads rooms over the nodes: {spread:?}");

    // Every node lists the same, once the listings follow the joins
    // (redirected joiners join after their answer): 25 full rooms.
    for node in &nodes {
        let lister = Client::connect(node.addr).await.unwrap();
        let full = ListQuery { sort: RoomSort::MostMembers, ..ctf() };
        let started = Instant::now();
        loop {
            let listed = lister.list_rooms_where(None, &full, None, None).await.unwrap();
            assert_eq!(listed.total, 25);
            if listed.rooms.iter().all(|room| room.members == 8) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", listed.rooms);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_choose_across_nodes_and_full_rooms_are_passed_over() {
    let redis = RedisServer::start();
    let nodes = three_nodes(&redis, json!({}));
    let room_of = |max: u32| CreateRoom { max_clients: Some(max), ..CreateRoom::default() };
    let first = Client::connect(nodes[0].addr).await.unwrap();
    let made = first.join_or_create(room_of(3), &ctf(), None).await.unwrap();
    assert!(made.created);
    let dm = ListQuery {
        filters: vec![("mode".to_owned(), Condition::Equals("dm".into()))],
        ..ListQuery::default()
    };
    let other = Client::connect(nodes[1].addr).await.unwrap();
    let dm_room = other.join_or_create(room_of(3), &dm, None).await.unwrap();
    assert!(dm_room.created && dm_room.room.id != made.room.id);
    assert_eq!(dm_room.room.metadata.to_value(), Value::Map(vec![("mode".into(), "dm".into())]));

    // Clients of the other nodes join the ctf room wherever it is, until
    // it is full; the next one gets a new room.
    let mut kept = Vec::new();
    for n in [1, 2] {
        let client = Client::connect(nodes[n].addr).await.unwrap();
        let joined = client.join_or_create(room_of(3), &ctf(), None).await.unwrap();
        assert_eq!((joined.room.id.as_str(), joined.created), (made.room.id.as_str(), false));
        kept.push(client);
    }
    let late = Client::connect(nodes[2].addr).await.unwrap();
    let fresh = late.join_or_create(room_of(3), &ctf(), None).await.unwrap();
    assert!(fresh.created, "the full room is passed over");
    assert_ne!(fresh.room.id, made.room.id);
}

/// Node `id` with two queues: `trio` (3 players) and `four` (4).
fn matchmaking_node(redis: &RedisServer, id: &str) -> ServerProcess {
    let queues = json!({"matchmaking": {"queues": [
        {"name": "trio", "minPlayers": 3, "maxPlayers": 3},
        {"name": "four", "minPlayers": 4, "maxPlayers": 4},
    ]}});
    node_with(redis, id, json!({}), queues)
}

/// The next `matched` event of `client`.
async fn matched(client: &mut Client) -> Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event_within(left).await {
            Some(Incoming::Event(event @ Event::Matched { .. })) => return event,
            Some(_) => continue,
            None => panic!("no match within 10 s"),
        }
    }
}

/// Each of `players` gets its `matched` and joins the match's room: one
/// room for all.
async fn join_one_match(players: &mut [Client]) {
    let mut rooms = Vec::new();
    for player in players {
        let event = matched(player).await;
        rooms.push(player.join_match(&event).await.unwrap().room.id);
    }
    assert!(rooms.iter().all(|room| *room == rooms[0]), "one room: {rooms:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_of_three_nodes_form_one_match_whose_room_each_player_joins() {
    let redis = RedisServer::start();
    let nodes = ["a", "b", "c"].map(|id| matchmaking_node(&redis, id));
    let mut players = Vec::new();
    for node in &nodes {
        let client = Client::connect(node.addr).await.unwrap();
        client.matchmaker_add("trio", None, None).await.unwrap();
        players.push(client);
    }
    let mut rooms = Vec::new();
    for (player, here) in players.iter_mut().zip(["a", "b", "c"]) {
        let event = matched(player).await;
        let Event::Matched { room, address, .. } = &event else { unreachable!() };
        // The event names the room's node when it is not the player's.
        assert_eq!(address.is_some(), node_of(room) != here, "{event:?}");
        let joined = player.join_match(&event).await.unwrap();
        rooms.push(joined.room.id);
    }
    assert!(rooms.iter().all(|room| *room == rooms[0]), "one room: {rooms:?}");
    let members = players[0].room_info(&rooms[0]).await.unwrap().members;
    assert_eq!(members, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_forming_matches_killed_loses_no_ticket_of_the_others() {
    let redis = RedisServer::start();
    let a = matchmaking_node(&redis, "a");
    a.wait_for_log("this node forms the cluster's matches");
    let b = matchmaking_node(&redis, "b");
    let c = matchmaking_node(&redis, "c");
    let on_a = Client::connect(a.addr).await.unwrap();
    on_a.matchmaker_add("four", None, None).await.unwrap();
    let mut survivors = Vec::new();
    for node in [&b, &c] {
        let client = Client::connect(node.addr).await.unwrap();
        client.matchmaker_add("four", None, None).await.unwrap();
        survivors.push(client);
    }
    a.signal("KILL");
    // a's lease and its node's key expire; b or c forms the matches, and
    // drops a's ticket (its connection is gone).
    let started = Instant::now();
    while !(b.log() + &c.log()).contains("this node forms the cluster's matches") {
        assert!(started.elapsed() < Duration::from_secs(10), "nobody took over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(TTL_MS)).await;
    for node in [&b, &c] {
        let client = Client::connect(node.addr).await.unwrap();
        client.matchmaker_add("four", None, None).await.unwrap();
        survivors.push(client);
    }
    join_one_match(&mut survivors).await;
    drop(on_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_room_of_another_node_is_never_chosen() {
    let redis = RedisServer::start();
    let plugins = json!({ "pluginsDir": support::plugins_folder() });
    let [a, b] = ["a", "b"].map(|id| node_with(&redis, id, json!({}), plugins.clone()));
    let clockwork = CreateRoom {
        room_type: Some("clockwork".into()),
        max_clients: Some(4),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    };
    let locker = Client::connect(a.addr).await.unwrap();
    let locked = locker.join_or_create(clockwork.clone(), &ctf(), None).await.unwrap();
    assert!(locked.created);
    locker
        .invoke(&locked.room.id, "lock", Value::Map(vec![("locked".into(), true.into())]))
        .await
        .unwrap();
    // The listing in Redis follows the lock within a write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other = Client::connect(b.addr).await.unwrap();
    let placed = other.join_or_create(clockwork, &ctf(), None).await.unwrap();
    assert!(placed.created, "the locked room is passed over");
    assert_ne!(placed.room.id, locked.room.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_leaves_the_cluster_pool_with_its_connection() {
    let redis = RedisServer::start();
    let [a, b] = ["a", "b"].map(|id| matchmaking_node(&redis, id));
    let gone = Client::connect(a.addr).await.unwrap();
    gone.matchmaker_add("trio", None, None).await.unwrap();
    drop(gone);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut players = Vec::new();
    for node in [&a, &b] {
        let client = Client::connect(node.addr).await.unwrap();
        client.matchmaker_add("trio", None, None).await.unwrap();
        players.push(client);
    }
    for player in &mut players {
        let early = player.next_event_within(Duration::from_millis(500)).await;
        assert!(early.is_none(), "two live tickets do not make a trio: {early:?}");
    }
    let third = Client::connect(b.addr).await.unwrap();
    third.matchmaker_add("trio", None, None).await.unwrap();
    players.push(third);
    join_one_match(&mut players).await;
}
