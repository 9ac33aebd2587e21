//! The TCP accept loop, with a semaphore bounding live connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, warn};
use vampire_protocol::{ErrorCode, server};

use crate::logging::Throttle;
use crate::net::NetContext;
use crate::net::connection;

/// Accepts connections until `shutdown` is cancelled. Every connection
/// task is spawned on `connections`, so shutdown can wait for them.
///
/// A connection past `limits.maxConnections` is told `server_busy` and
/// closed at once, rather than left waiting in the backlog.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    context: Arc<NetContext>,
    connections: TaskTracker,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(context.config.limits.max_connections));
    let next_session = AtomicU64::new(1);
    let refusals = Throttle::per_second(1);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let (mut socket, peer) = match accepted {
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
            connections.spawn(async move {
                let mut busy = BytesMut::new();
                server::write_error(
                    &mut busy,
                    None,
                    ErrorCode::ServerBusy,
                    "the server has too many connections",
                );
                let _ = socket.write_all(&busy).await;
                let _ = socket.shutdown().await;
            });
            continue;
        };
        let session = next_session.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%peer, session, "connection accepted");
        let (context, stop) = (context.clone(), shutdown.clone());
        connections.spawn(async move {
            connection::serve(socket, session, context, stop).await;
            drop(permit);
        });
    }
}
