//! The operators' actions on a room ([`AdminOp`]), as the actor runs them:
//! describe it, close it, kick a member, speak as the room. Who asked is
//! logged by the admin API; the room logs what it did.

use tracing::info;
use vampire_protocol::error::quote;
use vampire_protocol::{ErrorCode, SessionId};

use super::{Ending, Next, RoomActor};
use crate::error::ApiError;
use crate::outbound::Responder;
use crate::rooms::command::AdminOp;
use crate::rooms::variables::WriteAccess;

/// Bytes of an inspection besides its metadata, members and variables.
const INSPECTION_BYTES: usize = 1024;

/// Bytes of one member's entry besides its user id and name.
const MEMBER_BYTES: usize = 160;

/// Bytes of one variable's entry besides its name and value.
const VARIABLE_BYTES: usize = 96;

impl RoomActor {
    /// Runs an operator's `op` and answers `reply`.
    pub(super) async fn run_admin(&mut self, op: AdminOp, reply: Responder) -> Next {
        match op {
            AdminOp::Inspect => self.inspect(reply),
            AdminOp::Dispose { reason } => {
                info!(room = %self.state.id(), %reason, "room disposed by an operator");
                reply.ok_nil();
                return Next::Stop(Ending::Closed(reason));
            }
            AdminOp::Kick { session, reason } => {
                if self.state.kick(session, &reason) {
                    info!(room = %self.state.id(), session, %reason, "member kicked by an operator");
                    self.behaviour.on_leave(&mut self.state, session, "kicked").await;
                    reply.ok_nil();
                } else {
                    reply.fail(self.no_member(session));
                }
            }
            AdminOp::Message { to: None, data } => {
                reply.finish(self.state.broadcast_message(None, data.as_bytes()));
            }
            AdminOp::Message { to: Some(session), data } => {
                match self.state.send_message(session, data.as_bytes()) {
                    Ok(true) => reply.ok_nil(),
                    Ok(false) => reply.fail(self.no_member(session)),
                    Err(err) => reply.fail(err),
                }
            }
        }
        Next::Continue
    }

    fn no_member(&self, session: SessionId) -> ApiError {
        ApiError::new(
            ErrorCode::NotInRoom,
            format!("session {session} is not a member of room {}", quote(self.state.id())),
        )
    }

    /// Answers the room's description: a map of its settings, `members`,
    /// `variables`, `clock` and `plugin` (see `GET /admin/rooms/{id}` in
    /// docs/OPERATIONS.md).
    fn inspect(&self, reply: Responder) {
        let state = &self.state;
        let settings = state.settings();
        let members_bound: usize = state
            .members()
            .map(|(_, client)| {
                let identity = client.identity();
                MEMBER_BYTES
                    + identity.user_id.as_ref().map_or(0, String::len)
                    + identity.name.as_ref().map_or(0, String::len)
            })
            .sum();
        let variables_bound: usize = state
            .variables()
            .iter()
            .map(|(name, variable)| VARIABLE_BYTES + name.len() + variable.value.len())
            .sum();
        let bound = INSPECTION_BYTES
            + settings.metadata.len()
            + settings.name.len()
            + settings.room_type.len()
            + settings.owner_user.as_ref().map_or(0, String::len)
            + members_bound
            + variables_bound;
        let plugin = self.behaviour.plugin();
        let created = self.handle.created_unix_ms();
        reply.ok_with(bound, |w| {
            w.map(15);
            w.str("id").str(state.id());
            w.str("room_type").str(&settings.room_type);
            w.str("name").str(&settings.name);
            w.str("public").bool(settings.public);
            w.str("locked").bool(settings.locked);
            w.str("password_protected").bool(settings.password_protected);
            w.str("auto_dispose").bool(settings.auto_dispose);
            w.str("max_clients").uint(u64::from(settings.max_clients));
            w.str("metadata").raw(settings.metadata.as_bytes());
            w.str("owner_user").opt_str(settings.owner_user.as_deref());
            w.str("created_unix_ms").uint(created);
            w.str("members").array(state.member_count());
            for (session, client) in state.members() {
                let identity = client.identity();
                w.map(5);
                w.str("session").uint(session);
                w.str("user_id").opt_str(identity.user_id.as_deref());
                w.str("name").opt_str(identity.name.as_deref());
                w.str("address").str(&client.address().to_string());
                w.str("queue_bytes").uint(client.queued_bytes() as u64);
            }
            w.str("variables").array(state.variables().len());
            for (name, variable) in state.variables().iter() {
                w.map(7);
                w.str("name").str(name);
                w.str("bytes").uint(variable.value.len() as u64);
                w.str("broadcast").bool(variable.broadcast);
                let writer = match variable.write_access {
                    WriteAccess::Clients => "clients",
                    WriteAccess::Room => "room",
                };
                w.str("writer").str(writer);
                w.str("hidden").bool(variable.hidden);
                w.str("unreliable").bool(variable.unreliable);
                w.str("value").raw(variable.value.as_bytes());
            }
            let clock = state.clock();
            w.str("clock").map(3);
            w.str("tick_hz");
            match clock.tick_period() {
                Some(period) => w.f64(1.0 / period.as_secs_f64()),
                None => w.nil(),
            };
            w.str("ticks").uint(clock.ticks());
            w.str("timers").uint(clock.timer_count() as u64);
            w.str("plugin");
            match &plugin {
                Some(plugin) => {
                    w.map(2);
                    w.str("sha256").str(&plugin.sha256);
                    w.str("memory_bytes").uint(plugin.memory_bytes);
                }
                None => {
                    w.nil();
                }
            }
        });
    }
}
