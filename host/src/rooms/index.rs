//! The room index: [`RoomIndex`], the one map of live rooms shared between
//! tasks, and [`RoomHandle`], what it keeps of each room (its listing, its
//! mailbox, its password's hash).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{mpsc, oneshot};
use tracing::debug;
use vampire_protocol::{Payload, RoomId, RoomInfo, RoomOp, SessionId};

use crate::error::ApiError;
use crate::lock::lock;
use crate::outbound::Responder;
use crate::rooms::command::{AdminOp, Admission, Caller, Presence, RoomCommand};
use crate::rooms::listing::Listing;

/// What the index keeps of a room: enough to list it and to reach it.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    id: RoomId,
    /// Creation order, for listings.
    serial: u64,
    /// When it was created (Unix milliseconds): its order in cluster
    /// listings.
    created_unix_ms: u64,
    listing: Arc<Listing>,
    mailbox: mpsc::Sender<RoomCommand>,
    /// The argon2 hash of the room's password, if it has one. Kept here,
    /// outside the room, so a connection checks a password on the
    /// blocking pool before its join reaches the room.
    password: Option<Arc<str>>,
}

/// The shared map of live rooms, and the count of rooms alive or being
/// created (what `limits.maxRooms` bounds).
#[derive(Debug, Default)]
pub struct RoomIndex {
    rooms: Mutex<HashMap<RoomId, RoomHandle>>,
    reserved: AtomicUsize,
    /// Told the id of every room that appears or ends, when someone
    /// follows listings.
    watch: OnceLock<mpsc::UnboundedSender<RoomId>>,
}

impl RoomIndex {
    /// Counts a room being created; `false` at `max`.
    pub(crate) fn reserve(&self, max: usize) -> bool {
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .is_ok()
    }

    /// Lists a room whose `create` hook succeeded: from now on it can be
    /// found and joined.
    pub(crate) fn insert(&self, handle: RoomHandle) {
        let id = handle.id.clone();
        lock(&self.rooms).insert(id.clone(), handle);
        if let Some(watch) = self.watch.get() {
            let _ = watch.send(id);
        }
    }

    /// Forgets a room whose actor has ended (or whose creation failed),
    /// and gives back its place.
    pub(crate) fn release(&self, id: &str) {
        let removed = lock(&self.rooms).remove(id).is_some();
        let _ =
            self.reserved.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if removed && let Some(watch) = self.watch.get() {
            let _ = watch.send(id.to_owned());
        }
    }

    /// The room `id`, if it is live.
    pub(crate) fn get(&self, id: &str) -> Option<RoomHandle> {
        lock(&self.rooms).get(id).cloned()
    }

    /// Every live room.
    pub(crate) fn handles(&self) -> Vec<RoomHandle> {
        lock(&self.rooms).values().cloned().collect()
    }

    /// Rooms live now.
    pub(crate) fn len(&self) -> usize {
        lock(&self.rooms).len()
    }

    /// Rooms live or being created (what `limits.maxRooms` bounds).
    pub(crate) fn load(&self) -> usize {
        self.reserved.load(Ordering::Acquire)
    }

    /// Sends the id of every room that appears, changes its listing or
    /// ends to `watch`, from now on; `false` when someone follows already.
    pub(crate) fn set_watch(&self, watch: mpsc::UnboundedSender<RoomId>) -> bool {
        self.watch.set(watch).is_ok()
    }

    /// Where a new room's listing sends its changes, if anyone follows.
    pub(crate) fn watch(&self) -> Option<mpsc::UnboundedSender<RoomId>> {
        self.watch.get().cloned()
    }

    /// The rooms whose listing `matches` accepts, in creation order.
    pub(crate) fn handles_where(&self, matches: impl Fn(&RoomInfo) -> bool) -> Vec<RoomHandle> {
        let mut rooms: Vec<RoomHandle> = lock(&self.rooms)
            .values()
            .filter(|handle| handle.listing.read(&matches))
            .cloned()
            .collect();
        rooms.sort_unstable_by_key(|handle| handle.serial);
        rooms
    }

    /// The listings of the rooms `matches` accepts, in creation order
    /// (only their shared handles are copied: matching reads them in
    /// place).
    pub(crate) fn listings(&self, matches: impl Fn(&RoomInfo) -> bool) -> Vec<Arc<Listing>> {
        let mut rooms: Vec<(u64, Arc<Listing>)> = lock(&self.rooms)
            .values()
            .filter(|handle| handle.listing.read(&matches))
            .map(|handle| (handle.serial, handle.listing.clone()))
            .collect();
        rooms.sort_unstable_by_key(|(serial, _)| *serial);
        rooms.into_iter().map(|(_, listing)| listing).collect()
    }
}

