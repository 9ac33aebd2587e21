//! Properties of the codecs over random inputs: every value survives as a
//! payload byte for byte, every request survives encode then decode, and
//! no byte string makes a decoder panic.

use bytes::Bytes;
use proptest::prelude::*;

use crate::msgpack::{self, MAX_NESTING};
use crate::strategies::any_value;
use crate::{Payload, Request, RoomOp, ServerMessage, Value, frame, request};

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
