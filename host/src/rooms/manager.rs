//! The room manager: room types, creation, and the room index.
//!
//! The index (id → [`RoomHandle`]) is the only map shared between tasks.
//! Listing reads it without asking the rooms, so `list_rooms` costs no
//! message to any actor.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{mpsc, oneshot};
use tracing::info;
use vampire_protocol::{CreateRoom, ErrorCode, RoomId, RoomInfo, SessionId, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::net::ClientHandle;
use crate::rooms::actor::{Reply, RoomActor, RoomCommand};
use crate::rooms::behaviour::RoomType;
use crate::rooms::generic::{GENERIC_ROOM_TYPE, GenericRoomType};
use crate::rooms::state::{RoomSettings, RoomState};

/// Longest room name accepted.
pub const MAX_ROOM_NAME_CHARS: usize = 64;

/// What the index keeps of a room: enough to list it and to reach it.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    id: RoomId,
    settings: Arc<RoomSettings>,
    member_count: Arc<AtomicU32>,
    mailbox: mpsc::Sender<RoomCommand>,
}

/// The shared map of live rooms.
#[derive(Debug, Default)]
pub struct RoomIndex {
    rooms: Mutex<HashMap<RoomId, RoomHandle>>,
}

impl RoomIndex {
    fn insert(&self, handle: RoomHandle) {
        self.lock().insert(handle.id.clone(), handle);
    }

    /// Forgets a room (its actor has ended).
    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    fn get(&self, id: &str) -> Option<RoomHandle> {
        self.lock().get(id).cloned()
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RoomId, RoomHandle>> {
        // A panic while holding this lock cannot leave the map half-updated
        // (every operation is a single insert, remove or read), so a
        // poisoned lock is safe to keep using.
        self.rooms.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Creates rooms and finds them.
pub struct RoomManager {
    config: Arc<Config>,
    index: Arc<RoomIndex>,
    /// Room types by name: `generic` and one per loaded plugin.
    room_types: RwLock<HashMap<String, Arc<dyn RoomType>>>,
    next_room: AtomicU64,
}

impl RoomManager {
    /// A manager that knows the generic room type.
    pub fn new(config: Arc<Config>) -> RoomManager {
        let manager = RoomManager {
            config,
            index: Arc::default(),
            room_types: RwLock::default(),
            next_room: AtomicU64::new(1),
        };
        manager.register_type(Arc::new(GenericRoomType));
        manager
    }

    /// Makes `room_type` creatable under its name, replacing any type of
    /// the same name for rooms created from now on.
    pub fn register_type(&self, room_type: Arc<dyn RoomType>) {
        let name = room_type.name().to_owned();
        self.room_types.write().unwrap_or_else(|p| p.into_inner()).insert(name, room_type);
    }

    /// Names of the creatable room types, sorted.
    pub fn type_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.room_types.read().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        names.sort();
        names
    }

    /// Creates a room for `owner` and starts its actor.
    ///
    /// # Errors
    /// `invalid_request` for settings out of range, `unknown_room_type`,
    /// `server_busy` past `limits.maxRooms`, or the room type's own
    /// failure to create the room.
    ///
    /// # Panics
    /// Outside a tokio runtime (the actor is spawned on the current one).
    pub fn create(&self, request: CreateRoom, owner: SessionId) -> Result<RoomInfo, ApiError> {
        let settings = self.resolve_settings(request, owner)?;
        if self.index.len() >= self.config.limits.max_rooms {
            return Err(ApiError::new(
                ErrorCode::ServerBusy,
                format!("the server already has {} rooms", self.config.limits.max_rooms),
            ));
        }
        let room_type = self
            .room_types
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&settings.room_type)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownRoomType,
                    format!(
                        "no room type {:?}; known types: {}",
                        settings.room_type,
                        self.type_names().join(", ")
                    ),
                )
            })?;
        let mut behaviour = room_type.instantiate()?;
        let id = format!("r{}", self.next_room.fetch_add(1, Ordering::Relaxed));
        let member_count = Arc::new(AtomicU32::new(0));
        let mut state = RoomState::new(id.clone(), settings.clone(), member_count.clone());
        behaviour.on_create(&mut state)?;
        let info = state.info();

        let (mailbox, receiver) = mpsc::channel(self.config.limits.room_mailbox);
        self.index.insert(RoomHandle {
            id: id.clone(),
            settings: Arc::new(settings),
            member_count,
            mailbox,
        });
        let actor = RoomActor {
            state,
            behaviour,
            index: self.index.clone(),
            unjoined_deadline: tokio::time::Instant::now()
                + self.config.limits.unjoined_room_timeout(),
        };
        tokio::spawn(actor.run(receiver));
        info!(
            room = %id,
            room_type = %info.room_type,
            public = info.public,
            max_clients = info.max_clients,
            owner,
            "room created"
        );
        Ok(info)
    }

    /// The room with id `id`.
    ///
    /// # Errors
    /// `room_not_found`.
    pub fn get(&self, id: &str) -> Result<RoomHandle, ApiError> {
        self.index.get(id).ok_or_else(|| ApiError::room_not_found(id))
    }

    /// Public rooms, optionally of one type, ordered by id's creation.
    pub fn list_public(&self, room_type: Option<&str>) -> Vec<RoomInfo> {
        let mut rooms: Vec<RoomInfo> = self
            .index
            .lock()
            .values()
            .filter(|room| room.settings.public)
            .filter(|room| room_type.is_none_or(|t| room.settings.room_type == t))
            .map(RoomHandle::info)
            .collect();
        rooms.sort_by_key(|room| room.id[1..].parse::<u64>().unwrap_or(u64::MAX));
        rooms
    }

    fn resolve_settings(
        &self,
        request: CreateRoom,
        owner: SessionId,
    ) -> Result<RoomSettings, ApiError> {
        let defaults = &self.config.default_room_settings;
        let limit = self.config.limits.max_clients_per_room;
        let max_clients = request.max_clients.unwrap_or(defaults.max_clients);
        if max_clients == 0 || max_clients > limit {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("max_clients {max_clients} is outside 1..={limit}"),
            ));
        }
        let name = request.name.unwrap_or_default();
        if name.chars().count() > MAX_ROOM_NAME_CHARS {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("name is longer than {MAX_ROOM_NAME_CHARS} characters"),
            ));
        }
        let broadcast = request.variable_broadcast.unwrap_or_default();
        Ok(RoomSettings {
            room_type: request.room_type.unwrap_or_else(|| GENERIC_ROOM_TYPE.to_owned()),
            name,
            public: request.public.unwrap_or(defaults.public),
            max_clients,
            metadata: request.metadata.unwrap_or(Value::Null),
            broadcast_enabled: broadcast.enabled.unwrap_or(defaults.variable_broadcast.enabled),
            broadcast_default: broadcast.default.unwrap_or(defaults.variable_broadcast.default),
            auto_dispose: request.auto_dispose.unwrap_or(defaults.auto_dispose),
            password: request.password,
            owner,
        })
    }
}

