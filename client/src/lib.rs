//! An async client for VampireTCP, used by the command-line client, the
//! end-to-end tests and the benchmarks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vampire_client::ClientError> {
//! use vampire_client::{Client, CreateRoom, Value};
//!
//! let mut client = Client::connect("127.0.0.1:7777").await?;
//! let room = client.create_room(CreateRoom::default()).await?;
//! client.join(&room.id, None).await?;
//! client.set_variable(&room.id, "score", Value::from(10), None).await?;
//! client.set_variable(&room.id, "blob", Value::Binary(vec![1, 2, 3]), None).await?;
//! while let Some(event) = client.next_event().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`Client`]: requests (one method per operation) and the event stream.
//! - [`ClientError`]: what can go wrong, including the server's error codes.
//! - [`json`]: values shown as JSON and read from JSON (binary and other
//!   MessagePack-only values with `$` markers), for people.
//! - [`udp`]: the client's side of the UDP channel.
//!
//! [`Client::connect_with`] connects over TLS and authenticates with a
//! token ([`ConnectOptions`]).
//!
//! A background task reads frames: responses complete the matching
//! request, events and connection-level errors go to [`Client::next_event`].
//! Another keeps the connection alive with `ping` notifications when the
//! client has sent nothing for a third of the server's idle timeout.

pub mod json;
pub mod udp;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;
pub use vampire_protocol::room::{field_of, variables_from_payload};
pub use vampire_protocol::{
    CreateRoom, DecodeError, ErrorCode, Event, JoinResult, Payload, Redirect, Request, RoomId,
    RoomInfo, RoomList, ServerMessage, SessionId, Value, VariableBroadcast, Welcome, frame,
};

/// The host part of a `host:port` address (brackets of an IPv6 address
/// removed): the name a TLS certificate is checked against.
pub fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Largest frame the client accepts from the server.
pub const MAX_INCOMING_FRAME: usize = 16 * 1024 * 1024;

/// How to connect, beyond the address.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Speak TLS, checking the server's certificate. Default: plain TCP.
    pub tls: Option<TlsOptions>,
    /// A token to `authenticate` with as soon as the server welcomes the
    /// client. Default: none.
    pub token: Option<String>,
}

/// How to check the server's certificate.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    /// The name the certificate must be for (a DNS name or an IP
    /// address).
    pub server_name: String,
    /// A PEM file of the certificate authorities to trust: the server's
    /// own certificate for a self-signed set-up, or the system's bundle
    /// (for example `/etc/ssl/certs/ca-certificates.crt`).
    pub ca_file: std::path::PathBuf,
}

/// Who the server says the client is, after `authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user id (the token's `sub`).
    pub user_id: String,
    /// The display name (the token's `name`), if any.
    pub user_name: Option<String>,
}

type BoxedReader = Box<dyn AsyncRead + Send + Unpin>;
type BoxedWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// What can go wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("server error {code}: {message}")]
    Server {
        /// Stable error code.
        code: ErrorCode,
        /// Server's detail.
        message: String,
    },
    /// A network error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The connection is gone.
    #[error("connection closed")]
    Closed,
    /// The server sent something this client cannot read.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// No welcome within the time allowed.
    #[error("timed out")]
    Timeout,
    /// The TLS options cannot be used (the CA file, the server name).
    #[error("TLS: {0}")]
    Tls(String),
    /// The room lives on another node of the cluster. The `join`
    /// methods follow this by themselves; other callers of
    /// [`Client::request`] see it.
    #[error("room {} is on another node, at {}", .0.room, .0.address)]
    Redirect(Box<Redirect>),
}

impl ClientError {
    /// The server's error code, if the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Something the server sent that is not a response.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A room event.
    Event(Event),
    /// An error about the connection or a notification (nil id).
    Error {
        /// Stable error code.
        code: ErrorCode,
        /// Server's detail.
        message: String,
    },
}

