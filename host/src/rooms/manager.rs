//! The room manager: room types, creation, and the room index.
//!
//! The index (id → [`RoomHandle`]) is the only map shared between tasks.
//! Each handle carries the room's [`Listing`], which the room keeps
//! current, so `list_rooms` costs no message to any actor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use bytes::BytesMut;
use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;
use tracing::debug;
use vampire_protocol::error::quote;
use vampire_protocol::msgpack::Writer;
use vampire_protocol::{CreateRoom, ErrorCode, Payload, RoomId, RoomInfo, SessionId};

use crate::config::Config;
use crate::error::ApiError;
use crate::outbound::{ClientHandle, Responder};
use crate::rooms::actor::{RoomActor, RoomCommand, RoomTimeouts};
use crate::rooms::behaviour::RoomType;
use crate::rooms::generic::{GENERIC_ROOM_TYPE, GenericRoomType};
use crate::rooms::invites::Invites;
use crate::rooms::seats::Seats;
use crate::rooms::state::{RoomLimits, RoomSettings, RoomState};
use crate::rooms::variables::Rules;

/// Longest room name accepted.
pub const MAX_ROOM_NAME_CHARS: usize = 64;

/// Most rooms one `list_rooms` answer holds; a client pages with `offset`.
pub const MAX_LISTED_ROOMS: usize = 1000;

/// Random characters in a room id after its `r`: 12 of a 32-letter
/// alphabet, 60 bits, so an id cannot be guessed from others (a private
/// room is found only by whoever was given its id) and is never reused,
/// across restarts too, while staying short to type.
const ROOM_ID_CHARS: usize = 12;

/// Lowercase letters and digits without the easily confused `i`, `l`,
/// `o` and `u` (Crockford's base 32).
const ROOM_ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A fresh room id `{prefix}r{12 random characters}` that `taken` does
/// not know; `None` when the system's random source fails.
fn new_room_id(prefix: &str, taken: impl Fn(&str) -> bool) -> Option<RoomId> {
    loop {
        let mut random = [0u8; ROOM_ID_CHARS];
        getrandom::fill(&mut random).ok()?;
        let mut id = String::with_capacity(prefix.len() + 1 + ROOM_ID_CHARS);
        id.push_str(prefix);
        id.push('r');
        id.extend(random.iter().map(|byte| char::from(ROOM_ID_ALPHABET[usize::from(byte & 31)])));
        if !taken(&id) {
            return Some(id);
        }
    }
}

/// What listings show of a room: its [`RoomInfo`], kept current by the
/// room's actor (members, metadata, limits) and read by `list_rooms`.
#[derive(Debug)]
pub struct Listing {
    info: Mutex<RoomInfo>,
    /// Told the room's id after each change, when someone follows
    /// listings (the cluster registry; see [`RoomManager::watch_listings`]).
    watch: Option<mpsc::UnboundedSender<RoomId>>,
}

impl Listing {
    /// A listing showing `info`.
    pub fn new(info: RoomInfo) -> Listing {
        Listing { info: Mutex::new(info), watch: None }
    }

    /// The room as listings show it now.
    pub fn get(&self) -> RoomInfo {
        lock(&self.info).clone()
    }

    /// Reads what listings show without copying it.
    pub fn read<T>(&self, read: impl FnOnce(&RoomInfo) -> T) -> T {
        read(&lock(&self.info))
    }

    /// Changes what listings show.
    pub fn update(&self, change: impl FnOnce(&mut RoomInfo)) {
        let mut info = lock(&self.info);
        change(&mut info);
        if let Some(watch) = &self.watch {
            let _ = watch.send(info.id.clone());
        }
    }
}

/// What a reload did to the live rooms of a type.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Rooms now on the new version.
    pub swapped: usize,
    /// Rooms that kept their old version, and why.
    pub kept: Vec<(RoomId, String)>,
}

