//! The reading side of a [`crate::Client`] and what it shares with the
//! client: the requests waiting for their answers, the writer (with the
//! frames the server may not have read), the event stream, and the
//! resume of a connection that drops.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use vampire_protocol::{ErrorCode, Payload, Request, ResumeResult, ServerMessage, ServerOp};

use crate::dial::{BoxedWriter, ConnectOptions, Dial, Frames, dial, read_welcome};
use crate::error::{ClientError, Incoming};
use crate::reconnect::{ConnectionEvent, Resumption, SentLog, may_resume, retry_after};

/// The id of the `resume` request: it is answered before anything else on
/// the new connection, so it cannot meet an application's request.
const RESUME_ID: u32 = u32::MAX;

/// Requests waiting for their answer, by id; `None` once the connection
/// has closed, so that a request made after that fails at once instead of
/// waiting for an answer that cannot come.
pub(crate) type Pending =
    Arc<Mutex<Option<HashMap<u32, oneshot::Sender<Result<Payload, ClientError>>>>>>;

/// The writing side, shared by requests and the heartbeat.
pub(crate) struct Writer {
    /// The connection's socket; none while a dropped one is resumed.
    pub(crate) socket: tokio::sync::Mutex<Option<BoxedWriter>>,
    /// Milliseconds since `epoch` at the last write.
    last_write_ms: AtomicU64,
    epoch: Instant,
    /// With reconnection: the frames the server may not have read yet.
    pub(crate) log: Option<Mutex<SentLog>>,
}

impl Writer {
    /// A writer on `socket`; one that keeps what the server may not have
    /// read when the client `reconnects`.
    pub(crate) fn new(socket: BoxedWriter, reconnects: bool) -> Writer {
        Writer {
            socket: tokio::sync::Mutex::new(Some(socket)),
            last_write_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            log: reconnects.then(Mutex::default),
        }
    }

    /// Milliseconds since the last write.
    pub(crate) fn idle_ms(&self) -> u64 {
        let now = self.epoch.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_write_ms.load(Ordering::Relaxed))
    }

    /// Writes one frame (request `id`, if any). With reconnection, a
    /// frame that cannot go now is kept and written after the resume.
    pub(crate) async fn write(&self, id: Option<u32>, bytes: &[u8]) -> Result<(), ClientError> {
        let mut socket = self.socket.lock().await;
        if let Some(log) = &self.log {
            lock(log).push(id, Bytes::copy_from_slice(bytes));
        }
        let written = match socket.as_mut() {
            Some(socket) => socket.write_all(bytes).await.map_err(ClientError::from),
            None => Err(ClientError::Closed),
        };
        self.last_write_ms.store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        if self.log.is_some() { Ok(()) } else { written }
    }
}

/// What the reader shares with the client.
pub(crate) struct Shared {
    pub(crate) pending: Pending,
    pub(crate) events: mpsc::UnboundedSender<Incoming>,
    pub(crate) writer: Arc<Writer>,
    pub(crate) resumption: Arc<Resumption>,
    /// How to come back after a drop, when the client does.
    /// Another node's, once a resume was redirected there.
    pub(crate) dial: Mutex<Dial>,
    pub(crate) options: ConnectOptions,
    /// The application closed the session (`close`): no resume.
    pub(crate) closing: std::sync::atomic::AtomicBool,
}

/// Reads the server's frames until the connection ends for good: a
/// connection that drops is resumed when the client reconnects.
pub(crate) async fn read_loop(mut frames: Frames, shared: Arc<Shared>) {
    loop {
        let farewell = read_frames(&mut frames, &shared).await;
        let resumes = shared.options.reconnect.is_some()
            && !shared.closing.load(Ordering::Acquire)
            && may_resume(farewell);
        if !resumes {
            break;
        }
        *shared.writer.socket.lock().await = None;
        match resume(&shared).await {
            Some(resumed) => frames = resumed,
            None => break,
        }
    }
    // Requests still waiting see their reply sender dropped (`Closed`), and
    // later ones fail at once.
    lock(&shared.pending).take();
}

