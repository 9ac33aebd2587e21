//! The request decoder on any bytes: it never panics, an accepted request
//! encodes back to bytes that decode to the same request, and a refusal
//! is one line.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vampire_protocol::{frame, request};

fuzz_target!(|data: &[u8]| {
    match request::decode(&Bytes::copy_from_slice(data)) {
        Ok(decoded) => {
            let mut again = decoded.request.encode(decoded.id);
            let body = again.split_off(frame::LENGTH_PREFIX);
            assert_eq!(request::decode(&body).expect("re-encoded requests decode"), decoded);
        }
        Err(rejected) => assert!(!rejected.message.contains('\n')),
    }
});
