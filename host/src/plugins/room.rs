//! [`WasmRoom`]: a room whose behaviour is a plugin instance.
//!
//! Each room has its own `Store` and instance, so rooms share nothing but
//! the compiled code. Every call runs under the per-call deadline and the
//! memory cap. A call that traps fails alone: the instance is dropped and
//! a fresh one created at once (its `create` hook sees `recreated: true`
//! and the current members), while members and variables, which live in
//! the host, stay as they were.

use std::sync::Arc;

use serde::Serialize;
use tracing::{error, warn};
use vampire_protocol::{ErrorCode, SessionId, Value};
use wasmtime::{Memory, Store, Trap, TypedFunc};

use crate::error::ApiError;
use crate::plugins::abi::{self, Hook};
use crate::plugins::loader::PluginModule;
use crate::plugins::state::PluginState;
use crate::rooms::{RoomBehaviour, RoomState};

/// A room backed by a plugin.
pub struct WasmRoom {
    plugin: Arc<PluginModule>,
    /// The running instance; `None` after a trap until re-created.
    live: Option<Instance>,
}

/// One instance and the exports the host calls.
struct Instance {
    store: Store<PluginState>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    hooks: Vec<TypedFunc<(u32, u32), i64>>,
}

/// Input of `vampire_create`.
#[derive(Serialize)]
struct CreateInput<'a> {
    room: &'a str,
    room_type: &'a str,
    name: &'a str,
    max_clients: u32,
    metadata: &'a Value,
    members: Vec<SessionId>,
    recreated: bool,
}

impl WasmRoom {
    /// A room of `plugin`, not yet instantiated (that happens in
    /// [`RoomBehaviour::on_create`]).
    pub fn new(plugin: Arc<PluginModule>) -> WasmRoom {
        WasmRoom { plugin, live: None }
    }

    /// Instantiates the module and runs its `create` hook.
    fn start(&mut self, room: &mut RoomState, recreated: bool) -> Result<(), ApiError> {
        let instance = self.instantiate().map_err(|err| {
            error!(room = %room.id(), plugin = self.plugin.name(), "cannot instantiate: {err:#}");
            ApiError::new(
                ErrorCode::PluginError,
                format!("plugin {} cannot start: {err}", self.plugin.name()),
            )
        })?;
        self.live = Some(instance);
        let settings = room.settings();
        let input = CreateInput {
            room: room.id(),
            room_type: &settings.room_type,
            name: &settings.name,
            max_clients: settings.max_clients,
            metadata: &settings.metadata,
            members: room.member_ids(),
            recreated,
        };
        let input = encode(&input)?;
        self.run(room, Hook::Create, &input).map(drop)
    }

    fn instantiate(&self) -> wasmtime::Result<Instance> {
        let runtime = self.plugin.runtime();
        let mut store = Store::new(
            runtime.engine(),
            PluginState::new(self.plugin.name(), runtime.memory_bytes()),
        );
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(runtime.deadline_ticks());
        let instance = self.plugin.instance_pre().instantiate(&mut store)?;
        let memory = instance
            .get_memory(&mut store, abi::MEMORY)
            .ok_or_else(|| wasmtime::format_err!("no memory export"))?;
        store.data_mut().memory = Some(memory);
        let alloc = instance.get_typed_func(&mut store, abi::ALLOC)?;
        let dealloc = instance.get_typed_func(&mut store, abi::DEALLOC)?;
        let hooks = Hook::ALL
            .iter()
            .map(|hook| instance.get_typed_func(&mut store, hook.export()))
            .collect::<Result<_, _>>()?;
        Ok(Instance { store, memory, alloc, dealloc, hooks })
    }

    /// Calls `hook` with `input` (MessagePack), re-creating the instance
    /// first if an earlier trap left none.
    fn call(
        &mut self,
        room: &mut RoomState,
        hook: Hook,
        input: &impl Serialize,
    ) -> Result<Value, ApiError> {
        let input = encode(input)?;
        if self.live.is_none() {
            self.start(room, true)?;
        }
        self.run(room, hook, &input)
    }

