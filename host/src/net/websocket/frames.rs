//! Frames of a WebSocket: one per binary message, read by tungstenite
//! from the read half of the connection.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf, ReadHalf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use vampire_protocol::ErrorCode;

use super::control::Control;
use crate::metrics::Metrics;
use crate::net::connection::{FrameSource, Refused};

/// The read half as tungstenite sees it: what it reads is counted (the
/// frame timeout needs to know that a message has begun, the metrics what
/// came); what it writes (pongs, close replies) goes to the writer
/// through [`Control`].
pub(crate) struct ReadSide<S> {
    inner: ReadHalf<S>,
    read: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
    control: Arc<Control>,
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadSide<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        this.read.fetch_add(read as u64, Ordering::Relaxed);
        this.metrics.received(read);
        Poll::Ready(Ok(()))
    }
}

impl<S> AsyncWrite for ReadSide<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        frames: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.control.push(frames) {
            Poll::Ready(Ok(frames.len()))
        } else {
            Poll::Ready(Err(std::io::Error::other("the client does not read its pongs")))
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Frames of a WebSocket: one per binary message.
pub(crate) struct MessageFrames<S> {
    stream: WebSocketStream<ReadSide<S>>,
    /// Bytes read from the socket so far.
    read: Arc<AtomicU64>,
    /// `read` when the last message was taken: more than that means the
    /// next one has begun. (A read that brings the end of one message and
    /// the start of the next counts as none begun, so such a message lives
    /// by the idle timeout.)
    read_at_message: u64,
    /// What `receive` took and `next_buffered` has not yet given.
    pending: Option<Result<Message, WsError>>,
    /// Pings are answered by tungstenite without the session seeing
    /// them, so they have a rate limit of their own: the requests' one.
    pings: DefaultDirectRateLimiter,
}

impl<S: AsyncRead + AsyncWrite + Unpin> MessageFrames<S> {
    /// Messages of `read`, whose first bytes (`part`) were read already.
    pub(crate) async fn new(
        read: ReadHalf<S>,
        part: Vec<u8>,
        config: WebSocketConfig,
        pings: Quota,
        metrics: Arc<Metrics>,
        control: Arc<Control>,
    ) -> Self {
        let counter = Arc::new(AtomicU64::new(part.len() as u64));
        let side = ReadSide { inner: read, read: counter.clone(), metrics, control };
        let stream =
            WebSocketStream::from_partially_read(side, part, Role::Server, Some(config)).await;
        let read_at_message = counter.load(Ordering::Relaxed);
        let pings = RateLimiter::direct(pings);
        MessageFrames { stream, read: counter, read_at_message, pending: None, pings }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> FrameSource for MessageFrames<S> {
    fn next_buffered(&mut self) -> Result<Option<Bytes>, Refused> {
        match self.pending.take() {
            None => Ok(None),
            Some(Ok(Message::Binary(body))) => Ok(Some(body)),
            Some(Ok(Message::Text(_))) => Err(Refused {
                code: ErrorCode::InvalidFrame,
                message: "text messages are not accepted: send each frame as one binary message"
                    .to_owned(),
            }),
            Some(Ok(Message::Ping(_))) if self.pings.check().is_err() => Err(Refused {
                code: ErrorCode::RateLimited,
                message: "pings come faster than the server's request rate limit".to_owned(),
            }),
            // Pings are answered by tungstenite; pongs need nothing.
            Some(Ok(_)) => Ok(None),
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                Err(Refused {
                    code: ErrorCode::FrameTooLarge,
                    message: format!(
                        "a message of {size} bytes is longer than the server's maximum of {max_size}"
                    ),
                })
            }
            Some(Err(err)) => Err(Refused {
                code: ErrorCode::InvalidFrame,
                message: format!("not a valid WebSocket message: {err}"),
            }),
        }
    }

    /// Completes with a message, or as soon as bytes of an unfinished one
    /// come (so the reader's clocks see that a message has begun).
    async fn receive(&mut self) -> std::io::Result<bool> {
        let before = self.read.load(Ordering::Relaxed);
        let next = std::future::poll_fn(|cx| match self.stream.poll_next_unpin(cx) {
            Poll::Ready(next) => Poll::Ready(Some(next)),
            Poll::Pending if self.read.load(Ordering::Relaxed) != before => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        })
        .await;
        let Some(next) = next else { return Ok(true) };
        self.read_at_message = self.read.load(Ordering::Relaxed);
        match next {
            None | Some(Ok(Message::Close(_))) => Ok(false),
            Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => Ok(false),
            // The socket ended without a close frame: the network dropped
            // the connection (or the client died), which holds the session
            // for a resume rather than refusing the client.
            Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => Ok(false),
            Some(Err(WsError::Io(err))) => Err(err),
            Some(other) => {
                self.pending = Some(other);
                Ok(true)
            }
        }
    }

    fn mid_frame(&self) -> bool {
        self.read.load(Ordering::Relaxed) != self.read_at_message
    }
}
