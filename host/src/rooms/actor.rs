//! The room actor: one task per room that owns its [`RoomState`] and
//! behaviour and takes [`RoomCommand`]s from a bounded mailbox.
//!
//! Because one task owns everything, no lock guards room state, and the
//! commands of a room are applied in the order they arrive. Commands carry
//! their [`Responder`], so the room answers the client itself and the
//! connection never waits for a room: it reads its next request at once.
//! A command still queued when the room ends is answered
//! `room_not_found` as its responder is dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::info;
use vampire_protocol::error::quote;
use vampire_protocol::{ErrorCode, Payload, SessionId};

use crate::error::ApiError;
use crate::outbound::{ClientHandle, MembershipRefused, Responder};
use crate::rooms::behaviour::{RoomBehaviour, RoomType};
use crate::rooms::invites::{INVITE_LIFETIME, Invites};
use crate::rooms::manager::{Admission, RoomHandle, RoomIndex};
use crate::rooms::seats::{NoSeat, Seats};
use crate::rooms::state::{JoinEnd, RoomState};
use crate::rooms::variables::Rules;

/// Commands a room handles in one turn at most, before it hands its
/// outbox to the members.
const TURN_COMMANDS: usize = 64;

/// How long one turn of the room clock may run timers before the room
/// looks at its mailbox again.
const CLOCK_TURN: Duration = Duration::from_millis(5);

/// A request to a room, sent through its mailbox.
pub(crate) enum RoomCommand {
    /// Join. The room queues the `join` response on the client itself,
    /// before any event that follows the join.
    Join {
        client: ClientHandle,
        admission: Admission,
        options: Payload,
        /// A seat reservation the room handed out (cluster redirects).
        reservation: Option<String>,
        respond: Responder,
    },
    /// Holds a seat for a joiner another node redirects here.
    ReserveSeat {
        ttl: Duration,
        user_id: Option<String>,
        done: oneshot::Sender<Result<String, ApiError>>,
    },
    /// Whether an invite is live (checked before a join that carries it,
    /// so a wrong one is slowed like a wrong password).
    InviteIsLive {
        invite: String,
        done: oneshot::Sender<bool>,
    },
    /// A one-time invite, for the owner or an operator.
    CreateInvite {
        respond: Responder,
    },
    /// Leave on request (`respond` is `Some`) or on disconnect (`None`).
    Leave {
        session: SessionId,
        respond: Option<Responder>,
    },
    Delete {
        respond: Responder,
    },
    GetVariable {
        name: String,
        respond: Responder,
    },
    GetVariables {
        respond: Responder,
    },
    SetVariable {
        name: String,
        value: Payload,
        rules: Rules,
        respond: Responder,
    },
    Invoke {
        method: String,
        args: Payload,
        respond: Responder,
    },
    /// A message; `unreliable` when it came over UDP.
    Message {
        data: Payload,
        unreliable: bool,
        respond: Responder,
    },
    /// The server is stopping: end the room.
    Shutdown,
    /// A new version of the room's type: swap to it between two commands.
    Reload {
        room_type: Arc<dyn RoomType>,
        done: oneshot::Sender<Result<bool, ApiError>>,
    },
}

/// Whether the actor goes on after a command.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Stop(Ending),
}

/// Why a room ends.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// Its owner deleted it: members get `room_deleted`.
    Deleted,
    /// Empty, or never joined, or its mailbox closed.
    Disposed,
    /// The server closed it: members get `room_closed` with the reason.
    Closed(String),
    /// The server is stopping.
    Shutdown,
}

/// How long a room may live without members, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomTimeouts {
    /// An auto-disposing room nobody joined is deleted after this.
    pub(crate) unjoined: Duration,
    /// A kept room is deleted once empty this long after its owner left.
    pub(crate) orphan: Duration,
}

