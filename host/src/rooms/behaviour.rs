//! What makes one room type differ from another: [`RoomBehaviour`], made
//! for each room by a [`RoomType`].
//!
//! The room actor owns the membership rules every room shares (password,
//! capacity, duplicate joins, member events); a behaviour only adds its
//! own decisions and effects on top, through [`RoomState`].

use vampire_protocol::{SessionId, Value};

use crate::error::ApiError;
use crate::rooms::state::RoomState;

/// The hooks of one room. Every method has the generic room's default, so
/// a room type overrides only what it changes.
///
/// Methods run inside the room's actor task, one at a time.
pub trait RoomBehaviour: Send + 'static {
    /// Called once, before the room is listed or joinable.
    ///
    /// # Errors
    /// The room is not created and the creator gets the error.
    fn on_create(&mut self, _room: &mut RoomState) -> Result<(), ApiError> {
        Ok(())
    }

    /// Called with `session` already a member; frames sent to it are held
    /// until its `join` response is sent. Default: accept.
    ///
    /// # Errors
    /// Refuses the join: the member is removed and the error reaches the
    /// joiner (`not_authorized` with the room's reason, by convention).
    fn on_join(&mut self, _room: &mut RoomState, _session: SessionId) -> Result<(), ApiError> {
        Ok(())
    }

    /// Called after `session` was removed and the others were told.
    /// `reason` is `left` or `disconnected`.
    fn on_leave(&mut self, _room: &mut RoomState, _session: SessionId, _reason: &str) {}

    /// Runs method `method` for member `session`. Default: no methods.
    ///
    /// # Errors
    /// `method_not_found`, or whatever the method reports.
    fn on_invoke(
        &mut self,
        _room: &mut RoomState,
        _session: SessionId,
        method: &str,
        _args: Value,
    ) -> Result<Value, ApiError> {
        Err(ApiError::method_not_found(method))
    }

    /// Handles a `send_message` from member `session`. Default: relay it to
    /// every member, the sender included, as `room_message`.
    ///
    /// # Errors
    /// Reported to the sender.
    fn on_message(
        &mut self,
        room: &mut RoomState,
        session: SessionId,
        data: Value,
    ) -> Result<(), ApiError> {
        relay_message(room, session, data);
        Ok(())
    }
}

/// The default message behaviour: every member gets `room_message`.
pub fn relay_message(room: &mut RoomState, from: SessionId, data: Value) {
    let event =
        vampire_protocol::Event::RoomMessage { room: room.id().clone(), from: Some(from), data };
    room.broadcast(event);
}

/// A kind of room clients can create by name: the built-in generic room or
/// a loaded plugin.
pub trait RoomType: Send + Sync + 'static {
    /// The name clients give as `room_type`.
    fn name(&self) -> &str;

    /// Makes the behaviour of a new room.
    ///
    /// # Errors
    /// The room is not created (for a plugin: instantiation failed).
    fn instantiate(&self) -> Result<Box<dyn RoomBehaviour>, ApiError>;
}
