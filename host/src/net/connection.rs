//! One connection, whatever its transport: a reader loop (this task) that
//! takes whole frames from a [`FrameSource`] and runs them in order, and a
//! writer task that drains the client's outbound queue into a
//! [`FrameSink`]. The transports ([`crate::net::stream`] for TCP and TLS,
//! [`crate::net::websocket`]) only move frames: the session, its limits
//! and its clocks are the same on every one.
//!
//! The reader enforces the connection's clocks: the first frame must come
//! within `limits.handshakeTimeoutSecs`, a frame once begun must be
//! complete within `limits.frameTimeoutSecs`, and some frame must come
//! every `limits.idleTimeoutSecs` (clients send `ping`). A connection
//! that breaks one is closed with `timeout`, so silent or half-open
//! sockets never hold a place for long.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};
use vampire_protocol::{ErrorCode, PROTOCOL_VERSION, SessionId, Welcome, server};

use crate::net::NetContext;
use crate::net::session::Session;
use crate::net::sessions::Ending;
use crate::outbound::{ClientHandle, Link, Queued};

/// How long the writer may spend on a farewell or on the last queued
/// frames once the connection is closing.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Why a transport stopped reading a connection that is still open: the
/// error the client is told before it is closed.
#[derive(Debug)]
pub(crate) struct Refused {
    /// The code of the farewell.
    pub code: ErrorCode,
    /// Its message.
    pub message: String,
}

/// Where a connection's frames come from: each a protocol frame's body
/// (a MessagePack request), whatever framed it on the wire.
pub(crate) trait FrameSource: Send {
    /// The next frame already received, without waiting.
    ///
    /// # Errors
    /// When what came breaks the transport's rules (a frame over
    /// `limits.maxFrameBytes`, a text message, a protocol violation): the
    /// connection is closed with the [`Refused`] reason.
    fn next_buffered(&mut self) -> Result<Option<Bytes>, Refused>;

    /// Waits for more from the client. Cancel-safe: nothing received is
    /// lost when the future is dropped. `Ok(false)` when the client closed
    /// the connection.
    ///
    /// # Errors
    /// Any error of the socket.
    fn receive(&mut self) -> impl Future<Output = std::io::Result<bool>> + Send;

    /// Whether part of a frame has come and the rest not yet.
    fn mid_frame(&self) -> bool;
}

