//! [`RoomState`]: what a room owns (settings, members, variables, the
//! clock) and the operations its behaviour may perform on it.
//!
//! Only the room's actor task touches a `RoomState`, so nothing here locks.
//! The generic room and plugin rooms act on it through the same methods;
//! a plugin's host imports are thin wrappers over them. How frames reach
//! the members, in room order, is [`crate::rooms::members`].

use std::sync::Arc;

use bytes::BytesMut;
use tracing::{debug, info};
use vampire_protocol::error::quote;
use vampire_protocol::event::Lane;
use vampire_protocol::{ErrorCode, Payload, RoomId, RoomInfo, SessionId, server};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::outbound::ClientHandle;
use crate::rooms::clock::RoomClock;
use crate::rooms::listing::Listing;
use crate::rooms::members::Members;
use crate::rooms::settings::{RoomLimits, RoomSettings};
use crate::rooms::variables::{Rules, Variables, WriteAccess};

mod joining;
mod presence;

/// How a pending join ended, for the actor to answer the joiner.
#[derive(Debug)]
pub(crate) enum JoinEnd {
    /// The joiner is a member; its response and held frames went out.
    Joined,
    /// The room's join hook refused (the actor has its reason).
    Refused,
    /// The room removed the joiner during its join hook.
    Kicked(String),
    /// The room sent the joiner more than the budget allows while
    /// deciding.
    Overflowed,
    /// The join result would not fit in one frame.
    TooLarge(ApiError),
}

/// Everything a room owns.
#[derive(Debug)]
///
/// The larger parts are boxed: a plugin room lends its state to the wasm
/// store for every call (moving it in and out), so the struct is kept to a
/// few words.
pub struct RoomState {
    id: RoomId,
    settings: Box<RoomSettings>,
    /// Members in join order, and the frames on their way to them.
    members: Members,
    /// What listings show of the room, kept current here.
    listing: Arc<Listing>,
    variables: Box<Variables>,
    limits: Box<RoomLimits>,
    /// Set when the room must close (its plugin keeps failing): the actor
    /// closes it after the current command, with this reason.
    close_request: Option<String>,
    /// The room's tick and timers.
    clock: Box<RoomClock>,
    /// Where the room counts its messages and deliveries.
    metrics: Arc<Metrics>,
}

impl RoomState {
    /// A room with no member and no variable.
    pub fn new(
        id: RoomId,
        settings: RoomSettings,
        listing: Arc<Listing>,
        limits: RoomLimits,
        metrics: Arc<Metrics>,
    ) -> RoomState {
        RoomState {
            id,
            settings: Box::new(settings),
            members: Members::new(limits.pending_join_bytes),
            listing,
            variables: Box::new(Variables::new(limits.variables)),
            limits: Box::new(limits),
            close_request: None,
            clock: Box::default(),
            metrics,
        }
    }

    /// A stand-in with no id, members or variables: what a plugin's store
    /// holds between calls, while the real state is with the room actor
    /// (the state is lent to the store only for the duration of a call).
    pub fn detached() -> RoomState {
        let listing = Arc::new(Listing::new(RoomInfo::default()));
        let limits = RoomLimits::default();
        RoomState::new(RoomId::new(), RoomSettings::default(), listing, limits, Metrics::off())
    }

    /// The room's id.
    pub fn id(&self) -> &RoomId {
        &self.id
    }

    /// The room's settings.
    pub fn settings(&self) -> &RoomSettings {
        &self.settings
    }

    /// The room as `list_rooms` shows it.
    pub fn info(&self) -> RoomInfo {
        self.settings.info(&self.id, self.members.len() as u32)
    }

    /// Session ids of the members, in join order.
    pub fn member_ids(&self) -> Vec<SessionId> {
        self.members.iter().map(|m| m.session).collect()
    }

    /// Every member and its connection, in join order.
    pub fn members(&self) -> impl Iterator<Item = (SessionId, &ClientHandle)> {
        self.members.iter().map(|member| (member.session, &member.client))
    }

