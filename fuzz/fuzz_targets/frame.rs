//! The frame splitter, fed a byte stream in pieces of any size: it never
//! panics, never yields a body over the maximum, and yields the same
//! bodies whatever the pieces.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use vampire_protocol::frame;

const MAX: usize = 4096;

fn bodies(stream: &[u8], piece: usize) -> Vec<Vec<u8>> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(piece.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match frame::split(&mut buf, MAX) {
                Ok(Some(body)) => {
                    assert!(body.len() <= MAX);
                    out.push(body.to_vec());
                }
                Ok(None) => break,
                Err(_) => return out,
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&piece, stream)) = data.split_first() else { return };
    assert_eq!(bodies(stream, usize::from(piece)), bodies(stream, stream.len()));
});