/// Where a connection's outbound frames go: queued buffers, each one or
/// more length-prefixed frames, in order.
pub(crate) trait FrameSink: Send + 'static {
    /// Buffers taken from the queue and not yet started.
    fn taken(&mut self) -> &mut VecDeque<Queued>;

    /// Whether everything taken has been written.
    fn is_empty(&self) -> bool;

    /// Writes some of what was taken (as much as one system call takes).
    /// Cancel-safe: what is not written stays, in order.
    ///
    /// # Errors
    /// Any error of the socket.
    fn write_some(
        &mut self,
        client: &ClientHandle,
    ) -> impl Future<Output = std::io::Result<()>> + Send;

    /// The writer is about to wait with everything written: buffers sized
    /// for a burst are let go, so a quiet connection holds none (a
    /// connection's bursts are far apart next to what a buffer costs to
    /// make). Default: nothing to let go.
    fn idle(&mut self) {}

    /// Completes when the sink has something of its own to write (a
    /// WebSocket's pong) though nothing was queued. Default: never.
    fn wanted(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// Flushes what the sink buffered.
    ///
    /// # Errors
    /// Any error of the socket.
    fn flush(&mut self) -> impl Future<Output = std::io::Result<()>> + Send;

    /// Ends the connection in the transport's way (a TCP FIN; a
    /// WebSocket close frame, then the FIN).
    ///
    /// # Errors
    /// Any error of the socket.
    fn close(&mut self) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// One `write` call of `bytes` to `socket`, counted in the client's
/// metrics: how many were written. For the sinks of every transport.
///
/// # Errors
/// Any error of the socket; `WriteZero` when it takes nothing.
pub(crate) async fn write_counted<W: AsyncWrite + Unpin>(
    socket: &mut W,
    bytes: &[u8],
    client: &ClientHandle,
) -> std::io::Result<usize> {
    let written = socket.write(bytes).await?;
    if written == 0 {
        return Err(std::io::ErrorKind::WriteZero.into());
    }
    client.metrics().sent(written);
    Ok(written)
}

/// Serves one connection until the client leaves, the server closes it
/// (bad frame, slow reader, timeout) or the server shuts down.
pub(crate) async fn serve<S: FrameSource, K: FrameSink>(
    mut source: S,
    sink: K,
    session_id: SessionId,
    peer: std::net::SocketAddr,
    context: Arc<NetContext>,
    shutdown: CancellationToken,
) {
    let metrics = context.metrics.clone();
    let mut client = ClientHandle::new(session_id, peer, context.client_limits(), metrics.clone());
    let mut link = client.link().expect("a new session has its connection");
    let token = context.sessions.issue(&client);
    metrics.connections_open(1);
    let mut writer = tokio::spawn(write_loop(sink, client.clone(), link.clone()));
    let limits = &context.config.limits;

    let mut welcome = BytesMut::new();
    server::write_welcome(
        &mut welcome,
        &Welcome {
            protocol: PROTOCOL_VERSION,
            session: session_id,
            server: concat!("vampiretcp/", env!("CARGO_PKG_VERSION")).to_owned(),
            idle_timeout_ms: limits.idle_timeout().as_millis() as u64,
            auth_required: context.auth.is_some(),
            resume_token: token.clone(),
        },
    );
    client.send_unnumbered(welcome.freeze());

    let mut session = Session::new(client.clone(), token, context.clone(), peer.ip());
    let started = Instant::now();
    let mut last_frame: Option<Instant> = None;
    let mut partial_since: Option<Instant> = None;
    // Built once and polled on every turn: a future made anew per read
    // would register with its source (a lock each) per read.
    let server_shutdown = shutdown.cancelled();
    let mut closing = Box::pin(link.closing());
    let timeout = tokio::time::sleep_until(started + limits.handshake_timeout());
    tokio::pin!(server_shutdown, timeout);
    'connection: loop {
        loop {
            match source.next_buffered() {
                Ok(Some(body)) => {
                    last_frame = Some(Instant::now());
                    partial_since = None;
                    // Boxed: a request's future holds the deepest
                    // operation's state, and inline it would make every
                    // connection's task that size while it waits.
                    Box::pin(session.handle_frame(&body)).await;
                    if let Some((resumed, resumed_link)) = session.take_handover() {
                        // The writer moves to the session taken back, with
                        // the same socket.
                        link.hand_over();
                        client.wake_writer();
                        let Ok(Some(sink)) = writer.await else {
                            resumed_link.close();
                            (client, link) = (resumed, resumed_link);
                            writer = tokio::spawn(std::future::ready(None));
                            break 'connection;
                        };
                        (client, link) = (resumed, resumed_link);
                        closing = Box::pin(link.closing());
                        writer = tokio::spawn(write_loop(sink, client.clone(), link.clone()));
                    }
                }
                Ok(None) => break,
                Err(refused) => {
                    info!(session = session_id, code = %refused.code, "closing: {}", refused.message);
                    client.close_with(refused.code, &refused.message);
                    break 'connection;
                }
            }
        }
        if !source.mid_frame() {
            partial_since = None;
        } else if partial_since.is_none() {
            partial_since = Some(Instant::now());
        }
        let (deadline, why) =
            deadline(started, last_frame, partial_since, session.is_authenticated(), limits);
        // The timer is only ever moved earlier here; when it fires before
        // the real deadline (a frame came since it was set), it is moved
        // on then. Moving it on every frame would cost a timer update per
        // frame.
        if deadline < timeout.deadline() {
            timeout.as_mut().reset(deadline);
        }
        tokio::select! {
            biased;
            () = &mut server_shutdown => {
                let farewell = context.farewell.get().copied();
                client.close_with(
                    ErrorCode::ServerShutdown,
                    farewell.unwrap_or("the server is shutting down"),
                );
                break;
            }
            () = &mut closing => break,
            received = source.receive() => match received {
                Ok(true) => {}
                Ok(false) if source.mid_frame() => {
                    info!(session = session_id, "connection ended in the middle of a frame");
                    break;
                }
                Ok(false) => {
                    debug!(session = session_id, "client closed the connection");
                    break;
                }
                Err(err) => {
                    debug!(session = session_id, %err, "read failed");
                    break;
                }
            },
            () = &mut timeout => {
                if Instant::now() < deadline {
                    timeout.as_mut().reset(deadline);
                    continue;
                }
                info!(session = session_id, "closing: {why}");
                client.close_with(ErrorCode::Timeout, why);
                break;
            }
        }
    }
    let ending = match session.ending() {
        Ending::Closed => Ending::Closed,
        _ if !session.is_authenticated() => Ending::Refused,
        _ => Ending::from_farewell(link.farewell_code()),
    };
    link.close();
    client.wake_writer();
    // The rooms hear of it now, not after the writer's farewell (which may
    // wait for a socket that does not drain).
    // Boxed, as the request's future above: run once, they need not be
    // held by every connection's task while it lives.
    let sessions = context.sessions.clone();
    Box::pin(sessions.connection_ended(&client, &link, session.token(), ending)).await;
    Box::pin(context.matchmaker.connection_ended(client.session())).await;
    let _ = writer.await;
    client.writer_done(&link);
    metrics.connections_open(-1);
    debug!(session = session_id, "connection closed");
}

