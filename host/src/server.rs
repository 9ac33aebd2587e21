//! [`Server`]: binds the sockets, loads the room types and runs until told
//! to stop; [`RunningServer::shutdown`] stops it gracefully.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::admin::access::Access;
use crate::admin::history::History;
use crate::admin::{AdminContext, AdminListener};
use crate::auth::password::Passwords;
use crate::auth::{Authenticator, SignedIn};
use crate::cluster::Cluster;
use crate::config::{AdminConfig, Config};
use crate::drain::Drain;
use crate::matchmaking::{LocalPool, Matchmaker, TicketPool};
use crate::metrics::Metrics;
use crate::net::listener::{Places, Transport};
use crate::net::sessions::{SessionEnds, Sessions};
use crate::net::tls::Tls;
use crate::net::udp::UdpChannel;
use crate::net::{NetContext, client_limits, listener};
use crate::plugins::{self, Catalog, PluginRoomType, PluginRuntime, PluginWatcher, Reloader};
use crate::rooms::RoomManager;
use crate::rooms::admission::Gate;

/// A bound, not yet running server.
pub struct Server {
    config: Arc<Config>,
    listener: TcpListener,
    /// The WebSocket listener, when `enableWebSocket` is on.
    ws_listener: Option<TcpListener>,
    rooms: Arc<RoomManager>,
    /// Kept so the plugin threads live as long as the server.
    plugins: Arc<PluginRuntime>,
    /// Loads plugins again, for the watcher and operators.
    reloader: Arc<Reloader>,
    /// What the server counts about itself.
    metrics: Arc<Metrics>,
    /// The UDP channel, when `enableUDP` is on.
    udp: Option<Arc<UdpChannel>>,
    /// Checks tokens, when `auth.mode` is `jwt`.
    auth: Option<Arc<Authenticator>>,
    /// TLS for the TCP port, when `tls` is set.
    tls: Option<Arc<Tls>>,
    /// This node's cluster, when `cluster` is set.
    cluster: Option<Arc<Cluster>>,
    /// Checks room passwords and invites, for this node's clients and
    /// for joiners other nodes send here.
    gate: Arc<Gate>,
    /// The node's drain (by `SIGUSR1` or the admin API).
    drain: Arc<Drain>,
    /// What clients are told when the server stops, when a drain set it.
    farewell: Arc<std::sync::OnceLock<&'static str>>,
    /// The admin listener, when `admin` is set.
    admin: Option<AdminListener>,
    /// Cancelled to stop: accept loops, event streams, cluster tasks.
    shutdown: CancellationToken,
}

/// A running server: its address and the way to stop it.
pub struct RunningServer {
    /// The address the TCP listener is bound to.
    pub local_addr: SocketAddr,
    /// The address the admin listener is bound to, when on.
    pub admin_addr: Option<SocketAddr>,
    /// The address the WebSocket listener is bound to, when on.
    pub ws_addr: Option<SocketAddr>,
    config: Arc<Config>,
    drain: Arc<Drain>,
    /// The admin listener's connections and sampler.
    admin_tasks: TaskTracker,
    shutdown: CancellationToken,
    accept: tokio::task::JoinHandle<()>,
    /// The WebSocket port's accept loop, when on.
    ws_accept: Option<tokio::task::JoinHandle<()>>,
    connections: TaskTracker,
    rooms: Arc<RoomManager>,
    plugins: Arc<PluginRuntime>,
    /// The hot-reload watch of the plugins folder, when on.
    watcher: Option<PluginWatcher>,
    /// The task receiving UDP datagrams, when on.
    udp: Option<tokio::task::JoinHandle<()>>,
    /// The task reloading the TLS certificate, when TLS is on.
    tls_watch: Option<tokio::task::JoinHandle<()>>,
    /// This node's cluster and its tasks, when `cluster` is set.
    cluster: Option<(Arc<Cluster>, Vec<tokio::task::JoinHandle<()>>)>,
}

/// Reads and checks the files the configuration names: the token key
/// (`auth.secretFile`, `auth.publicKeyFile`), the TLS certificate and
/// key, and the admin token (`admin.tokenFile`). The rest of a configuration is checked when it is parsed; these
/// can only be checked by reading them, and a file that is missing or
/// wrong is a configuration error like any other (`--check-config` finds
/// it, and the start fails with the same exit status).
///
/// # Errors
/// Naming the field and the file that cannot be read or is not what the
/// field needs.
pub fn check_config_files(config: &Config) -> anyhow::Result<()> {
    Authenticator::from_config(&config.auth)?;
    if let Some(tls) = &config.tls {
        Tls::load(tls)?;
    }
    if let Some(path) = config.admin.as_ref().and_then(|admin| admin.token_file.as_deref()) {
        Access::read_token(path)?;
    }
    Ok(())
}

