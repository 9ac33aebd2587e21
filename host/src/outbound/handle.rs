//! [`ClientHandle`]: how rooms and the connection reach one client's
//! session: its bounded outbound queue, who it is, the rooms it is in and
//! owns, and what it was sent lately.
//!
//! A session outlives a connection that drops (`reconnect`): the handle
//! stays in its rooms while no connection serves it (it is *held*), and
//! the next connection to `resume` it is attached in its place. What was
//! sent meanwhile, and lately before, is kept in the session's
//! [`Replay`], bounded in bytes, for that connection to get first.
//!
//! Every connection has a queue of encoded frames drained by its writer
//! task, bounded in frames *and* bytes. Senders never wait: a push that
//! does not fit means the client reads too slowly, and it is disconnected
//! with `slow_consumer` instead of holding up the room that sent it or
//! growing the server's memory.
//!
//! Unreliable data that goes over the connection (UDP's fallback for a
//! client without UDP) travels in the same queue, in room order, but on
//! its own lane: once the queue holds more than
//! `limits.unreliableQueueBytes`, the oldest unreliable frames are dropped
//! (and counted) to make room, and a reliable frame that does not fit
//! first evicts unreliable ones. Unreliable data never makes a client a
//! `slow_consumer`; only reliable data does.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use vampire_protocol::{ErrorCode, Payload, RoomId, SessionId, server};

use crate::lock::lock;
use crate::logging::Throttle;
use crate::metrics::Metrics;
use crate::outbound::link::Link;
use crate::outbound::memberships::{MembershipRefused, Memberships};
use crate::outbound::queue::{Queue, Queued};
use crate::outbound::replay::{Missed, Replay};

/// What one client may hold: its outbound queue and its rooms.
#[derive(Debug, Clone, Copy)]
pub struct ClientLimits {
    /// Items (frames or batches of frames) queued at most.
    pub queue_frames: usize,
    /// Bytes queued at most.
    pub queue_bytes: usize,
    /// Bytes queued past which unreliable frames are dropped, oldest
    /// first, instead of queued.
    pub unreliable_bytes: usize,
    /// Largest single answer, in bytes; a longer one is refused with
    /// `response_too_large` instead of being sent.
    pub max_frame_bytes: usize,
    /// Rooms the client may be a member of at once.
    pub max_memberships: usize,
    /// Rooms the client may have created and alive at once.
    pub max_owned_rooms: usize,
    /// Bytes of recent frames kept for a resume (`reconnect.replayBytes`);
    /// `None` when sessions are not held (`reconnect.windowSecs` 0).
    pub replay_bytes: Option<usize>,
}

/// Who a client is, as the token it presented says (nothing when the
/// server does not authenticate).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The user id (the token's subject).
    pub user_id: Option<String>,
    /// A display name.
    pub name: Option<String>,
    /// The token's claims, as a MessagePack map (nil without a token).
    pub claims: Payload,
    /// Whether the token carries the operator role (`auth.operatorRole`):
    /// such a client may delete any room and invite into it.
    pub operator: bool,
}

/// The identity of a client that has not authenticated.
static ANONYMOUS: std::sync::LazyLock<Identity> = std::sync::LazyLock::new(Identity::default);

/// A client's UDP channel, as rooms see it: the way to send it an event
/// that may be lost (`net::udp` implements it).
pub trait UnreliableLink: Send + Sync + std::fmt::Debug {
    /// Sends one event body (a MessagePack map, no length prefix) in a
    /// datagram. Returns `false` when it cannot go that way (no address
    /// bound yet, too large for a datagram): the caller sends it over TCP.
    fn send(&self, body: &[u8]) -> bool;
}