/// Answers a `list_rooms` with `{"rooms": [...], "total": total}`: as
/// many of `rooms` (in order) as fit in one frame, each at most `size`
/// bytes and written by `write`. Rooms past the frame are not taken from
/// the iterator.
pub fn answer_room_page<T>(
    respond: Responder,
    rooms: impl Iterator<Item = T>,
    total: usize,
    size: impl Fn(&T) -> usize,
    write: impl Fn(&T, &mut Writer<'_, BytesMut>),
) {
    let budget = respond.client().max_frame_bytes().saturating_sub(256);
    let mut used = 0;
    let page: Vec<T> = rooms
        .take_while(|room| {
            let after = used + size(room);
            // The room that would pass the budget is left for the next
            // page, and not counted.
            let fits = after <= budget;
            if fits {
                used = after;
            }
            fits
        })
        .collect();
    respond.ok_with(used + 32, |w| {
        w.map(2).str("rooms").array(page.len());
        for room in &page {
            write(room, w);
        }
        w.str("total").uint(total as u64);
    });
}

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

/// How a joiner of a password-protected room got past the password,
/// checked before the join reaches the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The room has no password (or none was checked).
    Open,
    /// The joiner gave the right password.
    Password,
    /// The joiner gave an invite; the room checks and uses it up.
    Invite(String),
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
    fn reserve(&self, max: usize) -> bool {
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .is_ok()
    }

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

    fn get(&self, id: &str) -> Option<RoomHandle> {
        lock(&self.rooms).get(id).cloned()
    }

    fn handles(&self) -> Vec<RoomHandle> {
        lock(&self.rooms).values().cloned().collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every operation under these locks is a single insert, remove, read
    // or field update, which a panic cannot leave half-done, so a poisoned
    // lock is safe to keep using.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Creates rooms and finds them.
pub struct RoomManager {
    config: Arc<Config>,
    index: Arc<RoomIndex>,
    /// Room types by name: `generic` and one per loaded plugin.
    room_types: RwLock<HashMap<String, Arc<dyn RoomType>>>,
    next_room: AtomicU64,
    /// What room ids start with: empty alone, `"{node}-"` in a cluster,
    /// so ids are unique across the cluster and name their node.
    id_prefix: OnceLock<String>,
    /// Every room actor, so shutdown can wait for them.
    tasks: TaskTracker,
}

impl RoomManager {
    /// A manager that knows the generic room type.
    pub fn new(config: Arc<Config>) -> RoomManager {
        let manager = RoomManager {
            config,
            index: Arc::default(),
            room_types: RwLock::default(),
            next_room: AtomicU64::new(1),
            id_prefix: OnceLock::new(),
            tasks: TaskTracker::new(),
        };
        manager.register_type(Arc::new(GenericRoomType));
        manager
    }

    /// Starts room ids with `prefix` (once, before any room is created).
    pub fn set_id_prefix(&self, prefix: String) {
        let _ = self.id_prefix.set(prefix);
    }

    /// From now on, the id of every room that is created, changes what
    /// listings show of it, or ends, is sent to the returned receiver (at
    /// most once per change; a busy room sends many). Only one follower:
    /// `None` when there is one already.
    pub fn watch_listings(&self) -> Option<mpsc::UnboundedReceiver<RoomId>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.index.watch.set(sender).ok()?;
        Some(receiver)
    }

    /// Every live room, with its listing and creation time.
    pub fn rooms(&self) -> Vec<RoomHandle> {
        self.index.handles()
    }

    /// Makes `room_type` creatable under its name, replacing any type of
    /// the same name for rooms created from now on.
    pub fn register_type(&self, room_type: Arc<dyn RoomType>) {
        let name = room_type.name().to_owned();
        self.room_types.write().unwrap_or_else(|p| p.into_inner()).insert(name, room_type);
    }

    /// Stops new rooms of type `name` (they get `unknown_room_type`); live
    /// rooms of the type keep running. Returns whether it was creatable.
    pub fn unregister_type(&self, name: &str) -> bool {
        self.room_types.write().unwrap_or_else(|p| p.into_inner()).remove(name).is_some()
    }

    /// Whether `name` is a creatable room type.
    pub fn has_type(&self, name: &str) -> bool {
        self.room_types.read().unwrap_or_else(|p| p.into_inner()).contains_key(name)
    }

    /// Makes `room_type` the version new rooms of its name get, and swaps
    /// it into every live room of that name, each between two of its
    /// commands (commands that arrive meanwhile wait in its mailbox).
    /// Returns how many rooms swapped, and the rooms that kept their old
    /// version with why.
    pub async fn reload_type(&self, room_type: Arc<dyn RoomType>) -> ReloadReport {
        let name = room_type.name().to_owned();
        self.register_type(room_type.clone());
        let mut pending = Vec::new();
        for handle in self.index.handles() {
            if handle.listing.get().room_type != name {
                continue;
            }
            let (done, outcome) = oneshot::channel();
            handle.send(RoomCommand::Reload { room_type: room_type.clone(), done }).await;
            pending.push((handle.id.clone(), outcome));
        }
        let mut report = ReloadReport::default();
        for (room, outcome) in pending {
            match outcome.await {
                Ok(Ok(true)) => report.swapped += 1,
                Ok(Ok(false)) | Err(_) => {}
                Ok(Err(err)) => report.kept.push((room, err.message)),
            }
        }
        report
    }

    /// Names of the creatable room types, sorted.
    pub fn type_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.room_types.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        names.sort();
        names
    }

    /// Creates a room for `owner` and starts its actor, which runs the
    /// room type's `create` hook and then answers `respond` (with the
    /// room's [`RoomInfo`], or the hook's error).
    ///
    /// Fails at once, through `respond`, with `invalid_request` for
    /// settings out of range, `unknown_room_type`, `server_busy` past
    /// `limits.maxRooms`, or `quota_exceeded` past
    /// `limits.maxRoomsPerConnection`.
    ///
    /// # Panics
    /// Outside a tokio runtime, for room types without a runtime of their
    /// own.
    ///
    /// `password` is the hash of the room's password (see
    /// [`crate::auth::password`]); the request's own password field is
    /// ignored.
    pub fn create(
        &self,
        request: CreateRoom,
        password: Option<Arc<str>>,
        owner: ClientHandle,
        respond: Responder,
    ) {
        let settings = match self.resolve_settings(request, &password, &owner) {
            Ok(settings) => settings,
            Err(err) => return respond.fail(err),
        };
        let room_type = self
            .room_types
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&settings.room_type)
            .cloned();
        let Some(room_type) = room_type else {
            return respond.fail(ApiError::new(
                ErrorCode::UnknownRoomType,
                format!(
                    "no room type {}; known types: {}",
                    quote(&settings.room_type),
                    self.type_names().join(", ")
                ),
            ));
        };
        let limits = &self.config.limits;
        if !self.index.reserve(limits.max_rooms) {
            return respond.fail(ApiError::new(
                ErrorCode::ServerBusy,
                format!("the server already has {} rooms", limits.max_rooms),
            ));
        }
        let serial = self.next_room.fetch_add(1, Ordering::Relaxed);
        let prefix = self.id_prefix.get().map_or("", String::as_str);
        let Some(id) = new_room_id(prefix, |id| self.index.get(id).is_some()) else {
            self.index.release("");
            return respond
                .fail(ApiError::new(ErrorCode::Internal, "the system's random source failed"));
        };
        if !owner.reserve_room() {
            self.index.release(&id);
            return respond.fail(ApiError::new(
                ErrorCode::QuotaExceeded,
                format!(
                    "you have created {} rooms that are still open, the most a connection may",
                    limits.max_rooms_per_connection
                ),
            ));
        }
        let behaviour = match room_type.new_behaviour() {
            Ok(behaviour) => behaviour,
            Err(err) => {
                self.index.release(&id);
                owner.release_room();
                return respond.fail(err);
            }
        };
        let listing = Arc::new(Listing {
            info: Mutex::new(settings.info(&id, 0)),
            watch: self.index.watch.get().cloned(),
        });
        let (mailbox, receiver) = mpsc::channel(limits.room_mailbox);
        let created_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let handle = RoomHandle {
            id: id.clone(),
            serial,
            created_unix_ms,
            listing: listing.clone(),
            mailbox,
            password,
        };
        let room_limits = RoomLimits::from_config(limits);
        let actor = RoomActor {
            state: RoomState::new(id, settings, listing, room_limits),
            behaviour,
            index: self.index.clone(),
            handle,
            owner,
            timeouts: RoomTimeouts {
                unjoined: limits.unjoined_room_timeout(),
                orphan: limits.orphan_room_timeout(),
            },
            invites: Invites::default(),
            seats: Seats::default(),
        };
        let run = actor.run(receiver, respond);
        match room_type.runtime() {
            Some(runtime) => drop(self.tasks.spawn_on(run, &runtime)),
            None => drop(self.tasks.spawn(run)),
        }
    }

    /// Rooms alive or being created now (what `limits.maxRooms` bounds,
    /// and the load a cluster places rooms by).
    pub fn room_load(&self) -> usize {
        self.index.reserved.load(Ordering::Acquire)
    }

    /// Rooms alive now (created and not yet ended).
    pub fn room_count(&self) -> usize {
        lock(&self.index.rooms).len()
    }

    /// The room with id `id`.
    ///
    /// # Errors
    /// `room_not_found`.
    pub fn get(&self, id: &str) -> Result<RoomHandle, ApiError> {
        self.index.get(id).ok_or_else(|| ApiError::room_not_found(id))
    }

    /// Answers a `list_rooms`: public rooms, optionally of one type,
    /// oldest first, from `offset`, at most `limit` (and at most
    /// [`MAX_LISTED_ROOMS`], and as many as fit in one frame), with the
    /// total number of matching rooms.
    pub fn list_public(
        &self,
        room_type: Option<&str>,
        offset: usize,
        limit: Option<usize>,
        respond: Responder,
    ) {
        // Only the page's listings are copied: matching and ordering read
        // them in place.
        let mut rooms: Vec<(u64, Arc<Listing>)> = lock(&self.index.rooms)
            .values()
            .filter(|handle| {
                handle.listing.read(|room| {
                    room.public && !room.locked && room_type.is_none_or(|t| room.room_type == t)
                })
            })
            .map(|handle| (handle.serial, handle.listing.clone()))
            .collect();
        rooms.sort_unstable_by_key(|(serial, _)| *serial);
        let total = rooms.len();
        let limit = limit.unwrap_or(MAX_LISTED_ROOMS).min(MAX_LISTED_ROOMS);
        let page = rooms.iter().skip(offset).take(limit).map(|(_, listing)| listing.get());
        answer_room_page(respond, page, total, RoomInfo::encoded_size_bound, |room, w| {
            room.write(w);
        });
    }

    /// Tells every room the server is stopping; [`RoomManager::wait`]
    /// then waits for them.
    pub fn shutdown(&self) {
        for handle in self.index.handles() {
            if let Err(mpsc::error::TrySendError::Full(command)) =
                handle.mailbox.try_send(RoomCommand::Shutdown)
            {
                let mailbox = handle.mailbox.clone();
                tokio::spawn(async move {
                    let _ = mailbox.send(command).await;
                });
            }
        }
        self.tasks.close();
    }

    /// Completes when every room actor has ended (after
    /// [`RoomManager::shutdown`]).
    pub async fn wait(&self) {
        self.tasks.wait().await;
    }

    fn resolve_settings(
        &self,
        request: CreateRoom,
        password: &Option<Arc<str>>,
        owner: &ClientHandle,
    ) -> Result<RoomSettings, ApiError> {
        let defaults = &self.config.default_room_settings;
        let limits = &self.config.limits;
        let max_clients = request.max_clients.unwrap_or(defaults.max_clients);
        if max_clients == 0 || max_clients > limits.max_clients_per_room {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("max_clients {max_clients} is outside 1..={}", limits.max_clients_per_room),
            ));
        }
        let name = request.name.unwrap_or_default();
        if name.chars().count() > MAX_ROOM_NAME_CHARS {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("name is longer than {MAX_ROOM_NAME_CHARS} characters"),
            ));
        }
        let metadata = request.metadata.unwrap_or_default();
        let options = request.options.unwrap_or_default();
        for (field, value, max, limit) in [
            ("metadata", &metadata, limits.max_listed_metadata_bytes, "maxListedMetadataBytes"),
            ("options", &options, limits.max_variable_bytes, "maxVariableBytes"),
        ] {
            if value.len() > max {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "{field} is {} bytes; at most {max} (limits.{limit}) are allowed",
                        value.len()
                    ),
                ));
            }
        }
        let room_type = request.room_type.unwrap_or_else(|| GENERIC_ROOM_TYPE.to_owned());
        if room_type.len() > 64 {
            return Err(ApiError::new(
                ErrorCode::UnknownRoomType,
                format!("no room type {}", quote(&room_type)),
            ));
        }
        let broadcast = request.variable_broadcast.unwrap_or_default();
        Ok(RoomSettings {
            room_type,
            name,
            public: request.public.unwrap_or(defaults.public),
            max_clients,
            metadata,
            broadcast_enabled: broadcast.enabled.unwrap_or(defaults.variable_broadcast.enabled),
            broadcast_default: broadcast.default.unwrap_or(defaults.variable_broadcast.default),
            auto_dispose: request.auto_dispose.unwrap_or(defaults.auto_dispose),
            password_protected: password.is_some(),
            owner: owner.session(),
            owner_user: owner.identity().user_id.clone(),
            options,
            locked: false,
        })
    }
}