/// A room's task: the state, the behaviour and where they are indexed.
pub(crate) struct RoomActor {
    pub(crate) state: RoomState,
    pub(crate) behaviour: Box<dyn RoomBehaviour>,
    pub(crate) index: Arc<RoomIndex>,
    /// This room's entry in the index, added once its `create` hook
    /// succeeded.
    pub(crate) handle: RoomHandle,
    /// The connection that created the room: its rooms count against its
    /// quota, and a kept room is disposed of some time after it is gone.
    pub(crate) owner: ClientHandle,
    pub(crate) timeouts: RoomTimeouts,
    /// Invites handed out and not yet used.
    pub(crate) invites: Invites,
    /// Seats held for joiners redirected here by other nodes.
    pub(crate) seats: Seats,
}

/// Membership history the disposal rules depend on.
struct Lifetime {
    created: Instant,
    ever_joined: bool,
    owner_gone: bool,
    empty_since: Instant,
}

impl RoomActor {
    /// Runs the `create` hook, answers the creator, then serves commands
    /// until the room is deleted, closed or disposed, and finally removes
    /// it from the index.
    pub(crate) async fn run(mut self, mut mailbox: mpsc::Receiver<RoomCommand>, create: Responder) {
        if let Err(err) = self.behaviour.on_create(&mut self.state).await {
            info!(room = %self.state.id(), room_type = %self.state.settings().room_type, reason = %err.message, "room not created");
            create.fail(err);
            self.finish(mailbox);
            return;
        }
        self.state.flush();
        self.index.insert(self.handle.clone());
        let info = self.state.info();
        info!(
            room = %info.id,
            room_type = %info.room_type,
            public = info.public,
            max_clients = info.max_clients,
            owner = self.state.settings().owner,
            "room created"
        );
        create.ok_with(info.encoded_size_bound(), |w| info.write(w));

        let now = Instant::now();
        let mut life =
            Lifetime { created: now, ever_joined: false, owner_gone: false, empty_since: now };
        let mut batch = Vec::with_capacity(TURN_COMMANDS);
        let owner = self.owner.clone();
        let ending = loop {
            let deadline = self.dispose_deadline(&life);
            let clock = self.state.clock().next_deadline();
            let mut next = Next::Continue;
            tokio::select! {
                biased;
                received = mailbox.recv_many(&mut batch, TURN_COMMANDS) => {
                    if received == 0 {
                        break Ending::Disposed;
                    }
                    for command in batch.drain(..) {
                        if next != Next::Continue {
                            // Dropping it answers `room_not_found`.
                            continue;
                        }
                        next = self.handle(command).await;
                        next = self.close_if_asked(next);
                    }
                }
                () = sleep_until(clock), if clock.is_some() => {
                    next = self.run_clock().await;
                }
                () = owner.closing(), if !life.owner_gone => {
                    life.owner_gone = true;
                    continue;
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    let why = if life.ever_joined { "empty since its creator left" } else { "nobody joined in time" };
                    info!(room = %self.state.id(), "room disposed: {why}");
                    break Ending::Disposed;
                }
            }
            self.state.flush();
            match next {
                Next::Continue => {}
                Next::Stop(ending) => break ending,
            }
            if self.state.member_count() > 0 {
                life.ever_joined = true;
                life.empty_since = Instant::now();
            } else if life.ever_joined && self.state.settings().auto_dispose {
                info!(room = %self.state.id(), "room disposed: last member left");
                break Ending::Disposed;
            }
        };
        self.end(ending).await;
        self.finish(mailbox);
    }

    /// Delivers what the clock has due: the tick, then the timers, for at
    /// most [`CLOCK_TURN`]; timers still due then wait for the next turn,
    /// after the commands that came meanwhile (a room with many timers
    /// due still answers its mailbox promptly).
    async fn run_clock(&mut self) -> Next {
        let now = Instant::now();
        if let Some(tick) = self.state.clock_mut().take_tick(now) {
            self.behaviour.on_tick(&mut self.state, tick.dt, tick.count).await;
            if let Next::Stop(ending) = self.close_if_asked(Next::Continue) {
                return Next::Stop(ending);
            }
        }
        while now.elapsed() < CLOCK_TURN {
            let Some(tag) = self.state.clock_mut().take_due_timer(now) else { break };
            self.behaviour.on_timer(&mut self.state, &tag).await;
            if let Next::Stop(ending) = self.close_if_asked(Next::Continue) {
                return Next::Stop(ending);
            }
        }
        Next::Continue
    }