/// A cheap, cloneable handle on one connection's outbound side.
#[derive(Clone, Debug)]
pub struct ClientHandle {
    session: SessionId,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The queue, the connection draining it and the replay: one lock, so
    /// that a frame is in both or neither and a resume sees them whole.
    queue: Mutex<Queue>,
    /// Wakes the writer when the queue stops being empty or the
    /// connection starts closing.
    wake: Notify,
    /// Cancelled when the session ends (its rooms left; no resume).
    ended: CancellationToken,
    /// Cancelled when the server ends the session while no connection
    /// serves it (the user signed in elsewhere): its hold ends at once.
    end_asked: CancellationToken,
    /// Requests read from the client over all its connections.
    requests_read: AtomicU64,
    /// Rooms this client is a member of.
    memberships: Memberships,
    limits: ClientLimits,
    /// Set once, when the client authenticates (or at creation).
    identity: OnceLock<Identity>,
    /// The client's UDP channel, once it asked for one.
    udp: OnceLock<Arc<dyn UnreliableLink>>,
    /// Rooms this client created that are alive (or being created).
    owned_rooms: AtomicUsize,
    /// Rate-limits this client's "dropped" warnings in the log.
    warnings: Throttle,
    /// Unreliable frames dropped because the client fell behind.
    unreliable_dropped: AtomicU64,
    /// Where the client's address is, as its connection came.
    address: SocketAddr,
    /// Where the connection's traffic, answers and drops are counted.
    metrics: Arc<Metrics>,
}

/// What [`ClientHandle::resume`] tells the answer it writes.
#[derive(Debug, Clone, Copy)]
pub struct Resumed {
    /// The frames missed were no longer all kept.
    pub resync: bool,
    /// The number of the last frame before those that follow the answer.
    pub seq: u64,
    /// How many follow it.
    pub replayed: u64,
}

impl ClientHandle {
    /// A handle for `session`, connected from `address` (the connection
    /// [`ClientHandle::link`] returns), with its queue bounded by
    /// `limits`, counting what it does in `metrics`. Its identity is set
    /// once it authenticates.
    pub fn new(
        session: SessionId,
        address: SocketAddr,
        limits: ClientLimits,
        metrics: Arc<Metrics>,
    ) -> ClientHandle {
        let queue = Queue {
            link: Some(Arc::new(Link::new())),
            replay: limits.replay_bytes.map(Replay::new),
            ..Queue::default()
        };
        let shared = Arc::new(Shared {
            queue: Mutex::new(queue),
            wake: Notify::new(),
            ended: CancellationToken::new(),
            end_asked: CancellationToken::new(),
            requests_read: AtomicU64::new(0),
            memberships: Memberships::new(limits.max_memberships),
            limits,
            identity: OnceLock::new(),
            udp: OnceLock::new(),
            owned_rooms: AtomicUsize::new(0),
            warnings: Throttle::per_second(1),
            unreliable_dropped: AtomicU64::new(0),
            address,
            metrics,
        });
        ClientHandle { session, shared }
    }

    /// The connection's session id.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The address the client connected from.
    pub fn address(&self) -> SocketAddr {
        self.shared.address
    }

    /// Where the connection's traffic, answers and drops are counted.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// Bytes waiting in the client's outbound queue now.
    pub fn queued_bytes(&self) -> usize {
        lock(&self.shared.queue).bytes
    }

    /// Gives the client its UDP channel (once; later calls do nothing).
    pub fn set_udp(&self, link: Arc<dyn UnreliableLink>) {
        let _ = self.shared.udp.set(link);
    }

    /// Sends an event body over the client's UDP channel; `false` when it
    /// has none bound (the caller then uses TCP).
    pub fn send_unreliable(&self, body: &[u8]) -> bool {
        self.shared.udp.get().is_some_and(|link| link.send(body))
    }

    /// Who the client is (anonymous until it authenticates).
    pub fn identity(&self) -> &Identity {
        self.shared.identity.get().unwrap_or(&ANONYMOUS)
    }

    /// Records who the client proved to be. Returns `false` (and changes
    /// nothing) if it already had an identity: a connection authenticates
    /// once.
    pub fn set_identity(&self, identity: Identity) -> bool {
        self.shared.identity.set(identity).is_ok()
    }

    /// The largest answer this client may be sent, in bytes.
    pub fn max_frame_bytes(&self) -> usize {
        self.shared.limits.max_frame_bytes
    }

    /// Queues encoded frames (one or several, back to back). Returns
    /// `false` when the connection is closing, or was just closed because
    /// the queue would pass its bounds even without its unreliable
    /// frames.
    pub fn send(&self, frames: Bytes) -> bool {
        self.enqueue(Queued { frames, droppable: false }, true)
    }