/// When the connection times out, and the reason it will be told. Until
/// it has authenticated, a connection lives by the handshake timeout
/// alone, however many frames it sends.
fn deadline(
    started: Instant,
    last_frame: Option<Instant>,
    partial_since: Option<Instant>,
    authenticated: bool,
    limits: &crate::config::Limits,
) -> (Instant, &'static str) {
    let (mut deadline, mut why) = match last_frame {
        Some(_) if !authenticated => {
            (started + limits.handshake_timeout(), "no authentication came in time")
        }
        None => (started + limits.handshake_timeout(), "no request came in time after connecting"),
        Some(last) => {
            (last + limits.idle_timeout(), "the connection was idle too long (send ping)")
        }
    };
    if let Some(since) = partial_since {
        let frame_deadline = since + limits.frame_timeout();
        if frame_deadline < deadline {
            (deadline, why) = (frame_deadline, "a frame took too long to arrive");
        }
    }
    (deadline, why)
}

/// Writes queued frames until the connection closes. Whatever is queued
/// when the writer wakes goes out together, in as few system calls as the
/// sink allows, and the writer only waits when the socket is full.
///
/// Once the connection is closing, the writer spends at most
/// [`CLOSE_GRACE`] finishing what it was writing and saying goodbye, so a
/// client that stopped reading cannot hold the connection's tasks.
///
/// Returns the sink, unclosed, when the connection was handed over to a
/// resumed session ([`Link::hand_over`]), after writing what was queued.
async fn write_loop<K: FrameSink>(mut sink: K, client: ClientHandle, link: Arc<Link>) -> Option<K> {
    loop {
        if link.is_closing() {
            break;
        }
        client.take_queued(&link, sink.taken());
        if sink.is_empty() {
            sink.idle();
            // Woken by the first frame queued, the connection closing, or
            // the sink's own need.
            tokio::select! {
                () = client.queued() => {}
                () = sink.wanted() => {}
            }
            continue;
        }
        match write_until_closing(&mut sink, &client, &link).await {
            Ok(Written::All) => {}
            Ok(Written::Closing) => break,
            Err(_) => {
                link.close();
                return None;
            }
        }
        // A writer that always finds more queued must still let the other
        // tasks on its thread run.
        tokio::task::consume_budget().await;
    }
    // The endings are boxed: each holds a timer, and inline they would
    // make every connection's writer task larger for all its life.
    if link.is_handed_over() {
        client.take_queued(&link, sink.taken());
        let written =
            Box::pin(tokio::time::timeout(CLOSE_GRACE, write_all(&mut sink, &client))).await;
        return matches!(written, Ok(Ok(()))).then_some(sink);
    }
    let goodbye = async {
        // Finish what was being written, so the farewell that follows is
        // framed correctly.
        write_all(&mut sink, &client).await?;
        match link.farewell() {
            // Closed on purpose: the reason, not the backlog, is what the
            // client needs.
            Some(farewell) => sink.taken().push_back(farewell.clone().into()),
            None => client.take_queued(&link, sink.taken()),
        }
        write_all(&mut sink, &client).await?;
        sink.close().await
    };
    let _ = Box::pin(tokio::time::timeout(CLOSE_GRACE, goodbye)).await;
    None
}

/// How [`write_until_closing`] ended without an error.
enum Written {
    /// Everything was written.
    All,
    /// The connection started closing while the socket was full; the rest
    /// is still in the sink.
    Closing,
}

/// Writes everything, waiting while the socket is full unless the
/// connection starts closing.
async fn write_until_closing<K: FrameSink>(
    sink: &mut K,
    client: &ClientHandle,
    link: &Link,
) -> std::io::Result<Written> {
    // `biased`: a write that completes at once (the common case) never
    // polls the closing future, which would register with its token.
    while !sink.is_empty() {
        tokio::select! {
            biased;
            written = sink.write_some(client) => written?,
            () = link.closing() => return Ok(Written::Closing),
        }
    }
    tokio::select! {
        biased;
        flushed = sink.flush() => flushed?,
        () = link.closing() => return Ok(Written::Closing),
    }
    Ok(Written::All)
}

/// Writes everything, waiting as long as it takes (the caller bounds it).
async fn write_all<K: FrameSink>(sink: &mut K, client: &ClientHandle) -> std::io::Result<()> {
    while !sink.is_empty() {
        sink.write_some(client).await?;
    }
    sink.flush().await
}
