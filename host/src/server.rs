//! [`Server`]: binds the sockets, loads the room types and runs until told
//! to stop.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tracing::info;

use crate::config::Config;
use crate::net::listener;
use crate::plugins::{self, PluginRoomType, PluginRuntime};
use crate::rooms::RoomManager;

/// A bound, not yet running server.
pub struct Server {
    config: Arc<Config>,
    listener: TcpListener,
    rooms: Arc<RoomManager>,
}

/// A running server: its address and the way to stop it.
pub struct RunningServer {
    /// The address the TCP listener is bound to.
    pub local_addr: SocketAddr,
    shutdown: broadcast::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds the TCP listener on the configured address and port (port 0:
    /// any free port; see [`Server::local_addr`]) and loads the plugins of
    /// the configured folder (a plugin that fails to load is logged and
    /// skipped).
    ///
    /// # Errors
    /// When the address cannot be bound or the wasm engine cannot start.
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        let config = Arc::new(config);
        let address = SocketAddr::new(config.bind_address, config.tcp_port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on TCP {address}"))?;
        let rooms = Arc::new(RoomManager::new(config.clone()));
        let runtime = Arc::new(
            PluginRuntime::new(
                config.limits.plugin_call_timeout(),
                config.limits.plugin_memory_bytes,
            )
            .context("cannot start the WebAssembly runtime")?,
        );
        for module in plugins::load_folder(&runtime, &config.plugins_dir).await {
            rooms.register_type(Arc::new(PluginRoomType(Arc::new(module))));
        }
        Ok(Server { config, listener, rooms })
    }

    /// The bound TCP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The room manager (to register room types before serving).
    pub fn rooms(&self) -> &Arc<RoomManager> {
        &self.rooms
    }

    /// Starts accepting connections in a background task.
    pub fn start(self) -> RunningServer {
        let local_addr = self.local_addr();
        let (shutdown, _) = broadcast::channel(1);
        info!(address = %local_addr, room_types = ?self.rooms.type_names(), "listening on TCP");
        if self.config.enable_udp {
            tracing::warn!(
                "enableUDP is set, but this build has no UDP transport yet; only TCP is served"
            );
        }
        let task = tokio::spawn(listener::accept_loop(
            self.listener,
            self.config,
            self.rooms,
            shutdown.clone(),
        ));
        RunningServer { local_addr, shutdown, task }
    }
}

impl RunningServer {
    /// Stops accepting, tells every connection the server is shutting down
    /// and waits for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}