    /// Queues frames outside the numbered stream (the welcome): not kept
    /// for a resume, and not counted by the client.
    pub fn send_unnumbered(&self, frames: Bytes) -> bool {
        self.enqueue(Queued { frames, droppable: false }, false)
    }

    /// Queues frames of unreliable data (what UDP would have carried). When
    /// the queue holds more than `unreliable_bytes`, the oldest unreliable
    /// frames are dropped to make room, and this one too if that is not
    /// enough: the client is never disconnected for them. Returns whether
    /// the frames were queued.
    pub fn send_droppable(&self, frames: Bytes) -> bool {
        self.enqueue(Queued { frames, droppable: true }, false)
    }

    /// Queues `entry` on its lane (see [`ClientHandle::send`] and
    /// [`ClientHandle::send_droppable`]); a `numbered` one is also kept
    /// for a resume.
    fn enqueue(&self, entry: Queued, numbered: bool) -> bool {
        if entry.frames.is_empty() {
            return true;
        }
        let limits = &self.shared.limits;
        let max_bytes = if entry.droppable {
            limits.unreliable_bytes.min(limits.queue_bytes)
        } else {
            limits.queue_bytes
        };
        // Every numbered frame of a session that has not ended (one that
        // ended has no replay) is kept for a resume, whether or not a
        // connection takes it now. The reference is taken before the lock:
        // the buffer is shared by every member, so its count is contended,
        // and the writer waits on this lock.
        let for_replay = (numbered && limits.replay_bytes.is_some()).then(|| entry.frames.clone());
        let mut queue = lock(&self.shared.queue);
        let kept = match (for_replay, &mut queue.replay) {
            (Some(frames), Some(replay)) => {
                replay.push(frames);
                true
            }
            _ => false,
        };
        if queue.link.as_ref().is_none_or(|link| link.is_closing()) {
            return kept;
        }
        if self.make_room(&mut queue, entry.frames.len(), max_bytes) {
            if entry.droppable {
                queue.droppable_bytes += entry.frames.len();
            }
            self.push(queue, entry);
            return true;
        }
        if entry.droppable {
            drop(queue);
            self.count_unreliable_drops(1);
            return false;
        }
        let (frames_queued, bytes_queued) = (queue.frames.len(), queue.bytes);
        drop(queue);
        self.shared.warnings.warn(|suppressed| {
            tracing::warn!(
                session = self.session,
                frames_queued,
                bytes_queued,
                suppressed,
                "outbound queue full, disconnecting slow client"
            );
        });
        let why = "outbound queue full: the client reads too slowly";
        if self.close_first(ErrorCode::SlowConsumer, why) {
            self.shared.metrics.slow_consumer();
        }
        kept
    }

    /// Whether `len` more bytes fit in `queue` under `max_bytes` (and the
    /// frame bound), after dropping unreliable frames, oldest first, to
    /// make room if needed (counted).
    fn make_room(&self, queue: &mut Queue, len: usize, max_bytes: usize) -> bool {
        let frames_bound = self.shared.limits.queue_frames;
        let fits =
            |queue: &Queue| queue.frames.len() < frames_bound && queue.bytes + len <= max_bytes;
        if fits(queue) {
            return true;
        }
        let dropped = queue.evict_droppable(fits);
        self.count_unreliable_drops(dropped);
        fits(queue)
    }

    /// Unreliable frames dropped so far because the client fell behind.
    pub fn unreliable_dropped(&self) -> u64 {
        self.shared.unreliable_dropped.load(Ordering::Relaxed)
    }

    fn count_unreliable_drops(&self, dropped: u64) {
        if dropped == 0 {
            return;
        }
        let total = self.shared.unreliable_dropped.fetch_add(dropped, Ordering::Relaxed) + dropped;
        self.shared.metrics.unreliable_dropped(dropped);
        self.shared.warnings.warn(|suppressed| {
            tracing::debug!(
                session = self.session,
                total,
                suppressed,
                "client behind: unreliable frames dropped"
            );
        });
    }

