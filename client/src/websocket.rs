//! The client's side of the WebSocket transport: the upgrade, and a
//! bridge that gives the rest of the client the same length-prefixed
//! byte stream TCP does (one binary message in, one frame out; one frame
//! out, one binary message), so every operation behaves the same on both.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::FramedRead;
use vampire_protocol::frame;

use crate::error::ClientError;

/// Bytes the bridge holds between the socket and the client, each way.
const BRIDGE_BYTES: usize = 256 * 1024;

/// Upgrades `stream` to a WebSocket at `url` (`ws://host:port/` or
/// `wss://…`, naming the host the server sees) and gives the client's end
/// of the bridge; frames longer than `max_frame` end it.
///
/// # Errors
/// [`ClientError::Io`] when the server refuses the upgrade (its HTTP
/// status is in the message) or the socket fails.
pub(crate) async fn connect<S>(
    stream: S,
    url: &str,
    max_frame: usize,
) -> Result<DuplexStream, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (socket, _response) = tokio_tungstenite::client_async(url, stream)
        .await
        .map_err(|err| std::io::Error::other(format!("WebSocket upgrade refused: {err}")))?;
    let (client_end, bridge_end) = tokio::io::duplex(BRIDGE_BYTES);
    let (bridge_read, mut bridge_write) = tokio::io::split(bridge_end);
    let (mut sink, mut messages) = socket.split();
    // Server to client: each binary message becomes a frame.
    tokio::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            let Message::Binary(body) = message else { continue };
            let prefix = (body.len() as u32).to_be_bytes();
            if bridge_write.write_all(&prefix).await.is_err()
                || bridge_write.write_all(&body).await.is_err()
            {
                break;
            }
        }
        let _ = bridge_write.shutdown().await;
    });
    // Client to server: each frame becomes a binary message.
    tokio::spawn(async move {
        let mut frames = FramedRead::new(bridge_read, frame::codec(max_frame));
        while let Some(Ok(body)) = frames.next().await {
            if sink.send(Message::Binary(body.freeze())).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    Ok(client_end)
}
