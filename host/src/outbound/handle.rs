//! [`ClientHandle`]: how rooms and the connection reach one client: its
//! bounded outbound queue, who it is, the rooms it is in and owns.
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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use vampire_protocol::{ErrorCode, Payload, RoomId, SessionId, server};

use crate::lock::lock;
use crate::logging::Throttle;
use crate::metrics::Metrics;
use crate::outbound::queue::{Queue, Queued};

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
    queue: Mutex<Queue>,
    /// Wakes the writer when the queue stops being empty or the
    /// connection starts closing.
    wake: Notify,
    /// Set when the connection is to close, for any reason: an atomic
    /// load, because every send checks it.
    closed: AtomicBool,
    /// Cancelled at the same moment as `closed` is set, for the tasks that
    /// wait for it.
    closing: CancellationToken,
    /// The frame the writer sends last when the server closes the
    /// connection on purpose (an `error` message with a nil id).
    farewell: OnceLock<Bytes>,
    /// Rooms this client is a member of, kept by the rooms themselves.
    memberships: Mutex<Memberships>,
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

#[derive(Debug, Default)]
struct Memberships {
    rooms: Vec<RoomId>,
    /// Set once the connection has ended: no room may add it any more.
    ended: bool,
}

/// Why a room could not add a client as a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipRefused {
    /// The connection has ended.
    Gone,
    /// The client is in as many rooms as it may be.
    Quota,
}

impl ClientHandle {
    /// A handle for `session`, connected from `address`, with its queue
    /// bounded by `limits`, counting what it does in `metrics`. Its
    /// identity is set once it authenticates.
    pub fn new(
        session: SessionId,
        address: SocketAddr,
        limits: ClientLimits,
        metrics: Arc<Metrics>,
    ) -> ClientHandle {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            closing: CancellationToken::new(),
            farewell: OnceLock::new(),
            memberships: Mutex::default(),
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
        self.enqueue(Queued { frames, droppable: false })
    }

    /// Queues frames of unreliable data (what UDP would have carried). When
    /// the queue holds more than `unreliable_bytes`, the oldest unreliable
    /// frames are dropped to make room, and this one too if that is not
    /// enough: the client is never disconnected for them. Returns whether
    /// the frames were queued.
    pub fn send_droppable(&self, frames: Bytes) -> bool {
        self.enqueue(Queued { frames, droppable: true })
    }

    /// Queues `entry` on its lane (see [`ClientHandle::send`] and
    /// [`ClientHandle::send_droppable`]).
    fn enqueue(&self, entry: Queued) -> bool {
        if entry.frames.is_empty() {
            return true;
        }
        if self.is_closing() {
            return false;
        }
        let limits = &self.shared.limits;
        let max_bytes = if entry.droppable {
            limits.unreliable_bytes.min(limits.queue_bytes)
        } else {
            limits.queue_bytes
        };
        let mut queue = lock(&self.shared.queue);
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
        false
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

    /// Takes everything queued, for the writer; empty when nothing is.
    pub(crate) fn take_queued(&self, into: &mut VecDeque<Queued>) {
        let mut queue = lock(&self.shared.queue);
        std::mem::swap(&mut queue.frames, into);
        queue.bytes = 0;
        queue.droppable_bytes = 0;
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

    /// Closes the connection after telling the client why (the first
    /// reason given wins); frames still queued are not sent.
    pub fn close_with(&self, code: ErrorCode, message: &str) {
        self.close_first(code, message);
    }

    /// [`ClientHandle::close_with`], returning whether this was the
    /// reason given first.
    fn close_first(&self, code: ErrorCode, message: &str) -> bool {
        let mut buf = BytesMut::with_capacity(64 + message.len());
        server::write_error(&mut buf, None, code, message);
        let first = self.shared.farewell.set(buf.freeze()).is_ok();
        self.mark_closing();
        first
    }

    /// Closes the connection without a message, after the frames already
    /// queued are written.
    pub fn close(&self) {
        self.mark_closing();
    }

    fn mark_closing(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.closing.cancel();
        self.shared.wake.notify_one();
    }

    /// Whether the connection is closing.
    pub fn is_closing(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Completes once the connection is closing.
    pub fn closing(&self) -> WaitForCancellationFuture<'_> {
        self.shared.closing.cancelled()
    }

    /// The farewell frame, if the server closed the connection on purpose.
    pub(crate) fn farewell(&self) -> Option<&Bytes> {
        self.shared.farewell.get()
    }

    /// Records that the client became a member of `room`. Called by the
    /// room, so that the record is exact whatever the client does.
    ///
    /// # Errors
    /// When the connection has ended or the client is in as many rooms as
    /// it may be.
    pub fn add_membership(&self, room: &RoomId) -> Result<(), MembershipRefused> {
        let mut memberships = lock(&self.shared.memberships);
        if memberships.ended || self.is_closing() {
            return Err(MembershipRefused::Gone);
        }
        if memberships.rooms.len() >= self.shared.limits.max_memberships {
            return Err(MembershipRefused::Quota);
        }
        memberships.rooms.push(room.clone());
        Ok(())
    }

    /// Records that the client is no longer a member of `room`.
    pub fn remove_membership(&self, room: &str) {
        lock(&self.shared.memberships).rooms.retain(|r| r != room);
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

    /// Marks the connection as ended and returns the rooms it is still a
    /// member of; from now on no room can add it.
    pub(crate) fn end_memberships(&self) -> Vec<RoomId> {
        let mut memberships = lock(&self.shared.memberships);
        memberships.ended = true;
        std::mem::take(&mut memberships.rooms)
    }
}
