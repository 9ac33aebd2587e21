//! Properties of the codecs over random inputs: every value survives as a
//! payload byte for byte, every request survives encode then decode, and
//! no byte string makes a decoder panic.

use bytes::Bytes;
use proptest::prelude::*;
use vampire_protocol::msgpack::{self, MAX_NESTING};
use vampire_protocol::{Payload, Request, RoomOp, ServerMessage, Value, frame, request};

/// Any MessagePack value: every scalar kind, and arrays and maps (with
/// string or integer keys) a few levels deep.
pub fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f32>().prop_map(Value::F32),
        any::<f64>().prop_map(Value::F64),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)]
            .prop_map(Value::F64),
        ".{0,40}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Value::Binary),
        (any::<i8>(), proptest::collection::vec(any::<u8>(), 0..20))
            .prop_map(|(t, d)| Value::Ext(t, d)),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        ".{0,12}".prop_map(Value::from),
                        any::<i32>().prop_map(Value::from)
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(Value::Map),
        ]
    })
}

fn encoded(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, value).unwrap();
    bytes
}

proptest! {
    #[test]
    fn every_value_survives_as_a_payload(value in any_value()) {
        let bytes = encoded(&value);
        let payload = Payload::from_bytes(Bytes::from(bytes.clone())).unwrap();
        prop_assert_eq!(payload.as_bytes(), &bytes[..]);
        // Compared as bytes: NaN is not equal to itself as a value.
        prop_assert_eq!(encoded(&payload.to_value()), bytes);
    }

    #[test]
    fn set_variable_requests_survive_encode_then_decode(
        value in any_value(), name in ".{0,20}", id in any::<Option<u32>>(), broadcast in any::<Option<bool>>()
    ) {
        let request = Request::room("r1", RoomOp::SetVariable {
            name,
            value: Payload::from(&value),
            broadcast,
            unreliable: None,
        });
        let mut framed = request.encode(id);
        let body = framed.split_off(frame::LENGTH_PREFIX);
        let decoded = request::decode(&body).unwrap();
        prop_assert_eq!(decoded.id, id);
        prop_assert_eq!(decoded.request, request);
    }

    #[test]
    fn no_bytes_make_the_decoders_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let bytes = Bytes::from(bytes);
        let _ = msgpack::validate(&bytes, MAX_NESTING);
        let _ = request::decode(&bytes);
        let _ = ServerMessage::decode(&bytes);
    }

    #[test]
    fn framing_splits_any_chunking_of_a_stream(cuts in proptest::collection::vec(0usize..64, 0..8)) {
        let mut stream = Vec::new();
        for n in 0..5u32 {
            let request = Request::room("r", RoomOp::GetVariable { name: "x".repeat(n as usize * 7) });
            stream.extend_from_slice(&request.encode(Some(n)));
        }
        let mut buf = bytes::BytesMut::new();
        let mut bodies = Vec::new();
        let mut rest = &stream[..];
        for cut in cuts.into_iter().chain([usize::MAX]) {
            let (chunk, tail) = rest.split_at(cut.min(rest.len()));
            buf.extend_from_slice(chunk);
            rest = tail;
            while let Some(body) = frame::split(&mut buf, 1024).unwrap() {
                bodies.push(request::decode(&body).unwrap().id);
            }
        }
        prop_assert_eq!(bodies, (0..5).map(Some).collect::<Vec<_>>());
    }
}
