//! Joining: a member whose join is being decided, its answer, and the
//! room as a joiner (or a resyncing member) sees it.

use bytes::{Bytes, BytesMut};
use tracing::info;
use vampire_protocol::msgpack::Writer;
use vampire_protocol::{Payload, RosterEntry, server};

use super::{JoinEnd, RoomState};
use crate::error::ApiError;
use crate::outbound::{ClientHandle, MembershipRefused};

impl RoomState {
    /// Adds a member whose join is not yet decided: frames for it are held
    /// until [`RoomState::end_join`].
    ///
    /// # Errors
    /// When the client has disconnected or is in as many rooms as it may
    /// be.
    pub(crate) fn begin_join(&mut self, client: ClientHandle) -> Result<(), MembershipRefused> {
        self.members.begin_join(&self.id, client)?;
        self.store_count();
        Ok(())
    }

    /// Ends the pending join. With `accepted`, and unless the room kicked
    /// the joiner or sent it too much meanwhile, the joiner gets its
    /// `join` response (request `id`, when it has one) then the held
    /// frames, and the others `member_joined`. Otherwise the joiner is
    /// removed without a trace. `created` is what a `join_or_create`'s
    /// answer says of it (nothing for a `join`).
    pub(crate) fn end_join(
        &mut self,
        accepted: bool,
        id: Option<u32>,
        reply: &Payload,
        created: Option<bool>,
    ) -> JoinEnd {
        // What the hook broadcast goes to the held frames, not ahead of
        // the response.
        let Some(mut pending) = self.members.take_pending() else {
            return JoinEnd::Refused;
        };
        if let Some(reason) = pending.kicked.take() {
            return JoinEnd::Kicked(reason);
        }
        if !accepted {
            self.drop_member(pending.session);
            return JoinEnd::Refused;
        }
        if pending.overflowed {
            self.drop_member(pending.session);
            return JoinEnd::Overflowed;
        }
        let response = match self.join_response(id, reply, created) {
            Ok(response) => response,
            Err(err) => {
                self.drop_member(pending.session);
                return JoinEnd::TooLarge(err);
            }
        };
        let session = pending.session;
        self.members.admit(pending, response);
        let identity =
            self.members.client(session).map(|c| c.identity().clone()).unwrap_or_default();
        info!(
            room = %self.id,
            session,
            user = identity.user_id.as_deref(),
            members = self.members.len(),
            "member joined"
        );
        let mut joined = BytesMut::new();
        server::write_member_joined(
            &mut joined,
            &self.id,
            session,
            identity.user_id.as_deref(),
            identity.name.as_deref(),
        );
        self.members.send_to_others(session, joined.freeze());
        JoinEnd::Joined
    }

    /// The `join` response frame for request `id` (none for a
    /// notification).
    fn join_response(
        &self,
        id: Option<u32>,
        reply: &Payload,
        created: Option<bool>,
    ) -> Result<Option<Bytes>, ApiError> {
        let Some(id) = id else { return Ok(None) };
        let result = self.state_map(Some(reply), created)?;
        let mut frame = BytesMut::with_capacity(server::response_size(result.len()));
        server::write_response(&mut frame, id, &result);
        Ok(Some(frame.freeze()))
    }

    /// The room as a joiner sees it: a join result's map (`room`,
    /// `members`, `roster`, `variables`, and `reply` and `created` when
    /// given).
    ///
    /// # Errors
    /// `response_too_large` when it would not fit in one frame.
    pub(super) fn state_map(
        &self,
        reply: Option<&Payload>,
        created: Option<bool>,
    ) -> Result<BytesMut, ApiError> {
        let info = self.info();
        let size_bound = info.encoded_size_bound()
            + 9 * self.members.len()
            + self.members.iter().map(|m| roster_entry_bound(&m.client)).sum::<usize>()
            + self.variables.encoded_size_bound()
            + reply.map_or(0, Payload::len)
            + 64;
        self.frame_fits(server::response_size(size_bound), "the join result")?;
        let mut result = BytesMut::with_capacity(size_bound);
        let mut w = Writer::new(&mut result);
        w.map(4 + usize::from(reply.is_some()) + usize::from(created.is_some())).str("room");
        info.write(&mut w);
        w.str("members").array(self.members.len());
        for member in self.members.iter() {
            w.uint(member.session);
        }
        w.str("roster").array(self.members.len());
        for member in self.members.iter() {
            let identity = member.client.identity();
            RosterEntry {
                session: member.session,
                user_id: identity.user_id.clone(),
                user_name: identity.name.clone(),
            }
            .write(&mut w);
        }
        w.str("variables");
        self.variables.write_visible(&mut w);
        if let Some(reply) = reply {
            w.str("reply").raw(reply.as_bytes());
        }
        if let Some(created) = created {
            w.str("created").bool(created);
        }
        Ok(result)
    }
}

/// Bytes a member's roster entry takes at most in a join result.
fn roster_entry_bound(client: &ClientHandle) -> usize {
    let identity = client.identity();
    48 + identity.user_id.as_ref().map_or(0, String::len)
        + identity.name.as_ref().map_or(0, String::len)
}