/// Requests waiting for their answer, by id; `None` once the connection
/// has closed, so that a request made after that fails at once instead of
/// waiting for an answer that cannot come.
type Pending = Arc<Mutex<Option<HashMap<u32, oneshot::Sender<Result<Payload, ClientError>>>>>>;

/// The writing side, shared by requests and the heartbeat.
struct Writer {
    socket: tokio::sync::Mutex<BoxedWriter>,
    /// Milliseconds since `epoch` at the last write.
    last_write_ms: AtomicU64,
    epoch: Instant,
}

impl Writer {
    async fn write(&self, bytes: &[u8]) -> Result<(), ClientError> {
        self.socket.lock().await.write_all(bytes).await?;
        self.last_write_ms.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// A connection to a VampireTCP server.
pub struct Client {
    welcome: Welcome,
    writer: Arc<Writer>,
    pending: Pending,
    next_id: AtomicU32,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    /// Where events go, for the UDP task too.
    events: mpsc::UnboundedSender<Incoming>,
    reader: tokio::task::JoinHandle<()>,
    heartbeat: tokio::task::JoinHandle<()>,
    /// The server's address, for the UDP channel.
    server: std::net::SocketAddr,
    udp: Option<udp::UdpLink>,
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
    pub async fn connect_with(
        address: impl ToSocketAddrs,
        options: ConnectOptions,
    ) -> Result<Client, ClientError> {
        let socket = TcpStream::connect(address).await?;
        socket.set_nodelay(true)?;
        let server = socket.peer_addr()?;
        let (read_half, writer): (BoxedReader, BoxedWriter) = match &options.tls {
            None => {
                let (read_half, write_half) = socket.into_split();
                (Box::new(read_half), Box::new(write_half))
            }
            Some(tls) => {
                let connector = tls_connector(tls)?;
                let name =
                    tokio_rustls::rustls::pki_types::ServerName::try_from(tls.server_name.clone())
                        .map_err(|err| ClientError::Tls(format!("server name: {err}")))?;
                let stream = connector.connect(name, socket).await?;
                let (read_half, write_half) = tokio::io::split(stream);
                (Box::new(read_half), Box::new(write_half))
            }
        };
        let mut frames = FramedRead::new(read_half, frame::codec(MAX_INCOMING_FRAME));
        let welcome = tokio::time::timeout(Duration::from_secs(10), frames.next())
            .await
            .map_err(|_| ClientError::Timeout)?
            .ok_or(ClientError::Closed)??;
        let welcome = match ServerMessage::decode(&welcome.freeze())? {
            ServerMessage::Welcome(welcome) => welcome,
            ServerMessage::Error { code, message, .. } => {
                return Err(ClientError::Server { code, message });
            }
            other => {
                return Err(DecodeError(format!("expected welcome, got {other:?}")).into());
            }
        };
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let (events, incoming) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(frames, pending.clone(), events.clone()));
        let writer = Arc::new(Writer {
            socket: tokio::sync::Mutex::new(writer),
            last_write_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let heartbeat = tokio::spawn(heartbeat(writer.clone(), welcome.idle_timeout_ms));
        let client = Client {
            welcome,
            writer,
            pending,
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

    /// Presents `token`; on a server that authenticates, this must be the
    /// first request. A refused token closes the connection.
    ///
    /// # Errors
    /// `not_authenticated` with the reason, `invalid_request` on a server
    /// that does not check tokens, or a transport error.
    pub async fn authenticate(&self, token: &str) -> Result<Authenticated, ClientError> {
        let result = self.request(Request::Authenticate { token: token.to_owned() }).await?;
        let text =
            |field| field_of(&result, field).and_then(|v| v.to_value().as_str().map(str::to_owned));
        let user_id = text("user_id")
            .ok_or_else(|| DecodeError("an authenticate result without user_id".into()))?;
        let user_name = text("user_name");
        Ok(Authenticated { user_id, user_name })
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
        let link = request.room().and_then(|room| lock(&self.links).get(room).cloned());
        if let Some(link) = link {
            return Box::pin(link.request(request)).await;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, result) = oneshot::channel();
        lock(&self.pending).as_mut().ok_or(ClientError::Closed)?.insert(id, reply);
        if let Err(err) = self.writer.write(&request.encode(Some(id))).await {
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
        self.writer.write(&request.encode(None)).await
    }

    /// Writes raw bytes to the socket (for tests of malformed input).
    ///
    /// # Errors
    /// A transport error.
    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), ClientError> {
        self.writer.write(bytes).await
    }

    /// Creates a room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn create_room(&self, settings: CreateRoom) -> Result<RoomInfo, ClientError> {
        let result = self.request(Request::CreateRoom(settings)).await?;
        Ok(RoomInfo::from_payload(&result)?)
    }

    /// Lists public rooms, optionally of one type (the first page, up to
    /// 1000 rooms; see [`Client::list_rooms_page`]).
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn list_rooms(&self, room_type: Option<&str>) -> Result<Vec<RoomInfo>, ClientError> {
        Ok(self.list_rooms_page(room_type, None, None).await?.rooms)
    }

    /// Lists public rooms from `offset`, at most `limit`.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn list_rooms_page(
        &self,
        room_type: Option<&str>,
        offset: Option<u32>,
        limit: Option<u32>,
    ) -> Result<RoomList, ClientError> {
        let room_type = room_type.map(str::to_owned);
        let result = self.request(Request::ListRooms { room_type, offset, limit }).await?;
        Ok(RoomList::from_payload(&result)?)
    }

    /// Joins a room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn join(
        &self,
        room: &str,
        password: Option<&str>,
    ) -> Result<JoinResult, ClientError> {
        self.join_with(room, password, None).await
    }

    /// Joins a room, giving its join hook `options`; the hook's answer is
    /// the result's `reply`.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn join_with(
        &self,
        room: &str,
        password: Option<&str>,
        options: Option<Payload>,
    ) -> Result<JoinResult, ClientError> {
        let request = Request::Join {
            room: room.to_owned(),
            password: password.map(str::to_owned),
            invite: None,
            options,
            reservation: None,
        };
        self.join_request(request).await
    }

    /// Joins a password-protected room with an invite its owner asked for
    /// ([`Client::create_invite`]) instead of the password.
    ///
    /// # Errors
    /// As for [`Client::request`]; `not_authorized` for an unknown, used
    /// or expired invite.
    pub async fn join_with_invite(
        &self,
        room: &str,
        invite: &str,
    ) -> Result<JoinResult, ClientError> {
        let request = Request::Join {
            room: room.to_owned(),
            password: None,
            invite: Some(invite.to_owned()),
            options: None,
            reservation: None,
        };
        self.join_request(request).await
    }

    /// Sends a `join`; when the room lives on another node of a cluster,
    /// connects there (as this client connected: TLS, token) and joins
    /// with the seat the redirect reserved.
    async fn join_request(&self, request: Request) -> Result<JoinResult, ClientError> {
        let redirect = match self.request(request.clone()).await {
            Ok(result) => return Ok(JoinResult::from_payload(&result)?),
            Err(ClientError::Redirect(redirect)) => redirect,
            Err(err) => return Err(err),
        };
        let link = self.link_to(&redirect.address).await?;
        let Request::Join { room, password, invite, options, .. } = request else {
            unreachable!("join_request sends joins")
        };
        let join = Request::Join {
            room: room.clone(),
            password,
            invite,
            options,
            reservation: Some(redirect.reservation.clone()),
        };
        let result = JoinResult::from_payload(&Box::pin(link.request(join)).await?)?;
        lock(&self.links).insert(room, link);
        Ok(result)
    }

    /// The connection to the node at `address`: the one already open, or
    /// a new one (made as this client connected: TLS, token) whose events
    /// arrive with this client's own.
    async fn link_to(&self, address: &str) -> Result<Arc<Client>, ClientError> {
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

    /// Whether the server closed this connection (or it failed).
    pub fn is_closed(&self) -> bool {
        lock(&self.pending).is_none()
    }

    /// A one-time invite into `room` (its owner or an operator only),
    /// valid for ten minutes.
    ///
    /// # Errors
    /// As for [`Client::request`]; `not_authorized` for anyone else.
    pub async fn create_invite(&self, room: &str) -> Result<String, ClientError> {
        let result = self.request(Request::CreateInvite { room: room.to_owned() }).await?;
        field_of(&result, "invite")
            .and_then(|v| v.to_value().as_str().map(str::to_owned))
            .ok_or_else(|| DecodeError("a create_invite result without invite".into()).into())
    }

    /// Leaves a room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn leave(&self, room: &str) -> Result<(), ClientError> {
        self.request(Request::Leave { room: room.to_owned() }).await?;
        // Requests about the room go to this client's own node again (the
        // connection to the room's node stays open for other rooms).
        lock(&self.links).remove(room);
        Ok(())
    }

    /// Deletes a room this client (or its user) created; an operator may
    /// delete any room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn delete_room(&self, room: &str) -> Result<(), ClientError> {
        self.request(Request::DeleteRoom { room: room.to_owned() }).await.map(drop)
    }

