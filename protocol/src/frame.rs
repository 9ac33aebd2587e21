//! Framing: every message on a TCP connection is a frame made of a 4-byte
//! big-endian length followed by that many bytes of MessagePack.
//!
//! Encoding goes straight to a [`Bytes`] that already carries its length
//! prefix, so a broadcast is encoded once and the same buffer is cloned
//! (a reference-count bump) into every member's outbound queue.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use tokio_util::codec::LengthDelimitedCodec;

/// Size of the length prefix in bytes.
pub const LENGTH_PREFIX: usize = 4;

/// A codec for reading frames whose body may be at most `max_frame_bytes`.
///
/// A longer frame makes the decoder fail with an `InvalidData` error whose
/// text contains "frame size too big"; the caller closes the connection.
pub fn codec(max_frame_bytes: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(LENGTH_PREFIX)
        .big_endian()
        .max_frame_length(max_frame_bytes)
        .new_codec()
}

/// Encodes `message` as a complete frame (length prefix included).
///
/// Structs are encoded as MessagePack maps keyed by field name, which is
/// what clients in other languages expect.
///
/// # Errors
/// Fails only if `message` cannot be represented in MessagePack (for
/// instance a map with non-string keys inside a [`crate::Value`]).
pub fn encode<T: Serialize + ?Sized>(message: &T) -> Result<Bytes, rmp_serde::encode::Error> {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_u32(0);
    let mut writer = buf.writer();
    rmp_serde::encode::write_named(&mut writer, message)?;
    let mut buf = writer.into_inner();
    let body_len = (buf.len() - LENGTH_PREFIX) as u32;
    buf[..LENGTH_PREFIX].copy_from_slice(&body_len.to_be_bytes());
    Ok(buf.freeze())
}