    /// Turns a close the behaviour asked for into the end of the room.
    fn close_if_asked(&mut self, next: Next) -> Next {
        match self.state.take_close_request() {
            Some(reason) => Next::Stop(Ending::Closed(reason)),
            None => next,
        }
    }

    /// Runs the dispose hook, then tells the members why the room ends.
    async fn end(&mut self, ending: Ending) {
        let (hook_reason, told): (&str, Option<String>) = match &ending {
            Ending::Deleted => ("deleted", None),
            Ending::Disposed => ("disposed", Some("the room was closed".to_owned())),
            Ending::Closed(reason) => ("closed", Some(reason.clone())),
            Ending::Shutdown => ("shutdown", Some("the server is shutting down".to_owned())),
        };
        if let Ending::Closed(reason) = &ending {
            info!(room = %self.state.id(), %reason, "room closed");
        }
        self.behaviour.on_dispose(&mut self.state, hook_reason).await;
        self.state.flush();
        if told.is_none() || self.state.member_count() > 0 {
            self.state.end(told.as_deref());
        }
    }

    /// When the room is deleted for lack of members, if it is.
    fn dispose_deadline(&self, life: &Lifetime) -> Option<Instant> {
        let settings = self.state.settings();
        if settings.auto_dispose && !life.ever_joined {
            Some(life.created + self.timeouts.unjoined)
        } else if !settings.auto_dispose && life.owner_gone && self.state.member_count() == 0 {
            Some(life.empty_since.max(life.created) + self.timeouts.orphan)
        } else {
            None
        }
    }

    /// Leaves the index and answers what is still queued
    /// (`room_not_found`).
    fn finish(self, mut mailbox: mpsc::Receiver<RoomCommand>) {
        self.index.release(self.state.id());
        mailbox.close();
        while mailbox.try_recv().is_ok() {}
        self.owner.release_room();
    }

