//! [`Client`]: one connection to a server: connecting (TLS, token), the
//! requests waiting for their answers, the event stream, the keep-alive,
//! and the connections to other nodes of a cluster that hold rooms the
//! client joined there. The operations themselves are in
//! [`crate::ops`]. With [`ConnectOptions::reconnect`], a connection that
//! drops is resumed ([`crate::reconnect`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use vampire_protocol::{Payload, Request, RoomId, ServerOp, SessionId, Welcome};

use crate::dial::{
    BoxedReader, BoxedWriter, ConnectOptions, Dial, read_welcome, tcp_halves, websocket_halves,
};
use crate::error::{ClientError, Incoming};
use crate::heartbeat::heartbeat;
use crate::reader::{Pending, Shared, Writer, lock, read_loop};
use crate::reconnect::Resumption;
use crate::tls::host_of;
use crate::udp;

/// A connection to a VampireTCP server.
pub struct Client {
    welcome: Welcome,
    writer: Arc<Writer>,
    pending: Pending,
    shared: Arc<Shared>,
    next_id: AtomicU32,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    /// Where events go, for the UDP task too.
    pub(crate) events: mpsc::UnboundedSender<Incoming>,
    reader: tokio::task::JoinHandle<()>,
    heartbeat: tokio::task::JoinHandle<()>,
    /// The server's address, for the UDP channel.
    pub(crate) server: std::net::SocketAddr,
    pub(crate) udp: Option<udp::UdpLink>,
    /// How this client connected, to connect the same way to other nodes.
    options: ConnectOptions,
    /// Connections to the other nodes of a cluster that hold rooms this
    /// client joined there (by room): requests about those rooms go
    /// through them, and their events arrive with this client's own.
    links: Mutex<HashMap<RoomId, Arc<Client>>>,
    /// Those connections by node address, kept for the client's life so
    /// that joining another room of a node it already reached costs no
    /// new connection.
    nodes: Mutex<HashMap<String, Arc<Client>>>,
}

impl Client {
    /// Connects and waits for the server's `welcome`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails, [`ClientError::Server`]
    /// if the server refuses it (say `server_busy`), [`ClientError::Timeout`]
    /// without a welcome within 10 s.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), vampire_client::ClientError> {
    /// let client = vampire_client::Client::connect("127.0.0.1:7777").await?;
    /// println!("connected as session {}", client.session());
    /// # Ok(()) }
    /// ```
    pub async fn connect(address: impl ToSocketAddrs) -> Result<Client, ClientError> {
        Client::connect_with(address, ConnectOptions::default()).await
    }

