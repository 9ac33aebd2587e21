//! Presence: a member whose connection dropped stays a member (its seat
//! held) while its session may be resumed; the others are told it went
//! and came back.

use bytes::BytesMut;
use tracing::info;
use vampire_protocol::{SessionId, server};

use super::RoomState;

impl RoomState {
    /// Tells the other members that `session`'s connection dropped
    /// (`member_disconnected`) or that it resumed (`member_reconnected`).
    /// Returns `false` when `session` is not a member.
    pub(crate) fn announce_presence(&mut self, session: SessionId, connected: bool) -> bool {
        if !self.is_member(session) {
            return false;
        }
        info!(room = %self.id, session, connected, "member presence changed");
        let mut frame = BytesMut::new();
        if connected {
            server::write_member_reconnected(&mut frame, &self.id, session);
        } else {
            server::write_member_disconnected(&mut frame, &self.id, session);
        }
        self.members.send_to_others(session, frame.freeze());
        true
    }

    /// Sends member `session` the room as it is now (`room_state`): for a
    /// client that resumed after missing more than its session kept.
    pub(crate) fn send_state(&mut self, session: SessionId) {
        let frame = match self.state_map(None, None) {
            Ok(state) => {
                let mut frame = BytesMut::with_capacity(state.len() + 64);
                server::write_room_state(&mut frame, &self.id, &state);
                frame.freeze()
            }
            // Too large for one frame: the member learns the room from
            // `room_info` and `get_variables` instead.
            Err(err) => {
                let mut frame = BytesMut::new();
                server::write_error(&mut frame, None, err.code, &err.message);
                frame.freeze()
            }
        };
        self.members.send_to(session, frame);
    }
}
