//! One TCP connection: a reader loop (this task) that splits frames and
//! runs requests in order, and a writer task that drains the client's
//! outbound queue.
//!
//! The reader enforces the connection's clocks: the first frame must come
//! within `limits.handshakeTimeoutSecs`, a frame once begun must be
//! complete within `limits.frameTimeoutSecs`, and some frame must come
//! every `limits.idleTimeoutSecs` (clients send `ping`). A connection
//! that breaks one is closed with `timeout`, so silent or half-open
//! sockets never hold a place for long.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};
use vampire_protocol::{ErrorCode, PROTOCOL_VERSION, SessionId, Welcome, frame, server};

use crate::net::NetContext;
use crate::net::session::Session;
use crate::outbound::{ClientHandle, Identity};

/// Bytes gathered from the queue into one `write` call at most.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Space the reader keeps free in its buffer before each read.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// How long the writer may spend on a farewell or on the last queued
/// frames once the connection is closing.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves one accepted connection until the client leaves, the server
/// closes it (bad frame, slow reader, timeout) or the server shuts down.
pub(crate) async fn serve(
    socket: TcpStream,
    session_id: SessionId,
    context: Arc<NetContext>,
    shutdown: CancellationToken,
) {
    let _ = socket.set_nodelay(true);
    let (mut reader, writer) = socket.into_split();
    let client = ClientHandle::new(session_id, context.client_limits(), Identity::default());
    let writer = tokio::spawn(write_loop(writer, client.clone()));
    let limits = &context.config.limits;

    let mut welcome = BytesMut::new();
    server::write_welcome(
        &mut welcome,
        &Welcome {
            protocol: PROTOCOL_VERSION,
            session: session_id,
            server: concat!("vampiretcp/", env!("CARGO_PKG_VERSION")).to_owned(),
            idle_timeout_ms: limits.idle_timeout().as_millis() as u64,
        },
    );
    client.send(welcome.freeze());

    let mut session =
        Session::new(client.clone(), context.rooms.clone(), limits, context.udp.clone());
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let started = Instant::now();
    let mut last_frame: Option<Instant> = None;
    let mut partial_since: Option<Instant> = None;
    'connection: loop {
        loop {
            match frame::split(&mut buf, limits.max_frame_bytes) {
                Ok(Some(body)) => {
                    last_frame = Some(Instant::now());
                    partial_since = None;
                    session.handle_frame(&body).await;
                }
                Ok(None) => break,
                Err(too_large) => {
                    info!(
                        session = session_id,
                        announced = too_large.announced,
                        "frame over the size limit, closing"
                    );
                    client.close_with(
                        ErrorCode::FrameTooLarge,
                        &format!(
                            "a frame of {} bytes is longer than the server's maximum of {}",
                            too_large.announced, limits.max_frame_bytes
                        ),
                    );
                    break 'connection;
                }
            }
        }
        if buf.is_empty() {
            partial_since = None;
        } else if partial_since.is_none() {
            partial_since = Some(Instant::now());
        }
        let (deadline, why) = deadline(started, last_frame, partial_since, limits);
        if buf.capacity() - buf.len() < READ_CHUNK_BYTES {
            buf.reserve(READ_CHUNK_BYTES);
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                client.close_with(ErrorCode::ServerShutdown, "the server is shutting down");
                break;
            }
            () = client.closing() => break,
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) if buf.is_empty() => {
                    debug!(session = session_id, "client closed the connection");
                    break;
                }
                Ok(0) => {
                    info!(session = session_id, "connection ended in the middle of a frame");
                    break;
                }
                Ok(_) => {}
                Err(err) => {
                    debug!(session = session_id, %err, "read failed");
                    break;
                }
            },
            () = tokio::time::sleep_until(deadline) => {
                info!(session = session_id, "closing: {why}");
                client.close_with(ErrorCode::Timeout, why);
                break;
            }
        }
    }
    session.leave_all().await;
    client.close();
    let _ = writer.await;
    debug!(session = session_id, "connection closed");
}

/// When the connection times out, and the reason it will be told.
fn deadline(
    started: Instant,
    last_frame: Option<Instant>,
    partial_since: Option<Instant>,
    limits: &crate::config::Limits,
) -> (Instant, &'static str) {
    let (mut deadline, mut why) = match last_frame {
        None => (started + limits.handshake_timeout(), "no request came in time after connecting"),
        Some(last) => {
            (last + limits.idle_timeout(), "the connection was idle too long (send ping)")
        }
    };
    if let Some(since) = partial_since {
        let frame_deadline = since + limits.frame_timeout();
        if frame_deadline < deadline {
            (deadline, why) = (frame_deadline, "a frame took too long to arrive");
        }
    }
    (deadline, why)
}

/// Writes queued frames until the connection closes. Whatever is queued
/// when the writer wakes goes out together: small frames are gathered into
/// one buffer per system call, large ones are written as they are.
///
/// Once the connection is closing, the writer spends at most
/// [`CLOSE_GRACE`] finishing the write in flight and saying goodbye, so a
/// client that stopped reading cannot hold the connection's tasks.
async fn write_loop(mut socket: OwnedWriteHalf, client: ClientHandle) {
    let mut taken: VecDeque<Bytes> = VecDeque::new();
    let mut batch = BytesMut::with_capacity(WRITE_BATCH_BYTES);
    loop {
        client.take_queued(&mut taken);
        if taken.is_empty() {
            tokio::select! {
                biased;
                () = client.closing() => break,
                () = client.queued() => continue,
            }
        }
        let write = write_all(&mut socket, &mut taken, &mut batch);
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
                client.take_queued(&mut taken);
                write_all(&mut socket, &mut taken, &mut batch).await?;
            }
        }
        socket.shutdown().await
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, goodbye).await;
}

/// Writes every item of `taken` in order, gathering small ones into
/// `batch`.
async fn write_all(
    socket: &mut OwnedWriteHalf,
    taken: &mut VecDeque<Bytes>,
    batch: &mut BytesMut,
) -> std::io::Result<()> {
    while let Some(frames) = taken.pop_front() {
        if frames.len() >= WRITE_BATCH_BYTES / 4 {
            if !batch.is_empty() {
                socket.write_all(batch).await?;
                batch.clear();
            }
            socket.write_all(&frames).await?;
        } else {
            batch.extend_from_slice(&frames);
            if batch.len() >= WRITE_BATCH_BYTES {
                socket.write_all(batch).await?;
                batch.clear();
            }
        }
    }
    if !batch.is_empty() {
        socket.write_all(batch).await?;
        batch.clear();
    }
    Ok(())
}
