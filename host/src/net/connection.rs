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

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};
use vampire_protocol::{ErrorCode, PROTOCOL_VERSION, SessionId, Welcome, frame, server};

use crate::net::NetContext;
use crate::net::session::Session;
use crate::outbound::{ClientHandle, Queued};

/// Bytes of small frames gathered into one `write` call at most.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// A queued buffer at least this long is written as it is, not copied
/// into a batch.
const LARGE_WRITE_BYTES: usize = 16 * 1024;

/// Space the reader keeps free in its buffer before each read.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// How long the writer may spend on a farewell or on the last queued
/// frames once the connection is closing.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves one accepted connection, given as its two halves (a plain TCP
/// socket's, or a TLS stream's), until the client leaves, the server
/// closes it (bad frame, slow reader, timeout) or the server shuts down.
pub(crate) async fn serve<R, W>(
    mut reader: R,
    writer: W,
    session_id: SessionId,
    peer: std::net::SocketAddr,
    context: Arc<NetContext>,
    shutdown: CancellationToken,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let metrics = context.metrics.clone();
    let client = ClientHandle::new(session_id, peer, context.client_limits(), metrics.clone());
    metrics.connections_open(1);
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
            auth_required: context.auth.is_some(),
        },
    );
    client.send(welcome.freeze());

    let mut session = Session::new(client.clone(), context.clone(), peer.ip());
    let mut buf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let started = Instant::now();
    let mut last_frame: Option<Instant> = None;
    let mut partial_since: Option<Instant> = None;
    // Built once and polled on every turn: a future made anew per read
    // would register with its source (a lock each) per read.
    let server_shutdown = shutdown.cancelled();
    let closing = client.closing();
    let timeout = tokio::time::sleep_until(started + limits.handshake_timeout());
    tokio::pin!(server_shutdown, closing, timeout);
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
        let (deadline, why) =
            deadline(started, last_frame, partial_since, session.is_authenticated(), limits);
        // The timer is only ever moved earlier here; when it fires before
        // the real deadline (a frame came since it was set), it is moved
        // on then. Moving it on every frame would cost a timer update per
        // frame.
        if deadline < timeout.deadline() {
            timeout.as_mut().reset(deadline);
        }
        if buf.capacity() - buf.len() < READ_CHUNK_BYTES {
            buf.reserve(READ_CHUNK_BYTES);
        }
        tokio::select! {
            biased;
            () = &mut server_shutdown => {
                let farewell = context.farewell.get().copied();
                client.close_with(
                    ErrorCode::ServerShutdown,
                    farewell.unwrap_or("the server is shutting down"),
                );
                break;
            }
            () = &mut closing => break,
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) if buf.is_empty() => {
                    debug!(session = session_id, "client closed the connection");
                    break;
                }
                Ok(0) => {
                    info!(session = session_id, "connection ended in the middle of a frame");
                    break;
                }
                Ok(read) => metrics.received(read),
                Err(err) => {
                    debug!(session = session_id, %err, "read failed");
                    break;
                }
            },
            () = &mut timeout => {
                if Instant::now() < deadline {
                    timeout.as_mut().reset(deadline);
                    continue;
                }
                info!(session = session_id, "closing: {why}");
                client.close_with(ErrorCode::Timeout, why);
                break;
            }
        }
    }
    session.leave_all().await;
    client.close();
    let _ = writer.await;
    metrics.connections_open(-1);
    debug!(session = session_id, "connection closed");
}