impl RoomHandle {
    /// The room's id.
    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// The room as listings show it.
    pub fn info(&self) -> RoomInfo {
        self.settings.info(&self.id, self.member_count.load(Ordering::Relaxed))
    }

    /// Joins `client`; the room itself queues the `join` response for
    /// `request_id` so that it precedes every later event.
    ///
    /// # Errors
    /// `not_authorized`, `already_in_room`, `room_full`, `room_not_found`,
    /// or the room's refusal.
    pub async fn join(
        &self,
        client: ClientHandle,
        password: Option<String>,
        request_id: Option<u32>,
    ) -> Result<(), ApiError> {
        self.call(|reply| RoomCommand::Join { client, password, request_id, reply }).await
    }

    /// Leaves the room on request.
    ///
    /// # Errors
    /// `not_in_room`, `room_not_found`.
    pub async fn leave(&self, session: SessionId) -> Result<(), ApiError> {
        self.call(|reply| RoomCommand::Leave { session, reply: Some(reply) }).await
    }

    /// Leaves the room because the connection ended; waits for room space
    /// but not for an answer.
    pub async fn leave_on_disconnect(&self, session: SessionId) {
        let _ = self.mailbox.send(RoomCommand::Leave { session, reply: None }).await;
    }

    /// Deletes the room.
    ///
    /// # Errors
    /// `not_authorized` unless `session` created it; `room_not_found`.
    pub async fn delete(&self, session: SessionId) -> Result<(), ApiError> {
        self.call(|reply| RoomCommand::Delete { session, reply }).await
    }

    /// Reads one variable: `{"value": v}`.
    ///
    /// # Errors
    /// `not_in_room`, `variable_not_found`, `room_not_found`.
    pub async fn get_variable(&self, session: SessionId, name: String) -> Result<Value, ApiError> {
        self.call(|reply| RoomCommand::GetVariable { session, name, reply }).await
    }

    /// Reads every variable: `{"variables": {...}}`.
    ///
    /// # Errors
    /// `not_in_room`, `room_not_found`.
    pub async fn get_variables(&self, session: SessionId) -> Result<Value, ApiError> {
        self.call(|reply| RoomCommand::GetVariables { session, reply }).await
    }

    /// Sets a variable; returns whether the change was broadcast.
    ///
    /// # Errors
    /// `not_in_room`, `room_not_found`.
    pub async fn set_variable(
        &self,
        session: SessionId,
        name: String,
        value: Value,
        broadcast: Option<bool>,
    ) -> Result<bool, ApiError> {
        self.call(|reply| RoomCommand::SetVariable { session, name, value, broadcast, reply }).await
    }

    /// Runs a room method.
    ///
    /// # Errors
    /// `not_in_room`, `method_not_found`, `plugin_error`, `room_not_found`,
    /// or the method's own error.
    pub async fn invoke(
        &self,
        session: SessionId,
        method: String,
        args: Value,
    ) -> Result<Value, ApiError> {
        self.call(|reply| RoomCommand::Invoke { session, method, args, reply }).await
    }

    /// Hands a message to the room.
    ///
    /// # Errors
    /// `not_in_room`, `room_not_found`, or the room's own error.
    pub async fn send_message(&self, session: SessionId, data: Value) -> Result<(), ApiError> {
        self.call(|reply| RoomCommand::Message { session, data, reply }).await
    }

    /// Sends a command and waits for its outcome. A room that ended before
    /// answering is reported as `room_not_found`.
    async fn call<T>(&self, command: impl FnOnce(Reply<T>) -> RoomCommand) -> Result<T, ApiError> {
        let (reply, outcome) = oneshot::channel();
        self.mailbox.send(command(reply)).await.map_err(|_| ApiError::room_not_found(&self.id))?;
        outcome.await.map_err(|_| ApiError::room_not_found(&self.id))?
    }
}
