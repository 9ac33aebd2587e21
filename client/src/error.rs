//! [`ClientError`]: what can go wrong with a request; [`Incoming`]: what
//! the server sends that is not an answer.

use vampire_protocol::{DecodeError, ErrorCode, Event, Redirect};

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
    /// The connection dropped, is being resumed, was resumed, or is lost
    /// (when the client reconnects: `ConnectOptions::reconnect`).
    Connection(crate::reconnect::ConnectionEvent),
}