/// Hands one connection's frames to their requests and the event stream,
/// counting the numbered ones; returns the code of the server's farewell,
/// if it said one.
async fn read_frames(frames: &mut Frames, shared: &Shared) -> Option<ErrorCode> {
    let (pending, incoming) = (&shared.pending, &shared.events);
    let answered = |id: u32| {
        if let Some(log) = &shared.writer.log {
            lock(log).answered(id);
        }
        lock(pending).as_mut().and_then(|p| p.remove(&id))
    };
    while let Some(Ok(body)) = frames.next().await {
        let Ok((message, numbered)) = ServerMessage::decode_numbered(&body.freeze()) else {
            continue;
        };
        if numbered {
            shared.resumption.count();
        }
        match message {
            ServerMessage::Response { id, result } => {
                if let Some(reply) = answered(id) {
                    let _ = reply.send(Ok(result));
                }
            }
            ServerMessage::Error { id: Some(id), code, message } => {
                if let Some(reply) = answered(id) {
                    let _ = reply.send(Err(ClientError::Server { code, message }));
                }
            }
            ServerMessage::Error { id: None, code, message } => {
                let _ = incoming.send(Incoming::Error { code, message });
                if !numbered {
                    return Some(code);
                }
            }
            ServerMessage::Event(event) => {
                let _ = incoming.send(Incoming::Event(event));
            }
            ServerMessage::Redirect(redirect) => {
                if let Some(reply) = answered(redirect.id) {
                    let _ = reply.send(Err(ClientError::Redirect(Box::new(redirect))));
                }
            }
            ServerMessage::Welcome { .. } => {}
        }
    }
    None
}

/// Resumes the session of a connection that dropped, as the policy
/// says, telling the application on the event stream; returns the new
/// connection's frames (the replay first), or `None` when the session is
/// lost.
pub(crate) async fn resume(shared: &Shared) -> Option<Frames> {
    let policy = shared.options.reconnect.clone().unwrap_or_default();
    let started = Instant::now();
    let tell = |event| {
        let _ = shared.events.send(Incoming::Connection(event));
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let delay = policy.delay(attempt);
        if started.elapsed() + delay > policy.give_up_after {
            let reason = format!("no resume within {} s", policy.give_up_after.as_secs());
            tell(ConnectionEvent::Lost { reason });
            return None;
        }
        tell(ConnectionEvent::Reconnecting { attempt, delay });
        tokio::time::sleep(delay).await;
        match try_resume(shared).await {
            Ok((frames, result)) => {
                tell(if result.resync {
                    ConnectionEvent::Resynced { rooms: result.rooms }
                } else {
                    ConnectionEvent::Reconnected { replayed: result.replayed }
                });
                return Some(frames);
            }
            Err(ClientError::Server { code, .. }) if retry_after(code) => {}
            Err(ClientError::Server { code, message }) => {
                tell(ConnectionEvent::Lost { reason: format!("{code}: {message}") });
                return None;
            }
            // The network: try again.
            Err(_) => {}
        }
    }
}

/// One attempt: dial, read the welcome, `resume`, and when the server
/// takes it, write again what it never read and put the new socket in
/// place.
///
/// # Errors
/// What the network says, or the server's refusal.
async fn try_resume(shared: &Shared) -> Result<(Frames, ResumeResult), ClientError> {
    let token = shared.resumption.token().ok_or_else(|| ClientError::Server {
        code: ErrorCode::SessionNotFound,
        message: "the server gave no resume token (reconnect.windowSecs is 0)".into(),
    })?;
    let target = lock(&shared.dial).clone();
    let (read_half, mut writer) = dial(&target, &shared.options).await?;
    let (mut frames, _welcome) = read_welcome(read_half).await?;
    let resume = ServerOp::Resume {
        token,
        last_seq: shared.resumption.seq(),
        auth_token: shared.options.token.clone(),
    };
    writer.write_all(&Request::from(resume).encode(Some(RESUME_ID))).await?;
    let answer = tokio::time::timeout(Duration::from_secs(10), frames.next())
        .await
        .map_err(|_| ClientError::Timeout)?
        .ok_or(ClientError::Closed)??;
    let result = match ServerMessage::decode(&answer.freeze())? {
        ServerMessage::Response { id: RESUME_ID, result } => ResumeResult::from_payload(&result)?,
        ServerMessage::Error { code, message, .. } => {
            return Err(ClientError::Server { code, message });
        }
        // Another node of the cluster holds the session: resume there,
        // over the same transport when that node offers it.
        ServerMessage::Redirect(redirect) => {
            let mut dial = lock(&shared.dial);
            *dial = match (&*dial, &redirect.ws_address) {
                (Dial::WebSocket(_), Some(ws_address)) => Dial::WebSocket(ws_address.clone()),
                _ => Dial::Tcp(redirect.address.clone()),
            };
            drop(dial);
            return Err(ClientError::Redirect(Box::new(redirect)));
        }
        other => {
            return Err(vampire_protocol::DecodeError(format!(
                "expected the resume answer, got {other:?}"
            ))
            .into());
        }
    };
    shared.resumption.set_token(Some(result.resume_token.clone()));
    shared.resumption.set_seq(result.seq);
    let mut socket = shared.writer.socket.lock().await;
    if let Some(log) = &shared.writer.log {
        let unread = lock(log).unread(result.requests_read);
        for frame in unread {
            writer.write_all(&frame).await?;
        }
    }
    *socket = Some(writer);
    Ok((frames, result))
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
