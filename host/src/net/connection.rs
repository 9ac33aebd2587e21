//! One TCP connection: a reader loop (this task) that decodes frames and
//! runs requests in order, and a writer task that drains the bounded
//! outbound queue.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{broadcast, mpsc};
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};
use vampire_protocol::{ErrorCode, PROTOCOL_VERSION, ServerMessage, SessionId, frame};

use crate::config::Config;
use crate::net::ClientHandle;
use crate::net::request::{self, Rejected};
use crate::net::session::{Outcome, Session};
use crate::rooms::RoomManager;

/// Most bytes the writer gathers from the queue into one `write` call.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// How long the writer may spend on a farewell or on the last queued
/// frames once the connection is closing.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves one accepted connection until the client leaves, the server
/// closes it (bad frame, slow reader) or the server shuts down.
pub(crate) async fn serve(
    socket: TcpStream,
    session_id: SessionId,
    config: Arc<Config>,
    rooms: Arc<RoomManager>,
    mut shutdown: broadcast::Receiver<()>,
) {
    let _ = socket.set_nodelay(true);
    let (read_half, write_half) = socket.into_split();
    let (client, queue) = ClientHandle::new(session_id, config.limits.outbound_queue_frames);
    let writer = tokio::spawn(write_loop(write_half, queue, client.clone()));

    client.send_message(&ServerMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        session: session_id,
        server: concat!("vampiretcp/", env!("CARGO_PKG_VERSION")).to_owned(),
        udp: None,
    });

    let mut session = Session::new(client.clone(), rooms);
    let mut frames = FramedRead::new(read_half, frame::codec(config.limits.max_frame_bytes));
    loop {
        let next = tokio::select! {
            next = frames.next() => next,
            () = client.closing() => break,
            _ = shutdown.recv() => {
                client.close_with(ErrorCode::ServerShutdown, "the server is shutting down");
                break;
            }
        };
        match next {
            None => {
                debug!(session = session_id, "client closed the connection");
                break;
            }
            Some(Ok(body)) => handle_frame(&mut session, &client, &body).await,
            Some(Err(err)) if err.kind() == std::io::ErrorKind::InvalidData => {
                warn!(session = session_id, %err, "frame over the size limit, closing");
                client.close_with(
                    ErrorCode::FrameTooLarge,
                    &format!(
                        "frame longer than the server's maximum of {} bytes",
                        config.limits.max_frame_bytes
                    ),
                );
                break;
            }
            Some(Err(err)) => {
                // Includes a length prefix followed by a truncated body.
                info!(session = session_id, %err, "connection ended with an incomplete frame or an I/O error");
                break;
            }
        }
    }
    session.leave_all().await;
    client.close();
    let _ = writer.await;
    info!(session = session_id, "connection closed");
}

/// Decodes and runs one request, and queues its response.
async fn handle_frame(session: &mut Session, client: &ClientHandle, body: &[u8]) {
    let outcome = match request::decode(body) {
        Ok(frame) => {
            let id = frame.id;
            (id, session.handle(frame.request, id).await)
        }
        Err(Rejected { id, error }) => {
            debug!(session = session.id(), %error, "rejected a frame");
            (id, Err(error))
        }
    };
    let message = match outcome {
        (Some(id), Ok(Outcome::Result(result))) => ServerMessage::Response { id, result },
        (_, Ok(_)) => return,
        (id, Err(error)) => ServerMessage::Error { id, code: error.code, message: error.message },
    };
    client.send_message(&message);
}

/// Writes queued frames until the connection closes. Frames waiting in the
/// queue are gathered into one buffer so a burst costs one system call.
///
/// Once the connection is closing, the writer spends at most
/// [`CLOSE_GRACE`] finishing the frame in flight and saying goodbye, so a
/// client that stopped reading cannot hold the connection's tasks.
async fn write_loop(
    mut socket: OwnedWriteHalf,
    mut queue: mpsc::Receiver<Bytes>,
    client: ClientHandle,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH_BYTES);
    loop {
        let first = tokio::select! {
            biased;
            () = client.closing() => None,
            frame = queue.recv() => frame,
        };
        let Some(first) = first else { break };
        batch.clear();
        batch.extend_from_slice(&first);
        while batch.len() < WRITE_BATCH_BYTES {
            match queue.try_recv() {
                Ok(frame) => batch.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        let write = socket.write_all(&batch);
        tokio::pin!(write);
        let written = tokio::select! {
            written = &mut write => written.is_ok(),
            () = client.closing() => {
                // Finish the frame in flight so the farewell that follows
                // is framed correctly, but only briefly.
                matches!(tokio::time::timeout(CLOSE_GRACE, write).await, Ok(Ok(())))
            }
        };
        if !written {
            client.close();
            return;
        }
    }
    let goodbye = async {
        match client.farewell() {
            // Closed on purpose: the reason, not the backlog, is what the
            // client needs.
            Some(farewell) => socket.write_all(farewell).await?,
            None => {
                while let Ok(frame) = queue.try_recv() {
                    socket.write_all(&frame).await?;
                }
            }
        }
        socket.shutdown().await
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, goodbye).await;
}