    async fn handle(&mut self, command: RoomCommand) -> Next {
        match command {
            RoomCommand::Join { client, admission, options, reservation, respond } => {
                return self.join(client, admission, &options, reservation, respond).await;
            }
            RoomCommand::ReserveSeat { ttl, user_id, done } => {
                let settings = self.state.settings();
                let outcome = if settings.locked {
                    Err(ApiError::new(
                        ErrorCode::RoomLocked,
                        format!("room {} is locked", quote(self.state.id())),
                    ))
                } else {
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
                            NoSeat::NoRandomness => ApiError::new(
                                ErrorCode::Internal,
                                "the system's random source failed",
                            ),
                        })
                };
                let _ = done.send(outcome);
            }
            RoomCommand::InviteIsLive { invite, done } => {
                let _ = done.send(self.invites.is_live(&invite, std::time::Instant::now()));
            }
            RoomCommand::CreateInvite { respond } => {
                if let Err(refusal) = self.check_administrator(respond.client(), "invite into it") {
                    respond.fail(refusal);
                    return Next::Continue;
                }
                match self.invites.issue(std::time::Instant::now()) {
                    Ok(invite) => {
                        info!(room = %self.state.id(), by = respond.client().session(), "invite issued");
                        let lifetime = INVITE_LIFETIME.as_millis() as u64;
                        respond.ok_with(96, |w| {
                            w.map(2).str("invite").str(&invite).str("expires_in_ms").uint(lifetime);
                        });
                    }
                    Err(err) => respond.fail(ApiError::new(ErrorCode::Internal, err.to_string())),
                }
            }
            RoomCommand::Leave { session, respond } => {
                let reason = if respond.is_some() { "left" } else { "disconnected" };
                let outcome = if self.state.remove_member(session, reason) {
                    self.behaviour.on_leave(&mut self.state, session, reason).await;
                    Ok(())
                } else {
                    Err(ApiError::not_in_room(self.state.id()))
                };
                if let Some(respond) = respond {
                    respond.finish(outcome);
                }
            }
            RoomCommand::Delete { respond } => {
                let session = respond.client().session();
                if let Err(refusal) = self.check_administrator(respond.client(), "delete it") {
                    respond.fail(refusal);
                    return Next::Continue;
                }
                info!(room = %self.state.id(), by = session, user = ?respond.client().identity().user_id, "room deleted");
                respond.ok_nil();
                return Next::Stop(Ending::Deleted);
            }
            RoomCommand::GetVariable { name, respond } => {
                let session = respond.client().session();
                if let Err(err) = self.state.require_member(session) {
                    respond.fail(err);
                    return Next::Continue;
                }
                match self.state.visible_variable(&name) {
                    Some(value) => {
                        let value = value.as_bytes();
                        respond.ok_with(value.len() + 8, |w| {
                            w.map(1).str("value").raw(value);
                        });
                    }
                    None => respond.fail(self.state.variable_not_found(&name)),
                }
            }
            RoomCommand::GetVariables { respond } => {
                let session = respond.client().session();
                if let Err(err) = self.state.require_member(session) {
                    respond.fail(err);
                    return Next::Continue;
                }
                let variables = self.state.variables();
                respond.ok_with(variables.encoded_size_bound() + 12, |w| {
                    w.map(1).str("variables");
                    variables.write_visible(w);
                });
            }
            RoomCommand::SetVariable { name, value, rules, respond } => {
                let session = respond.client().session();
                let outcome = self.set_variable_for(session, &name, value, rules).await;
                match outcome {
                    Ok(broadcast) => respond.ok_with(12, |w| {
                        w.map(1).str("broadcast").bool(broadcast);
                    }),
                    Err(err) => respond.fail(err),
                }
            }
            RoomCommand::Invoke { method, args, respond } => {
                let session = respond.client().session();
                let outcome = match self.state.require_member(session) {
                    Ok(()) => {
                        self.behaviour.on_invoke(&mut self.state, session, &method, &args).await
                    }
                    Err(err) => Err(err),
                };
                match outcome {
                    Ok(result) => respond.ok(result.as_bytes()),
                    Err(err) => respond.fail(err),
                }
            }
            RoomCommand::Message { data, unreliable, respond } => {
                let session = respond.client().session();
                let outcome = match self.state.require_member(session) {
                    Ok(()) => {
                        self.behaviour.on_message(&mut self.state, session, &data, unreliable).await
                    }
                    Err(err) => Err(err),
                };
                respond.finish(outcome);
            }
            RoomCommand::Shutdown => return Next::Stop(Ending::Shutdown),
            RoomCommand::Reload { room_type, done } => {
                let outcome = self.behaviour.reload(&mut self.state, &room_type).await;
                if let Ok(true) = outcome {
                    self.state.announce_reloaded();
                }
                let _ = done.send(outcome);
            }
        }
        Next::Continue
    }

    /// A member's `set_variable`: its membership, the variable's writer
    /// rule and the room's `can_set_variable` hook decide. A new variable
    /// clients set is theirs to write and visible to members.
    async fn set_variable_for(
        &mut self,
        session: SessionId,
        name: &str,
        value: Payload,
        rules: Rules,
    ) -> Result<bool, ApiError> {
        self.state.require_member(session)?;
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

    /// Whether `client` may administer the room (delete it, invite into
    /// it): the connection that created it, any connection of the user
    /// that created it, or an operator.
    ///
    /// # Errors
    /// `not_authorized`, saying who may `act`.
    fn check_administrator(&self, client: &ClientHandle, act: &str) -> Result<(), ApiError> {
        let settings = self.state.settings();
        let identity = client.identity();
        let same_user = settings.owner_user.is_some() && identity.user_id == settings.owner_user;
        if client.session() == settings.owner || same_user || identity.operator {
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

    async fn join(
        &mut self,
        client: ClientHandle,
        admission: Admission,
        options: &Payload,
        reservation: Option<String>,
        respond: Responder,
    ) -> Next {
        let session = client.session();
        let settings = self.state.settings();
        if settings.locked {
            respond.fail(ApiError::new(
                ErrorCode::RoomLocked,
                format!("room {} is locked", quote(self.state.id())),
            ));
            return Next::Continue;
        }
        if settings.password_protected {
            let admitted = match &admission {
                Admission::Password => true,
                Admission::Invite(invite) => {
                    self.invites.is_live(invite, std::time::Instant::now())
                }
                Admission::Open => false,
            };
            if !admitted {
                let why = match &admission {
                    Admission::Invite(_) => "the invite is unknown, used or expired",
                    _ => "wrong or missing room password",
                };
                respond.fail(ApiError::new(ErrorCode::NotAuthorized, why));
                return Next::Continue;
            }
        }
        if self.state.is_member(session) {
            respond.fail(ApiError::new(
                ErrorCode::AlreadyInRoom,
                format!("you are already a member of room {}", quote(self.state.id())),
            ));
            return Next::Continue;
        }
        let now = std::time::Instant::now();
        if let Some(token) = &reservation
            && !self.seats.redeem(token, client.identity().user_id.as_deref(), now)
        {
            respond.fail(ApiError::new(
                ErrorCode::NotAuthorized,
                "the seat reservation is unknown, used or expired",
            ));
            return Next::Continue;
        }
        // Seats held for others count as taken; a redeemed one was just
        // given up for this joiner.
        if self.state.member_count() + self.seats.held(now) >= settings.max_clients as usize {
            respond.fail(self.room_full());
            return Next::Continue;
        }
        match self.state.begin_join(client) {
            Ok(()) => {}
            // Nobody is left to answer.
            Err(MembershipRefused::Gone) => {
                respond.answered_elsewhere();
                return Next::Continue;
            }
            Err(MembershipRefused::Quota) => {
                respond.fail(ApiError::new(
                    ErrorCode::QuotaExceeded,
                    "you are a member of as many rooms as a connection may be",
                ));
                return Next::Continue;
            }
        }
        let hook = self.behaviour.on_join(&mut self.state, session, options).await;
        let reply = hook.as_ref().map_or_else(|_| Payload::nil(), Payload::clone);
        match (self.state.end_join(hook.is_ok(), respond.id(), &reply), hook) {
            (JoinEnd::Joined, _) => {
                // Spent only now: a join refused on the way keeps it.
                if let Admission::Invite(invite) = &admission {
                    self.invites.use_up(invite, std::time::Instant::now());
                }
                respond.answered_elsewhere();
            }
            (JoinEnd::Refused, Err(refusal)) => {
                info!(room = %self.state.id(), session, reason = %refusal.message, "join refused by the room");
                respond.fail(refusal);
            }
            (JoinEnd::Refused, Ok(_)) => {
                respond.fail(ApiError::new(ErrorCode::Internal, "join ended twice"))
            }
            (JoinEnd::Kicked(reason), _) => respond.fail(ApiError::new(
                ErrorCode::NotAuthorized,
                format!("the room removed you while you joined: {reason}"),
            )),
            (JoinEnd::Overflowed, _) => respond.fail(ApiError::new(
                ErrorCode::PluginError,
                "the room sent the joiner more than the server holds during a join",
            )),
            (JoinEnd::TooLarge(err), _) => respond.fail(err),
        }
        Next::Continue
    }
}

/// Sleeps until `deadline`; forever when there is none (the branch using it
/// is disabled then).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