    /// Appends `entry` to the locked `queue` and wakes the writer if it
    /// was empty.
    fn push(&self, mut queue: MutexGuard<'_, Queue>, entry: Queued) {
        let was_empty = queue.frames.is_empty();
        queue.bytes += entry.frames.len();
        queue.frames.push_back(entry);
        drop(queue);
        if was_empty {
            self.shared.wake.notify_one();
        }
    }

    /// Takes everything queued, for the writer of `link`; nothing when
    /// nothing is, or when another connection serves the session now (a
    /// writer finishing after its connection was let go must not take
    /// what is queued for the next).
    pub(crate) fn take_queued(&self, link: &Arc<Link>, into: &mut VecDeque<Queued>) {
        let mut queue = lock(&self.shared.queue);
        if !queue.link.as_ref().is_none_or(|current| Arc::ptr_eq(current, link)) {
            return;
        }
        std::mem::swap(&mut queue.frames, into);
        queue.bytes = 0;
        queue.droppable_bytes = 0;
    }

    /// Wakes the writer (its connection is closing).
    pub(crate) fn wake_writer(&self) {
        self.shared.wake.notify_one();
    }

    /// Completes when something may have been queued since the last
    /// [`ClientHandle::take_queued`], or the connection started closing.
    pub(crate) async fn queued(&self) {
        self.shared.wake.notified().await;
    }

    /// Sends one `error` with a nil id (about the connection, or a failed
    /// notification).
    pub fn send_error(&self, code: ErrorCode, message: &str) -> bool {
        let mut buf = BytesMut::with_capacity(64 + message.len());
        server::write_error(&mut buf, None, code, message);
        self.send(buf.freeze())
    }

    /// The connection serving the session now, if one does.
    pub fn link(&self) -> Option<Arc<Link>> {
        lock(&self.shared.queue).link.clone()
    }

    /// Closes the connection after telling the client why (the first
    /// reason given wins); frames still queued are not sent. A session no
    /// connection serves is ended instead (see [`ClientHandle::end_asked`]).
    pub fn close_with(&self, code: ErrorCode, message: &str) {
        self.close_first(code, message);
    }

    /// [`ClientHandle::close_with`], returning whether this was the
    /// reason given first.
    fn close_first(&self, code: ErrorCode, message: &str) -> bool {
        let Some(link) = self.link() else {
            self.shared.end_asked.cancel();
            return false;
        };
        let first = link.close_with(code, message);
        self.shared.wake.notify_one();
        first
    }

    /// Closes the connection without a message, after the frames already
    /// queued are written.
    pub fn close(&self) {
        if let Some(link) = self.link() {
            link.close();
            self.shared.wake.notify_one();
        }
    }

    /// Whether no connection serves the session, or the one that does is
    /// closing.
    pub fn is_closing(&self) -> bool {
        self.link().is_none_or(|link| link.is_closing())
    }

