//! The accept loops of the TCP and WebSocket ports, sharing one bound on
//! live connections (a semaphore), one count per client address and one
//! series of session ids.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};
use vampire_protocol::{ErrorCode, server};

use crate::logging::Throttle;
use crate::metrics::Refusal;
use crate::net::stream::{StreamFrames, StreamSink};
use crate::net::{NetContext, connection, websocket};

/// Connections past `limits.maxConnections` told `server_busy` at once;
/// more are closed without a word.
const BUSY_REPLIES: usize = 64;

/// How a port's connections frame their messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Length-prefixed frames on the byte stream (`tcpPort`).
    Stream,
    /// One frame per binary WebSocket message, after an HTTP upgrade
    /// (`wsPort`).
    WebSocket,
}

/// What every port's connections share: the places
/// (`limits.maxConnections`, `limits.maxConnectionsPerAddress`) and the
/// session ids, unique across ports (the UDP channel keys on them).
pub(crate) struct Places {
    permits: Arc<Semaphore>,
    addresses: Arc<AddressCounts>,
    next_session: AtomicU64,
    /// Refusals being told at once (see [`BUSY_REPLIES`]).
    replies: Arc<Semaphore>,
}

impl Places {
    /// The places `context`'s limits allow.
    pub(crate) fn new(context: &NetContext) -> Arc<Places> {
        let limits = &context.config.limits;
        Arc::new(Places {
            permits: Arc::new(Semaphore::new(limits.max_connections)),
            addresses: Arc::new(AddressCounts::new(limits.max_connections_per_address)),
            next_session: AtomicU64::new(1),
            replies: Arc::new(Semaphore::new(BUSY_REPLIES)),
        })
    }
}

/// Accepts connections until `shutdown` is cancelled. Every connection
/// task is spawned on the context's task tracker, so shutdown can wait
/// for them.
///
/// A connection past `limits.maxConnections`, or past
/// `limits.maxConnectionsPerAddress` from one address, is told `server_busy` and
/// closed at once, rather than left waiting in the backlog (on the TLS
/// port, inside TLS, so the client can read it; on the WebSocket port,
/// as an HTTP 503).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    transport: Transport,
    places: Arc<Places>,
    context: Arc<NetContext>,
    shutdown: CancellationToken,
) {
    let connections = context.tasks.clone();
    let refusals = Refusals {
        replies: places.replies.clone(),
        connections: connections.clone(),
        context: context.clone(),
        transport,
    };
    let refusal_log = Throttle::per_second(1);
    let handshake_failures = Arc::new(Throttle::per_second(5));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Typically EMFILE: back off briefly instead of spinning.
                error!(%err, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(address_permit) = places.addresses.take(peer.ip()) else {
            context.metrics.connection_refused(Refusal::MaxPerAddress);
            refusal_log.warn(|suppressed| {
                warn!(%peer, suppressed, "connection refused: too many from its address")
            });
            refuse(&refusals, socket, "too many connections from your address");
            continue;
        };
        let Ok(permit) = places.permits.clone().try_acquire_owned() else {
            context.metrics.connection_refused(Refusal::MaxConnections);
            refusal_log
                .warn(|suppressed| warn!(%peer, suppressed, "connection refused: server full"));
            refuse(&refusals, socket, "the server has too many connections");
            continue;
        };
        let session = places.next_session.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%peer, session, ?transport, "connection accepted");
        context.metrics.connection_accepted();
        let _ = socket.set_nodelay(true);
        let (context, stop) = (context.clone(), shutdown.clone());
        let handshakes = handshake_failures.clone();
        // Each way of serving is boxed: a task is as large as its largest
        // state, and a plain TCP connection would otherwise hold room for
        // a TLS session and a WebSocket for as long as it lives.
        connections.spawn(async move {
            match context.tls.as_ref().map(|tls| tls.acceptor()) {
                None => match transport {
                    Transport::Stream => {
                        let (reader, writer) = socket.into_split();
                        Box::pin(serve_stream(reader, writer, session, peer, context, stop)).await;
                    }
                    Transport::WebSocket => {
                        Box::pin(serve_websocket(socket, session, peer, context, stop)).await;
                    }
                },
                Some(acceptor) => {
                    let metrics = context.metrics.clone();
                    let served =
                        serve_tls(acceptor, socket, transport, session, peer, context, stop);
                    if let Err(failure) = Box::pin(served).await {
                        metrics.tls_handshake_failed();
                        handshakes.warn(|suppressed| match failure {
                            Some(err) => info!(%peer, suppressed, "TLS handshake failed (a client speaking plain TCP to the TLS port?): {err}"),
                            None => info!(%peer, suppressed, "TLS handshake timed out"),
                        });
                    }
                }
            }
            drop(permit);
            drop(address_permit);
        });
    }
}

