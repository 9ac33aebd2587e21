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

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::info;
use vampire_protocol::error::quote;
use vampire_protocol::{ErrorCode, Payload, SessionId};

use crate::error::ApiError;
use crate::outbound::{ClientHandle, MembershipRefused, Responder};
use crate::rooms::behaviour::RoomBehaviour;
use crate::rooms::manager::{RoomHandle, RoomIndex};
use crate::rooms::state::{JoinEnd, RoomState};

/// Commands a room handles in one turn at most, before it hands its
/// outbox to the members.
const TURN_COMMANDS: usize = 64;

/// A request to a room, sent through its mailbox.
#[derive(Debug)]
pub(crate) enum RoomCommand {
    /// Join. The room queues the `join` response on the client itself,
    /// before any event that follows the join.
    Join {
        client: ClientHandle,
        password: Option<String>,
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
        broadcast: Option<bool>,
        respond: Responder,
    },
    Invoke {
        method: String,
        args: Payload,
        respond: Responder,
    },
    Message {
        data: Payload,
        respond: Responder,
    },
    /// The server is stopping: end the room.
    Shutdown,
}

/// Whether the actor goes on after a command.
#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Stop,
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
        if let Err(err) = self.behaviour.on_create(&mut self.state) {
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
        loop {
            let deadline = self.dispose_deadline(&life);
            let received = tokio::select! {
                biased;
                received = mailbox.recv_many(&mut batch, TURN_COMMANDS) => received,
                () = owner.closing(), if !life.owner_gone => {
                    life.owner_gone = true;
                    continue;
                }
                () = sleep_until(deadline), if deadline.is_some() => {
                    let why = if life.ever_joined { "empty since its creator left" } else { "nobody joined in time" };
                    info!(room = %self.state.id(), "room disposed: {why}");
                    break;
                }
            };
            if received == 0 {
                break;
            }
            let mut next = Next::Continue;
            for command in batch.drain(..) {
                if next == Next::Stop {
                    // Dropping it answers `room_not_found`.
                    continue;
                }
                next = self.handle(command);
                if let Some(reason) = self.state.take_close_request() {
                    info!(room = %self.state.id(), %reason, "room closed");
                    self.state.end(Some(&reason));
                    next = Next::Stop;
                }
            }
            self.state.flush();
            if next == Next::Stop {
                break;
            }
            if self.state.member_count() > 0 {
                life.ever_joined = true;
                life.empty_since = Instant::now();
            } else if life.ever_joined && self.state.settings().auto_dispose {
                info!(room = %self.state.id(), "room disposed: last member left");
                break;
            }
        }
        self.finish(mailbox);
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

    /// Leaves the index, tells any remaining member, and answers what is
    /// still queued (`room_not_found`).
    fn finish(mut self, mut mailbox: mpsc::Receiver<RoomCommand>) {
        self.index.release(self.state.id());
        if self.state.member_count() > 0 {
            self.state.end(Some("the room was closed"));
        }
        mailbox.close();
        while mailbox.try_recv().is_ok() {}
        self.owner.release_room();
    }

    fn handle(&mut self, command: RoomCommand) -> Next {
        match command {
            RoomCommand::Join { client, password, respond } => {
                return self.join(client, password, respond);
            }
            RoomCommand::Leave { session, respond } => {
                let reason = if respond.is_some() { "left" } else { "disconnected" };
                let outcome = if self.state.remove_member(session, reason) {
                    self.behaviour.on_leave(&mut self.state, session, reason);
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
                if session != self.state.settings().owner {
                    respond.fail(ApiError::new(
                        ErrorCode::NotAuthorized,
                        "only the room's creator may delete it",
                    ));
                    return Next::Continue;
                }
                info!(room = %self.state.id(), by = session, "room deleted");
                self.state.end(None);
                respond.ok_nil();
                return Next::Stop;
            }
            RoomCommand::GetVariable { name, respond } => {
                let session = respond.client().session();
                if let Err(err) = self.state.require_member(session) {
                    respond.fail(err);
                    return Next::Continue;
                }
                match self.state.variables().get(&name) {
                    Some(variable) => {
                        let value = variable.value.as_bytes();
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
                    variables.write_map(w);
                });
            }
            RoomCommand::SetVariable { name, value, broadcast, respond } => {
                let session = respond.client().session();
                let outcome = self
                    .state
                    .require_member(session)
                    .and_then(|()| self.state.set_variable(&name, value, broadcast, Some(session)));
                match outcome {
                    Ok(broadcast) => respond.ok_with(12, |w| {
                        w.map(1).str("broadcast").bool(broadcast);
                    }),
                    Err(err) => respond.fail(err),
                }
            }
            RoomCommand::Invoke { method, args, respond } => {
                let session = respond.client().session();
                let outcome = self.state.require_member(session).and_then(|()| {
                    self.behaviour.on_invoke(&mut self.state, session, &method, &args)
                });
                match outcome {
                    Ok(result) => respond.ok(result.as_bytes()),
                    Err(err) => respond.fail(err),
                }
            }
            RoomCommand::Message { data, respond } => {
                let session = respond.client().session();
                let outcome = self
                    .state
                    .require_member(session)
                    .and_then(|()| self.behaviour.on_message(&mut self.state, session, &data));
                respond.finish(outcome);
            }
            RoomCommand::Shutdown => {
                self.state.end(Some("the server is shutting down"));
                return Next::Stop;
            }
        }
        Next::Continue
    }

    fn join(&mut self, client: ClientHandle, password: Option<String>, respond: Responder) -> Next {
        let session = client.session();
        let settings = self.state.settings();
        if let Some(expected) = &settings.password
            && password.as_deref() != Some(expected.as_str())
        {
            respond.fail(ApiError::new(ErrorCode::NotAuthorized, "wrong or missing room password"));
            return Next::Continue;
        }
        if self.state.is_member(session) {
            respond.fail(ApiError::new(
                ErrorCode::AlreadyInRoom,
                format!("you are already a member of room {}", quote(self.state.id())),
            ));
            return Next::Continue;
        }
        if self.state.member_count() >= settings.max_clients as usize {
            respond.fail(ApiError::new(
                ErrorCode::RoomFull,
                format!(
                    "room {} is full ({} members)",
                    quote(self.state.id()),
                    settings.max_clients
                ),
            ));
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
        let hook = self.behaviour.on_join(&mut self.state, session);
        match (self.state.end_join(hook.is_ok(), respond.id()), hook) {
            (JoinEnd::Joined, _) => respond.answered_elsewhere(),
            (JoinEnd::Refused, Err(refusal)) => {
                info!(room = %self.state.id(), session, reason = %refusal.message, "join refused by the room");
                respond.fail(refusal);
            }
            (JoinEnd::Refused, Ok(())) => {
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
