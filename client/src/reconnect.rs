//! Reconnection: when the connection drops, the client dials again with
//! exponential backoff and jitter, `resume`s its session, and goes on as
//! if nothing happened: the frames it missed are replayed to it in
//! order, requests the server never read are sent again, and the
//! application sees [`ConnectionEvent`]s on the event stream.
//!
//! # What is kept
//! - [`Resumption`]: the session's resume token and the number of the last
//!   numbered frame handled (PROTOCOL.md, "Sequence numbers").
//! - [`SentLog`]: the frames written that the server may not have read
//!   (every frame after the last one answered), bounded in bytes; after a
//!   resume, those past the server's `requests_read` are written again.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use vampire_protocol::{ErrorCode, RoomId};

/// How the client reconnects after its connection drops.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// The wait before the first attempt. Default 100 ms.
    pub first_delay: Duration,
    /// The longest wait between attempts (each doubles the last). Default
    /// 5 s.
    pub max_delay: Duration,
    /// How long the client keeps trying before it gives up with
    /// [`ConnectionEvent::Lost`]. Default 30 s (the server's default
    /// `reconnect.windowSecs`: past it the session is gone).
    pub give_up_after: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            give_up_after: Duration::from_secs(30),
        }
    }
}

impl ReconnectPolicy {
    /// The wait before attempt `attempt` (1 for the first): the first
    /// delay doubled per attempt, at most `max_delay`, less up to a
    /// quarter at random so that clients cut at once do not all come back
    /// at once.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doubled = self.first_delay.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let delay = doubled.min(self.max_delay);
        let mut random = [0u8; 2];
        let _ = getrandom::fill(&mut random);
        let jitter =
            delay.mul_f64(f64::from(u16::from_le_bytes(random)) / f64::from(u16::MAX) / 4.0);
        delay - jitter
    }
}

/// What happened to the connection, on the event stream
/// ([`crate::Incoming::Connection`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// The connection dropped; attempt `attempt` to resume starts after
    /// `delay`.
    Reconnecting {
        /// 1 for the first attempt.
        attempt: u32,
        /// The wait before it.
        delay: Duration,
    },
    /// The session resumed; the `replayed` frames it missed follow.
    Reconnected {
        /// Frames replayed.
        replayed: u64,
    },
    /// The session resumed, but it missed more than the server kept: each
    /// of `rooms` sends its state (`room_state`) next.
    Resynced {
        /// The rooms the session is in.
        rooms: Vec<RoomId>,
    },
    /// The session could not be resumed; the client is closed.
    Lost {
        /// Why, in one line.
        reason: String,
    },
}

/// The session's resume token and how far the client has read.
#[derive(Debug, Default)]
pub struct Resumption {
    token: Mutex<Option<String>>,
    /// Numbered frames handled.
    seq: AtomicU64,
}

impl Resumption {
    /// The token to resume with.
    pub fn token(&self) -> Option<String> {
        lock(&self.token).clone()
    }

    /// Records the token the server gave last.
    pub fn set_token(&self, token: Option<String>) {
        if token.is_some() {
            *lock(&self.token) = token;
        }
    }

    /// The number of the last numbered frame handled.
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Counts one numbered frame handled.
    pub(crate) fn count(&self) {
        self.seq.fetch_add(1, Ordering::AcqRel);
    }

    /// Sets the count (from a `resume` result).
    pub(crate) fn set_seq(&self, seq: u64) {
        self.seq.store(seq, Ordering::Release);
    }
}

/// Bytes of frames [`SentLog`] keeps at most.
const SENT_LOG_BYTES: usize = 1024 * 1024;

/// One frame written.
#[derive(Debug)]
struct Sent {
    /// Its place among every frame the session was sent (the server's
    /// `requests_read` counts the same).
    ordinal: u64,
    /// Its request id, if it has one.
    id: Option<u32>,
    frame: Bytes,
}

/// The frames written that the server may not have read.
#[derive(Debug, Default)]
pub(crate) struct SentLog {
    frames: VecDeque<Sent>,
    bytes: usize,
    /// Frames written in all.
    written: u64,
}

impl SentLog {
    /// Records `frame` (request `id`, if any) as written next.
    pub(crate) fn push(&mut self, id: Option<u32>, frame: Bytes) {
        self.written += 1;
        self.bytes += frame.len();
        self.frames.push_back(Sent { ordinal: self.written, id, frame });
        while self.bytes > SENT_LOG_BYTES {
            let Some(oldest) = self.frames.pop_front() else { break };
            self.bytes -= oldest.frame.len();
        }
    }

    /// Request `id` was answered: the server read it and every frame
    /// before (it reads in order), so none of them is sent again.
    pub(crate) fn answered(&mut self, id: u32) {
        let Some(at) = self.frames.iter().position(|sent| sent.id == Some(id)) else { return };
        for sent in self.frames.drain(..=at) {
            self.bytes -= sent.frame.len();
        }
    }

    /// The frames after the first `read` (the server read those), to
    /// write again, in order; the log keeps them.
    pub(crate) fn unread(&mut self, read: u64) -> Vec<Bytes> {
        while self.frames.front().is_some_and(|sent| sent.ordinal <= read) {
            let sent = self.frames.pop_front().expect("checked");
            self.bytes -= sent.frame.len();
        }
        self.frames.iter().map(|sent| sent.frame.clone()).collect()
    }
}

/// Whether a connection the server closed with `farewell` (none: the
/// network or the server's end of stream) is worth resuming: not when the
/// server ended the session on purpose.
pub(crate) fn may_resume(farewell: Option<ErrorCode>) -> bool {
    matches!(farewell, None | Some(ErrorCode::Timeout | ErrorCode::SlowConsumer))
}

/// Whether a refused `resume` is worth trying again: the server may not
/// have seen the old connection drop yet.
pub(crate) fn retry_after(code: ErrorCode) -> bool {
    code == ErrorCode::SessionInUse
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_most_with_at_most_a_quarter_off() {
        let policy = ReconnectPolicy::default();
        for (attempt, full) in [(1, 100), (2, 200), (3, 400), (10, 5000)] {
            let delay = policy.delay(attempt).as_millis() as u64;
            assert!(delay <= full && delay >= full * 3 / 4, "{attempt}: {delay}");
        }
    }

    #[test]
    fn the_log_forgets_what_was_answered_and_what_the_server_read() {
        let mut log = SentLog::default();
        for id in 1..=5 {
            log.push(Some(id), Bytes::from(vec![id as u8]));
        }
        log.push(None, Bytes::from_static(b"n"));
        log.answered(2);
        assert_eq!(
            log.unread(3),
            [Bytes::from(vec![4]), Bytes::from(vec![5]), Bytes::from_static(b"n")]
        );
        assert_eq!(log.unread(6), Vec::<Bytes>::new());
    }
}