    /// Reads one variable.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn get_variable(&self, room: &str, name: &str) -> Result<Payload, ClientError> {
        let result = self
            .request(Request::GetVariable { room: room.to_owned(), name: name.to_owned() })
            .await?;
        field_of(&result, "value")
            .ok_or_else(|| DecodeError("a variable result without `value`".into()).into())
    }

    /// Reads every variable, as (name, value) pairs.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn get_variables(&self, room: &str) -> Result<Vec<(String, Payload)>, ClientError> {
        let result = self.request(Request::GetVariables { room: room.to_owned() }).await?;
        Ok(variables_from_payload(&result)?)
    }

    /// Sets a variable; returns whether the change was broadcast.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn set_variable(
        &self,
        room: &str,
        name: &str,
        value: impl Into<Payload>,
        broadcast: Option<bool>,
    ) -> Result<bool, ClientError> {
        let result = self
            .request(Request::SetVariable {
                room: room.to_owned(),
                name: name.to_owned(),
                value: value.into(),
                broadcast,
                unreliable: None,
            })
            .await?;
        Ok(field_of(&result, "broadcast").is_some_and(|flag| flag.to_value() == Value::from(true)))
    }

    /// Calls a room method and returns its result.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn invoke(
        &self,
        room: &str,
        method: &str,
        args: impl Into<Payload>,
    ) -> Result<Payload, ClientError> {
        self.request(Request::Invoke {
            room: room.to_owned(),
            method: method.to_owned(),
            args: args.into(),
        })
        .await
    }

    /// Sends a message to a room and waits for the server to accept it.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn send_message(
        &self,
        room: &str,
        data: impl Into<Payload>,
    ) -> Result<(), ClientError> {
        self.request(Request::SendMessage { room: room.to_owned(), data: data.into() })
            .await
            .map(drop)
    }

    /// Opens the UDP channel: asks the server for a session and its keys,
    /// and from then on receives unreliable events over UDP too (they
    /// arrive with the others, from [`Client::next_event`]). Binding again
    /// replaces the session (say, after its keys expired).
    ///
    /// # Errors
    /// `udp_unavailable` when the server has no UDP port, or a transport
    /// error.
    pub async fn bind_udp(&mut self) -> Result<(), ClientError> {
        let result = self.request(Request::UdpBind).await?;
        let binding = vampire_protocol::udp::Binding::from_payload(&result)?;
        let address = std::net::SocketAddr::new(self.server.ip(), binding.port);
        self.udp = Some(udp::UdpLink::open(address, binding, self.events.clone()).await?);
        Ok(())
    }

    /// Whether the UDP channel is open.
    pub fn has_udp(&self) -> bool {
        self.udp.is_some()
    }

    /// Sends a message to a room that may be lost: over UDP when the
    /// channel is open ([`Client::bind_udp`]), else as a TCP notification.
    /// No answer comes back either way.
    ///
    /// # Errors
    /// A transport error, or a message too large for a datagram.
    pub async fn send_unreliable(
        &self,
        room: &str,
        data: impl Into<Payload>,
    ) -> Result<(), ClientError> {
        let data = data.into();
        match &self.udp {
            Some(link) => link.send_message(room, data).await,
            None => self.notify(Request::SendMessage { room: room.to_owned(), data }).await,
        }
    }

    /// Round trip with no effect.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn ping(&self) -> Result<(), ClientError> {
        self.request(Request::Ping).await.map(drop)
    }

    /// The next event or connection-level error; `None` once the connection
    /// is closed and everything received was read.
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