    /// Number of members.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// The member `session`'s client, if it is a member.
    pub fn member(&self, session: SessionId) -> Option<&ClientHandle> {
        self.members.client(session)
    }

    /// Whether `session` is a member.
    pub fn is_member(&self, session: SessionId) -> bool {
        self.members.contains(session)
    }

    /// The room's variables.
    pub fn variables(&self) -> &Variables {
        &self.variables
    }

    /// The room's clock.
    pub fn clock(&self) -> &RoomClock {
        &self.clock
    }

    /// The room's clock, to set its tick and timers.
    pub fn clock_mut(&mut self) -> &mut RoomClock {
        &mut self.clock
    }

    /// The room's budgets.
    pub fn limits(&self) -> &RoomLimits {
        &self.limits
    }

    /// Locks or unlocks the room: a locked room refuses joins
    /// (`room_locked`) and is not listed.
    pub fn set_locked(&mut self, locked: bool) {
        self.settings.locked = locked;
        self.listing.update(|info| info.locked = locked);
    }

    /// Changes the listing metadata.
    ///
    /// # Errors
    /// `variable_limit` when it is larger than `limits.maxListedMetadataBytes`.
    pub fn set_metadata(&mut self, metadata: Payload) -> Result<(), ApiError> {
        let max = self.limits.metadata_bytes;
        if metadata.len() > max {
            return Err(ApiError::new(
                ErrorCode::VariableLimit,
                format!("metadata is {} bytes; at most {max} are allowed", metadata.len()),
            ));
        }
        self.listing.update(|info| info.metadata = metadata.clone());
        self.settings.metadata = metadata;
        Ok(())
    }

