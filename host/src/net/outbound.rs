//! [`ClientHandle`]: how rooms and the session reach one connection.
//!
//! Every connection has a bounded queue of encoded frames drained by its
//! writer task. Senders never wait: a frame that does not fit means the
//! client reads too slowly, and it is disconnected with `slow_consumer`
//! instead of holding up the room that sent it.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tracing::warn;
use vampire_protocol::{ErrorCode, ServerMessage, SessionId, frame};

/// A cheap, cloneable handle on one connection's outbound side.
#[derive(Clone, Debug)]
pub struct ClientHandle {
    session: SessionId,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Encoded frames waiting for the writer task.
    queue: mpsc::Sender<Bytes>,
    /// Cancelled when the connection is to close, for any reason.
    closing: CancellationToken,
    /// The frame the writer sends last when the server closes the
    /// connection on purpose (an `error` message with a nil id).
    farewell: OnceLock<Bytes>,
}

impl ClientHandle {
    /// A handle for `session` and the receiving end its writer drains.
    pub fn new(session: SessionId, queue_frames: usize) -> (ClientHandle, mpsc::Receiver<Bytes>) {
        let (queue, receiver) = mpsc::channel(queue_frames);
        let shared = Arc::new(Shared {
            queue,
            closing: CancellationToken::new(),
            farewell: OnceLock::new(),
        });
        (ClientHandle { session, shared }, receiver)
    }

    /// The connection's session id.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Queues an encoded frame. Returns `false` when the connection is
    /// closing or was just closed because its queue is full.
    pub fn send(&self, frame: Bytes) -> bool {
        match self.shared.queue.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                warn!(session = self.session, "outbound queue full, disconnecting slow client");
                self.close_with(
                    ErrorCode::SlowConsumer,
                    "outbound queue full: the client reads too slowly",
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Encodes and queues `message`; see [`ClientHandle::send`].
    pub fn send_message(&self, message: &ServerMessage) -> bool {
        match frame::encode(message) {
            Ok(bytes) => self.send(bytes),
            Err(err) => {
                warn!(session = self.session, %err, "cannot encode a message for a client");
                false
            }
        }
    }

    /// Closes the connection after telling the client why (the first
    /// reason given wins).
    pub fn close_with(&self, code: ErrorCode, message: &str) {
        let farewell = ServerMessage::Error { id: None, code, message: message.to_owned() };
        if let Ok(bytes) = frame::encode(&farewell) {
            let _ = self.shared.farewell.set(bytes);
        }
        self.shared.closing.cancel();
    }

    /// Closes the connection without a message, after the frames already
    /// queued are written.
    pub fn close(&self) {
        self.shared.closing.cancel();
    }

    /// Completes once the connection is closing.
    pub fn closing(&self) -> WaitForCancellationFuture<'_> {
        self.shared.closing.cancelled()
    }

    /// The farewell frame, if the server closed the connection on purpose.
    pub(crate) fn farewell(&self) -> Option<&Bytes> {
        self.shared.farewell.get()
    }
}
