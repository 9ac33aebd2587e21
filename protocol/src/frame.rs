//! Framing: every message on a TCP connection is a frame made of a 4-byte
//! big-endian length followed by that many bytes of MessagePack.
//!
//! Frames are built in place: [`begin`] reserves the length prefix,
//! the body is written after it, and [`finish`] fills the prefix in. A
//! room appends many frames to one buffer this way and hands every member
//! the same bytes.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::LengthDelimitedCodec;

use crate::msgpack::Writer;

/// Size of the length prefix in bytes.
pub const LENGTH_PREFIX: usize = 4;

/// A codec for reading frames whose body may be at most `max_frame_bytes`
/// (for clients reading the server's frames).
///
/// A longer frame makes the decoder fail with an `InvalidData` error.
pub fn codec(max_frame_bytes: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(LENGTH_PREFIX)
        .big_endian()
        .max_frame_length(max_frame_bytes)
        .new_codec()
}

/// A frame announced longer than the reader's maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTooLarge {
    /// The announced body length.
    pub announced: usize,
}

/// Splits the next complete frame off the front of `buf` and returns its
/// body; `None` while the frame is incomplete.
///
/// # Errors
/// When the next frame announces a body longer than `max_body`: the
/// reader stops there rather than buffer it.
pub fn split(buf: &mut BytesMut, max_body: usize) -> Result<Option<Bytes>, FrameTooLarge> {
    if buf.len() < LENGTH_PREFIX {
        return Ok(None);
    }
    let announced = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if announced > max_body {
        return Err(FrameTooLarge { announced });
    }
    if buf.len() < LENGTH_PREFIX + announced {
        buf.reserve(LENGTH_PREFIX + announced - buf.len());
        return Ok(None);
    }
    buf.advance(LENGTH_PREFIX);
    Ok(Some(buf.split_to(announced).freeze()))
}

/// Starts a frame at the end of `buf`; returns where it starts, for
/// [`finish`].
pub fn begin(buf: &mut BytesMut) -> usize {
    let start = buf.len();
    buf.put_u32(0);
    start
}

/// Completes the frame that [`begin`] started at `start`: writes its
/// length prefix. Returns the body's length.
pub fn finish(buf: &mut BytesMut, start: usize) -> usize {
    let body = buf.len() - start - LENGTH_PREFIX;
    buf[start..start + LENGTH_PREFIX].copy_from_slice(&(body as u32).to_be_bytes());
    body
}

/// Builds one frame whose body `write` produces.
pub fn build(write: impl FnOnce(&mut Writer<'_, BytesMut>)) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    let start = begin(&mut buf);
    write(&mut Writer::new(&mut buf));
    finish(&mut buf, start);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_whole_and_wait_for_the_rest() {
        let mut buf = BytesMut::new();
        let a = begin(&mut buf);
        Writer::new(&mut buf).uint(7);
        finish(&mut buf, a);
        buf.extend_from_slice(&[0, 0, 0, 3, 0x01]);
        assert_eq!(split(&mut buf, 16).unwrap().unwrap()[..], [7]);
        assert_eq!(split(&mut buf, 16).unwrap(), None);
        buf.extend_from_slice(&[0x02, 0x03]);
        assert_eq!(split(&mut buf, 16).unwrap().unwrap()[..], [1, 2, 3]);
        assert!(buf.is_empty());
        buf.extend_from_slice(&[0, 0, 1, 0]);
        assert_eq!(split(&mut buf, 16), Err(FrameTooLarge { announced: 256 }));
    }
}
