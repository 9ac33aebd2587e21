//! The admin listener's accept loop: at most `admin.maxConnections`
//! connections at once (more are closed as they come), each served by
//! hyper's HTTP/1 with a bound on how long its headers may take
//! (`admin.requestTimeoutSecs`, also between requests) and on how long a
//! write may stall, so a slow or silent admin client is dropped and holds
//! nothing for long. Its tasks are few and small; the game's connections
//! never wait for them.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use crate::logging::Throttle;
use crate::net::tls::Tls;

/// Accepts admin connections on `listener` and serves `router` on them
/// until `shutdown`; the connections still open are then closed
/// gracefully (an event stream ends) and waited for through `tasks`.
pub async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<Tls>>,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Throttle::per_second(1);
    loop {
        let (socket, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, mostly: wait, do not spin.
                    debug!(%err, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refusals.warn(|suppressed| {
                tracing::warn!(%peer, max = limits.max_connections, suppressed, "admin connections at the limit: closing new ones");
            });
            drop(socket);
            continue;
        };
        let _ = socket.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let _permit = permit;
            match tls {
                None => serve(socket, router, limits, shutdown).await,
                Some(tls) => {
                    let handshake = tls.acceptor().accept(socket);
                    match tokio::time::timeout(limits.request_timeout, handshake).await {
                        Ok(Ok(stream)) => serve(stream, router, limits, shutdown).await,
                        _ => debug!(%peer, "admin TLS handshake failed or timed out"),
                    }
                }
            }
        });
    }
}

/// The bounds of the admin listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// How long headers may take to arrive, and a write may stall.
    pub request_timeout: Duration,
}

/// Serves one connection until it ends, times out, or `shutdown`.
async fn serve<S>(stream: S, router: Router, limits: ConnectionLimits, shutdown: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(limits.request_timeout));
    let io = TokioIo::new(Box::pin(stream));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_timeout)
        .max_buf_size(64 * 1024)
        .serve_connection(io, TowerToHyperService::new(router));
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => {
            if let Err(err) = served {
                debug!(%err, "admin connection ended");
            }
        }
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(limits.request_timeout, connection).await;
        }
    }
}