/// Sends a `ping` notification whenever nothing was written for a third of
/// the server's idle timeout (none when the server announces none).
async fn heartbeat(writer: Arc<Writer>, idle_timeout_ms: u64) {
    if idle_timeout_ms == 0 {
        return;
    }
    let every = Duration::from_millis((idle_timeout_ms / 3).max(1));
    let ping = Request::Ping.encode(None);
    loop {
        tokio::time::sleep(every).await;
        let now = writer.epoch.elapsed().as_millis() as u64;
        let last = writer.last_write_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= every.as_millis() as u64
            && writer.write(&ping).await.is_err()
        {
            return;
        }
    }
}

/// A TLS connector trusting the authorities of `tls.ca_file`.
fn tls_connector(tls: &TlsOptions) -> Result<tokio_rustls::TlsConnector, ClientError> {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&tls.ca_file)
        .map_err(|err| ClientError::Tls(format!("CA file {}: {err}", tls.ca_file.display())))?;
    for cert in certs {
        let cert = cert.map_err(|err| ClientError::Tls(format!("CA file: {err}")))?;
        roots.add(cert).map_err(|err| ClientError::Tls(format!("CA file: {err}")))?;
    }
    if roots.is_empty() {
        return Err(ClientError::Tls(format!("no certificate in {}", tls.ca_file.display())));
    }
    let config = tokio_rustls::rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

