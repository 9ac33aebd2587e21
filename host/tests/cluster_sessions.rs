//! Sessions in a cluster: a resume sent to a node that does not hold the
//! session is redirected to the one that does, and the Rust client follows
//! the redirect by itself when a load balancer sent it to the wrong node.
//! One real Redis, server processes on 127.0.0.1.

mod support;

use std::time::Duration;

use serde_json::json;
use support::RedisServer;
use support::cluster::{kept_room, node, node_of};
use support::proxy::CuttingProxy;
use vampire_client::{Client, ClientError, ConnectOptions, Event, Incoming, ServerOp, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_on_another_node_is_redirected_to_the_node_holding_the_session() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", json!({ "advertiseWsAddress": "127.0.0.1:7780" }));
    let b = node(&redis, "b", json!({}));
    let alice = Client::connect(a.addr).await.unwrap();
    alice.ping().await.unwrap();
    let (session, token) = (alice.session(), alice.resumption().token().unwrap());
    assert!(token.starts_with("a."), "a's tokens name it");
    let seen = alice.resumption().seq();
    drop(alice); // the connection drops; a holds the session
    tokio::time::sleep(Duration::from_millis(200)).await;

    // b does not hold it: the client is sent to a.
    let elsewhere = Client::connect(b.addr).await.unwrap();
    let resume = |last_seq| ServerOp::Resume { token: token.clone(), last_seq, auth_token: None };
    let redirect = match elsewhere.request(resume(seen).into()).await {
        Err(ClientError::Redirect(redirect)) => redirect,
        other => panic!("expected a redirect, got {other:?}"),
    };
    assert_eq!(redirect.ws_address.as_deref(), Some("127.0.0.1:7780"), "for WebSocket clients");
    let back = Client::connect(redirect.address.as_str()).await.unwrap();
    let resumed = back.request(resume(seen).into()).await.unwrap();
    let resumed = vampire_client::ResumeResult::from_payload(&resumed).unwrap();
    assert_eq!((resumed.session, resumed.resync), (session, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_follows_a_resume_redirect_by_itself() {
    let redis = RedisServer::start();
    let a = node(&redis, "a", json!({}));
    let b = node(&redis, "b", json!({}));
    let balancer = CuttingProxy::start(a.addr).await;
    let resuming = ConnectOptions {
        reconnect: Some(vampire_client::ReconnectPolicy {
            first_delay: Duration::from_millis(20),
            ..Default::default()
        }),
        ..ConnectOptions::default()
    };
    let mut alice = Client::connect_with(balancer.addr, resuming).await.unwrap();
    let bob = Client::connect(a.addr).await.unwrap();
    let room = bob.create_room(kept_room()).await.unwrap().id;
    assert_eq!(node_of(&room), "a");
    alice.join(&room, None).await.unwrap();
    bob.join(&room, None).await.unwrap();

    // The balancer now sends new connections to b, which does not hold
    // alice's session: b redirects her to a, and she resumes there.
    balancer.retarget(b.addr);
    balancer.cut();
    for n in 0..5i64 {
        bob.send_message(&room, Value::from(n)).await.unwrap();
    }
    let mut heard = Vec::new();
    while heard.len() < 5 {
        match alice.next_event_within(Duration::from_secs(10)).await {
            Some(Incoming::Event(Event::RoomMessage { data, .. })) => {
                heard.push(data.to_value().as_i64().unwrap());
            }
            Some(Incoming::Connection(vampire_client::ConnectionEvent::Lost { reason })) => {
                panic!("lost: {reason}")
            }
            Some(_) => {}
            None => panic!("only {heard:?} came"),
        }
    }
    assert_eq!(heard, (0..5).collect::<Vec<_>>());
    assert_eq!(alice.room_info(&room).await.unwrap().members, 2, "the same session, in the room");
}