impl Server {
    /// Binds the TCP listener on the configured address and port (port 0:
    /// any free port; see [`Server::local_addr`]) and loads the plugins of
    /// the configured folder (a plugin that fails to load is logged and
    /// skipped).
    ///
    /// # Errors
    /// When the address cannot be bound, the wasm engine cannot start,
    /// the token key or TLS certificate cannot be loaded, or (in a
    /// cluster) Redis cannot be reached.
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        let config = Arc::new(config);
        let auth = Authenticator::from_config(&config.auth)?.map(Arc::new);
        let tls = config.tls.as_ref().map(Tls::load).transpose()?;
        let address = SocketAddr::new(config.bind_address, config.tcp_port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on TCP {address}"))?;
        let ws_listener = if config.enable_web_socket {
            let address = SocketAddr::new(config.bind_address, config.ws_port);
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen for WebSocket on TCP {address}"))?;
            Some(listener)
        } else {
            None
        };
        // Kept only when an operator can read them.
        let metrics = Arc::new(Metrics::new(config.admin.is_some()));
        let rooms = Arc::new(RoomManager::new(config.clone(), metrics.clone()));
        let plugins = Arc::new({
            let runtime = PluginRuntime::new(&config.limits, metrics.clone())
                .context("cannot start the WebAssembly runtime")?;
            match config.plugin_cache_folder() {
                Some(folder) => runtime.with_cache(&folder),
                None => runtime,
            }
        });
        let catalog = Arc::new(Catalog::default());
        for module in plugins::load_folder(&plugins, &config.plugins_dir, &catalog).await {
            rooms.register_type(Arc::new(PluginRoomType(Arc::new(module))));
        }
        let folder = config.plugins_dir.clone();
        let reloader = Arc::new(Reloader::new(plugins.clone(), rooms.clone(), folder, catalog));
        let udp = if config.enable_udp {
            let channel = UdpChannel::bind(&config, rooms.clone()).await.with_context(|| {
                format!("cannot listen on UDP {}:{}", config.bind_address, config.udp_port)
            })?;
            Some(Arc::new(channel))
        } else {
            None
        };
        // Each password check takes a core and ~19 MiB: one per core at
        // most.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let gate = Arc::new(Gate::new(Arc::new(Passwords::new(cores))));
        let cluster = match &config.cluster {
            Some(cluster) => Some(
                Cluster::join(cluster, rooms.clone(), client_limits(&config), gate.clone()).await?,
            ),
            None => None,
        };
        let farewell = Arc::new(std::sync::OnceLock::new());
        let drain_timeout = config.admin.clone().unwrap_or_default().drain_timeout();
        let drain =
            Arc::new(Drain::new(rooms.clone(), cluster.clone(), drain_timeout, farewell.clone()));
        let shutdown = CancellationToken::new();
        let admin = match &config.admin {
            Some(admin) => {
                let context = AdminContext {
                    config: config.clone(),
                    rooms: rooms.clone(),
                    cluster: cluster.clone(),
                    reloader: reloader.clone(),
                    plugins: plugins.clone(),
                    udp: udp.clone(),
                    metrics: metrics.clone(),
                    drain: drain.clone(),
                    history: Arc::new(History::default()),
                    access: admin_access(admin, auth.clone())?,
                    started: std::time::Instant::now(),
                    stopping: shutdown.clone(),
                };
                Some(AdminListener::bind(context, tls.clone()).await?)
            }
            None => None,
        };
        Ok(Server {
            config,
            listener,
            ws_listener,
            rooms,
            plugins,
            reloader,
            metrics,
            udp,
            auth,
            tls,
            cluster,
            gate,
            drain,
            farewell,
            admin,
            shutdown,
        })
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
        info!(
            address = %local_addr,
            room_types = ?self.rooms.type_names(),
            tls = self.tls.is_some(),
            auth = self.auth.is_some(),
            "listening on TCP"
        );
        let udp = self.udp.as_ref().map(|channel| {
            if let Ok(address) = channel.local_addr() {
                info!(%address, "listening on UDP");
            }
            tokio::spawn(channel.clone().serve())
        });
        let shutdown = self.shutdown;
        let connections = TaskTracker::new();
        let admin_tasks = TaskTracker::new();
        let admin_addr = self.admin.as_ref().map(AdminListener::local_addr);
        if let Some(admin) = self.admin
            && let Err(err) = admin.start(shutdown.clone(), &admin_tasks)
        {
            warn!("{err:#}: the admin listener is off");
        }
        let tls_watch =
            self.tls.as_ref().map(|tls| tokio::spawn(tls.clone().watch(shutdown.clone())));
        let signed_in = Arc::new(SignedIn::new(self.config.auth.same_user));
        let ends = SessionEnds {
            rooms: self.rooms.clone(),
            udp: self.udp.clone(),
            signed_in: signed_in.clone(),
        };
        let sessions = Arc::new(Sessions::new(
            &self.config.reconnect,
            self.cluster.as_ref().map(|cluster| cluster.node().to_owned()),
            ends,
            connections.clone(),
            shutdown.clone(),
        ));
        let pool: Arc<dyn TicketPool> = match &self.cluster {
            Some(cluster) => cluster.ticket_pool(&self.config.matchmaking),
            None => Arc::new(LocalPool::default()),
        };
        let matchmaking = self.config.matchmaking.clone();
        let matchmaker = Arc::new(Matchmaker::new(matchmaking, pool, self.rooms.clone()));
        if let Some(cluster) = &self.cluster {
            cluster.serve_matchmaker(matchmaker.clone());
        }
        // Shutdown waits for it with the connections.
        connections.spawn(matchmaker.clone().run(shutdown.clone()));
        let context = Arc::new(NetContext {
            config: self.config.clone(),
            rooms: self.rooms.clone(),
            udp: self.udp.clone(),
            auth: self.auth,
            signed_in,
            sessions,
            gate: self.gate,
            tls: self.tls,
            cluster: self.cluster.clone(),
            matchmaker,
            tasks: connections.clone(),
            metrics: self.metrics.clone(),
            farewell: self.farewell,
        });
        let cluster = self.cluster.map(|cluster| {
            let tasks = cluster.start(shutdown.clone());
            (cluster, tasks)
        });
        let watcher = if self.config.hot_reload {
            match PluginWatcher::start(self.reloader.clone()) {
                Ok(watcher) => Some(watcher),
                Err(err) => {
                    warn!(%err, "cannot watch the plugins folder: hot reload is off");
                    None
                }
            }
        } else {
            None
        };
        let places = Places::new(&context);
        let ws_addr = self.ws_listener.as_ref().and_then(|ws| ws.local_addr().ok());
        let ws_accept = self.ws_listener.map(|ws| {
            if let Some(address) = ws_addr {
                info!(%address, tls = context.tls.is_some(), "listening for WebSocket");
            }
            let (places, context) = (places.clone(), context.clone());
            tokio::spawn(listener::accept_loop(
                ws,
                Transport::WebSocket,
                places,
                context,
                shutdown.clone(),
            ))
        });
        let accept = tokio::spawn(listener::accept_loop(
            self.listener,
            Transport::Stream,
            places,
            context,
            shutdown.clone(),
        ));
        RunningServer {
            local_addr,
            admin_addr,
            ws_addr,
            ws_accept,
            config: self.config,
            drain: self.drain,
            admin_tasks,
            shutdown,
            accept,
            connections,
            rooms: self.rooms,
            plugins: self.plugins,
            watcher,
            udp,
            tls_watch,
            cluster,
        }
    }
}

