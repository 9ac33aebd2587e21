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
//!
//! # Layout
//! - This module: the upgrade and its refusals.
//! - `frames`: the messages read (tungstenite), and the clocks' view of
//!   a message begun.
//! - `sink`: the frames written, batched, with tungstenite's control
//!   frames (`control`: pongs, close replies) in between.

mod control;
mod frames;
mod sink;

use std::convert::Infallible;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use governor::Quota;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::debug;

use crate::config::Config;
use crate::metrics::Metrics;
use control::Control;
pub(crate) use frames::MessageFrames;
pub(crate) use sink::MessageSink;

/// Bytes of an upgrade request (request line and headers) at most;
/// hyper answers a longer one with 431. A browser's is under 2 KiB.
pub const UPGRADE_REQUEST_BYTES: usize = 8 * 1024;

/// Bytes tungstenite reads at once (and keeps as its buffer), as the TCP
/// reader does.
const READ_BUFFER_BYTES: usize = 16 * 1024;

/// Answers the upgrade request on `stream` and, when it is a WebSocket
/// upgrade the configuration allows, gives the connection's frame source
/// and sink over it. `None` when the request was refused (with its HTTP answer),
/// broken, too long or too slow.
pub(crate) async fn accept<S>(
    stream: S,
    config: &Config,
    metrics: Arc<Metrics>,
) -> Option<(MessageFrames<S>, MessageSink<S>)>
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
    Some(open(parts.io.into_inner(), parts.read_buf.to_vec(), config, metrics).await)
}

/// The connection's frame source and sink over an upgraded stream, whose
/// first bytes (`part`) hyper had already read: tungstenite reads the
/// messages; the sink writes the frames itself, in batches, as the TCP
/// writer does (tungstenite's writer, message by message, cost more than a
/// quarter of the server's time under a broadcast load).
async fn open<S>(
    stream: S,
    part: Vec<u8>,
    config: &Config,
    metrics: Arc<Metrics>,
) -> (MessageFrames<S>, MessageSink<S>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (read, write) = tokio::io::split(stream);
    let control = Arc::new(Control::default());
    let websocket_config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(config.limits.max_frame_bytes))
        .max_frame_size(Some(config.limits.max_frame_bytes));
    let limits = &config.limits;
    let per_second = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
    let pings = Quota::per_second(per_second)
        .allow_burst(NonZeroU32::new(limits.request_burst).unwrap_or(per_second));
    let frames =
        MessageFrames::new(read, part, websocket_config, pings, metrics, control.clone()).await;
    (frames, MessageSink::new(write, control))
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
