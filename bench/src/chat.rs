//! The chat scenario's message and clock, shared by its TCP clients
//! (`load`) and its WebSocket clients (`websocket`): the 64-byte payload
//! with a timestamp at a fixed place, finding that timestamp in what
//! arrives, the window the run measures, and one client's loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vampire_protocol::msgpack::Writer;

use crate::stats;

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

/// The message a chat client sends, encoded once for its transport, and
/// where its timestamp goes.
pub(crate) struct Outgoing {
    /// The whole message as it goes on the wire.
    pub(crate) message: Vec<u8>,
    /// Where the 8 timestamp bytes start in it.
    pub(crate) stamp_at: usize,
    /// The mask the timestamp's bytes are XORed with (zeros on TCP) and
    /// the mask's index at the first of them.
    pub(crate) mask: [u8; 4],
    pub(crate) mask_at: usize,
    /// Encodes an `ack` of a frame count for the transport; none when the
    /// server keeps nothing for a resume.
    pub(crate) ack: Option<fn(u64) -> Vec<u8>>,
}

impl Outgoing {
    fn stamp(&mut self, t: u64) {
        for (i, byte) in t.to_be_bytes().iter().enumerate() {
            self.message[self.stamp_at + i] = byte ^ self.mask[(self.mask_at + i) % 4];
        }
    }
}

/// One chat client over `socket`: sends `outgoing` every `period` (the
/// first after `offset`) and records the latency of every message of the
/// window it receives (`split` takes the next whole message's body out of
/// the read buffer), until a second after the senders stop. With
/// `outgoing.ack` (the server keeps the session's frames for a resume), it
/// acknowledges the frames it handled every [`vampire_client::ACK_EVERY`],
/// as the Rust client does.
pub(crate) async fn client(
    mut socket: TcpStream,
    mut buf: BytesMut,
    mut outgoing: Outgoing,
    split: fn(&mut BytesMut) -> Option<Bytes>,
    period: Duration,
    offset: Duration,
    window: Arc<Window>,
) -> Histogram<u64> {
    let mut histogram = stats::latency_histogram();
    // Frames are counted from here on, not from the welcome: an ack below
    // the session's true count is still true, it only lets the server drop
    // a few frames later.
    let (mut handled, mut acked) = (0u64, 0u64);
    let mut acks = tokio::time::interval(vampire_client::ACK_EVERY);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    // Missed ticks are skipped, not bunched: the offered rate stays honest
    // and what a saturated client could not send shows as a lower rate.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sending = true;
    let mut grace_end: Option<tokio::time::Instant> = None;
    loop {
        if sending && window.stop.load(Ordering::Relaxed) {
            sending = false;
            grace_end = Some(tokio::time::Instant::now() + Duration::from_secs(1));
        }
        let grace = async {
            match grace_end {
                Some(end) => tokio::time::sleep_until(end).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            read = socket.read_buf(&mut buf) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let now = window.now();
                while let Some(body) = split(&mut buf) {
                    handled += 1;
                    if let Some(t) = stamp_of(&body)
                        && window.contains(t)
                    {
                        stats::record(&mut histogram, Duration::from_nanos(now.saturating_sub(t)));
                    }
                }
                if buf.capacity() - buf.len() < 16 * 1024 {
                    buf.reserve(64 * 1024);
                }
            }
            _ = ticks.tick(), if sending => {
                let t = window.now();
                outgoing.stamp(t);
                if window.contains(t) {
                    window.sent.fetch_add(1, Ordering::Relaxed);
                }
                if socket.write_all(&outgoing.message).await.is_err() {
                    break;
                }
            }
            _ = acks.tick(), if outgoing.ack.is_some() && handled > acked => {
                acked = handled;
                let frame = outgoing.ack.expect("checked")(acked);
                if socket.write_all(&frame).await.is_err() {
                    break;
                }
            }
            () = grace => break,
        }
    }
    histogram
}
