//! MessagePack values end to end: what one client sends is what the others
//! receive, value for value and byte for byte, through variables, events,
//! relayed messages and plugin calls; and the strict decoder answers every
//! bad request with its id.

use std::sync::OnceLock;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vampire_client::{Client, CreateRoom, ErrorCode, Event, Payload, ServerMessage, Value};
use vampire_tests::{TestServer, variable, wait_for};

/// Every kind of value the protocol carries, one of each.
fn exotic_values() -> Vec<(&'static str, Value)> {
    let mut deep = Value::from("bottom");
    for _ in 0..31 {
        deep = Value::Map(vec![(Value::from("d"), deep)]);
    }
    let wide =
        Value::Map((0..1000).map(|i| (Value::from(format!("k{i}")), Value::from(i))).collect());
    vec![
        ("bin", Value::Binary((0..=255).collect())),
        ("f32", Value::F32(1.25)),
        ("nan", Value::F64(f64::NAN)),
        ("nan32", Value::F32(f32::NAN)),
        ("inf", Value::F64(f64::INFINITY)),
        ("neg_inf", Value::F64(f64::NEG_INFINITY)),
        ("u64_max", Value::from(u64::MAX)),
        ("i64_min", Value::from(i64::MIN)),
        ("ext", Value::Ext(42, vec![1, 2, 3])),
        (
            "int_keys",
            Value::Map(vec![(Value::from(1), Value::from("one")), (Value::Nil, Value::Nil)]),
        ),
        ("deep", deep),
        ("wide", wide),
    ]
}

fn bytes_of(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, value).unwrap();
    bytes
}

/// Two members of a new room of `room_type`.
async fn pair(server: &TestServer, room_type: &str) -> (Client, Client, String) {
    let a = server.client().await;
    let b = server.client().await;
    let settings = CreateRoom { room_type: Some(room_type.into()), ..CreateRoom::default() };
    let id = a.create_room(settings).await.unwrap().id;
    a.join(&id, None).await.unwrap();
    b.join(&id, None).await.unwrap();
    (a, b, id)
}

#[tokio::test]
async fn every_kind_of_value_survives_variables_and_their_events() {
    let server = TestServer::start().await;
    let (a, mut b, room) = pair(&server, "generic").await;
    for (name, value) in exotic_values() {
        let sent = Payload::from(&value);
        a.set_variable(&room, name, sent.clone(), Some(true)).await.unwrap();
        let event =
            wait_for(&mut b, |e| matches!(e, Event::VariableChanged { name: n, .. } if n == name))
                .await;
        let Event::VariableChanged { value: received, by, .. } = event else { unreachable!() };
        assert_eq!(received.as_bytes(), &bytes_of(&value)[..], "{name} in variable_changed");
        assert_eq!(by, Some(a.session()));
        let read = b.get_variable(&room, name).await.unwrap();
        assert_eq!(read.as_bytes(), sent.as_bytes(), "{name} from get_variable");
    }
    let all = b.get_variables(&room).await.unwrap();
    for (name, value) in exotic_values() {
        assert_eq!(variable(&all, name).unwrap().as_bytes(), &bytes_of(&value)[..], "{name}");
    }
    // And in a later joiner's join result.
    let late = server.client().await;
    let joined = late.join(&room, None).await.unwrap();
    assert_eq!(
        variable(&joined.variables, "nan").unwrap().as_bytes(),
        &bytes_of(&Value::F64(f64::NAN))[..]
    );
}

#[tokio::test]
async fn every_kind_of_value_is_relayed_unchanged_by_the_generic_room() {
    let server = TestServer::start().await;
    let (a, mut b, room) = pair(&server, "generic").await;
    for (name, value) in exotic_values() {
        a.send_message(&room, Payload::from(&value)).await.unwrap();
        let event = wait_for(&mut b, |e| matches!(e, Event::RoomMessage { .. })).await;
        let Event::RoomMessage { data, from, .. } = event else { unreachable!() };
        assert_eq!(from, Some(a.session()));
        assert_eq!(data.as_bytes(), &bytes_of(&value)[..], "{name}");
    }
}

