//! The room actor: one task per room that owns its [`RoomState`] and
//! behaviour and takes [`RoomCommand`]s from a bounded mailbox.
//!
//! Because one task owns everything, no lock guards room state, and the
//! commands of a room are applied in the order they arrive.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{info, warn};
use vampire_protocol::{ErrorCode, JoinResult, ServerMessage, SessionId, Value, frame};

use crate::error::ApiError;
use crate::net::ClientHandle;
use crate::rooms::behaviour::RoomBehaviour;
use crate::rooms::manager::RoomIndex;
use crate::rooms::state::RoomState;

/// Where a command's outcome goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// A request to a room, sent through its mailbox.
#[derive(Debug)]
pub(crate) enum RoomCommand {
    /// Join. The room queues the `join` response (to request `request_id`)
    /// on the client itself, before any event that follows the join, and
    /// then answers `reply`.
    Join {
        client: ClientHandle,
        password: Option<String>,
        request_id: Option<u32>,
        reply: Reply<()>,
    },
    /// Leave on request (`reply` is `Some`) or on disconnect (`None`).
    Leave {
        session: SessionId,
        reply: Option<Reply<()>>,
    },
    Delete {
        session: SessionId,
        reply: Reply<()>,
    },
    GetVariable {
        session: SessionId,
        name: String,
        reply: Reply<Value>,
    },
    GetVariables {
        session: SessionId,
        reply: Reply<Value>,
    },
    SetVariable {
        session: SessionId,
        name: String,
        value: Value,
        broadcast: Option<bool>,
        reply: Reply<bool>,
    },
    Invoke {
        session: SessionId,
        method: String,
        args: Value,
        reply: Reply<Value>,
    },
    Message {
        session: SessionId,
        data: Value,
        reply: Reply<()>,
    },
}

/// Whether the actor goes on after a command.
enum Next {
    Continue,
    Stop,
}

/// A room's task: the state, the behaviour and where they are indexed.
pub(crate) struct RoomActor {
    pub(crate) state: RoomState,
    pub(crate) behaviour: Box<dyn RoomBehaviour>,
    pub(crate) index: Arc<RoomIndex>,
    /// Deadline for a first join, after which an unjoined auto-disposing
    /// room is deleted.
    pub(crate) unjoined_deadline: Instant,
}

impl RoomActor {
    /// Runs until the room is deleted or disposed, then removes it from the
    /// index.
    pub(crate) async fn run(mut self, mut mailbox: mpsc::Receiver<RoomCommand>) {
        let mut ever_joined = false;
        loop {
            let waiting_first_join = !ever_joined && self.state.settings().auto_dispose;
            let command = tokio::select! {
                command = mailbox.recv() => command,
                () = tokio::time::sleep_until(self.unjoined_deadline), if waiting_first_join => {
                    info!(room = %self.state.id(), "room disposed: nobody joined in time");
                    break;
                }
            };
            let Some(command) = command else { break };
            if let Next::Stop = self.handle(command) {
                break;
            }
            ever_joined |= self.state.member_count() > 0;
            if ever_joined && self.state.member_count() == 0 && self.state.settings().auto_dispose {
                info!(room = %self.state.id(), "room disposed: last member left");
                break;
            }
        }
        self.index.remove(self.state.id());
        // Commands still queued get their reply senders dropped, which the
        // callers report as `room_not_found`.
    }

