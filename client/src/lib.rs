//! An async client for VampireTCP, used by the command-line client, the
//! end-to-end tests and the benchmarks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vampire_client::ClientError> {
//! use vampire_client::{Client, CreateRoom};
//!
//! let mut client = Client::connect("127.0.0.1:7777").await?;
//! let room = client.create_room(CreateRoom::default()).await?;
//! client.join(&room.id, None).await?;
//! client.set_variable(&room.id, "score", 10.into(), None).await?;
//! while let Some(event) = client.next_event().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`Client`]: requests (one method per operation) and the event stream.
//! - [`ClientError`]: what can go wrong, including the server's error codes.
//!
//! A background task reads frames: responses complete the matching
//! request, events and connection-level errors go to [`Client::next_event`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;
pub use vampire_protocol::{
    CreateRoom, ErrorCode, Event, JoinResult, Request, RequestFrame, RoomId, RoomInfo,
    ServerMessage, SessionId, Value, VariableBroadcast, frame,
};

/// Largest frame the client accepts from the server.
pub const MAX_INCOMING_FRAME: usize = 16 * 1024 * 1024;

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
    #[error("cannot decode the server's message: {0}")]
    Decode(String),
    /// No welcome or response within the time allowed.
    #[error("timed out")]
    Timeout,
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

type Pending = Arc<Mutex<HashMap<u32, oneshot::Sender<Result<Value, ClientError>>>>>;

/// A connection to a VampireTCP server.
pub struct Client {
    session: SessionId,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
    next_id: AtomicU32,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    reader: tokio::task::JoinHandle<()>,
}

