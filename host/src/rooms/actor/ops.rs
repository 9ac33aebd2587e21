//! The room operations, as the actor runs them: one arm per [`RoomOp`],
//! where each operation's rules (membership, ownership, the room's own
//! hooks) are checked and its answer given.

use std::time::Duration;

use tokio::time::Instant;
use tracing::info;
use vampire_protocol::error::quote;
use vampire_protocol::{ErrorCode, Payload, RoomOp, SessionId};

use super::{Ending, Next, RoomActor};
use crate::error::ApiError;
use crate::outbound::{ClientHandle, MembershipRefused, Responder};
use crate::rooms::command::{Admission, Caller, Presence};
use crate::rooms::invites::INVITE_LIFETIME;
use crate::rooms::seats::NoSeat;
use crate::rooms::state::JoinEnd;
use crate::rooms::variables::Rules;

/// What a joiner brings past the room's own rules: how it got past the
/// password, and the invite and seat reservation it gave.
struct Pass {
    admission: Admission,
    invite: Option<String>,
    reservation: Option<String>,
}

impl RoomActor {
    /// Runs `op` for `caller` and answers `reply`.
    pub(super) async fn run_op(
        &mut self,
        op: RoomOp,
        caller: Caller,
        admission: Admission,
        reply: Responder,
    ) -> Next {
        match op {
            RoomOp::Join { options, reservation, invite, password: _ } => {
                let Caller::Client(client) = caller else {
                    reply.fail(ApiError::new(
                        ErrorCode::NotAuthorized,
                        "only a connection of this node can join its rooms",
                    ));
                    return Next::Continue;
                };
                let options = options.unwrap_or_default();
                let pass = Pass { admission, invite, reservation };
                self.join(client, pass, &options, reply).await;
            }
            RoomOp::Leave {} => {
                let outcome = match caller.session() {
                    Some(session) => self.leave(session, "left").await,
                    None => Err(ApiError::not_in_room(self.state.id())),
                };
                reply.finish(outcome);
            }
            RoomOp::Delete {} => {
                if let Err(refusal) = self.check_administrator(&caller, "delete it") {
                    reply.fail(refusal);
                    return Next::Continue;
                }
                let identity = caller.identity();
                info!(room = %self.state.id(), by = ?caller.session(), user = ?identity.user_id, "room deleted");
                reply.ok_nil();
                return Next::Stop(Ending::Deleted);
            }
            RoomOp::CreateInvite {} => self.create_invite(&caller, reply),
            RoomOp::Info {} => {
                // A private room is found only by whoever was given its id
                // and joined it: anyone else is told it does not exist.
                if !self.state.settings().public && self.member(&caller).is_err() {
                    reply.fail(ApiError::room_not_found(self.state.id()));
                    return Next::Continue;
                }
                let info = self.state.info();
                reply.ok_with(info.encoded_size_bound(), |w| info.write(w));
            }
            RoomOp::GetVariable { name } => match self.member(&caller) {
                Err(err) => reply.fail(err),
                Ok(_) => match self.state.visible_variable(&name) {
                    Some(value) => {
                        let value = value.as_bytes();
                        reply.ok_with(value.len() + 8, |w| {
                            w.map(1).str("value").raw(value);
                        });
                    }
                    None => reply.fail(self.state.variable_not_found(&name)),
                },
            },
            RoomOp::GetVariables {} => match self.member(&caller) {
                Err(err) => reply.fail(err),
                Ok(_) => {
                    let variables = self.state.variables();
                    reply.ok_with(variables.encoded_size_bound() + 12, |w| {
                        w.map(1).str("variables");
                        variables.write_visible(w);
                    });
                }
            },
            RoomOp::SetVariable { name, value, broadcast, unreliable } => {
                let rules = Rules { broadcast, unreliable, ..Rules::default() };
                match self.set_variable_for(&caller, &name, value, rules).await {
                    Ok(broadcast) => reply.ok_with(12, |w| {
                        w.map(1).str("broadcast").bool(broadcast);
                    }),
                    Err(err) => reply.fail(err),
                }
            }
            RoomOp::Invoke { method, args } => {
                let outcome = match self.member(&caller) {
                    Ok(session) => {
                        self.behaviour.on_invoke(&mut self.state, session, &method, &args).await
                    }
                    Err(err) => Err(err),
                };
                match outcome {
                    Ok(result) => reply.ok(result.as_bytes()),
                    Err(err) => reply.fail(err),
                }
            }
            RoomOp::SendMessage { data } => {
                let outcome = match self.member(&caller) {
                    Ok(session) => {
                        self.behaviour.on_message(&mut self.state, session, &data, false).await
                    }
                    Err(err) => Err(err),
                };
                reply.finish(outcome);
            }
        }
        Next::Continue
    }

    /// The caller's session, when it is a member.
    ///
    /// # Errors
    /// `not_in_room`.
    fn member(&self, caller: &Caller) -> Result<SessionId, ApiError> {
        match caller.session() {
            Some(session) if self.state.is_member(session) => Ok(session),
            _ => Err(ApiError::not_in_room(self.state.id())),
        }
    }