    fn handle(&mut self, command: RoomCommand) -> Next {
        match command {
            RoomCommand::Join { client, password, request_id, reply } => {
                let outcome = self.join(client, password, request_id);
                let _ = reply.send(outcome);
            }
            RoomCommand::Leave { session, reply } => {
                let reason = if reply.is_some() { "left" } else { "disconnected" };
                let outcome = if self.state.remove_member(session, reason) {
                    self.behaviour.on_leave(&mut self.state, session, reason);
                    Ok(())
                } else {
                    Err(ApiError::not_in_room(self.state.id()))
                };
                if let Some(reply) = reply {
                    let _ = reply.send(outcome);
                }
            }
            RoomCommand::Delete { session, reply } => {
                if session != self.state.settings().owner {
                    let _ = reply.send(Err(ApiError::new(
                        ErrorCode::NotAuthorized,
                        "only the room's creator may delete it",
                    )));
                    return Next::Continue;
                }
                info!(room = %self.state.id(), by = session, "room deleted");
                self.state.announce_deleted();
                let _ = reply.send(Ok(()));
                return Next::Stop;
            }
            RoomCommand::GetVariable { session, name, reply } => {
                let outcome = self.require_member(session).and_then(|()| {
                    self.state
                        .variables()
                        .get(&name)
                        .map(|v| serde_json::json!({ "value": v.value }))
                        .ok_or_else(|| {
                            ApiError::new(
                                ErrorCode::VariableNotFound,
                                format!("this room has no variable {name:?}"),
                            )
                        })
                });
                let _ = reply.send(outcome);
            }
            RoomCommand::GetVariables { session, reply } => {
                let outcome = self
                    .require_member(session)
                    .map(|()| serde_json::json!({ "variables": self.state.variable_snapshot() }));
                let _ = reply.send(outcome);
            }
            RoomCommand::SetVariable { session, name, value, broadcast, reply } => {
                let outcome = self
                    .require_member(session)
                    .map(|()| self.state.set_variable(&name, value, broadcast, Some(session)));
                let _ = reply.send(outcome);
            }
            RoomCommand::Invoke { session, method, args, reply } => {
                let outcome = self.require_member(session).and_then(|()| {
                    self.behaviour.on_invoke(&mut self.state, session, &method, args)
                });
                let _ = reply.send(outcome);
            }
            RoomCommand::Message { session, data, reply } => {
                let outcome = self
                    .require_member(session)
                    .and_then(|()| self.behaviour.on_message(&mut self.state, session, data));
                let _ = reply.send(outcome);
            }
        }
        Next::Continue
    }

    fn join(
        &mut self,
        client: ClientHandle,
        password: Option<String>,
        request_id: Option<u32>,
    ) -> Result<(), ApiError> {
        let session = client.session();
        let settings = self.state.settings();
        if let Some(expected) = &settings.password
            && password.as_deref() != Some(expected.as_str())
        {
            return Err(ApiError::new(ErrorCode::NotAuthorized, "wrong or missing room password"));
        }
        if self.state.is_member(session) {
            return Err(ApiError::new(
                ErrorCode::AlreadyInRoom,
                format!("you are already a member of room {:?}", self.state.id()),
            ));
        }
        if self.state.member_count() >= settings.max_clients as usize {
            return Err(ApiError::new(
                ErrorCode::RoomFull,
                format!("room {:?} is full ({} members)", self.state.id(), settings.max_clients),
            ));
        }
        self.state.add_pending_member(client);
        if let Err(refusal) = self.behaviour.on_join(&mut self.state, session) {
            self.state.cancel_join();
            info!(room = %self.state.id(), session, reason = %refusal.message, "join refused by the room");
            return Err(refusal);
        }
        let response = request_id.and_then(|id| {
            let result = JoinResult {
                room: self.state.info(),
                members: self.state.member_ids(),
                variables: self.state.variable_snapshot(),
            };
            let result = serde_json::to_value(result).ok()?;
            frame::encode(&ServerMessage::Response { id, result })
                .inspect_err(|err| warn!(%err, "cannot encode a join response"))
                .ok()
        });
        self.state.confirm_join(response);
        Ok(())
    }

    fn require_member(&self, session: SessionId) -> Result<(), ApiError> {
        if self.state.is_member(session) {
            Ok(())
        } else {
            Err(ApiError::not_in_room(self.state.id()))
        }
    }
}
