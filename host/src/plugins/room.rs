//! [`WasmRoom`]: a room whose behaviour is a plugin instance.
//!
//! Each room owns its own instance (and store), so rooms share nothing but
//! the compiled code. Every call runs under the per-call deadline and the
//! memory caps. A call that traps fails alone: the instance is dropped and
//! a fresh one created at once (its `create` hook sees `recreated: true`
//! and the current members), while members and variables, which live in
//! the host, stay as they were. A room whose calls keep failing, or whose
//! fresh instance cannot start, is closed rather than left half-alive.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tracing::{error, warn};
use vampire_abi::Hook;
use vampire_abi::input::{self, Member, RoomView, Start};
use vampire_protocol::error::one_line;
use vampire_protocol::{ErrorCode, Payload, SessionId, Value};
use wasmtime::{Memory, Store, Trap, TypedFunc};

use crate::error::{ApiError, MAX_ERROR_MESSAGE_BYTES};
use crate::logging::Throttle;
use crate::metrics::PluginFailure;
use crate::outbound::ClientHandle;
use crate::plugins::abi;
use crate::plugins::memory::MemoryRefusal;
use crate::plugins::module::PluginModule;
use crate::plugins::scheduling::{self, CpuShare};
use crate::plugins::state::PluginState;
use crate::rooms::{PluginView, RoomBehaviour, RoomState, RoomType};

/// The [`RoomType`] of a plugin.
pub struct PluginRoomType(pub Arc<PluginModule>);

impl RoomType for PluginRoomType {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn new_behaviour(&self) -> Result<Box<dyn RoomBehaviour>, ApiError> {
        Ok(Box::new(WasmRoom::new(self.0.clone())))
    }