    /// Removes member `session` (`reason`: `left` or `disconnected`) and
    /// runs the leave hook.
    ///
    /// # Errors
    /// `not_in_room`.
    pub(super) async fn leave(&mut self, session: SessionId, reason: &str) -> Result<(), ApiError> {
        if !self.state.remove_member(session, reason) {
            return Err(ApiError::not_in_room(self.state.id()));
        }
        self.behaviour.on_leave(&mut self.state, session, reason).await;
        Ok(())
    }

    /// Applies what happened to member `session`'s session. A member
    /// whose connection dropped keeps its seat as long as the room's
    /// `disconnect` hook says (the server's window by default; zero: it
    /// leaves now).
    pub(super) async fn presence(&mut self, session: SessionId, change: Presence) {
        if change != Presence::Dropped {
            self.holds.retain(|(held, _)| *held != session);
        }
        match change {
            Presence::Ended(reason) => {
                let _ = self.leave(session, reason).await;
            }
            Presence::Dropped if self.state.is_member(session) => {
                match self.behaviour.on_disconnect(&mut self.state, session).await {
                    Some(hold) if hold.is_zero() => {
                        let _ = self.leave(session, "disconnected").await;
                    }
                    hold => {
                        self.state.announce_presence(session, false);
                        if let Some(hold) = hold {
                            self.holds.push((session, Instant::now() + hold));
                        }
                    }
                }
            }
            Presence::Dropped => {}
            Presence::Resumed { resync } => {
                if self.state.announce_presence(session, true) {
                    if resync {
                        self.state.send_state(session);
                    }
                    self.behaviour.on_reconnect(&mut self.state, session).await;
                }
            }
        }
    }

    /// Removes the held members whose time in the room ran out by `now`
    /// (reason `timeout`).
    pub(super) async fn end_holds(&mut self, now: Instant) {
        let (over, kept) = self.holds.drain(..).partition(|(_, until)| *until <= now);
        self.holds = kept;
        for (session, _) in over {
            let _ = self.leave(session, "timeout").await;
        }
    }

    /// A one-time invite, for the room's owner or an operator.
    fn create_invite(&mut self, caller: &Caller, reply: Responder) {
        if let Err(refusal) = self.check_administrator(caller, "invite into it") {
            return reply.fail(refusal);
        }
        match self.invites.issue(std::time::Instant::now()) {
            Ok(invite) => {
                info!(room = %self.state.id(), by = ?caller.session(), user = ?caller.identity().user_id, "invite issued");
                let lifetime = INVITE_LIFETIME.as_millis() as u64;
                reply.ok_with(96, |w| {
                    w.map(2).str("invite").str(&invite).str("expires_in_ms").uint(lifetime);
                });
            }
            Err(err) => reply.fail(ApiError::internal(err.to_string())),
        }
    }

    /// Holds a seat for `ttl` for a joiner another node redirects here.
    ///
    /// # Errors
    /// `room_locked`, `room_full`.
    pub(super) fn reserve_seat(
        &mut self,
        ttl: Duration,
        user_id: Option<String>,
        joiner: Option<SessionId>,
    ) -> Result<String, ApiError> {
        if let Some(session) = joiner
            && self.state.is_member(session)
        {
            let why = format!("you are already a member of room {}", quote(self.state.id()));
            return Err(ApiError::new(ErrorCode::AlreadyInRoom, why));
        }
        let settings = self.state.settings();
        if settings.locked {
            return Err(ApiError::new(
                ErrorCode::RoomLocked,
                format!("room {} is locked", quote(self.state.id())),
            ));
        }
        self.seats
            .reserve(
                std::time::Instant::now(),
                ttl,
                user_id,
                self.state.member_count(),
                settings.max_clients as usize,
            )
            .map_err(|refusal| match refusal {
                NoSeat::Full => self.room_full(),
                NoSeat::NoRandomness => ApiError::internal("the system's random source failed"),
            })
    }

    /// A member's `set_variable`: its membership, the variable's writer
    /// rule and the room's `can_set_variable` hook decide. A new variable
    /// clients set is theirs to write and visible to members.
    async fn set_variable_for(
        &mut self,
        caller: &Caller,
        name: &str,
        value: Payload,
        rules: Rules,
    ) -> Result<bool, ApiError> {
        let session = self.member(caller)?;
        let exists = self.state.check_client_write(name)?;
        let allowed =
            self.behaviour.can_set_variable(&mut self.state, session, name, &value, exists).await?;
        // The hook may have removed the writer (kicked it): a write by
        // someone no longer in the room is refused like any other.
        self.state.require_member(session)?;
        if !allowed {
            return Err(ApiError::new(
                ErrorCode::NotAuthorized,
                format!("the room does not let you set variable {}", quote(name)),
            ));
        }
        // A client chooses the broadcast and delivery of its changes, never
        // who may write or read the variable.
        let rules =
            Rules { broadcast: rules.broadcast, unreliable: rules.unreliable, ..Rules::default() };
        self.state.set_variable(name, value, rules, Some(session))
    }

