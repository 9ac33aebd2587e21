//! What makes one room type differ from another: [`RoomBehaviour`], made
//! for each room by a [`RoomType`].
//!
//! The room actor owns the membership rules every room shares (password,
//! capacity, duplicate joins, member events); a behaviour only adds its
//! own decisions and effects on top, through [`RoomState`].

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use vampire_protocol::{Payload, SessionId};

use crate::error::ApiError;
use crate::rooms::state::RoomState;

/// What an operator sees of a room's plugin (`GET /admin/rooms/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginView {
    /// The SHA-256 of the plugin file the room runs: its version.
    pub sha256: String,
    /// Linear memory its instance holds now, in bytes (0 between an
    /// instance that trapped and the next).
    pub memory_bytes: u64,
}

/// The hooks of one room. Every method has the generic room's default, so
/// a room type overrides only what it changes.
///
/// Methods run inside the room's actor task, one at a time. They are
/// `async` so that a plugin's long call can yield its thread to other
/// rooms while it runs (see `crate::plugins::room`); the generic room's
/// never wait.
#[async_trait::async_trait]
pub trait RoomBehaviour: Send + 'static {
    /// Called once, before the room is listed or joinable.
    ///
    /// # Errors
    /// The room is not created and the creator gets the error.
    async fn on_create(&mut self, _room: &mut RoomState) -> Result<(), ApiError> {
        Ok(())
    }

    /// Called with `session` already a member; frames sent to it are held
    /// until its `join` response is sent. `options` is the joiner's value
    /// (nil when none). Default: accept. The value returned reaches the
    /// joiner in its join result (`reply`).
    ///
    /// # Errors
    /// Refuses the join: the member is removed and the error reaches the
    /// joiner (`not_authorized` with the room's reason, by convention).
    async fn on_join(
        &mut self,
        _room: &mut RoomState,
        _session: SessionId,
        _options: &Payload,
    ) -> Result<Payload, ApiError> {
        Ok(Payload::nil())
    }

    /// Called after `session` was removed and the others were told.
    /// `reason` is `left`, `disconnected`, `timeout` or `kicked`.
    async fn on_leave(&mut self, _room: &mut RoomState, _session: SessionId, _reason: &str) {}

    /// Called when member `session`'s connection dropped and its session
    /// is held for a resume: how long the room keeps its seat (zero: the
    /// member leaves now, reason `disconnected`). Default `None`: as long
    /// as the server holds the session (`reconnect.windowSecs`).
    async fn on_disconnect(
        &mut self,
        _room: &mut RoomState,
        _session: SessionId,
    ) -> Option<std::time::Duration> {
        None
    }

    /// Called when member `session`, whose connection dropped, resumed
    /// its session (and the others were told).
    async fn on_reconnect(&mut self, _room: &mut RoomState, _session: SessionId) {}

    /// Runs method `method` for member `session` with `args` (one
    /// MessagePack value, as the client sent it). Default: no methods.
    ///
    /// # Errors
    /// `method_not_found`, or whatever the method reports.
    async fn on_invoke(
        &mut self,
        _room: &mut RoomState,
        _session: SessionId,
        method: &str,
        _args: &Payload,
    ) -> Result<Payload, ApiError> {
        Err(ApiError::method_not_found(method))
    }

    /// Handles a `send_message` from member `session`; `unreliable` when
    /// it came over UDP. Default: relay it to every member, the sender
    /// included, as `room_message`, without decoding it (a message that
    /// came over UDP goes on over UDP where members bound it).
    ///
    /// # Errors
    /// Reported to the sender.
    async fn on_message(
        &mut self,
        room: &mut RoomState,
        session: SessionId,
        data: &Payload,
        unreliable: bool,
    ) -> Result<(), ApiError> {
        if unreliable {
            room.broadcast_message_unreliable(Some(session), data.as_bytes())
        } else {
            room.broadcast_message(Some(session), data.as_bytes())
        }
    }

    /// The room's clock ticked (see [`RoomState::clock_mut`]): `dt` is the
    /// real time since the previous tick, `count` the tick's number.
    async fn on_tick(&mut self, _room: &mut RoomState, _dt: Duration, _count: u64) {}

    /// The room's timer `tag` fired.
    async fn on_timer(&mut self, _room: &mut RoomState, _tag: &str) {}

    /// The room is ending: `reason` is `deleted`, `disposed`, `closed` or
    /// `shutdown`. Members are still there (they are told next).
    async fn on_dispose(&mut self, _room: &mut RoomState, _reason: &str) {}

    /// Replaces this room's behaviour by one of `room_type` (a new version
    /// of the same type) between two commands, keeping members, variables
    /// and the clock, which live in [`RoomState`]. Returns `Ok(false)` for
    /// a behaviour that cannot be reloaded (the generic room).
    ///
    /// # Errors
    /// The new version failed to start; the room keeps the old one.
    async fn reload(
        &mut self,
        _room: &mut RoomState,
        _room_type: &Arc<dyn RoomType>,
    ) -> Result<bool, ApiError> {
        Ok(false)
    }

    /// The plugin the room runs, for operators; `None` for a built-in
    /// room.
    fn plugin(&self) -> Option<PluginView> {
        None
    }

    /// Whether member `session` may set variable `name` to `value`, once
    /// the variable's writer rule allowed it (`exists` tells whether it is
    /// new). Default: yes.
    ///
    /// # Errors
    /// Reported to the client instead of `not_authorized`.
    async fn can_set_variable(
        &mut self,
        _room: &mut RoomState,
        _session: SessionId,
        _name: &str,
        _value: &Payload,
        _exists: bool,
    ) -> Result<bool, ApiError> {
        Ok(true)
    }
}

/// A kind of room clients can create by name: the built-in generic room or
/// a loaded plugin.
pub trait RoomType: Send + Sync + 'static {
    /// The name clients give as `room_type`.
    fn name(&self) -> &str;

    /// Makes the behaviour of a new room (its `on_create` runs later, in
    /// the room's own task).
    ///
    /// # Errors
    /// The room is not created.
    fn new_behaviour(&self) -> Result<Box<dyn RoomBehaviour>, ApiError>;

    /// The type as `Any`, so a behaviour can recognise a new version of
    /// its own type on reload.
    fn as_any(&self) -> &dyn Any;

    /// The runtime the room's actor runs on; `None` for the caller's.
    /// Plugin rooms run apart from the network threads, so that a plugin
    /// running to its time budget never delays a connection.
    fn runtime(&self) -> Option<Handle> {
        None
    }
}