impl RoomHandle {
    /// The handle of room `id`, the `serial`-th created on this node,
    /// showing `listing` and reached through `mailbox`.
    pub(crate) fn new(
        id: RoomId,
        serial: u64,
        listing: Arc<Listing>,
        mailbox: mpsc::Sender<RoomCommand>,
        password: Option<Arc<str>>,
    ) -> RoomHandle {
        let created_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        RoomHandle { id, serial, created_unix_ms, listing, mailbox, password }
    }

    /// Hands a command to the room without waiting; gives it back when
    /// the mailbox is full (a room that has ended drops it).
    pub(crate) fn offer(&self, command: RoomCommand) -> Option<RoomCommand> {
        match self.mailbox.try_send(command) {
            Err(mpsc::error::TrySendError::Full(command)) => Some(command),
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => None,
        }
    }

    /// The room's type, as listed.
    pub fn room_type(&self) -> String {
        self.listing.read(|room| room.room_type.clone())
    }

    /// When the room was created, in Unix milliseconds.
    pub fn created_unix_ms(&self) -> u64 {
        self.created_unix_ms
    }

    /// The room's id.
    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// The room as listings show it.
    pub fn info(&self) -> RoomInfo {
        self.listing.get()
    }

    /// Reads the room's listing without copying it.
    pub fn read_info<T>(&self, read: impl FnOnce(&RoomInfo) -> T) -> T {
        self.listing.read(read)
    }

    /// Whether the room has ended.
    pub fn is_closed(&self) -> bool {
        self.mailbox.is_closed()
    }

    /// Hands a command to the room, waiting for mailbox space if it is
    /// full. If the room has ended, the command is dropped, and its
    /// responder answers `room_not_found`.
    pub(crate) async fn send(&self, command: RoomCommand) {
        match self.mailbox.try_send(command) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(command)) => {
                let _ = self.mailbox.send(command).await;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                debug!(room = %self.id, "command for a room that has ended");
            }
        }
    }

    /// The hash of the room's password, if it has one.
    pub fn password_hash(&self) -> Option<Arc<str>> {
        self.password.clone()
    }

    /// Hands operation `op` of `caller` to the room, which answers
    /// `reply` itself (the caller does not wait for it). `admission` says
    /// how a joiner got past the room's password (`Open` otherwise).
    pub async fn run(&self, op: RoomOp, caller: Caller, admission: Admission, reply: Responder) {
        self.send(RoomCommand::Op { op: Box::new(op), caller, admission, reply }).await;
    }

    /// Hands an operator's action to the room, which answers `reply`.
    pub async fn admin(&self, op: AdminOp, reply: Responder) {
        self.send(RoomCommand::Admin { op: Box::new(op), reply }).await;
    }

    /// Holds a seat for `ttl` for a joiner another node redirects here, or
    /// one `join_or_create` places (bound to `user_id` when given; refused
    /// when `joiner`, a session of this node, is a member already); the
    /// answer is the reservation to join with.
    ///
    /// # Errors
    /// `room_full`, `room_locked`, `already_in_room`, or `room_not_found`
    /// when the room ended.
    pub async fn reserve_seat(
        &self,
        ttl: std::time::Duration,
        user_id: Option<String>,
        joiner: Option<SessionId>,
    ) -> Result<String, ApiError> {
        let (done, outcome) = oneshot::channel();
        let command = RoomCommand::ReserveSeat { ttl, user_id, joiner, done };
        if self.mailbox.send(command).await.is_err() {
            return Err(ApiError::room_not_found(&self.id));
        }
        outcome.await.unwrap_or_else(|_| Err(ApiError::room_not_found(&self.id)))
    }

    /// Whether `invite` is a live invite into the room now (it is not
    /// spent: only a join that succeeds spends it). `false` when the room
    /// has ended.
    pub async fn invite_is_live(&self, invite: &str) -> bool {
        let (done, answer) = oneshot::channel();
        let invite = invite.to_owned();
        self.send(RoomCommand::InviteIsLive { invite, done }).await;
        answer.await.unwrap_or(false)
    }

    /// Whether the room is listed by `list_rooms` (public).
    pub fn is_public(&self) -> bool {
        self.listing.read(|room| room.public)
    }

    /// Tells the room what happened to member `session`'s session.
    pub async fn presence(&self, session: SessionId, change: Presence) {
        self.send(RoomCommand::Presence { session, change }).await;
    }

    /// Hands a message that came over UDP from member `session` to the
    /// room without waiting: when its mailbox is full the message is
    /// dropped (it may be lost, and must not hold the socket).
    pub fn try_send_unreliable(&self, session: SessionId, data: Payload) {
        let _ = self.mailbox.try_send(RoomCommand::UnreliableMessage { session, data });
    }
}
