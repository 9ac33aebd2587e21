//! The room manager: room types, creation, and the room index.
//!
//! The index (id → [`RoomHandle`]) is the only map shared between tasks.
//! Each handle carries the room's [`Listing`], which the room keeps
//! current, so `list_rooms` costs no message to any actor.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;
use vampire_protocol::error::quote;
use vampire_protocol::listing::{ListQuery, RoomSort};
use vampire_protocol::{CreateRoom, ErrorCode, Payload, RoomId, RoomInfo};

use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::outbound::Responder;
use crate::rooms::actor::{RoomActor, RoomTimeouts};
use crate::rooms::behaviour::RoomType;
use crate::rooms::command::{AdminOp, Caller, MAX_ADMIN_ANSWER_BYTES, RoomCommand, Swap};
use crate::rooms::generic::{GENERIC_ROOM_TYPE, GenericRoomType};
use crate::rooms::index::{RoomHandle, RoomIndex};
use crate::rooms::invites::Invites;
use crate::rooms::listing::{Listing, MAX_LISTED_ROOMS, answer_room_page};
use crate::rooms::seats::{HeldSeat, Seats};
use crate::rooms::settings::{RoomLimits, RoomSettings};
use crate::rooms::state::RoomState;
use crate::rooms::turns::CreationTurns;

/// Longest room name accepted.
pub const MAX_ROOM_NAME_CHARS: usize = 64;

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

/// What a reload did to the live rooms of a type.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Rooms now on the new version.
    pub swapped: usize,
    /// Rooms that kept their old version, and why.
    pub kept: Vec<(RoomId, String)>,
}

/// What operators see of a room in lists (`GET /admin/rooms`): its
/// listing, private rooms included, and its age. It crosses nodes as it
/// is.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoomSummary {
    /// The room's id.
    pub id: RoomId,
    /// Its type.
    pub room_type: String,
    /// Its name.
    pub name: String,
    /// Listed by `list_rooms`.
    pub public: bool,
    /// Refuses joins.
    pub locked: bool,
    /// Joins need a password.
    pub password_protected: bool,
    /// Members now.
    pub members: u32,
    /// Its member limit.
    pub max_clients: u32,
    /// Its listing metadata.
    pub metadata: Payload,
    /// When it was created, in Unix milliseconds.
    pub created_unix_ms: u64,
}

impl RoomSummary {
    /// The order of operators' lists: newest first, then by id.
    pub fn newest_first(a: &RoomSummary, b: &RoomSummary) -> std::cmp::Ordering {
        b.created_unix_ms.cmp(&a.created_unix_ms).then_with(|| a.id.cmp(&b.id))
    }
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
    /// Where rooms count what they do.
    metrics: Arc<Metrics>,
    /// Set while the node drains for a deploy: no room is created.
    draining: AtomicBool,
    /// The turns `join_or_create`s take before creating a room.
    pub(super) creation_turns: CreationTurns,
}

