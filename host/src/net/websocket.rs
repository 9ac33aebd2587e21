//! The WebSocket transport (`enableWebSocket`, `wsPort`): for browsers
//! and other clients without raw TCP. One binary message carries one
//! protocol frame's body, without the length prefix TCP needs; the
//! session behind it is the one TCP has.
//!
//! The upgrade request is read by hyper, bounded in bytes
//! ([`UPGRADE_REQUEST_BYTES`]) and in time (`limits.handshakeTimeoutSecs`),
//! and refused with an HTTP status and a JSON body when it is not a
//! WebSocket upgrade (426), names another version (426), lacks its key
//! (400) or comes from an origin `websocket.allowedOrigins` does not list
//! (403). After it, tungstenite frames the messages: it checks client
//! masking, fragments (reassembled up to `limits.maxFrameBytes`), control
//! frames and UTF-8, and answers pings.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::debug;
use vampire_protocol::{ErrorCode, frame};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::net::connection::{FrameSink, FrameSource, Refused};
use crate::outbound::{ClientHandle, Queued};

/// Bytes of an upgrade request (request line and headers) at most;
/// hyper answers a longer one with 431. A browser's is under 2 KiB.
pub const UPGRADE_REQUEST_BYTES: usize = 8 * 1024;

/// Bytes tungstenite reads at once (and keeps as its buffer), as the TCP
/// reader does.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Bytes of encoded messages gathered before a write, as the TCP writer
/// batches.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// An accepted WebSocket connection's stream, counting what it reads.
pub(crate) type Socket<S> = WebSocketStream<Counted<S>>;

/// Answers the upgrade request on `stream` and, when it is a WebSocket
/// upgrade the configuration allows, gives the stream back as a
/// WebSocket. `None` when the request was refused (with its HTTP answer),
/// broken, too long or too slow.
pub(crate) async fn accept<S>(
    stream: S,
    config: &Config,
    metrics: Arc<Metrics>,
) -> Option<Socket<S>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (upgraded_tx, upgraded_rx) = oneshot::channel();
    let upgraded_tx = Mutex::new(Some(upgraded_tx));
    let allowed = config.websocket.clone();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let response = answer(&request, &allowed);
        if response.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(tx) = upgraded_tx.lock().unwrap_or_else(|p| p.into_inner()).take()
        {
            let _ = tx.send(hyper::upgrade::on(&mut request));
        }
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(config.limits.handshake_timeout())
        .max_buf_size(UPGRADE_REQUEST_BYTES)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    match tokio::time::timeout(config.limits.handshake_timeout(), connection).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            debug!(%err, "WebSocket upgrade failed");
            return None;
        }
        Err(_) => {
            debug!("WebSocket upgrade timed out");
            return None;
        }
    }
    let upgraded = upgraded_rx.await.ok()?.await.ok()?;
    let parts = upgraded.downcast::<TokioIo<S>>().ok()?;
    let read = Arc::new(AtomicU64::new(parts.read_buf.len() as u64));
    let counted = Counted { inner: parts.io.into_inner(), read, metrics };
    let websocket_config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(Some(config.limits.max_frame_bytes))
        .max_frame_size(Some(config.limits.max_frame_bytes));
    let part = parts.read_buf.to_vec();
    Some(
        WebSocketStream::from_partially_read(counted, part, Role::Server, Some(websocket_config))
            .await,
    )
}

