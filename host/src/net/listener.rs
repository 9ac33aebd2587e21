//! The TCP accept loop, with a semaphore bounding live connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};
use vampire_protocol::{ErrorCode, server};

use crate::logging::Throttle;
use crate::metrics::Refusal;
use crate::net::NetContext;
use crate::net::connection;

/// Connections past `limits.maxConnections` told `server_busy` at once;
/// more are closed without a word.
const BUSY_REPLIES: usize = 64;

/// Accepts connections until `shutdown` is cancelled. Every connection
/// task is spawned on the context's task tracker, so shutdown can wait
/// for them.
///
/// A connection past `limits.maxConnections`, or past
/// `limits.maxConnectionsPerAddress` from one address, is told `server_busy` and
/// closed at once, rather than left waiting in the backlog (on the TLS
/// port, inside TLS, so the client can read it).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    context: Arc<NetContext>,
    shutdown: CancellationToken,
) {
    let connections = context.tasks.clone();
    let permits = Arc::new(Semaphore::new(context.config.limits.max_connections));
    let refusals = Refusals {
        replies: Arc::new(Semaphore::new(BUSY_REPLIES)),
        connections: connections.clone(),
        context: context.clone(),
    };
    let addresses = Arc::new(AddressCounts::new(context.config.limits.max_connections_per_address));
    let next_session = AtomicU64::new(1);
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
        let Some(address_permit) = addresses.take(peer.ip()) else {
            context.metrics.connection_refused(Refusal::MaxPerAddress);
            refusal_log.warn(|suppressed| {
                warn!(%peer, suppressed, "connection refused: too many from its address")
            });
            refuse(&refusals, socket, "too many connections from your address");
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            context.metrics.connection_refused(Refusal::MaxConnections);
            refusal_log
                .warn(|suppressed| warn!(%peer, suppressed, "connection refused: server full"));
            refuse(&refusals, socket, "the server has too many connections");
            continue;
        };
        let session = next_session.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%peer, session, "connection accepted");
        context.metrics.connection_accepted();
        let _ = socket.set_nodelay(true);
        let (context, stop) = (context.clone(), shutdown.clone());
        let handshakes = handshake_failures.clone();
        connections.spawn(async move {
            match context.tls.as_ref().map(|tls| tls.acceptor()) {
                None => {
                    let (reader, writer) = socket.into_split();
                    connection::serve(reader, writer, session, peer, context, stop).await;
                }
                Some(acceptor) => {
                    let timeout = context.config.limits.handshake_timeout();
                    match tokio::time::timeout(timeout, acceptor.accept(socket)).await {
                        Ok(Ok(stream)) => {
                            let (reader, writer) = tokio::io::split(stream);
                            connection::serve(reader, writer, session, peer, context, stop).await;
                        }
                        Ok(Err(err)) => {
                            context.metrics.tls_handshake_failed();
                            handshakes.warn(|suppressed| {
                                info!(%peer, suppressed, "TLS handshake failed (a client speaking plain TCP to the TLS port?): {err}");
                            });
                        }
                        Err(_) => {
                            context.metrics.tls_handshake_failed();
                            handshakes.warn(|suppressed| {
                                info!(%peer, suppressed, "TLS handshake timed out");
                            });
                        }
                    }
                }
            }
            drop(permit);
            drop(address_permit);
        });
    }
}

/// What telling refused connections why needs.
struct Refusals {
    /// Refusals being told at once (see [`BUSY_REPLIES`]).
    replies: Arc<Semaphore>,
    connections: TaskTracker,
    context: Arc<NetContext>,
}

/// Tells `socket` it is refused (`server_busy`, `why`) in a task of its
/// own, bounded by the handshake timeout. That costs a task (and on the
/// TLS port a handshake), so only [`BUSY_REPLIES`] at once; past that the
/// connection is closed without a word.
fn refuse(refusals: &Refusals, socket: TcpStream, why: &'static str) {
    let Ok(reply) = refusals.replies.clone().try_acquire_owned() else { return };
    let tls = refusals.context.tls.as_ref().map(|tls| tls.acceptor());
    let timeout = refusals.context.config.limits.handshake_timeout();
    refusals.connections.spawn(async move {
        let _ = tokio::time::timeout(timeout, refuse_busy(socket, tls, why)).await;
        drop(reply);
    });
}

/// Tells a connection the server is full (`server_busy`) and closes it:
/// in plain MessagePack on the plain port, inside TLS on the TLS port
/// (a TLS client cannot read anything else).
async fn refuse_busy(socket: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>, why: &str) {
    let mut busy = BytesMut::new();
    server::write_error(&mut busy, None, ErrorCode::ServerBusy, why);
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