impl RoomManager {
    /// A manager that knows the generic room type; its rooms count what
    /// they do in `metrics`.
    pub fn new(config: Arc<Config>, metrics: Arc<Metrics>) -> RoomManager {
        let manager = RoomManager {
            config,
            index: Arc::default(),
            room_types: RwLock::default(),
            next_room: AtomicU64::new(1),
            id_prefix: OnceLock::new(),
            tasks: TaskTracker::new(),
            metrics,
            draining: AtomicBool::new(false),
            creation_turns: CreationTurns::default(),
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
        self.index.set_watch(sender).then_some(receiver)
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
    /// version with why. `swap` says whether members are told.
    pub async fn reload_type(&self, room_type: Arc<dyn RoomType>, swap: Swap) -> ReloadReport {
        let name = room_type.name().to_owned();
        self.register_type(room_type.clone());
        let mut pending = Vec::new();
        for handle in self.index.handles() {
            if handle.room_type() != name {
                continue;
            }
            let (done, outcome) = oneshot::channel();
            let (room_type, swap) = (room_type.clone(), swap.clone());
            handle.send(RoomCommand::Reload { room_type, swap, done }).await;
            pending.push((handle.id().clone(), outcome));
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

    /// Creates a room for `creator` and starts its actor, which runs the
    /// room type's `create` hook and then answers `respond` (with the
    /// room's [`RoomInfo`], or the hook's error). A creator connected to
    /// this node owns the room by its session and its user id and counts
    /// it against its quota; a remote one (a client of another node) owns
    /// it by user id alone, and its own node counts it.
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
    /// ignored. The room starts out holding the seats `held`, for the
    /// joiners it is created for (a `join_or_create`'s, a match's).
    pub fn create(
        &self,
        request: CreateRoom,
        password: Option<Arc<str>>,
        creator: Caller,
        held: Vec<HeldSeat>,
        respond: Responder,
    ) {
        let settings = match self.resolve_settings(request, &password, &creator) {
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
            return respond.fail(self.unknown_room_type(&settings.room_type));
        };
        if self.is_draining() {
            return respond.fail(ApiError::new(
                ErrorCode::ServerBusy,
                "this server is draining for a deploy and takes no new rooms",
            ));
        }
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
        let owner = match creator {
            Caller::Client(client) => Some(client),
            Caller::Remote(_) => None,
        };
        if owner.as_ref().is_some_and(|owner| !owner.reserve_room()) {
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
                if let Some(owner) = &owner {
                    owner.release_room();
                }
                return respond.fail(err);
            }
        };
        let listing = Arc::new(Listing::watched(settings.info(&id, 0), self.index.watch()));
        let (mailbox, receiver) = mpsc::channel(limits.room_mailbox);
        let handle = RoomHandle::new(id.clone(), serial, listing.clone(), mailbox, password);
        let room_limits = RoomLimits::from_config(limits);
        let type_metrics = self.metrics.for_type(&settings.room_type);
        let actor = RoomActor {
            state: RoomState::new(id, settings, listing, room_limits, self.metrics.clone()),
            behaviour,
            type_metrics,
            index: self.index.clone(),
            handle,
            owner,
            timeouts: RoomTimeouts {
                unjoined: limits.unjoined_room_timeout(),
                orphan: limits.orphan_room_timeout(),
            },
            invites: Invites::default(),
            seats: Seats::holding(held, std::time::Instant::now()),
            holds: Vec::new(),
        };
        let run = actor.run(receiver, respond);
        match room_type.runtime() {
            Some(runtime) => drop(self.tasks.spawn_on(run, &runtime)),
            None => drop(self.tasks.spawn(run)),
        }
    }

    /// The refusal of a room of type `name`, which is not loaded.
    pub fn unknown_room_type(&self, name: &str) -> ApiError {
        ApiError::new(
            ErrorCode::UnknownRoomType,
            format!("no room type {}; known types: {}", quote(name), self.type_names().join(", ")),
        )
    }

    /// The rooms whose listing `matches` accepts, oldest first.
    pub fn handles_where(&self, matches: impl Fn(&RoomInfo) -> bool) -> Vec<RoomHandle> {
        self.index.handles_where(matches)
    }

    /// Where rooms count what they do.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// From now on, refuses new rooms (`server_busy`): the node drains for
    /// a deploy, its rooms go on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether the node drains (see [`RoomManager::start_draining`]).
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Rooms and members now, by room type (every registered type, even
    /// without rooms).
    pub fn census(&self) -> BTreeMap<String, (u64, u64)> {
        let mut census: BTreeMap<String, (u64, u64)> =
            self.type_names().into_iter().map(|name| (name, (0, 0))).collect();
        for handle in self.index.handles() {
            handle.read_info(|room| {
                let entry = census.entry(room.room_type.clone()).or_default();
                entry.0 += 1;
                entry.1 += u64::from(room.members);
            });
        }
        census
    }

    /// Runs an operator's `op` on this node's room `room` and returns its
    /// answer.
    ///
    /// # Errors
    /// The action's; `room_not_found`.
    pub async fn admin(&self, room: &str, op: AdminOp) -> Result<Payload, ApiError> {
        let handle = self.get(room)?;
        let (reply, answer) = Responder::local(MAX_ADMIN_ANSWER_BYTES);
        handle.admin(op, reply.about_room(room)).await;
        answer.outcome().await
    }

    /// Members of every room now.
    pub fn member_total(&self) -> u64 {
        self.index.handles().iter().map(|h| h.read_info(|room| u64::from(room.members))).sum()
    }

    /// Every room of this node (of type `room_type`, when given), private
    /// ones included, newest first.
    pub fn summaries(&self, room_type: Option<&str>) -> Vec<RoomSummary> {
        let mut rooms: Vec<RoomSummary> = self
            .index
            .handles()
            .iter()
            .filter_map(|handle| {
                let created_unix_ms = handle.created_unix_ms();
                handle.read_info(|room| {
                    room_type.is_none_or(|t| room.room_type == t).then(|| RoomSummary {
                        id: room.id.clone(),
                        room_type: room.room_type.clone(),
                        name: room.name.clone(),
                        public: room.public,
                        locked: room.locked,
                        password_protected: room.password_protected,
                        members: room.members,
                        max_clients: room.max_clients,
                        metadata: room.metadata.clone(),
                        created_unix_ms,
                    })
                })
            })
            .collect();
        rooms.sort_by(RoomSummary::newest_first);
        rooms
    }

    /// Rooms alive or being created now (what `limits.maxRooms` bounds,
    /// and the load a cluster places rooms by).
    pub fn room_load(&self) -> usize {
        self.index.load()
    }

    /// Rooms alive now (created and not yet ended).
    pub fn room_count(&self) -> usize {
        self.index.len()
    }

    /// The room with id `id`.
    ///
    /// # Errors
    /// `room_not_found`.
    pub fn get(&self, id: &str) -> Result<RoomHandle, ApiError> {
        self.index.get(id).ok_or_else(|| ApiError::room_not_found(id))
    }

    /// Answers a `list_rooms`: public rooms, optionally of one type, that
    /// `query` accepts, in its order, from `offset`, at most `limit` (and
    /// at most [`MAX_LISTED_ROOMS`], and as many as fit in one frame), with
    /// the total number of matching rooms.
    pub fn list_public(
        &self,
        room_type: Option<&str>,
        query: &ListQuery,
        offset: usize,
        limit: Option<usize>,
        respond: Responder,
    ) {
        let rooms = self.index.listings(|room| {
            room.public
                && !room.locked
                && room_type.is_none_or(|t| room.room_type == t)
                && query.matches(room)
        });
        let total = rooms.len();
        let limit = limit.unwrap_or(MAX_LISTED_ROOMS).min(MAX_LISTED_ROOMS);
        let page: Vec<RoomInfo> = match query.sort {
            // Only the page is read.
            RoomSort::Oldest => rooms.iter().skip(offset).take(limit).map(|l| l.get()).collect(),
            sort => {
                let mut all: Vec<RoomInfo> = rooms.iter().map(|listing| listing.get()).collect();
                sort.apply(&mut all, |room| room);
                all.into_iter().skip(offset).take(limit).collect()
            }
        };
        answer_room_page(
            respond,
            page.into_iter(),
            total,
            RoomInfo::encoded_size_bound,
            |room, w| {
                room.write(w);
            },
        );
    }

    /// Tells every room the server is stopping; [`RoomManager::wait`]
    /// then waits for them.
    pub fn shutdown(&self) {
        for handle in self.index.handles() {
            if let Some(command) = handle.offer(RoomCommand::Shutdown) {
                // Waited for by `wait`, with the rooms.
                self.tasks.spawn(async move { handle.send(command).await });
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
        creator: &Caller,
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
            owner: creator.session(),
            owner_user: creator.identity().user_id.clone(),
            options,
            locked: false,
        })
    }
}