    /// Completes once the session has ended: it left its rooms and cannot
    /// be resumed.
    pub fn ended(&self) -> WaitForCancellationFuture<'_> {
        self.shared.ended.cancelled()
    }

    /// Completes once the server asked the held session to end at once.
    pub fn end_asked(&self) -> WaitForCancellationFuture<'_> {
        self.shared.end_asked.cancelled()
    }

    /// Whether the server asked the held session to end.
    pub fn is_end_asked(&self) -> bool {
        self.shared.end_asked.is_cancelled()
    }

    /// Counts one request read from the client.
    pub fn count_request(&self) {
        self.shared.requests_read.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests read from the client over all its connections.
    pub fn requests_read(&self) -> u64 {
        self.shared.requests_read.load(Ordering::Relaxed)
    }

    /// The client has handled every numbered frame up to `seq` (`ack`):
    /// the replay lets them go. A session that keeps none (it ended, or
    /// `reconnect.windowSecs` is 0) has nothing to drop.
    ///
    /// # Errors
    /// When `seq` is past the last frame sent: returns that frame's number.
    pub fn acknowledge(&self, seq: u64) -> Result<(), u64> {
        let mut released = Vec::new();
        let acknowledged = match &mut lock(&self.shared.queue).replay {
            Some(replay) => replay.acknowledge(seq, &mut released),
            None => Ok(()),
        };
        // Freed here, with the lock let go (see `Replay::acknowledge`).
        drop(released);
        acknowledged
    }

    /// Bytes the session keeps for a resume now.
    pub fn replay_bytes(&self) -> usize {
        lock(&self.shared.queue).replay.as_ref().map_or(0, Replay::bytes)
    }

    /// Lets go of connection `link` once it has ended: what is sent to the
    /// session from now on only goes to its replay. What was queued stays
    /// for the connection's writer to finish with (its last answers, when
    /// it closes without a farewell); [`ClientHandle::writer_done`] drops
    /// the rest.
    pub fn detach(&self, link: &Arc<Link>) {
        let mut queue = lock(&self.shared.queue);
        if queue.link.as_ref().is_some_and(|current| Arc::ptr_eq(current, link)) {
            queue.link = None;
        }
    }

    /// The writer of `link` has stopped: what it left queued is dropped,
    /// unless another connection serves the session now (a held session
    /// keeps only its replay).
    pub(crate) fn writer_done(&self, link: &Arc<Link>) {
        let mut queue = lock(&self.shared.queue);
        if queue.link.as_ref().is_none_or(|current| Arc::ptr_eq(current, link)) {
            queue.frames.clear();
            queue.bytes = 0;
            queue.droppable_bytes = 0;
        }
    }

    /// Gives the held session a new connection, which gets `answer` first
    /// and then every numbered frame after `last_seq`; or, when those are
    /// no longer all kept, `answer` alone (the caller then has the rooms
    /// send their state). `answer` is told which, and the number of the
    /// last frame before those it is followed by.
    ///
    /// Returns the new connection, and whether it was a resync.
    pub fn resume(
        &self,
        last_seq: u64,
        answer: impl FnOnce(Resumed) -> Bytes,
    ) -> (Arc<Link>, bool) {
        let mut queue = lock(&self.shared.queue);
        let (missed, sent) = match &queue.replay {
            Some(replay) => (replay.after(last_seq), replay.last_seq()),
            None => (Missed::Gap, 0),
        };
        let link = Arc::new(Link::new());
        let (frames, resumed) = match missed {
            Missed::Frames(frames) => {
                let replayed = sent - last_seq;
                (frames, Resumed { resync: false, seq: last_seq, replayed })
            }
            Missed::Gap => (Vec::new(), Resumed { resync: true, seq: sent, replayed: 0 }),
        };
        let resync = resumed.resync;
        queue.frames.clear();
        queue.frames.push_back(answer(resumed).into());
        queue.frames.extend(frames.into_iter().map(Queued::from));
        queue.bytes = queue.frames.iter().map(|entry| entry.frames.len()).sum();
        queue.droppable_bytes = 0;
        queue.link = Some(link.clone());
        drop(queue);
        self.shared.wake.notify_one();
        (link, resync)
    }

    /// Records that the client became a member of `room`. Called by the
    /// room, so that the record is exact whatever the client does.
    ///
    /// # Errors
    /// When the connection has ended or the client is in as many rooms as
    /// it may be.
    pub fn add_membership(&self, room: &RoomId) -> Result<(), MembershipRefused> {
        self.shared.memberships.add(room)
    }

    /// Records that the client is no longer a member of `room`.
    pub fn remove_membership(&self, room: &str) {
        self.shared.memberships.remove(room);
    }

    /// Counts a room this client is creating against its quota; the room
    /// gives it back with [`ClientHandle::release_room`] when it ends.
    /// Returns `false` (and counts nothing) at the quota.
    pub fn reserve_room(&self) -> bool {
        let max = self.shared.limits.max_owned_rooms;
        self.shared
            .owned_rooms
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .is_ok()
    }

    /// Gives back a place taken by [`ClientHandle::reserve_room`].
    pub fn release_room(&self) {
        let _ = self
            .shared
            .owned_rooms
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Ends the session and returns the rooms it is still a member of;
    /// from now on no room can add it, and nothing is kept for it.
    pub(crate) fn end_memberships(&self) -> Vec<RoomId> {
        self.shared.memberships.end(|| {
            self.shared.ended.cancel();
            lock(&self.shared.queue).replay = None;
        })
    }

    /// The rooms the session is a member of now.
    pub fn memberships(&self) -> Vec<RoomId> {
        self.shared.memberships.rooms()
    }
}