/// When the connection times out, and the reason it will be told. Until
/// it has authenticated, a connection lives by the handshake timeout
/// alone, however many frames it sends.
fn deadline(
    started: Instant,
    last_frame: Option<Instant>,
    partial_since: Option<Instant>,
    authenticated: bool,
    limits: &crate::config::Limits,
) -> (Instant, &'static str) {
    let (mut deadline, mut why) = match last_frame {
        Some(_) if !authenticated => {
            (started + limits.handshake_timeout(), "no authentication came in time")
        }
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
/// when the writer wakes goes out together, in as few system calls as the
/// socket allows (small frames gathered into one buffer, large ones
/// written as they are), and the writer only waits when the socket is
/// full.
///
/// Once the connection is closing, the writer spends at most
/// [`CLOSE_GRACE`] finishing what it was writing and saying goodbye, so a
/// client that stopped reading cannot hold the connection's tasks.
async fn write_loop<W: AsyncWrite + Unpin>(mut socket: W, client: ClientHandle) {
    let mut out = Outgoing::default();
    loop {
        if client.is_closing() {
            break;
        }
        client.take_queued(&mut out.taken);
        if out.is_empty() {
            // Woken by the first frame queued, or by the connection closing.
            client.queued().await;
            continue;
        }
        match out.write_until_closing(&mut socket, &client).await {
            Ok(Written::All) => {}
            Ok(Written::Closing) => break,
            Err(_) => {
                client.close();
                return;
            }
        }
        // A writer that always finds more queued must still let the other
        // tasks on its thread run.
        tokio::task::consume_budget().await;
    }
    let goodbye = async {
        // Finish what was being written, so the farewell that follows is
        // framed correctly.
        out.write_all(&mut socket, &client).await?;
        match client.farewell() {
            // Closed on purpose: the reason, not the backlog, is what the
            // client needs.
            Some(farewell) => out.taken.push_back(farewell.clone().into()),
            None => client.take_queued(&mut out.taken),
        }
        out.write_all(&mut socket, &client).await?;
        socket.shutdown().await
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, goodbye).await;
}

/// How [`Outgoing::write_until_closing`] ended without an error.
enum Written {
    /// Everything was written.
    All,
    /// The connection started closing while the socket was full; the rest
    /// is still in the [`Outgoing`].
    Closing,
}

/// What the writer has taken from the queue and not yet written.
#[derive(Default)]
struct Outgoing {
    /// Buffers taken from the queue, in order, not yet started.
    taken: VecDeque<Queued>,
    /// Small buffers gathered for one `write` call; `batch[sent..]` is
    /// still to go, and goes before anything in `taken`.
    batch: Vec<u8>,
    sent: usize,
}

impl Outgoing {
    fn is_empty(&self) -> bool {
        self.taken.is_empty() && self.sent == self.batch.len()
    }

    /// Writes everything, waiting while the socket is full unless the
    /// connection starts closing.
    async fn write_until_closing<W: AsyncWrite + Unpin>(
        &mut self,
        socket: &mut W,
        client: &ClientHandle,
    ) -> std::io::Result<Written> {
        // `biased`: a write that completes at once (the common case) never
        // polls the closing future, which would register with its token.
        while !self.is_empty() {
            tokio::select! {
                biased;
                written = self.write_some(socket, client) => written?,
                () = client.closing() => return Ok(Written::Closing),
            }
        }
        tokio::select! {
            biased;
            flushed = socket.flush() => flushed?,
            () = client.closing() => return Ok(Written::Closing),
        }
        Ok(Written::All)
    }

    /// Writes everything, waiting as long as it takes (the caller bounds
    /// it).
    async fn write_all<W: AsyncWrite + Unpin>(
        &mut self,
        socket: &mut W,
        client: &ClientHandle,
    ) -> std::io::Result<()> {
        while !self.is_empty() {
            self.write_some(socket, client).await?;
        }
        socket.flush().await
    }

    /// One `write` call: the rest of the batch, else a new batch of the
    /// small buffers at the front, else the large buffer at the front.
    /// (One plain write of a gathered buffer costs the kernel less than a
    /// vectored write of many small ones.) Nothing is written if it is
    /// cancelled while waiting.
    ///
    /// # Errors
    /// Any error of the socket.
    async fn write_some<W: AsyncWrite + Unpin>(
        &mut self,
        socket: &mut W,
        client: &ClientHandle,
    ) -> std::io::Result<()> {
        if self.sent == self.batch.len() {
            self.batch.clear();
            self.sent = 0;
            while let Some(Queued { frames: front, .. }) = self.taken.front() {
                if front.len() >= LARGE_WRITE_BYTES
                    || self.batch.len() + front.len() > WRITE_BATCH_BYTES
                {
                    break;
                }
                self.batch.extend_from_slice(front);
                self.taken.pop_front();
            }
        }
        if self.sent < self.batch.len() {
            let written = socket.write(&self.batch[self.sent..]).await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            client.metrics().sent(written);
            self.sent += written;
        } else if let Some(Queued { frames: front, .. }) = self.taken.front_mut() {
            let written = socket.write(front).await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            client.metrics().sent(written);
            front.advance(written);
            if front.is_empty() {
                self.taken.pop_front();
            }
        }
        Ok(())
    }
}
