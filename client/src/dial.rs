//! How the client reaches a server, first and again after a drop: TCP,
//! TLS over it, or the WebSocket port; and the welcome every connection
//! opens with.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_util::codec::FramedRead;
use vampire_protocol::{DecodeError, ServerMessage, Welcome, frame};

use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::ClientError;
use crate::reconnect::ReconnectPolicy;
use crate::tls::TlsOptions;

/// Largest frame the client accepts from the server.
pub const MAX_INCOMING_FRAME: usize = 16 * 1024 * 1024;

/// How to connect, beyond the address.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// Speak TLS, checking the server's certificate. Default: plain TCP.
    pub tls: Option<TlsOptions>,
    /// A token to `authenticate` with as soon as the server welcomes the
    /// client (and to present when resuming). Default: none.
    pub token: Option<String>,
    /// Resume the session when the connection drops, as this policy says.
    /// Default: none (a dropped connection closes the client).
    pub reconnect: Option<ReconnectPolicy>,
}

pub(crate) type BoxedReader = Box<dyn AsyncRead + Send + Unpin>;
pub(crate) type BoxedWriter = Box<dyn AsyncWrite + Send + Unpin>;
/// The frames the server sends, read from one connection.
pub(crate) type Frames = FramedRead<BoxedReader, tokio_util::codec::LengthDelimitedCodec>;

/// How the client reached its server, to dial it again the same way.
#[derive(Debug, Clone)]
pub(crate) enum Dial {
    /// The TCP port at this `host:port` (TLS when the options say so).
    Tcp(String),
    /// The WebSocket port at this `host:port`.
    WebSocket(String),
}

/// Reads the welcome from a new connection.
///
/// # Errors
/// [`ClientError::Timeout`] without one in 10 s, [`ClientError::Server`]
/// when the server refuses the connection, or what the socket says.
pub(crate) async fn read_welcome(read_half: BoxedReader) -> Result<(Frames, Welcome), ClientError> {
    let mut frames = FramedRead::new(read_half, frame::codec(MAX_INCOMING_FRAME));
    let welcome = tokio::time::timeout(Duration::from_secs(10), frames.next())
        .await
        .map_err(|_| ClientError::Timeout)?
        .ok_or(ClientError::Closed)??;
    match ServerMessage::decode(&welcome.freeze())? {
        ServerMessage::Welcome(welcome) => Ok((frames, welcome)),
        ServerMessage::Error { code, message, .. } => Err(ClientError::Server { code, message }),
        other => Err(DecodeError(format!("expected welcome, got {other:?}")).into()),
    }
}

/// Dials the server again as the client first reached it.
///
/// # Errors
/// What connecting, TLS or the upgrade say.
pub(crate) async fn dial(
    dial: &Dial,
    options: &ConnectOptions,
) -> Result<(BoxedReader, BoxedWriter), ClientError> {
    match dial {
        Dial::Tcp(address) => {
            tcp_halves(TcpStream::connect(address.as_str()).await?, options).await
        }
        Dial::WebSocket(address) => {
            let socket = TcpStream::connect(address.as_str()).await?;
            websocket_halves(socket, address, options).await
        }
    }
}

/// The two halves of a TCP connection, over TLS when `options` say so.
pub(crate) async fn tcp_halves(
    socket: TcpStream,
    options: &ConnectOptions,
) -> Result<(BoxedReader, BoxedWriter), ClientError> {
    socket.set_nodelay(true)?;
    Ok(match &options.tls {
        None => {
            let (read_half, write_half) = socket.into_split();
            (Box::new(read_half), Box::new(write_half))
        }
        Some(tls) => {
            let stream = crate::tls::connect(tls, socket).await?;
            let (read_half, write_half) = tokio::io::split(stream);
            (Box::new(read_half), Box::new(write_half))
        }
    })
}

/// The two halves of a WebSocket connection to `address` (`wss` when
/// `options` say TLS), bridged to length-prefixed frames.
pub(crate) async fn websocket_halves(
    socket: TcpStream,
    address: &str,
    options: &ConnectOptions,
) -> Result<(BoxedReader, BoxedWriter), ClientError> {
    socket.set_nodelay(true)?;
    let bridge = match &options.tls {
        None => {
            let url = format!("ws://{address}/");
            crate::websocket::connect(socket, &url, MAX_INCOMING_FRAME).await?
        }
        Some(tls) => {
            let stream = crate::tls::connect(tls, socket).await?;
            let url = format!("wss://{address}/");
            crate::websocket::connect(stream, &url, MAX_INCOMING_FRAME).await?
        }
    };
    let (read_half, write_half) = tokio::io::split(bridge);
    Ok((Box::new(read_half), Box::new(write_half)))
}