    /// Changes the member limit (members already in stay).
    ///
    /// # Errors
    /// `invalid_request` outside 1 to `limits.maxClientsPerRoom`.
    pub fn set_max_clients(&mut self, max_clients: u32) -> Result<(), ApiError> {
        let limit = self.limits.max_clients_per_room;
        if max_clients == 0 || max_clients > limit {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("max_clients {max_clients} is outside 1..={limit}"),
            ));
        }
        self.settings.max_clients = max_clients;
        self.listing.update(|info| info.max_clients = max_clients);
        Ok(())
    }

    /// Asks the actor to close the room after the current command, telling
    /// the members `reason` (`room_closed`).
    pub fn request_close(&mut self, reason: &str) {
        self.close_request.get_or_insert_with(|| reason.to_owned());
    }

    /// The pending close request, taken.
    pub(crate) fn take_close_request(&mut self) -> Option<String> {
        self.close_request.take()
    }

    /// Sets a variable with `rules` and, if the room broadcasts, the
    /// variable's flag says so and members may see it, sends
    /// `variable_changed` to every member. `by` is the session that set it
    /// (`None` for the room itself). Returns whether it was broadcast.
    ///
    /// Permissions are not checked here: a client's set goes through
    /// [`RoomState::check_client_write`] first.
    ///
    /// # Errors
    /// `variable_limit` when a budget would be passed; nothing changes.
    pub fn set_variable(
        &mut self,
        name: &str,
        value: Payload,
        rules: Rules,
        by: Option<SessionId>,
    ) -> Result<bool, ApiError> {
        let variable = self.variables.set(name, value, rules, self.settings.broadcast_default)?;
        let broadcast = self.settings.broadcast_enabled && variable.broadcast && !variable.hidden;
        debug!(room = %self.id, variable = name, broadcast, by = ?by, "variable updated");
        if broadcast {
            // A variable within its budgets always fits in a frame (the
            // configuration guarantees it), so no size check is needed.
            let (value, unreliable) = (variable.value.clone(), variable.unreliable);
            if unreliable {
                let mut frame = BytesMut::new();
                server::write_variable_changed(
                    &mut frame,
                    &self.id,
                    name,
                    value.as_bytes(),
                    by,
                    Lane::Unreliable,
                );
                self.members.broadcast_unreliable(frame.freeze());
            } else {
                let outbox = self.members.outbox();
                server::write_variable_changed(
                    outbox,
                    &self.id,
                    name,
                    value.as_bytes(),
                    by,
                    Lane::Reliable,
                );
                self.members.flush_if_large();
            }
        }
        Ok(broadcast)
    }

    /// Checks that a member may set variable `name` by the variable's own
    /// writer rule (the room's `can_set_variable` hook decides after);
    /// returns whether it exists.
    ///
    /// # Errors
    /// `not_authorized` for a variable only the room may set.
    pub fn check_client_write(&self, name: &str) -> Result<bool, ApiError> {
        match self.variables.get(name) {
            Some(variable) if variable.write_access == WriteAccess::Room => Err(ApiError::new(
                ErrorCode::NotAuthorized,
                format!("variable {} is set by the room only", quote(name)),
            )),
            Some(_) => Ok(true),
            None => Ok(false),
        }
    }

    /// The value of variable `name` as members may read it: `None` for a
    /// variable that does not exist or is hidden from them.
    pub fn visible_variable(&self, name: &str) -> Option<&Payload> {
        self.variables.get(name).filter(|v| !v.hidden).map(|v| &v.value)
    }

    /// Sends a `room_message` to every member, from member `from` or (with
    /// `None`) from the room. `data` is one MessagePack value.
    ///
    /// # Errors
    /// `response_too_large` when the event would pass the largest frame.
    pub fn broadcast_message(
        &mut self,
        from: Option<SessionId>,
        data: &[u8],
    ) -> Result<(), ApiError> {
        self.check_event_size(data.len())?;
        server::write_room_message(self.members.outbox(), &self.id, from, data, Lane::Reliable);
        self.members.flush_if_large();
        self.metrics.message(self.members.len());
        Ok(())
    }

    /// Sends a `room_message` to every member like
    /// [`RoomState::broadcast_message`], but over UDP to each member that
    /// bound it: for frequent data whose every message need not arrive.
    /// Members without UDP get it over TCP.
    ///
    /// # Errors
    /// `response_too_large` when the event would pass the largest frame.
    pub fn broadcast_message_unreliable(
        &mut self,
        from: Option<SessionId>,
        data: &[u8],
    ) -> Result<(), ApiError> {
        self.check_event_size(data.len())?;
        let mut frame = BytesMut::with_capacity(64 + data.len());
        server::write_room_message(&mut frame, &self.id, from, data, Lane::Unreliable);
        self.members.broadcast_unreliable(frame.freeze());
        self.metrics.message(self.members.len());
        Ok(())
    }

    /// Sends a `room_message` from the room to one member over UDP if it
    /// bound it, else TCP. Returns `Ok(false)` when `session` is not a
    /// member.
    ///
    /// # Errors
    /// `response_too_large` when the event would pass the largest frame.
    pub fn send_message_unreliable(
        &mut self,
        session: SessionId,
        data: &[u8],
    ) -> Result<bool, ApiError> {
        if !self.is_member(session) {
            return Ok(false);
        }
        self.check_event_size(data.len())?;
        let mut frame = BytesMut::with_capacity(64 + data.len());
        server::write_room_message(&mut frame, &self.id, None, data, Lane::Unreliable);
        self.metrics.message(1);
        Ok(self.members.send_unreliable_to(session, frame.freeze()))
    }

    /// Sends a `room_message` from the room to one member. Returns
    /// `Ok(false)` when `session` is not a member.
    ///
    /// # Errors
    /// `response_too_large` when the event would pass the largest frame.
    pub fn send_message(&mut self, session: SessionId, data: &[u8]) -> Result<bool, ApiError> {
        if !self.is_member(session) {
            return Ok(false);
        }
        self.check_event_size(data.len())?;
        let mut frame = BytesMut::with_capacity(64 + data.len());
        server::write_room_message(&mut frame, &self.id, None, data, Lane::Reliable);
        self.members.send_to(session, frame.freeze());
        self.metrics.message(1);
        Ok(true)
    }

    fn check_event_size(&self, payload: usize) -> Result<(), ApiError> {
        self.frame_fits(server::event_size_bound(self.id.len(), payload), "the event")
    }

    /// Whether a frame of `size` bytes (`what`, for the error) fits in
    /// `maxFrameBytes`: the server never sends a frame the client would
    /// refuse.
    ///
    /// # Errors
    /// `response_too_large`, saying both sizes.
    pub(super) fn frame_fits(&self, size: usize, what: &str) -> Result<(), ApiError> {
        let most = self.limits.max_frame_bytes;
        if size > most {
            let message = format!(
                "{what} would take {size} bytes; the server sends at most {most} in one frame"
            );
            return Err(ApiError::new(ErrorCode::ResponseTooLarge, message));
        }
        Ok(())
    }

    /// Removes `session` on the room's own initiative: it gets `kicked`,
    /// the others `member_left` with reason `kicked`. Returns `false` when
    /// it is not a member. A joiner kicked during its own join hook is
    /// removed silently, and its join fails with the reason.
    pub fn kick(&mut self, session: SessionId, reason: &str) -> bool {
        if self.members.kick_pending(session, reason) {
            self.drop_member(session);
            return true;
        }
        if !self.is_member(session) {
            return false;
        }
        let mut kicked = BytesMut::new();
        server::write_kicked(&mut kicked, &self.id, reason);
        self.members.send_to(session, kicked.freeze());
        self.remove_member(session, "kicked")
    }

    /// Hands what is queued for every member to them. Called by the actor
    /// at the end of each turn.
    pub(crate) fn flush(&mut self) {
        self.members.flush();
    }

    /// Removes a member and tells the others why (`left`, `disconnected`
    /// or `kicked`). Returns `false` when `session` was not a member.
    pub(crate) fn remove_member(&mut self, session: SessionId, reason: &str) -> bool {
        self.flush();
        if !self.drop_member(session) {
            return false;
        }
        info!(room = %self.id, session, reason, members = self.members.len(), "member left");
        server::write_member_left(self.members.outbox(), &self.id, session, reason);
        true
    }

    /// Removes a member without telling anyone.
    fn drop_member(&mut self, session: SessionId) -> bool {
        if !self.members.remove(&self.id, session) {
            return false;
        }
        self.store_count();
        true
    }

    /// Tells every member the room's plugin was replaced (`room_reloaded`).
    pub(crate) fn announce_reloaded(&mut self) {
        server::write_room_reloaded(self.members.outbox(), &self.id);
    }

    /// Tells every member the room is gone (`room_deleted` when `reason`
    /// is `None`, else `room_closed` with it) and forgets them.
    pub(crate) fn end(&mut self, reason: Option<&str>) {
        match reason {
            None => server::write_room_deleted(self.members.outbox(), &self.id),
            Some(reason) => server::write_room_closed(self.members.outbox(), &self.id, reason),
        }
        self.flush();
        self.members.clear(&self.id);
        self.store_count();
    }

    fn store_count(&self) {
        let members = self.members.len() as u32;
        self.listing.update(|info| info.members = members);
    }

    /// Checks that `session` is a member.
    ///
    /// # Errors
    /// `not_in_room`.
    pub fn require_member(&self, session: SessionId) -> Result<(), ApiError> {
        if self.is_member(session) { Ok(()) } else { Err(ApiError::not_in_room(&self.id)) }
    }

    /// `variable_not_found` for `name`.
    pub fn variable_not_found(&self, name: &str) -> ApiError {
        ApiError::new(
            ErrorCode::VariableNotFound,
            format!("this room has no variable {}", quote(name)),
        )
    }
}