impl Client {
    /// Connects and waits for the server's `welcome`.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the connection fails, [`ClientError::Server`]
    /// if the server refuses it (say `server_busy`), [`ClientError::Timeout`]
    /// without a welcome within 10 s.
    pub async fn connect(address: impl ToSocketAddrs) -> Result<Client, ClientError> {
        let socket = TcpStream::connect(address).await?;
        socket.set_nodelay(true)?;
        let (read_half, writer) = socket.into_split();
        let mut frames = FramedRead::new(read_half, frame::codec(MAX_INCOMING_FRAME));
        let welcome = tokio::time::timeout(Duration::from_secs(10), frames.next())
            .await
            .map_err(|_| ClientError::Timeout)?
            .ok_or(ClientError::Closed)??;
        let session = match decode(&welcome)? {
            ServerMessage::Welcome { session, .. } => session,
            ServerMessage::Error { code, message, .. } => {
                return Err(ClientError::Server { code, message });
            }
            other => {
                return Err(ClientError::Decode(format!("expected welcome, got {other:?}")));
            }
        };
        let pending = Pending::default();
        let (events, incoming) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(frames, pending.clone(), events));
        Ok(Client {
            session,
            writer: tokio::sync::Mutex::new(writer),
            pending,
            next_id: AtomicU32::new(1),
            incoming,
            reader,
        })
    }

    /// This connection's session id, as the server assigned it.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// Sends `request` and waits for its result.
    ///
    /// # Errors
    /// [`ClientError::Server`] with the server's code, or a transport error.
    pub async fn request(&self, request: Request) -> Result<Value, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, result) = oneshot::channel();
        lock(&self.pending).insert(id, reply);
        let sent = self.send_frame(&RequestFrame { id: Some(id), request }).await;
        if let Err(err) = sent {
            lock(&self.pending).remove(&id);
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
        self.send_frame(&RequestFrame { id: None, request }).await
    }

    /// Writes raw bytes to the socket (for tests of malformed input).
    ///
    /// # Errors
    /// A transport error.
    pub async fn send_raw(&self, bytes: &[u8]) -> Result<(), ClientError> {
        self.writer.lock().await.write_all(bytes).await?;
        Ok(())
    }

    async fn send_frame(&self, frame: &RequestFrame) -> Result<(), ClientError> {
        let bytes = frame::encode(frame).map_err(|err| ClientError::Decode(err.to_string()))?;
        self.send_raw(&bytes).await
    }

    async fn request_as<T: DeserializeOwned>(&self, request: Request) -> Result<T, ClientError> {
        let value = self.request(request).await?;
        serde_json::from_value(value).map_err(|err| ClientError::Decode(err.to_string()))
    }

    /// Creates a room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn create_room(&self, settings: CreateRoom) -> Result<RoomInfo, ClientError> {
        self.request_as(Request::CreateRoom(settings)).await
    }

    /// Lists public rooms, optionally of one type.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn list_rooms(&self, room_type: Option<&str>) -> Result<Vec<RoomInfo>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Rooms {
            rooms: Vec<RoomInfo>,
        }
        let rooms: Rooms =
            self.request_as(Request::ListRooms { room_type: room_type.map(str::to_owned) }).await?;
        Ok(rooms.rooms)
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
        self.request_as(Request::Join {
            room: room.to_owned(),
            password: password.map(str::to_owned),
        })
        .await
    }

    /// Leaves a room.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn leave(&self, room: &str) -> Result<(), ClientError> {
        self.request(Request::Leave { room: room.to_owned() }).await.map(drop)
    }

    /// Deletes a room this client created.
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
    pub async fn get_variable(&self, room: &str, name: &str) -> Result<Value, ClientError> {
        let mut result = self
            .request(Request::GetVariable { room: room.to_owned(), name: name.to_owned() })
            .await?;
        Ok(result["value"].take())
    }

    /// Reads every variable.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn get_variables(
        &self,
        room: &str,
    ) -> Result<serde_json::Map<String, Value>, ClientError> {
        let mut result = self.request(Request::GetVariables { room: room.to_owned() }).await?;
        match result["variables"].take() {
            Value::Object(map) => Ok(map),
            other => Err(ClientError::Decode(format!("expected a map of variables, got {other}"))),
        }
    }

    /// Sets a variable; returns whether the change was broadcast.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn set_variable(
        &self,
        room: &str,
        name: &str,
        value: Value,
        broadcast: Option<bool>,
    ) -> Result<bool, ClientError> {
        let result = self
            .request(Request::SetVariable {
                room: room.to_owned(),
                name: name.to_owned(),
                value,
                broadcast,
            })
            .await?;
        Ok(result["broadcast"].as_bool().unwrap_or(false))
    }

    /// Calls a room method and returns its result.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn invoke(
        &self,
        room: &str,
        method: &str,
        args: Value,
    ) -> Result<Value, ClientError> {
        self.request(Request::Invoke { room: room.to_owned(), method: method.to_owned(), args })
            .await
    }

    /// Sends a message to a room and waits for the server to accept it.
    ///
    /// # Errors
    /// As for [`Client::request`].
    pub async fn send_message(&self, room: &str, data: Value) -> Result<(), ClientError> {
        self.request(Request::SendMessage { room: room.to_owned(), data }).await.map(drop)
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
    }
}

async fn read_loop(
    mut frames: FramedRead<tokio::net::tcp::OwnedReadHalf, tokio_util::codec::LengthDelimitedCodec>,
    pending: Pending,
    incoming: mpsc::UnboundedSender<Incoming>,
) {
    while let Some(Ok(body)) = frames.next().await {
        match decode(&body) {
            Ok(ServerMessage::Response { id, result }) => {
                if let Some(reply) = lock(&pending).remove(&id) {
                    let _ = reply.send(Ok(result));
                }
            }
            Ok(ServerMessage::Error { id: Some(id), code, message }) => {
                if let Some(reply) = lock(&pending).remove(&id) {
                    let _ = reply.send(Err(ClientError::Server { code, message }));
                }
            }
            Ok(ServerMessage::Error { id: None, code, message }) => {
                let _ = incoming.send(Incoming::Error { code, message });
            }
            Ok(ServerMessage::Event(event)) => {
                let _ = incoming.send(Incoming::Event(event));
            }
            Ok(ServerMessage::Welcome { .. }) | Err(_) => {}
        }
    }
    // Requests still waiting see their reply sender dropped: `Closed`.
    lock(&pending).clear();
}

fn decode(body: &[u8]) -> Result<ServerMessage, ClientError> {
    rmp_serde::from_slice(body).map_err(|err| ClientError::Decode(err.to_string()))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
