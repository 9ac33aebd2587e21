//! The chat scenario's message and clock, shared by its TCP clients
//! (`load`) and its WebSocket clients (`websocket`): the 64-byte payload
//! with a timestamp at a fixed place, finding that timestamp in what
//! arrives, and the window the run measures.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use vampire_protocol::msgpack::Writer;

/// Padding that makes the chat payload `{"t": u64, "p": "x…"}` 64 bytes
/// of MessagePack.
pub const PADDING: usize = 48;

/// Bytes from the end of a `room_message` frame carrying a chat payload to
/// its timestamp: the payload ends the frame, and is `0x82, "t", 0xcf,
/// t (8 bytes), "p", 0xd9 48, 48 bytes of padding`.
pub(crate) const STAMP_FROM_END: usize = 8 + 2 + 2 + PADDING;

/// The chat payload with timestamp `t`, always with `t` as a full u64 so
/// that its position is fixed.
pub fn chat_payload(t: u64) -> Vec<u8> {
    let mut payload = Vec::with_capacity(64);
    payload.extend_from_slice(&[0x82, 0xa1, b't', 0xcf]);
    payload.extend_from_slice(&t.to_be_bytes());
    Writer::new(&mut payload).str("p").str(&"x".repeat(PADDING));
    debug_assert_eq!(payload.len(), 64);
    payload
}

/// The timestamp of a chat message in a frame body, if the body is a
/// `room_message` carrying a chat payload.
///
/// A server that relays the payload's bytes leaves the timestamp at its
/// fixed place. One that rebuilds the payload (VampireTCP before it carried
/// payloads as bytes did) may reorder its keys and shorten the integer, so
/// that case falls back to finding the `"t"` key.
pub(crate) fn stamp_of(body: &[u8]) -> Option<u64> {
    let at = body.len().checked_sub(STAMP_FROM_END)?;
    if at >= 4 && body[at - 4..at] == [0x82, 0xa1, b't', 0xcf] {
        return Some(u64::from_be_bytes(body[at..at + 8].try_into().ok()?));
    }
    let key = body.windows(2).rposition(|w| w == [0xa1, b't'])?;
    vampire_protocol::msgpack::Reader::new(&body[key + 2..]).u64().ok()
}

/// Shared clock and counters of one chat run.
pub(crate) struct Window {
    pub(crate) base: Instant,
    /// Nanoseconds since `base`: the window is `[start, end)`.
    pub(crate) start: AtomicU64,
    /// See `start`.
    pub(crate) end: AtomicU64,
    /// Set when the senders should stop.
    pub(crate) stop: AtomicBool,
    /// Messages sent in the window.
    pub(crate) sent: AtomicU64,
}

impl Window {
    /// Nanoseconds since the run began.
    pub(crate) fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Whether `t` is in the measured window.
    pub(crate) fn contains(&self, t: u64) -> bool {
        t >= self.start.load(Ordering::Relaxed) && t < self.end.load(Ordering::Relaxed)
    }
}