    /// Connects as `options` say (over TLS, with a token), and waits for
    /// the server's `welcome` (and the token's acceptance).
    ///
    /// # Errors
    /// As [`Client::connect`]; [`ClientError::Tls`] for unusable TLS
    /// options, [`ClientError::Io`] for a failed TLS handshake (say, a
    /// certificate the CA file does not vouch for), and
    /// [`ClientError::Server`] with `not_authenticated` for a refused
    /// token.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(token: String) -> Result<(), vampire_client::ClientError> {
    /// use vampire_client::{Client, ConnectOptions, TlsOptions};
    ///
    /// let tls = TlsOptions { server_name: "game.example".into(), ca_file: "ca.pem".into() };
    /// let options = ConnectOptions { tls: Some(tls), token: Some(token), ..Default::default() };
    /// let client = Client::connect_with("game.example:7777", options).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(
        address: impl ToSocketAddrs,
        options: ConnectOptions,
    ) -> Result<Client, ClientError> {
        let socket = TcpStream::connect(address).await?;
        let server = socket.peer_addr()?;
        let (read_half, writer) = tcp_halves(socket, &options).await?;
        Client::start(read_half, writer, server, Dial::Tcp(server.to_string()), options).await
    }

    /// Connects to the WebSocket port at `address` (`host:port`; with
    /// `options.tls`, `wss`), and waits for the `welcome` as
    /// [`Client::connect_with`] does. Every operation then behaves as over
    /// TCP; requests to rooms of other cluster nodes go to those nodes
    /// over TCP.
    ///
    /// # Errors
    /// As [`Client::connect_with`]; [`ClientError::Io`] naming the HTTP
    /// status when the server refuses the upgrade (say 403 for an origin
    /// it does not allow).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), vampire_client::ClientError> {
    /// use vampire_client::{Client, ConnectOptions};
    ///
    /// let client = Client::connect_websocket("127.0.0.1:7780", ConnectOptions::default()).await?;
    /// println!("connected as session {}", client.session());
    /// # Ok(()) }
    /// ```
    pub async fn connect_websocket(
        address: &str,
        options: ConnectOptions,
    ) -> Result<Client, ClientError> {
        let socket = TcpStream::connect(address).await?;
        let server = socket.peer_addr()?;
        let (read_half, writer) = websocket_halves(socket, address, &options).await?;
        let dial = Dial::WebSocket(address.to_owned());
        Client::start(read_half, writer, server, dial, options).await
    }

    /// Reads the welcome from a connected transport, starts the reader and
    /// the heartbeat, and authenticates when `options` has a token.
    async fn start(
        read_half: BoxedReader,
        writer: BoxedWriter,
        server: std::net::SocketAddr,
        dial: Dial,
        options: ConnectOptions,
    ) -> Result<Client, ClientError> {
        let (frames, welcome) = read_welcome(read_half).await?;
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let (events, incoming) = mpsc::unbounded_channel();
        let writer = Arc::new(Writer::new(writer, options.reconnect.is_some()));
        let resumption = Arc::new(Resumption::default());
        resumption.set_token(welcome.resume_token.clone());
        let shared = Arc::new(Shared {
            pending: pending.clone(),
            events: events.clone(),
            writer: writer.clone(),
            resumption,
            dial: Mutex::new(dial),
            options: options.clone(),
            closing: std::sync::atomic::AtomicBool::new(false),
        });
        let reader = tokio::spawn(read_loop(frames, shared.clone()));
        let reconnects = options.reconnect.is_some();
        // A server that gave no resume token keeps nothing to acknowledge.
        let acks = welcome.resume_token.is_some().then(|| shared.resumption.clone());
        let heartbeat =
            tokio::spawn(heartbeat(writer.clone(), acks, welcome.idle_timeout_ms, reconnects));
        let client = Client {
            welcome,
            writer,
            pending,
            shared,
            next_id: AtomicU32::new(1),
            incoming,
            events,
            reader,
            heartbeat,
            server,
            udp: None,
            options: options.clone(),
            links: Mutex::default(),
            nodes: Mutex::default(),
        };
        if let Some(token) = &options.token {
            client.authenticate(token).await?;
        }
        Ok(client)
    }

    /// This connection's session id, as the server assigned it.
    pub fn session(&self) -> SessionId {
        self.welcome.session
    }

    /// The server's welcome.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// Sends `request` and waits for its result.
    ///
    /// # Errors
    /// [`ClientError::Server`] with the server's code, or a transport error.
    pub async fn request(&self, request: Request) -> Result<Payload, ClientError> {
        let link = request.room_id().and_then(|room| lock(&self.links).get(room).cloned());
        if let Some(link) = link {
            return Box::pin(link.request(request)).await;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, result) = oneshot::channel();
        lock(&self.pending).as_mut().ok_or(ClientError::Closed)?.insert(id, reply);
        if let Err(err) = self.writer.write(Some(id), &request.encode(Some(id))).await {
            lock(&self.pending).as_mut().map(|pending| pending.remove(&id));
            return Err(err);
        }
        result.await.map_err(|_| ClientError::Closed)?
    }

    /// Sends `request` without an id: no response comes back (errors arrive
    /// as [`Incoming::Error`]).
    ///
    /// # Errors
    /// A transport error.
    pub async fn notify(&self, request: Request) -> Result<(), ClientError> {
        self.writer.write(None, &request.encode(None)).await
    }

    /// Writes raw bytes to the socket (for tests of malformed input).
    ///
    /// # Errors
    /// A transport error.
    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), ClientError> {
        self.writer.write(None, bytes).await
    }

    /// The session's resume token and how far the client has read.
    pub fn resumption(&self) -> &Resumption {
        &self.shared.resumption
    }

    /// Ends the session (`close_session`): it leaves every room at once
    /// (reason `"left"`) and is not held for a resume, and the server
    /// closes the connection.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn close(&self) -> Result<(), ClientError> {
        self.shared.closing.store(true, Ordering::Release);
        self.request(ServerOp::CloseSession {}.into()).await.map(drop)
    }

    /// The connection to the node at `address`: the one already open, or
    /// a new one (made as this client connected: TLS, token) whose events
    /// arrive with this client's own.
    pub(crate) async fn link_to(&self, address: &str) -> Result<Arc<Client>, ClientError> {
        let open = lock(&self.nodes).get(address).cloned();
        if let Some(link) = open
            && !link.is_closed()
        {
            return Ok(link);
        }
        let mut options = self.options.clone();
        if let Some(tls) = &mut options.tls {
            tls.server_name = host_of(address).to_owned();
        }
        let mut link = Box::pin(Client::connect_with(address, options)).await?;
        let mut events = link.take_event_stream();
        let into = self.events.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if into.send(event).is_err() {
                    return;
                }
            }
        });
        let link = Arc::new(link);
        lock(&self.nodes).insert(address.to_owned(), link.clone());
        Ok(link)
    }

    /// Sends the requests about `room` through `link`, the connection to
    /// the node that holds it, from now on.
    pub(crate) fn follow(&self, room: &str, link: Arc<Client>) {
        lock(&self.links).insert(room.to_owned(), link);
    }

    /// Sends the requests about `room` to this client's own node again
    /// (the connection to the room's node stays open for other rooms).
    pub(crate) fn unfollow(&self, room: &str) {
        lock(&self.links).remove(room);
    }

    /// Whether the server closed this connection (or it failed).
    pub fn is_closed(&self) -> bool {
        lock(&self.pending).is_none()
    }

    /// The next event or connection-level error; `None` once the connection
    /// is closed and everything received was read.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn demo(mut client: vampire_client::Client) {
    /// use vampire_client::{Event, Incoming};
    ///
    /// while let Some(incoming) = client.next_event().await {
    ///     match incoming {
    ///         Incoming::Event(Event::RoomMessage { room, from, data }) => {
    ///             println!("{room}: {from:?} says {data:?}");
    ///         }
    ///         Incoming::Event(other) => println!("{other:?}"),
    ///         Incoming::Error { code, message } => println!("{code}: {message}"),
    ///         Incoming::Connection(change) => println!("connection: {change:?}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn next_event(&mut self) -> Option<Incoming> {
        self.incoming.recv().await
    }

    /// [`Client::next_event`] with a time limit; `None` on time-out too.
    pub async fn next_event_within(&mut self, limit: Duration) -> Option<Incoming> {
        tokio::time::timeout(limit, self.incoming.recv()).await.ok().flatten()
    }

    /// Takes the event stream out of the client, for a task that handles
    /// events while the client is shared for requests. Afterwards
    /// [`Client::next_event`] returns `None`.
    pub fn take_event_stream(&mut self) -> mpsc::UnboundedReceiver<Incoming> {
        let (_, empty) = mpsc::unbounded_channel();
        std::mem::replace(&mut self.incoming, empty)
    }

    /// An event already received, without waiting.
    pub fn try_next_event(&mut self) -> Option<Incoming> {
        self.incoming.try_recv().ok()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
        self.heartbeat.abort();
        if let Some(udp) = &self.udp {
            udp.close();
        }
    }
}
