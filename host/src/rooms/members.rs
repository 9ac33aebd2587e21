//! [`Members`]: a room's members and the order its frames reach them in.
//!
//! Events for every member are appended to one buffer, the *outbox*, and
//! handed to each member as one shared [`Bytes`] when the actor finishes
//! a turn (or the outbox grows past [`OUTBOX_FLUSH_BYTES`]): a turn that
//! relays fifty messages costs each member one queue push, not fifty. To
//! keep every member's events in room order, the outbox is flushed before
//! anything sent to some members only (a targeted message, a kick, a
//! member joining or leaving).
//!
//! While a member's join is being decided, what is sent to it is held
//! (at most `limits.pendingJoinBytes`) and goes out after its `join`
//! response, so the response always comes first.

use bytes::{Bytes, BytesMut};
use vampire_protocol::{RoomId, SessionId};

use crate::outbound::{ClientHandle, MembershipRefused};

/// Outbox size past which it is handed to the members at once, rather than
/// at the end of the turn: a bound on what one turn can make a room hold.
pub const OUTBOX_FLUSH_BYTES: usize = 64 * 1024;

/// One member: its session and the way to reach it.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) session: SessionId,
    pub(crate) client: ClientHandle,
}

/// A join in progress: frames for the joiner are held back until its
/// `join` response is sent.
#[derive(Debug)]
pub(crate) struct PendingJoin {
    pub(crate) session: SessionId,
    pub(crate) held: BytesMut,
    /// More than the budget was sent to the joiner.
    pub(crate) overflowed: bool,
    /// The room kicked the joiner during its own join hook, with this
    /// reason.
    pub(crate) kicked: Option<String>,
}

impl PendingJoin {
    /// Holds `frames`, up to `budget` bytes in all.
    fn hold(&mut self, frames: &[u8], budget: usize) {
        if self.overflowed || self.held.len() + frames.len() > budget {
            self.overflowed = true;
            self.held.clear();
            return;
        }
        self.held.extend_from_slice(frames);
    }
}

/// A room's members, in join order, and the frames on their way to them.
#[derive(Debug)]
pub(crate) struct Members {
    list: Vec<Member>,
    pending: Option<PendingJoin>,
    /// Frames for every member, not yet handed out.
    outbox: BytesMut,
    /// Bytes held for a joiner at most while its join is decided.
    pending_join_bytes: usize,
}

impl Members {
    /// No member yet; a joiner may be held `pending_join_bytes`.
    pub(crate) fn new(pending_join_bytes: usize) -> Members {
        Members { list: Vec::new(), pending: None, outbox: BytesMut::new(), pending_join_bytes }
    }

