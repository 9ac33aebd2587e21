//! [`Link`]: one connection serving a session. A session outlives its
//! connections (`reconnect`), so what belongs to the connection (whether
//! it is closing, the farewell its writer sends) lives here, one `Link`
//! per connection, and what belongs to the session in the
//! [`crate::outbound::ClientHandle`].

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use vampire_protocol::{ErrorCode, server};

/// One connection's closing state.
#[derive(Debug, Default)]
pub struct Link {
    /// Set when the connection is to close, for any reason: an atomic
    /// load, because the writer checks it on every turn.
    closed: AtomicBool,
    /// Cancelled at the same moment as `closed` is set, for the tasks that
    /// wait for it.
    closing: CancellationToken,
    /// The frame the writer sends last when the server closes the
    /// connection on purpose, and its code.
    farewell: OnceLock<(ErrorCode, Bytes)>,
    /// The connection goes on serving another session (a `resume`): its
    /// writer stops without closing the socket.
    handed_over: AtomicBool,
}

impl Link {
    /// A live connection.
    pub fn new() -> Link {
        Link::default()
    }

    /// Closes the connection after telling the client why (the first
    /// reason given wins); returns whether this was the first.
    pub fn close_with(&self, code: ErrorCode, message: &str) -> bool {
        let mut buf = BytesMut::with_capacity(64 + message.len());
        server::write_farewell(&mut buf, code, message);
        let first = self.farewell.set((code, buf.freeze())).is_ok();
        self.close();
        first
    }

    /// Closes the connection without a message, after the frames already
    /// queued are written.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.closing.cancel();
    }

    /// Stops this link's writer so that the connection can serve a
    /// resumed session: it writes what was queued and gives the socket
    /// back, unclosed.
    pub fn hand_over(&self) {
        self.handed_over.store(true, Ordering::Release);
        self.close();
    }

    /// Whether [`Link::hand_over`] was called.
    pub(crate) fn is_handed_over(&self) -> bool {
        self.handed_over.load(Ordering::Acquire)
    }

    /// Whether the connection is closing.
    pub fn is_closing(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Completes once the connection is closing.
    pub fn closing(&self) -> WaitForCancellationFutureOwned {
        self.closing.clone().cancelled_owned()
    }

    /// The farewell frame, if the server closed the connection on purpose.
    pub(crate) fn farewell(&self) -> Option<&Bytes> {
        self.farewell.get().map(|(_, frame)| frame)
    }

    /// The farewell's code, if the server closed the connection on purpose.
    pub fn farewell_code(&self) -> Option<ErrorCode> {
        self.farewell.get().map(|(code, _)| *code)
    }
}