/// The credentials the admin API accepts: the token of `admin.tokenFile`
/// and, with `auth.mode` `jwt`, operator tokens.
fn admin_access(admin: &AdminConfig, auth: Option<Arc<Authenticator>>) -> anyhow::Result<Access> {
    let token = admin.token_file.as_deref().map(Access::read_token).transpose()?;
    Ok(Access::new(token, auth))
}

impl RunningServer {
    /// Starts draining for a deploy, for `by` (see [`crate::drain`]);
    /// `false` when a drain had already started.
    pub fn drain(&self, by: &str) -> bool {
        self.drain.start(by)
    }

    /// Completes once a drain is over: the server should be shut down now.
    pub async fn drained(&self) {
        self.drain.over().await;
    }
    /// Stops gracefully: stops accepting, tells every client
    /// `server_shutdown` (their rooms run the leave hooks), ends every
    /// room, and waits for connections and rooms to finish, at most
    /// `limits.shutdownGraceSecs` in all.
    pub async fn shutdown(self) {
        let grace = self.config.limits.shutdown_grace();
        let deadline = tokio::time::Instant::now() + grace;
        drop(self.watcher);
        if let Some(udp) = &self.udp {
            udp.abort();
        }
        if let Some(tls_watch) = &self.tls_watch {
            tls_watch.abort();
        }
        self.shutdown.cancel();
        let _ = self.accept.await;
        if let Some(ws_accept) = self.ws_accept {
            let _ = ws_accept.await;
        }
        self.admin_tasks.close();
        self.connections.close();
        if tokio::time::timeout_at(deadline, self.connections.wait()).await.is_err() {
            warn!("shutdown: some connections did not finish in time");
        }
        if let Some((cluster, tasks)) = &self.cluster {
            for task in tasks {
                task.abort();
            }
            cluster.leave().await;
        }
        self.rooms.shutdown();
        if tokio::time::timeout_at(deadline, self.rooms.wait()).await.is_err() {
            warn!("shutdown: some rooms did not finish in time");
        }
        if tokio::time::timeout_at(deadline, self.admin_tasks.wait()).await.is_err() {
            warn!("shutdown: some admin connections did not finish in time");
        }
        drop(self.plugins);
        info!("shutdown complete");
    }
}