    /// Whether `caller` may administer the room (delete it, invite into
    /// it): the connection that created it, any connection of the user
    /// that created it, or an operator.
    ///
    /// # Errors
    /// `not_authorized`, saying who may `act`.
    fn check_administrator(&self, caller: &Caller, act: &str) -> Result<(), ApiError> {
        let settings = self.state.settings();
        let identity = caller.identity();
        let same_connection = settings.owner.is_some() && caller.session() == settings.owner;
        let same_user = settings.owner_user.is_some() && identity.user_id == settings.owner_user;
        if same_connection || same_user || identity.operator {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::NotAuthorized,
                format!("only the room's owner or an operator may {act}"),
            ))
        }
    }

    fn room_full(&self) -> ApiError {
        ApiError::new(
            ErrorCode::RoomFull,
            format!(
                "room {} is full ({} places)",
                quote(self.state.id()),
                self.state.settings().max_clients
            ),
        )
    }

    /// Why `client` may not join now, if it may not: locked, a password it
    /// did not get past, already in, an unknown seat reservation, full.
    fn join_refusal(&mut self, client: &ClientHandle, pass: &Pass) -> Option<ApiError> {
        let settings = self.state.settings();
        if settings.locked {
            let why = format!("room {} is locked", quote(self.state.id()));
            return Some(ApiError::new(ErrorCode::RoomLocked, why));
        }
        let now = std::time::Instant::now();
        if settings.password_protected {
            let admitted = match (pass.admission, &pass.invite) {
                (Admission::Password | Admission::Matched { .. }, _) => true,
                (Admission::Invite, Some(invite)) => self.invites.is_live(invite, now),
                (Admission::Invite | Admission::Open, _) => false,
            };
            if !admitted {
                let why = match pass.admission {
                    Admission::Invite => "the invite is unknown, used or expired",
                    _ => "wrong or missing room password",
                };
                return Some(ApiError::new(ErrorCode::NotAuthorized, why));
            }
        }
        if self.state.is_member(client.session()) {
            let why = format!("you are already a member of room {}", quote(self.state.id()));
            return Some(ApiError::new(ErrorCode::AlreadyInRoom, why));
        }
        if let Some(token) = &pass.reservation
            && !self.seats.redeem(token, client.identity().user_id.as_deref(), now)
        {
            let why = "the seat reservation is unknown, used or expired";
            return Some(ApiError::new(ErrorCode::NotAuthorized, why));
        }
        // Seats held for others count as taken; a redeemed one was just
        // given up for this joiner.
        let max_clients = self.state.settings().max_clients as usize;
        if self.state.member_count() + self.seats.held(now) >= max_clients {
            return Some(self.room_full());
        }
        None
    }

    /// A join: the room's rules, then its join hook, whose refusal leaves
    /// no trace. The join response is queued among the joiner's frames by
    /// the room itself, so it precedes every event about the room.
    async fn join(
        &mut self,
        client: ClientHandle,
        pass: Pass,
        options: &Payload,
        reply: Responder,
    ) {
        let session = client.session();
        if !reply.answers_session(session) {
            return reply.fail(ApiError::internal("a join is answered on the joiner's connection"));
        }
        if let Some(refusal) = self.join_refusal(&client, &pass) {
            return reply.fail(refusal);
        }
        match self.state.begin_join(client) {
            Ok(()) => {}
            // Nobody is left to answer.
            Err(MembershipRefused::Gone) => return reply.answered_elsewhere(),
            Err(MembershipRefused::Quota) => {
                return reply.fail(ApiError::new(
                    ErrorCode::QuotaExceeded,
                    "you are a member of as many rooms as a connection may be",
                ));
            }
        }
        let hook = self.behaviour.on_join(&mut self.state, session, options).await;
        let answer = hook.as_ref().map_or_else(|_| Payload::nil(), Payload::clone);
        let created = pass.admission.created();
        match (self.state.end_join(hook.is_ok(), reply.id(), &answer, created), hook) {
            (JoinEnd::Joined, _) => {
                // Spent only now: a join refused on the way keeps it.
                if let (Admission::Invite, Some(invite)) = (pass.admission, &pass.invite) {
                    self.invites.use_up(invite, std::time::Instant::now());
                }
                reply.answered_elsewhere();
            }
            (JoinEnd::Refused, Err(refusal)) => {
                info!(room = %self.state.id(), session, reason = %refusal.message, "join refused by the room");
                reply.fail(refusal);
            }
            (JoinEnd::Refused, Ok(_)) => reply.fail(ApiError::internal("join ended twice")),
            (JoinEnd::Kicked(reason), _) => reply.fail(ApiError::new(
                ErrorCode::NotAuthorized,
                format!("the room removed you while you joined: {reason}"),
            )),
            (JoinEnd::Overflowed, _) => reply.fail(ApiError::new(
                ErrorCode::PluginError,
                "the room sent the joiner more than the server holds during a join",
            )),
            (JoinEnd::TooLarge(err), _) => reply.fail(err),
        }
    }
}