/// The answer to an upgrade request: 101 with the accept key, or why not.
fn answer(
    request: &Request<Incoming>,
    allowed: &crate::config::WebSocketConfig,
) -> Response<Full<Bytes>> {
    let headers = request.headers();
    if request.method() != Method::GET {
        return refusal(StatusCode::METHOD_NOT_ALLOWED, "a WebSocket upgrade is a GET");
    }
    let upgrade = has_token(headers.get(header::CONNECTION), "upgrade")
        && has_token(headers.get(header::UPGRADE), "websocket");
    if !upgrade {
        let mut response = refusal(
            StatusCode::UPGRADE_REQUIRED,
            "this port speaks WebSocket only (Connection: Upgrade, Upgrade: websocket)",
        );
        response.headers_mut().insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return response;
    }
    if headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        let mut response =
            refusal(StatusCode::UPGRADE_REQUIRED, "only WebSocket version 13 is spoken here");
        response
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return response;
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return refusal(StatusCode::BAD_REQUEST, "the upgrade has no Sec-WebSocket-Key");
    };
    if !allowed.allows(headers.get(header::ORIGIN).map(HeaderValue::as_bytes)) {
        return refusal(StatusCode::FORBIDDEN, "pages of this origin may not connect");
    }
    let accept = derive_accept_key(key.as_bytes());
    let mut response = Response::new(Full::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let out = response.headers_mut();
    out.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        out.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Whether a comma-separated header holds `token` (any case).
fn has_token(value: Option<&HeaderValue>, token: &str) -> bool {
    value
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
}

/// An HTTP refusal with the same JSON body as the admin API's errors.
fn refusal(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"error": {"code": "bad_upgrade", "message": message}});
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // One answer per connection: a refused client starts again.
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The bytes a connection refused before the upgrade is told (the
/// server is full): an HTTP 503, since a WebSocket client reads nothing
/// else yet.
pub(crate) fn busy_response(why: &str) -> Vec<u8> {
    let body = serde_json::json!({"error": {"code": "server_busy", "message": why}}).to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A stream that counts the bytes read from it: the frame timeout needs
/// to know that a message has begun, and the metrics what came.
pub(crate) struct Counted<S> {
    inner: S,
    read: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
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

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Frames of a WebSocket: one per binary message.
pub(crate) struct MessageFrames<S> {
    stream: SplitStream<Socket<S>>,
    /// Bytes read from the socket so far.
    read: Arc<AtomicU64>,
    /// `read` when the last message was taken: more than that means the
    /// next one has begun. (A read that brings the end of one message and
    /// the start of the next counts as none begun, so such a message lives
    /// by the idle timeout.)
    read_at_message: u64,
    /// What `receive` took and `next_buffered` has not yet given.
    pending: Option<Result<Message, WsError>>,
}

/// Splits an accepted WebSocket into the connection's frame source and
/// sink.
pub(crate) fn split<S>(socket: Socket<S>) -> (MessageFrames<S>, MessageSink<S>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let read = socket.get_ref().read.clone();
    let read_at_message = read.load(Ordering::Relaxed);
    let (sink, stream) = socket.split();
    (
        MessageFrames { stream, read, read_at_message, pending: None },
        MessageSink { sink, taken: VecDeque::new() },
    )
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

/// Queued frames written as binary messages, one per frame, gathered in
/// tungstenite's write buffer and written together.
pub(crate) struct MessageSink<S> {
    sink: SplitSink<Socket<S>, Message>,
    /// Buffers taken from the queue, in order; the front one may be
    /// partly sent (its sent frames are gone from it).
    taken: VecDeque<Queued>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> FrameSink for MessageSink<S> {
    fn taken(&mut self) -> &mut VecDeque<Queued> {
        &mut self.taken
    }

    fn is_empty(&self) -> bool {
        self.taken.is_empty()
    }

    /// Hands frames to tungstenite until it wants its buffer written
    /// first and the socket is full.
    async fn write_some(&mut self, client: &ClientHandle) -> std::io::Result<()> {
        std::future::poll_fn(|cx| {
            let mut progressed = false;
            while let Some(front) = self.taken.front_mut() {
                match self.sink.poll_ready_unpin(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(io_error(err))),
                    Poll::Pending if progressed => break,
                    Poll::Pending => return Poll::Pending,
                }
                let body = next_body(&mut front.frames)?;
                client.metrics().sent(body.len() + header_bytes(body.len()));
                self.sink.start_send_unpin(Message::Binary(body)).map_err(io_error)?;
                progressed = true;
                if front.frames.is_empty() {
                    self.taken.pop_front();
                }
            }
            Poll::Ready(Ok(()))
        })
        .await
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush().await.map_err(io_error)
    }

    async fn close(&mut self) -> std::io::Result<()> {
        let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
        self.sink.send(Message::Close(Some(normal))).await.map_err(io_error)?;
        std::future::poll_fn(|cx| Pin::new(&mut self.sink).poll_close(cx)).await.or_else(|err| {
            match err {
                WsError::ConnectionClosed | WsError::AlreadyClosed => Ok(()),
                err => Err(io_error(err)),
            }
        })
    }
}

/// Takes the first length-prefixed frame off `frames` and gives its body.
///
/// # Errors
/// `InvalidData` if `frames` does not start with a whole frame (the
/// server only queues whole frames, so this is a bug).
fn next_body(frames: &mut Bytes) -> std::io::Result<Bytes> {
    let whole = frames.len() >= frame::LENGTH_PREFIX && {
        let announced = u32::from_be_bytes([frames[0], frames[1], frames[2], frames[3]]) as usize;
        frames.len() >= frame::LENGTH_PREFIX + announced
    };
    if !whole {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "a queued frame is cut"));
    }
    let announced = u32::from_be_bytes([frames[0], frames[1], frames[2], frames[3]]) as usize;
    frames.advance(frame::LENGTH_PREFIX);
    Ok(frames.split_to(announced))
}

/// Bytes of a server frame's header for a payload of `len` bytes.
fn header_bytes(len: usize) -> usize {
    match len {
        0..126 => 2,
        126..65536 => 4,
        _ => 10,
    }
}

fn io_error(err: WsError) -> std::io::Error {
    match err {
        WsError::Io(err) => err,
        err => std::io::Error::other(err),
    }
}