#[tokio::test]
async fn nan_in_a_typed_field_is_refused_not_taken_as_absent() {
    let server = TestServer::start().await;
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    read_frame(&mut raw).await;
    let mut body = Vec::new();
    rmpv::encode::write_value(
        &mut body,
        &Value::Map(vec![
            (Value::from("id"), Value::from(5)),
            (Value::from("op"), Value::from("create_room")),
            (Value::from("max_clients"), Value::F64(f64::NAN)),
        ]),
    )
    .unwrap();
    send_frame(&mut raw, &body).await;
    match read_frame(&mut raw).await {
        ServerMessage::Error { id, code, message } => {
            assert_eq!((id, code), (Some(5), ErrorCode::InvalidRequest));
            assert!(message.contains("max_clients") && message.contains("float64"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Bad requests that are valid MessagePack, each with an id: every one is
/// answered `invalid_request` (or `unknown_operation`) with that id.
#[tokio::test]
async fn every_bad_request_with_an_id_is_answered_with_that_id() {
    let server = TestServer::start().await;
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    read_frame(&mut raw).await;
    let op = |op: &str| (Value::from("op"), Value::from(op));
    let field = |k: &str, v: Value| (Value::from(k), v);
    let cases: Vec<(Vec<(Value, Value)>, &str)> = vec![
        (vec![op("ping"), field("extra", Value::Nil)], "no field"),
        (vec![op("send_message"), field("room", Value::from("r1"))], "missing field `data`"),
        (vec![op("join"), field("room", Value::Binary(b"r1".to_vec()))], "found binary"),
        (vec![op("join"), (Value::from(7), Value::from("r1"))], "keys must be strings"),
        (
            vec![
                op("create_room"),
                field(
                    "variable_broadcast",
                    Value::Array(vec![Value::from(false), Value::from(true)]),
                ),
            ],
            "must be a map, found an array",
        ),
        (vec![op("ping"), op("ping")], "duplicate"),
        (vec![op("leave")], "missing field `room`"),
        (vec![(Value::from("op"), Value::from(3))], "`op` must be a string"),
    ];
    for (id, (mut entries, expected)) in cases.into_iter().enumerate() {
        let id = id as u32 + 100;
        entries.insert(0, (Value::from("id"), Value::from(id)));
        let mut body = Vec::new();
        rmpv::encode::write_value(&mut body, &Value::Map(entries)).unwrap();
        send_frame(&mut raw, &body).await;
        match read_frame(&mut raw).await {
            ServerMessage::Error { id: got, code, message } => {
                assert_eq!(got, Some(id), "{message}");
                assert_eq!(code, ErrorCode::InvalidRequest, "{message}");
                assert!(message.contains(expected), "{expected:?} in {message:?}");
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
    // Too deep, with its id and in its own words.
    let mut deep = Value::Nil;
    for _ in 0..40 {
        deep = Value::Array(vec![deep]);
    }
    let mut body = Vec::new();
    rmpv::encode::write_value(
        &mut body,
        &Value::Map(vec![
            (Value::from("id"), Value::from(9)),
            (Value::from("op"), Value::from("send_message")),
            (Value::from("room"), Value::from("r1")),
            (Value::from("data"), deep),
        ]),
    )
    .unwrap();
    send_frame(&mut raw, &body).await;
    match read_frame(&mut raw).await {
        ServerMessage::Error { id, code, message } => {
            assert_eq!((id, code), (Some(9), ErrorCode::InvalidRequest));
            assert!(message.contains("deeper than 32"), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

async fn send_frame(socket: &mut TcpStream, body: &[u8]) {
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    socket.write_all(&frame).await.unwrap();
}

async fn read_frame(socket: &mut TcpStream) -> ServerMessage {
    let mut len = [0u8; 4];
    socket.read_exact(&mut len).await.unwrap();
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    socket.read_exact(&mut body).await.unwrap();
    ServerMessage::decode(&body.into()).unwrap()
}

/// A server and two members of one generic room, shared by every case of
/// the property (starting a server per case would dominate the run).
struct Shared {
    runtime: tokio::runtime::Runtime,
    _server: TestServer,
    sender: Client,
    receiver: tokio::sync::Mutex<Client>,
    room: String,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let (server, sender, receiver, room) = runtime.block_on(async {
            let server = TestServer::start_with(|c| c.limits.requests_per_second = 100_000).await;
            let (a, b, room) = pair(&server, "generic").await;
            (server, a, b, room)
        });
        Shared {
            runtime,
            _server: server,
            sender,
            receiver: tokio::sync::Mutex::new(receiver),
            room,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random values of every kind, sent by one client, reach another
    /// unchanged, as a relayed message and as a variable.
    #[test]
    fn random_values_round_trip_from_one_client_to_another(value in vampire_tests::any_value()) {
        let shared = shared();
        let expected = bytes_of(&value);
        let (relayed, stored) = shared.runtime.block_on(async {
            let payload = Payload::from(&value);
            shared.sender.send_message(&shared.room, payload.clone()).await.unwrap();
            let mut receiver = shared.receiver.lock().await;
            let event = wait_for(&mut receiver, |e| matches!(e, Event::RoomMessage { .. })).await;
            let Event::RoomMessage { data, .. } = event else { unreachable!() };
            shared.sender.set_variable(&shared.room, "v", payload, Some(false)).await.unwrap();
            let stored = receiver.get_variable(&shared.room, "v").await.unwrap();
            (data, stored)
        });
        prop_assert_eq!(relayed.as_bytes(), &expected[..]);
        prop_assert_eq!(stored.as_bytes(), &expected[..]);
    }
}
