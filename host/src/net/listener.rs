//! The TCP accept loop, with a semaphore bounding live connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast};
use tracing::{error, warn};
use vampire_protocol::{ErrorCode, ServerMessage, frame};

use crate::config::Config;
use crate::net::connection;
use crate::rooms::RoomManager;

/// Accepts connections until `shutdown` fires.
///
/// A connection past `limits.maxConnections` is told `server_busy` and
/// closed at once, rather than left waiting in the backlog.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    config: Arc<Config>,
    rooms: Arc<RoomManager>,
    shutdown: broadcast::Sender<()>,
) {
    let permits = Arc::new(Semaphore::new(config.limits.max_connections));
    let next_session = AtomicU64::new(1);
    let mut stop = shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.recv() => return,
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
            warn!(%peer, "connection refused: server full");
            tokio::spawn(async move {
                let busy = ServerMessage::Error {
                    id: None,
                    code: ErrorCode::ServerBusy,
                    message: "the server has too many connections".to_owned(),
                };
                if let Ok(bytes) = frame::encode(&busy) {
                    let _ = socket.write_all(&bytes).await;
                }
                let _ = socket.shutdown().await;
            });
            continue;
        };
        let session = next_session.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%peer, session, "connection accepted");
        let (config, rooms, stop) = (config.clone(), rooms.clone(), shutdown.subscribe());
        tokio::spawn(async move {
            connection::serve(socket, session, config, rooms, stop).await;
            drop(permit);
        });
    }
}