    fn runtime(&self) -> Option<Handle> {
        Some(self.0.runtime().handle())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A room backed by a plugin.
pub struct WasmRoom {
    plugin: Arc<PluginModule>,
    /// The running instance; `None` after a trap until re-created.
    live: Option<Instance>,
    /// When recent calls failed, oldest first, to close a room that keeps
    /// failing.
    failures: VecDeque<Instant>,
    /// The room's log rate limit, kept across instances.
    log_throttle: Arc<Throttle>,
    /// The room's share of a plugin thread, kept across instances.
    cpu_share: Arc<CpuShare>,
    /// Calls still to make as yielding calls (see
    /// [`scheduling::YIELDING_CALLS`]): non-zero once a call ran long.
    yielding_calls: u32,
}

/// One instance and the exports the host calls.
struct Instance {
    store: Store<PluginState>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    /// Every hook, by [`Hook::index`]; `None` for an optional hook the
    /// module does not export.
    hooks: Vec<Option<TypedFunc<(u32, u32), i64>>>,
}

impl WasmRoom {
    /// A room of `plugin`, not yet instantiated (that happens in
    /// [`RoomBehaviour::on_create`]).
    pub fn new(plugin: Arc<PluginModule>) -> WasmRoom {
        let log_throttle = Arc::new(Throttle::per_second(plugin.runtime().log_lines_per_second()));
        let cpu_share = Arc::new(CpuShare::new(plugin.runtime().cpu_percent()));
        WasmRoom {
            plugin,
            live: None,
            failures: VecDeque::new(),
            log_throttle,
            cpu_share,
            yielding_calls: 0,
        }
    }

    /// Starts an instance: instantiates the module and runs its `create`
    /// hook (`start` says why). A trap is counted like any (a room that
    /// keeps failing is asked to close); the room is left without an
    /// instance.
    ///
    /// # Errors
    /// `plugin_error` when the module cannot be instantiated or traps;
    /// the hook's own error.
    async fn start(&mut self, room: &mut RoomState, start: Start) -> Result<(), ApiError> {
        let instance = self.instantiate().await.map_err(|err| {
            let reason = describe_error(&err);
            error!(room = %room.id(), plugin = self.plugin.name(), "cannot instantiate: {reason}");
            ApiError::new(
                ErrorCode::PluginError,
                format!("plugin {} cannot start: {reason}", self.plugin.name()),
            )
        })?;
        self.live = Some(instance);
        let input = create_input(room, start);
        self.run_hook(room, Hook::Create, &input).await.map(drop)
    }

    async fn instantiate(&self) -> wasmtime::Result<Instance> {
        let runtime = self.plugin.runtime();
        let state = PluginState::new(
            self.plugin.name(),
            runtime.memory_bytes(),
            runtime.memory_total().clone(),
            self.log_throttle.clone(),
            self.cpu_share.clone(),
        );
        // The module's own engine: a reload's first version is baseline
        // code, of the baseline engine.
        let mut store = Store::new(self.plugin.instance_pre().module().engine(), state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(scheduling::on_epoch_tick);
        store.data_mut().slices.left = runtime.deadline_ticks();
        store.set_epoch_deadline(1);
        store.data_mut().slices.can_yield = true;
        let instance = self.plugin.instance_pre().instantiate_async(&mut store).await?;
        store.data_mut().slices.can_yield = false;
        let memory = instance
            .get_memory(&mut store, vampire_abi::exports::MEMORY)
            .ok_or_else(|| wasmtime::format_err!("no memory export"))?;
        store.data_mut().memory = Some(memory);
        let alloc = instance.get_typed_func(&mut store, vampire_abi::exports::ALLOC)?;
        let dealloc = instance.get_typed_func(&mut store, vampire_abi::exports::DEALLOC)?;
        let hooks = Hook::ALL
            .iter()
            .map(|hook| match instance.get_export(&mut store, hook.export()) {
                Some(_) => instance.get_typed_func(&mut store, hook.export()).map(Some),
                None => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        Ok(Instance { store, memory, alloc, dealloc, hooks })
    }

    /// Whether the module exports `hook` (the required ones always do).
    fn exports(&self, hook: Hook) -> bool {
        hook.required() || self.plugin.exports(hook)
    }

    /// Runs `hook` with `input` (a MessagePack map): the one way a hook
    /// runs. The room's state is lent to the store for the call, so the
    /// imports act on it; the reply is the hook's answer (a value, or its
    /// own error for the client).
    ///
    /// A call that traps (a panic, its time budget, its memory cap, a
    /// malformed reply buffer) fails alone: the instance is dropped, the
    /// failure counted, and a fresh instance started at once
    /// ([`Start::Recreated`]), unless the room has failed too often (it is
    /// asked to close), or the hook was one that starts an instance
    /// (`create`, `restore`: whoever started it decides). A room left
    /// without an instance gets a fresh one before its next hook.
    ///
    /// # Errors
    /// The hook's own error, or `plugin_error` naming the trap.
    async fn run_hook(
        &mut self,
        room: &mut RoomState,
        hook: Hook,
        input: &[u8],
    ) -> Result<Payload, ApiError> {
        if self.live.is_none() && hook != Hook::Create {
            Box::pin(self.start(room, Start::Recreated)).await?;
        }
        let Some(live) = self.live.as_mut() else {
            return Err(ApiError::new(
                ErrorCode::PluginError,
                "the plugin instance is unavailable",
            ));
        };
        let deadline = self.plugin.runtime().deadline_ticks();
        // Lend the room state to the store so the imports can act on it.
        std::mem::swap(room, &mut live.store.data_mut().room);
        live.store.data_mut().last_error = None;
        live.store.data_mut().limits.refused = None;
        live.store.data_mut().slices.left = deadline;
        live.store.set_epoch_deadline(1);
        let yielding = self.yielding_calls > 0;
        self.yielding_calls = self.yielding_calls.saturating_sub(1);
        let metrics = self.plugin.metrics();
        let started = metrics.enabled().then(Instant::now);
        let outcome = live.call(hook, input, yielding).await;
        if let Some(started) = started {
            metrics.plugin_call(hook, started.elapsed());
        }
        if deadline - live.store.data().slices.left >= scheduling::LONG_CALL_TICKS {
            self.yielding_calls = scheduling::YIELDING_CALLS;
        }
        std::mem::swap(room, &mut live.store.data_mut().room);
        let trap = match outcome {
            Ok(None) => return Ok(Payload::nil()),
            Ok(Some(reply)) => return abi::decode_reply(&reply),
            Err(trap) => trap,
        };
        let (kind, message) = self.describe_failure(&trap, hook);
        self.plugin.metrics().plugin_failure(kind);
        warn!(room = %room.id(), plugin = self.plugin.name(), hook = hook.export(), "{message}");
        self.live = None;
        let closing = self.note_failure(room);
        if !closing && !matches!(hook, Hook::Create | Hook::Restore) {
            // Re-create now, so the next call finds a working room.
            if let Err(restart) = Box::pin(self.start(room, Start::Recreated)).await {
                warn!(room = %room.id(), plugin = self.plugin.name(), "re-creating the instance failed: {}", restart.message);
                room.request_close(&format!("its plugin cannot restart: {}", restart.message));
            }
        }
        Err(ApiError::new(ErrorCode::PluginError, message))
    }

    /// Runs an optional hook nobody is answered about (tick, timer,
    /// dispose): nothing when the module does not export it; a failure is
    /// only logged and counted.
    async fn run_optional_hook(&mut self, room: &mut RoomState, hook: Hook, input: &[u8]) {
        if self.exports(hook) {
            let _ = self.run_hook(room, hook, input).await;
        }
    }

    /// Swaps to a new version of the plugin: the old instance's snapshot
    /// (if it gives one) goes to the new instance's `restore`, after its
    /// `create` with `start: "reloaded"`. Any failure keeps the old
    /// version and instance, untouched (an old instance that trapped on
    /// its snapshot is re-created, as after any trap).
    async fn swap_to(
        &mut self,
        room: &mut RoomState,
        plugin: Arc<PluginModule>,
    ) -> Result<(), ApiError> {
        let state = if self.live.is_some() && self.exports(Hook::Snapshot) {
            match self.run_hook(room, Hook::Snapshot, &[0x80]).await?.to_value() {
                Value::Binary(bytes) => Some(bytes),
                Value::Nil => None,
                other => {
                    return Err(ApiError::new(
                        ErrorCode::PluginError,
                        format!("its snapshot is {other}, not binary"),
                    ));
                }
            }
        } else {
            None
        };
        let mut candidate = WasmRoom {
            plugin,
            live: None,
            failures: VecDeque::new(),
            log_throttle: self.log_throttle.clone(),
            cpu_share: self.cpu_share.clone(),
            yielding_calls: self.yielding_calls,
        };
        candidate.start(room, Start::Reloaded).await?;
        if let Some(state) = state
            && candidate.exports(Hook::Restore)
        {
            let mut input = Vec::with_capacity(16 + state.len());
            input::Restore { state: input::Binary(&state) }.encode_into(&mut input);
            candidate.run_hook(room, Hook::Restore, &input).await?;
        }
        *self = candidate;
        Ok(())
    }

    /// Records a failed call and, when the room has now failed too often,
    /// asks it to close; returns whether it did.
    fn note_failure(&mut self, room: &mut RoomState) -> bool {
        let closing = self.count_failure();
        if closing {
            room.request_close(&format!(
                "its plugin failed {} times within {} s",
                self.plugin.runtime().failures_to_close(),
                self.plugin.runtime().failure_window().as_secs()
            ));
        }
        closing
    }

    /// Records a failed call; `true` when the room has now failed too
    /// often and must close.
    fn count_failure(&mut self) -> bool {
        let runtime = self.plugin.runtime();
        let now = Instant::now();
        self.failures.push_back(now);
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > runtime.failure_window())
        {
            self.failures.pop_front();
        }
        self.failures.len() >= runtime.failures_to_close() as usize
    }

    /// One line for the client: which hook failed and why. A time budget
    /// overrun is reported as such even when a growth was refused before
    /// it (a guest may loop after a failed `memory.grow`).
    fn describe_failure(&self, err: &wasmtime::Error, hook: Hook) -> (PluginFailure, String) {
        let name = self.plugin.name();
        let state = self.live.as_ref().map(|live| live.store.data());
        let trap = err.downcast_ref::<Trap>();
        let (kind, message) = if trap == Some(&Trap::Interrupt) {
            let budget = self.plugin.runtime().call_timeout().as_millis();
            let message = format!(
                "plugin {name} exceeded its time budget of {budget} ms in {}",
                hook.export()
            );
            (PluginFailure::Timeout, message)
        } else if let Some(refusal) = state.and_then(|s| s.limits.refused) {
            let limits = &state.expect("a refusal comes from a live store").limits;
            let message = match refusal {
                MemoryRefusal::RoomCap => format!(
                    "plugin {name} ran out of memory in {}: its cap is {} bytes",
                    hook.export(),
                    limits.bytes
                ),
                MemoryRefusal::ServerBudget => format!(
                    "plugin {name} ran out of memory in {}: the server's plugin memory budget of {} bytes is used up",
                    hook.export(),
                    limits.budget().total()
                ),
            };
            (PluginFailure::OutOfMemory, message)
        } else {
            let detail = match trap {
                Some(trap) => format!("trapped ({trap})"),
                None => format!("failed: {}", describe_error(err)),
            };
            let message = match state.and_then(|s| s.last_error.as_deref()) {
                Some(logged) => format!(
                    "plugin {name} {detail} in {}: {}",
                    hook.export(),
                    String::from_utf8_lossy(logged)
                ),
                None => format!("plugin {name} {detail} in {}", hook.export()),
            };
            (PluginFailure::Trap, message)
        };
        (kind, one_line(&message, MAX_ERROR_MESSAGE_BYTES))
    }
}

/// The input of the `create` hook of an instance of `room` started for
/// `start`.
fn create_input(room: &RoomState, start: Start) -> Vec<u8> {
    let settings = room.settings();
    let members: Vec<Member<'_>> = room
        .member_ids()
        .into_iter()
        .filter_map(|session| room.member(session).map(|client| member_of(session, client)))
        .collect();
    let view = RoomView {
        room: room.id(),
        room_type: &settings.room_type,
        name: &settings.name,
        public: settings.public,
        locked: settings.locked,
        max_clients: settings.max_clients,
        member_count: members.len() as u32,
        metadata: settings.metadata.as_bytes(),
        owner: settings.owner.unwrap_or(0),
    };
    let mut input = Vec::with_capacity(256 + settings.metadata.len());
    input::Create { room: view, start, options: settings.options.as_bytes(), members }
        .encode_into(&mut input);
    input
}

/// The cause of a wasmtime error in one line, without the backtrace
/// wasmtime attaches.
fn describe_error(err: &wasmtime::Error) -> String {
    one_line(&err.root_cause().to_string(), MAX_ERROR_MESSAGE_BYTES)
}

impl Instance {
    /// Copies `input` into a guest buffer, runs the hook (as a call that
    /// yields at epoch ticks when `yielding`, else a plain one) and copies
    /// its reply out (freeing the guest's copy).
    async fn call(
        &mut self,
        hook: Hook,
        input: &[u8],
        yielding: bool,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        let len = u32::try_from(input.len())?;
        // The allocator and deallocator are called synchronously: a fiber
        // costs more than they do.
        self.store.data_mut().slices.can_yield = false;
        let ptr = self.alloc.call(&mut self.store, len)?;
        self.memory.write(&mut self.store, ptr as usize, input)?;
        let function = self.hooks[hook.index()]
            .as_ref()
            .ok_or_else(|| wasmtime::format_err!("the module does not export {}", hook.export()))?;
        let packed = if yielding {
            self.store.data_mut().slices.can_yield = true;
            let packed = function.call_async(&mut self.store, (ptr, len)).await;
            self.store.data_mut().slices.can_yield = false;
            packed?
        } else {
            function.call(&mut self.store, (ptr, len))?
        };
        if packed == 0 {
            return Ok(None);
        }
        let (out_ptr, out_len) = vampire_abi::unpack(packed);
        let range = out_ptr as usize..out_ptr as usize + out_len as usize;
        let reply = self
            .memory
            .data(&self.store)
            .get(range)
            .ok_or_else(|| {
                wasmtime::format_err!("reply {out_ptr}+{out_len} is outside the guest's memory")
            })?
            .to_vec();
        self.dealloc.call(&mut self.store, (out_ptr, out_len))?;
        Ok(Some(reply))
    }
}

/// A member's map for a hook input.
fn member_of(session: SessionId, client: &ClientHandle) -> Member<'_> {
    let identity = client.identity();
    Member {
        session,
        user_id: identity.user_id.as_deref(),
        name: identity.name.as_deref(),
        claims: identity.claims.as_bytes(),
    }
}

#[async_trait::async_trait]
impl RoomBehaviour for WasmRoom {
    async fn on_create(&mut self, room: &mut RoomState) -> Result<(), ApiError> {
        self.start(room, Start::New).await
    }

    async fn on_join(
        &mut self,
        room: &mut RoomState,
        session: SessionId,
        options: &Payload,
    ) -> Result<Payload, ApiError> {
        let mut input = Vec::with_capacity(64 + options.len());
        let member = room
            .member(session)
            .map_or(Member { session, claims: &[0xc0], ..Member::default() }, |client| {
                member_of(session, client)
            });
        input::Join { member, options: options.as_bytes() }.encode_into(&mut input);
        self.run_hook(room, Hook::Join, &input).await
    }

    async fn on_leave(&mut self, room: &mut RoomState, session: SessionId, reason: &str) {
        let mut input = Vec::with_capacity(32);
        input::Leave { session, reason }.encode_into(&mut input);
        // The member is gone whatever the plugin says; a failure is logged.
        let _ = self.run_hook(room, Hook::Leave, &input).await;
    }

    async fn on_disconnect(
        &mut self,
        room: &mut RoomState,
        session: SessionId,
    ) -> Option<Duration> {
        if !self.exports(Hook::Disconnect) {
            return None;
        }
        let mut input = Vec::with_capacity(24);
        input::Presence { session }.encode_into(&mut input);
        // Nil, a failure or anything but a count of milliseconds: the
        // server's window.
        let hold = self.run_hook(room, Hook::Disconnect, &input).await.ok()?;
        hold.to_value().as_u64().map(Duration::from_millis)
    }

    async fn on_reconnect(&mut self, room: &mut RoomState, session: SessionId) {
        let mut input = Vec::with_capacity(24);
        input::Presence { session }.encode_into(&mut input);
        self.run_optional_hook(room, Hook::Reconnect, &input).await;
    }

    async fn on_invoke(
        &mut self,
        room: &mut RoomState,
        session: SessionId,
        method: &str,
        args: &Payload,
    ) -> Result<Payload, ApiError> {
        let mut input = Vec::with_capacity(48 + method.len() + args.len());
        input::Invoke { session, method, args: args.as_bytes() }.encode_into(&mut input);
        self.run_hook(room, Hook::Invoke, &input).await
    }

    async fn on_message(
        &mut self,
        room: &mut RoomState,
        session: SessionId,
        data: &Payload,
        unreliable: bool,
    ) -> Result<(), ApiError> {
        let mut input = Vec::with_capacity(40 + data.len());
        input::Message { session, data: data.as_bytes(), unreliable }.encode_into(&mut input);
        self.run_hook(room, Hook::Message, &input).await.map(drop)
    }

    async fn on_tick(&mut self, room: &mut RoomState, dt: Duration, count: u64) {
        let mut input = Vec::with_capacity(24);
        input::Tick { dt_ms: dt.as_millis() as u64, count }.encode_into(&mut input);
        self.run_optional_hook(room, Hook::Tick, &input).await;
    }

    async fn on_timer(&mut self, room: &mut RoomState, tag: &str) {
        let mut input = Vec::with_capacity(8 + tag.len());
        input::Timer { tag }.encode_into(&mut input);
        self.run_optional_hook(room, Hook::Timer, &input).await;
    }

    async fn on_dispose(&mut self, room: &mut RoomState, reason: &str) {
        // A room closed because its plugin cannot restart has no instance
        // left to tell.
        if self.live.is_none() {
            return;
        }
        let mut input = Vec::with_capacity(24);
        input::Dispose { reason }.encode_into(&mut input);
        self.run_optional_hook(room, Hook::Dispose, &input).await;
    }

    async fn reload(
        &mut self,
        room: &mut RoomState,
        room_type: &Arc<dyn RoomType>,
    ) -> Result<bool, ApiError> {
        let Some(new) = room_type.as_any().downcast_ref::<PluginRoomType>() else {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "a plugin room can only reload a plugin",
            ));
        };
        self.swap_to(room, new.0.clone()).await.map(|()| true)
    }

    fn plugin(&self) -> Option<PluginView> {
        let memory_bytes =
            self.live.as_ref().map_or(0, |live| live.memory.data_size(&live.store) as u64);
        Some(PluginView { sha256: self.plugin.sha256().to_owned(), memory_bytes })
    }

    async fn can_set_variable(
        &mut self,
        room: &mut RoomState,
        session: SessionId,
        name: &str,
        value: &Payload,
        exists: bool,
    ) -> Result<bool, ApiError> {
        if !self.exports(Hook::CanSetVariable) {
            return Ok(true);
        }
        let mut input = Vec::with_capacity(48 + name.len() + value.len());
        input::CanSetVariable { session, name, value: value.as_bytes(), exists }
            .encode_into(&mut input);
        let answer = self.run_hook(room, Hook::CanSetVariable, &input).await?;
        Ok(answer.to_value().as_bool() == Some(true))
    }
}
