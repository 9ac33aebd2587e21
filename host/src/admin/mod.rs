//! The operators' HTTP listener (`admin` in the configuration): Prometheus
//! metrics, a JSON admin API, the monitor page, health checks and drain.
//! Off unless the `admin` section is given; on its own address (this
//! machine only by default) and port, with TLS when the TCP port has it.
//!
//! It never slows the game: it runs a few small tasks of its own (at most
//! `admin.maxConnections` connections, each request bounded in size and
//! time), and reads the rooms the way `list_rooms` does (their listings),
//! or asks one room's actor through its mailbox, like any client.
//!
//! # Layout
//! - [`listener`]: the accept loop and its bounds.
//! - [`access`]: who may call what (admin token, operator JWT).
//! - [`context`]: [`AdminContext`], what every endpoint reads and acts on.
//! - [`api`]: the router; health, metrics, server info, drain, history.
//! - [`rooms`]: listing, inspecting and acting on rooms, cluster-wide.
//! - [`events`]: one room's inspection as a stream of server-sent events.
//! - [`types`]: room types and plugin reloads.
//! - [`history`]: the samples the monitor page charts.
//! - [`page`]: the monitor page, embedded in the binary.
//! - [`error`]: [`error::AdminError`], the JSON error every endpoint answers.

pub mod access;
pub mod api;
pub mod context;
pub mod error;
pub mod events;
pub mod history;
pub mod listener;
pub mod page;
pub mod rooms;
pub mod types;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::net::tls::Tls;
pub use context::AdminContext;

/// The bound admin listener.
pub struct AdminListener {
    listener: TcpListener,
    context: Arc<AdminContext>,
    tls: Option<Arc<Tls>>,
}

impl AdminListener {
    /// Binds `admin.bindAddress:admin.port` for `context`.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(context: AdminContext, tls: Option<Arc<Tls>>) -> anyhow::Result<Self> {
        let admin = context.admin_config();
        let address = SocketAddr::new(admin.bind_address, admin.port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on the admin address {address}"))?;
        Ok(AdminListener { listener, context: Arc::new(context), tls })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// Serves until `shutdown` on a thread of its own with a one-thread
    /// runtime, so admin traffic (a flood of connections included) never
    /// takes a network thread from the game; `tasks` tracks the thread,
    /// which ends once its connections and the history sampler have.
    ///
    /// # Errors
    /// When the thread or its runtime cannot start.
    pub fn start(self, shutdown: CancellationToken, tasks: &TaskTracker) -> anyhow::Result<()> {
        info!(address = %self.local_addr(), tls = self.tls.is_some(), "admin listening on HTTP");
        let context = self.context;
        let admin = context.admin_config().clone();
        if !context.access.is_open() {
            warn!(
                "the admin API is closed: set admin.tokenFile, or auth.mode jwt for operator tokens"
            );
        }
        let limits = listener::ConnectionLimits {
            max_connections: admin.max_connections,
            request_timeout: admin.request_timeout(),
        };
        // Registered again with the admin runtime's own reactor.
        let listener = self.listener.into_std().context("cannot move the admin listener")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("vampire-admin")
            .build()
            .context("cannot start the admin runtime")?;
        let tls = self.tls;
        // `tasks` counts the thread itself, so shutdown waits for it; the
        // thread waits for its own connections (they run on its runtime,
        // which ends with it).
        let running = tasks.token();
        let connections = TaskTracker::new();
        std::thread::Builder::new()
            .name("vampire-admin".into())
            .spawn(move || {
                let _running = running;
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return warn!("cannot serve the admin listener");
                    };
                    connections.spawn(
                        context.history.clone().run(context.metrics.clone(), shutdown.clone()),
                    );
                    let router = api::router(context);
                    let accepting = listener::accept_loop(
                        listener,
                        router,
                        tls,
                        limits,
                        shutdown,
                        connections.clone(),
                    );
                    accepting.await;
                    connections.close();
                    connections.wait().await;
                });
            })
            .context("cannot start the admin thread")?;
        Ok(())
    }
}