async fn read_loop(
    mut frames: FramedRead<BoxedReader, tokio_util::codec::LengthDelimitedCodec>,
    pending: Pending,
    incoming: mpsc::UnboundedSender<Incoming>,
) {
    while let Some(Ok(body)) = frames.next().await {
        match ServerMessage::decode(&body.freeze()) {
            Ok(ServerMessage::Response { id, result }) => {
                if let Some(reply) = lock(&pending).as_mut().and_then(|p| p.remove(&id)) {
                    let _ = reply.send(Ok(result));
                }
            }
            Ok(ServerMessage::Error { id: Some(id), code, message }) => {
                if let Some(reply) = lock(&pending).as_mut().and_then(|p| p.remove(&id)) {
                    let _ = reply.send(Err(ClientError::Server { code, message }));
                }
            }
            Ok(ServerMessage::Error { id: None, code, message }) => {
                let _ = incoming.send(Incoming::Error { code, message });
            }
            Ok(ServerMessage::Event(event)) => {
                let _ = incoming.send(Incoming::Event(event));
            }
            Ok(ServerMessage::Redirect(redirect)) => {
                if let Some(reply) = lock(&pending).as_mut().and_then(|p| p.remove(&redirect.id)) {
                    let _ = reply.send(Err(ClientError::Redirect(Box::new(redirect))));
                }
            }
            Ok(ServerMessage::Welcome { .. }) | Err(_) => {}
        }
    }
    // Requests still waiting see their reply sender dropped (`Closed`), and
    // later ones fail at once.
    lock(&pending).take();
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
