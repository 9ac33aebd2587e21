//! The control frames tungstenite writes while it reads (pongs, the reply
//! to a client's close), handed to the connection's writer, which sends
//! them between whole frames of its own.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Bytes of control frames held for the writer at most. A pong or a close
/// is at most 127 bytes; a client that keeps pinging without reading the
/// pongs passes this and its connection fails.
pub(super) const CONTROL_BYTES: usize = 4096;

/// Control frames on their way from the reader to the writer.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Whole frames, in the order tungstenite wrote them.
    bytes: Mutex<Vec<u8>>,
    /// Whether `bytes` may hold something (checked without the lock).
    pending: AtomicBool,
    /// Set once a close frame was among them: the writer sends no close
    /// of its own after the reply.
    close_sent: AtomicBool,
    /// Wakes the writer.
    wake: Notify,
}

impl Control {
    /// Takes `frames` for the writer and wakes it.
    ///
    /// # Errors
    /// `false` when that would hold more than [`CONTROL_BYTES`].
    pub(super) fn push(&self, frames: &[u8]) -> bool {
        let mut bytes = self.bytes.lock().unwrap_or_else(|p| p.into_inner());
        if bytes.len() + frames.len() > CONTROL_BYTES {
            return false;
        }
        if frames.first() == Some(&0x88) {
            self.close_sent.store(true, Ordering::Relaxed);
        }
        bytes.extend_from_slice(frames);
        self.pending.store(true, Ordering::Release);
        drop(bytes);
        self.wake.notify_one();
        true
    }

    /// Whether frames wait for the writer.
    pub(super) fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Moves the waiting frames to the end of `into`.
    pub(super) fn take_into(&self, into: &mut Vec<u8>) {
        if !self.is_pending() {
            return;
        }
        let mut bytes = self.bytes.lock().unwrap_or_else(|p| p.into_inner());
        into.extend_from_slice(&bytes);
        bytes.clear();
        self.pending.store(false, Ordering::Release);
    }

    /// Whether tungstenite already answered a client's close.
    pub(super) fn close_sent(&self) -> bool {
        self.close_sent.load(Ordering::Relaxed)
    }

    /// Completes when frames were pushed since the last wait.
    pub(super) async fn pushed(&self) {
        self.wake.notified().await;
    }
}