    /// Runs one hook on the live instance. On a trap the instance is
    /// replaced by a fresh one before returning the error.
    fn run(&mut self, room: &mut RoomState, hook: Hook, input: &[u8]) -> Result<Value, ApiError> {
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
        live.store.data_mut().limits.exceeded = false;
        live.store.set_epoch_deadline(deadline);
        let outcome = live.invoke(hook, input);
        std::mem::swap(room, &mut live.store.data_mut().room);
        match outcome {
            Ok(None) => Ok(Value::Null),
            Ok(Some(reply)) => abi::decode_reply(&reply),
            Err(err) => {
                let message = self.describe_failure(&err, hook);
                warn!(room = %room.id(), plugin = self.plugin.name(), hook = hook.export(), "{message}");
                self.live = None;
                if hook != Hook::Create {
                    // Re-create now, so the next call finds a working room.
                    if let Err(restart) = self.start(room, true) {
                        warn!(room = %room.id(), plugin = self.plugin.name(), "re-creating the instance failed: {}", restart.message);
                    }
                }
                Err(ApiError::new(ErrorCode::PluginError, message))
            }
        }
    }

    fn describe_failure(&self, err: &wasmtime::Error, hook: Hook) -> String {
        let name = self.plugin.name();
        let state = self.live.as_ref().map(|live| live.store.data());
        if state.is_some_and(|s| s.limits.exceeded) {
            let cap = state.map_or(0, |s| s.limits.bytes);
            return format!(
                "plugin {name} ran out of memory in {}: its cap is {cap} bytes",
                hook.export()
            );
        }
        let detail = match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => {
                let budget = self.plugin.runtime().call_timeout().as_millis();
                return format!(
                    "plugin {name} exceeded its time budget of {budget} ms in {}",
                    hook.export()
                );
            }
            Some(trap) => format!("trapped: {trap}"),
            None => format!("failed: {err:#}"),
        };
        match state.and_then(|s| s.last_error.as_deref()) {
            Some(logged) => format!("plugin {name} {detail} in {} ({logged})", hook.export()),
            None => format!("plugin {name} {detail} in {}", hook.export()),
        }
    }
}

impl Instance {
    /// Copies `input` into a guest buffer, runs the hook and copies its
    /// reply out (freeing the guest's copy).
    fn invoke(&mut self, hook: Hook, input: &[u8]) -> wasmtime::Result<Option<Vec<u8>>> {
        let len = u32::try_from(input.len())?;
        let ptr = self.alloc.call(&mut self.store, len)?;
        self.memory.write(&mut self.store, ptr as usize, input)?;
        let packed = self.hooks[hook.index()].call(&mut self.store, (ptr, len))?;
        if packed == 0 {
            return Ok(None);
        }
        let (out_ptr, out_len) = abi::unpack(packed);
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

fn encode(input: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    rmp_serde::to_vec_named(input).map_err(|err| {
        ApiError::new(ErrorCode::Internal, format!("cannot encode plugin input: {err}"))
    })
}

#[derive(Serialize)]
struct SessionInput {
    session: SessionId,
}

#[derive(Serialize)]
struct LeaveInput<'a> {
    session: SessionId,
    reason: &'a str,
}

#[derive(Serialize)]
struct InvokeInput<'a> {
    session: SessionId,
    method: &'a str,
    args: Value,
}

#[derive(Serialize)]
struct MessageInput {
    session: SessionId,
    data: Value,
}

impl RoomBehaviour for WasmRoom {
    fn on_create(&mut self, room: &mut RoomState) -> Result<(), ApiError> {
        self.start(room, false)
    }

    fn on_join(&mut self, room: &mut RoomState, session: SessionId) -> Result<(), ApiError> {
        self.call(room, Hook::Join, &SessionInput { session }).map(drop)
    }

    fn on_leave(&mut self, room: &mut RoomState, session: SessionId, reason: &str) {
        // The member is gone whatever the plugin says; a failure is logged.
        let _ = self.call(room, Hook::Leave, &LeaveInput { session, reason });
    }

    fn on_invoke(
        &mut self,
        room: &mut RoomState,
        session: SessionId,
        method: &str,
        args: Value,
    ) -> Result<Value, ApiError> {
        self.call(room, Hook::Invoke, &InvokeInput { session, method, args })
    }

    fn on_message(
        &mut self,
        room: &mut RoomState,
        session: SessionId,
        data: Value,
    ) -> Result<(), ApiError> {
        self.call(room, Hook::Message, &MessageInput { session, data }).map(drop)
    }
}