    /// The members in join order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Member> {
        self.list.iter()
    }

    /// How many there are.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Member `session`'s client.
    pub(crate) fn client(&self, session: SessionId) -> Option<&ClientHandle> {
        self.list.iter().find(|m| m.session == session).map(|m| &m.client)
    }

    /// Whether `session` is a member (a pending joiner included).
    pub(crate) fn contains(&self, session: SessionId) -> bool {
        self.list.iter().any(|m| m.session == session)
    }

    /// Whether `session` is the member whose join is being decided.
    pub(crate) fn is_pending(&self, session: SessionId) -> bool {
        self.pending.as_ref().is_some_and(|p| p.session == session)
    }

    /// The buffer events for every member are appended to.
    pub(crate) fn outbox(&mut self) -> &mut BytesMut {
        &mut self.outbox
    }

    /// Hands the outbox to every member (the pending joiner's copy is
    /// held).
    pub(crate) fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let frames = self.outbox.split().freeze();
        for member in &self.list {
            match &mut self.pending {
                Some(pending) if pending.session == member.session => {
                    pending.hold(&frames, self.pending_join_bytes);
                }
                _ => {
                    member.client.send(frames.clone());
                }
            }
        }
    }

    /// Flushes the outbox once it passes [`OUTBOX_FLUSH_BYTES`].
    pub(crate) fn flush_if_large(&mut self) {
        if self.outbox.len() >= OUTBOX_FLUSH_BYTES {
            self.flush();
        }
    }

    /// Sends `frames` to one member, after everything broadcast before.
    pub(crate) fn send_to(&mut self, session: SessionId, frames: Bytes) {
        self.flush();
        match &mut self.pending {
            Some(pending) if pending.session == session => {
                pending.hold(&frames, self.pending_join_bytes);
            }
            _ => {
                if let Some(client) = self.client(session) {
                    client.send(frames);
                }
            }
        }
    }

    /// Sends one framed event to every member: over UDP where bound, over
    /// TCP otherwise (after what the room broadcast before, so TCP members
    /// see room order), where it is dropped rather than queued when the
    /// member has fallen behind. A member whose join is being decided does
    /// not get it.
    pub(crate) fn broadcast_unreliable(&mut self, frame: Bytes) {
        self.flush();
        let body = &frame[vampire_protocol::frame::LENGTH_PREFIX..];
        for member in &self.list {
            if member.client.send_unreliable(body) {
                continue;
            }
            // A joiner whose join is being decided misses unreliable data
            // (it may be lost): held, it would reach the reliable stream.
            if !self.is_pending(member.session) {
                member.client.send_droppable(frame.clone());
            }
        }
    }

    /// Sends one framed event to member `session` over UDP if it bound it,
    /// else over TCP on the lane that drops rather than disconnects.
    /// Returns `false` when `session` is not a member.
    pub(crate) fn send_unreliable_to(&mut self, session: SessionId, frame: Bytes) -> bool {
        let Some(client) = self.client(session).cloned() else { return false };
        if self.is_pending(session) {
            // Dropped, as in `broadcast_unreliable`.
        } else if !client.send_unreliable(&frame[vampire_protocol::frame::LENGTH_PREFIX..]) {
            self.flush();
            client.send_droppable(frame);
        }
        true
    }

    /// Adds `client` to room `room` as a member whose join is not yet
    /// decided: frames for it are held until [`Members::take_pending`].
    ///
    /// # Errors
    /// When the client has disconnected or is in as many rooms as it may
    /// be.
    pub(crate) fn begin_join(
        &mut self,
        room: &RoomId,
        client: ClientHandle,
    ) -> Result<(), MembershipRefused> {
        self.flush();
        client.add_membership(room)?;
        let session = client.session();
        self.pending =
            Some(PendingJoin { session, held: BytesMut::new(), overflowed: false, kicked: None });
        self.list.push(Member { session, client });
        Ok(())
    }

    /// Marks the pending joiner `session` as kicked by the room with
    /// `reason`; `false` when `session` is not the pending joiner.
    pub(crate) fn kick_pending(&mut self, session: SessionId, reason: &str) -> bool {
        match &mut self.pending {
            Some(pending) if pending.session == session => {
                pending.kicked = Some(reason.to_owned());
                true
            }
            _ => false,
        }
    }

    /// The join being decided, taken, after what the hook broadcast went
    /// to its held frames.
    pub(crate) fn take_pending(&mut self) -> Option<PendingJoin> {
        self.flush();
        self.pending.take()
    }

    /// Sends a joiner that made it its `response` (when it asked with an
    /// id), then what was held for it.
    pub(crate) fn admit(&mut self, pending: PendingJoin, response: Option<Bytes>) {
        if let Some(client) = self.client(pending.session) {
            if let Some(response) = response {
                client.send(response);
            }
            client.send(pending.held.freeze());
        }
    }

    /// Sends `frames` to every member but `session`, at once.
    pub(crate) fn send_to_others(&self, session: SessionId, frames: Bytes) {
        for member in self.list.iter().filter(|m| m.session != session) {
            member.client.send(frames.clone());
        }
    }

    /// Removes member `session` of room `room` without telling anyone;
    /// `false` when it was not one.
    pub(crate) fn remove(&mut self, room: &str, session: SessionId) -> bool {
        let Some(index) = self.list.iter().position(|m| m.session == session) else {
            return false;
        };
        let member = self.list.remove(index);
        member.client.remove_membership(room);
        true
    }

    /// Forgets every member of room `room`.
    pub(crate) fn clear(&mut self, room: &str) {
        for member in self.list.drain(..) {
            member.client.remove_membership(room);
        }
    }
}