impl RoomHandle {
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

    /// Joins `client`, admitted past the password as `admission` says,
    /// with the join hook's `options`; the room answers `respond` itself.
    pub async fn join(
        &self,
        client: ClientHandle,
        admission: Admission,
        options: Payload,
        reservation: Option<String>,
        respond: Responder,
    ) {
        self.send(RoomCommand::Join { client, admission, options, reservation, respond }).await;
    }

    /// Holds a seat for `ttl` for a joiner another node redirects here
    /// (bound to `user_id` when given); the answer is the reservation to
    /// join with.
    ///
    /// # Errors
    /// `room_full`, `room_locked`, or `room_not_found` when the room ended.
    pub async fn reserve_seat(
        &self,
        ttl: std::time::Duration,
        user_id: Option<String>,
    ) -> Result<String, ApiError> {
        let (done, outcome) = oneshot::channel();
        if self.mailbox.send(RoomCommand::ReserveSeat { ttl, user_id, done }).await.is_err() {
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

    /// Asks the room for a one-time invite (its owner or an operator).
    pub async fn create_invite(&self, respond: Responder) {
        self.send(RoomCommand::CreateInvite { respond }).await;
    }

    /// Leaves the room on request.
    pub async fn leave(&self, respond: Responder) {
        let session = respond.client().session();
        self.send(RoomCommand::Leave { session, respond: Some(respond) }).await;
    }

    /// Leaves the room because the connection ended.
    pub async fn leave_on_disconnect(&self, session: SessionId) {
        self.send(RoomCommand::Leave { session, respond: None }).await;
    }

    /// Deletes the room (its creator only).
    pub async fn delete(&self, respond: Responder) {
        self.send(RoomCommand::Delete { respond }).await;
    }

    /// Reads one variable: `{"value": v}`.
    pub async fn get_variable(&self, name: String, respond: Responder) {
        self.send(RoomCommand::GetVariable { name, respond }).await;
    }

    /// Reads every variable: `{"variables": {...}}`.
    pub async fn get_variables(&self, respond: Responder) {
        self.send(RoomCommand::GetVariables { respond }).await;
    }

    /// Sets a variable for a member, with the rules a client may give
    /// (broadcast, unreliable): `{"broadcast": bool}`.
    pub async fn set_variable(
        &self,
        name: String,
        value: Payload,
        rules: Rules,
        respond: Responder,
    ) {
        self.send(RoomCommand::SetVariable { name, value, rules, respond }).await;
    }

    /// Runs a room method.
    pub async fn invoke(&self, method: String, args: Payload, respond: Responder) {
        self.send(RoomCommand::Invoke { method, args, respond }).await;
    }

    /// Hands a message to the room without waiting: when its mailbox is
    /// full the message is dropped (for what came over UDP, which may be
    /// lost and must not hold the socket).
    pub fn try_send_message(&self, data: Payload, unreliable: bool, respond: Responder) {
        let _ = self.mailbox.try_send(RoomCommand::Message { data, unreliable, respond });
    }

    /// Hands a message to the room; `unreliable` when it came over UDP.
    pub async fn send_message(&self, data: Payload, unreliable: bool, respond: Responder) {
        self.send(RoomCommand::Message { data, unreliable, respond }).await;
    }
}