/// Serves a TLS connection once its handshake is done, within the
/// handshake timeout.
///
/// # Errors
/// The handshake failed (with why), or timed out (`None`).
async fn serve_tls(
    acceptor: tokio_rustls::TlsAcceptor,
    socket: TcpStream,
    transport: Transport,
    session: vampire_protocol::SessionId,
    peer: std::net::SocketAddr,
    context: Arc<NetContext>,
    stop: CancellationToken,
) -> Result<(), Option<std::io::Error>> {
    let timeout = context.config.limits.handshake_timeout();
    let stream = match tokio::time::timeout(timeout, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => return Err(Some(err)),
        Err(_) => return Err(None),
    };
    match transport {
        Transport::Stream => {
            let (reader, writer) = tokio::io::split(stream);
            Box::pin(serve_stream(reader, writer, session, peer, context, stop)).await;
        }
        Transport::WebSocket => {
            Box::pin(serve_websocket(stream, session, peer, context, stop)).await;
        }
    }
    Ok(())
}

/// Serves a byte-stream connection (TCP or TLS) given as its halves.
async fn serve_stream<R, W>(
    reader: R,
    writer: W,
    session: vampire_protocol::SessionId,
    peer: std::net::SocketAddr,
    context: Arc<NetContext>,
    stop: CancellationToken,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let frames =
        StreamFrames::new(reader, context.config.limits.max_frame_bytes, context.metrics.clone());
    connection::serve(frames, StreamSink::new(writer), session, peer, context, stop).await;
}

/// Serves a WebSocket connection once its upgrade is accepted.
async fn serve_websocket<S>(
    stream: S,
    session: vampire_protocol::SessionId,
    peer: std::net::SocketAddr,
    context: Arc<NetContext>,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let accepted = tokio::select! {
        accepted = websocket::accept(stream, &context.config, context.metrics.clone()) => accepted,
        () = stop.cancelled() => None,
    };
    let Some((frames, sink)) = accepted else { return };
    connection::serve(frames, sink, session, peer, context, stop).await;
}

/// What telling refused connections why needs.
struct Refusals {
    /// Refusals being told at once (see [`BUSY_REPLIES`]).
    replies: Arc<Semaphore>,
    connections: TaskTracker,
    context: Arc<NetContext>,
    transport: Transport,
}

/// Tells `socket` it is refused (`server_busy`, `why`) in a task of its
/// own, bounded by the handshake timeout. That costs a task (and on the
/// TLS port a handshake), so only [`BUSY_REPLIES`] at once; past that the
/// connection is closed without a word.
fn refuse(refusals: &Refusals, socket: TcpStream, why: &'static str) {
    let Ok(reply) = refusals.replies.clone().try_acquire_owned() else { return };
    let tls = refusals.context.tls.as_ref().map(|tls| tls.acceptor());
    let timeout = refusals.context.config.limits.handshake_timeout();
    let transport = refusals.transport;
    refusals.connections.spawn(async move {
        let _ = tokio::time::timeout(timeout, refuse_busy(socket, tls, transport, why)).await;
        drop(reply);
    });
}

/// Tells a connection the server is full (`server_busy`) and closes it:
/// in plain MessagePack on the plain port, inside TLS on the TLS port
/// (a TLS client cannot read anything else); on the WebSocket port as an
/// HTTP 503 in place of the upgrade.
async fn refuse_busy(
    socket: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    transport: Transport,
    why: &str,
) {
    let busy = match transport {
        Transport::Stream => {
            let mut busy = BytesMut::new();
            server::write_error(&mut busy, None, ErrorCode::ServerBusy, why);
            busy.to_vec()
        }
        Transport::WebSocket => websocket::busy_response(why),
    };
    match tls {
        None => say_and_close(socket, &busy).await,
        Some(acceptor) => {
            if let Ok(stream) = acceptor.accept(socket).await {
                say_and_close(stream, &busy).await;
            }
        }
    }
}

async fn say_and_close(mut stream: impl AsyncWrite + Unpin, frame: &[u8]) {
    let _ = stream.write_all(frame).await;
    let _ = stream.shutdown().await;
}

/// Connections open per client address, bounded by
/// `limits.maxConnectionsPerAddress`: one machine cannot take every place.
#[derive(Debug)]
struct AddressCounts {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its address's count, given back when
/// dropped.
#[derive(Debug)]
struct AddressPermit {
    counts: Arc<AddressCounts>,
    address: IpAddr,
}

impl AddressCounts {
    fn new(max: usize) -> AddressCounts {
        AddressCounts { max, open: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place for one more connection from `address`; `None` at the cap.
    fn take(self: &Arc<Self>, address: IpAddr) -> Option<AddressPermit> {
        let mut open = self.lock();
        let count = open.entry(address).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressPermit { counts: self.clone(), address })
    }
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut open = self.counts.lock();
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}
