//! The decoder of a plugin hook's reply, on any bytes a guest could
//! return: it never panics, and what it accepts is one valid value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vampire_protocol::msgpack;
use vampiretcp::plugins::abi::decode_reply;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = decode_reply(data) {
        msgpack::validate(value.as_bytes(), msgpack::MAX_NESTING).expect("a valid value");
    }
});
