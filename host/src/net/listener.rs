//! The TCP accept loop, with a semaphore bounding live connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};
use vampire_protocol::{ErrorCode, server};

use crate::logging::Throttle;
use crate::net::NetContext;
use crate::net::connection;

/// Connections past `limits.maxConnections` told `server_busy` at once;
/// more are closed without a word.
const BUSY_REPLIES: usize = 64;

/// Accepts connections until `shutdown` is cancelled. Every connection
/// task is spawned on `connections`, so shutdown can wait for them.
///
/// A connection past `limits.maxConnections` is told `server_busy` and
/// closed at once, rather than left waiting in the backlog (on the TLS
/// port, inside TLS, so the client can read it).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    context: Arc<NetContext>,
    connections: TaskTracker,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(context.config.limits.max_connections));
    let busy_replies = Arc::new(Semaphore::new(BUSY_REPLIES));
    let next_session = AtomicU64::new(1);
    let refusals = Throttle::per_second(1);
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
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refusals.warn(|suppressed| warn!(%peer, suppressed, "connection refused: server full"));
            // Telling a refused client why costs a task (and on the TLS
            // port a handshake): only a few at once, the rest are closed
            // without a word.
            if let Ok(busy_permit) = busy_replies.clone().try_acquire_owned() {
                let tls = context.tls.as_ref().map(|tls| tls.acceptor());
                let timeout = context.config.limits.handshake_timeout();
                connections.spawn(async move {
                    let _ = tokio::time::timeout(timeout, refuse_busy(socket, tls)).await;
                    drop(busy_permit);
                });
            }
            continue;
        };
        let session = next_session.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%peer, session, "connection accepted");
        let _ = socket.set_nodelay(true);
        let (context, stop) = (context.clone(), shutdown.clone());
        let handshakes = handshake_failures.clone();
        connections.spawn(async move {
            match context.tls.as_ref().map(|tls| tls.acceptor()) {
                None => {
                    let (reader, writer) = socket.into_split();
                    connection::serve(reader, writer, session, context, stop).await;
                }
                Some(acceptor) => {
                    let timeout = context.config.limits.handshake_timeout();
                    match tokio::time::timeout(timeout, acceptor.accept(socket)).await {
                        Ok(Ok(stream)) => {
                            let (reader, writer) = tokio::io::split(stream);
                            connection::serve(reader, writer, session, context, stop).await;
                        }
                        Ok(Err(err)) => {
                            handshakes.warn(|suppressed| {
                                info!(%peer, suppressed, "TLS handshake failed (a client speaking plain TCP to the TLS port?): {err}");
                            });
                        }
                        Err(_) => {
                            handshakes.warn(|suppressed| {
                                info!(%peer, suppressed, "TLS handshake timed out");
                            });
                        }
                    }
                }
            }
            drop(permit);
        });
    }
}

/// Tells a connection the server is full (`server_busy`) and closes it:
/// in plain MessagePack on the plain port, inside TLS on the TLS port
/// (a TLS client cannot read anything else).
async fn refuse_busy(socket: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>) {
    let mut busy = BytesMut::new();
    server::write_error(
        &mut busy,
        None,
        ErrorCode::ServerBusy,
        "the server has too many connections",
    );
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
