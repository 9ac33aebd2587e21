//! [`RoomCommand`]: what a room's actor takes from its mailbox; [`Caller`]:
//! who asks a room for an operation; [`Admission`]: how a joiner got past
//! the room's password before its join reached the room.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use vampire_protocol::{Payload, RoomOp, SessionId};

use crate::error::ApiError;
use crate::outbound::{ClientHandle, Identity, Responder};
use crate::rooms::behaviour::RoomType;

/// Who asks a room for an operation (or creates one).
#[derive(Debug, Clone)]
pub enum Caller {
    /// A connection of this node: it can join and be a member.
    Client(ClientHandle),
    /// Someone without a connection to this node: a client of another
    /// node of the cluster, or the admin API. An identity, never a member:
    /// it may do what needs no membership (delete a room it owns, invite
    /// into it, read its description). Boxed: a command carries a caller,
    /// and the mailbox holds commands by value.
    Remote(Box<Identity>),
}

impl Caller {
    /// The caller's session on this node, if it has one.
    pub fn session(&self) -> Option<SessionId> {
        match self {
            Caller::Client(client) => Some(client.session()),
            Caller::Remote(_) => None,
        }
    }

    /// Who the caller is.
    pub fn identity(&self) -> &Identity {
        match self {
            Caller::Client(client) => client.identity(),
            Caller::Remote(identity) => identity,
        }
    }
}

/// How a joiner of a password-protected room got past the password,
/// checked before the join reaches the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The room has no password (or none was checked).
    Open,
    /// The joiner gave the right password.
    Password,
    /// The joiner gave a live invite (the join's `invite`); the room checks
    /// it again and uses it up.
    Invite,
    /// `join_or_create` placed the joiner, with a seat it reserved: in a
    /// room without a password, or in the one it `created` for the joiner
    /// with the joiner's own password. The join's answer says `created`.
    Matched {
        /// The room was created for this joiner.
        created: bool,
    },
}

impl Admission {
    /// What a join's answer says of `created`: only a `join_or_create`
    /// answer says it.
    pub fn created(self) -> Option<bool> {
        match self {
            Admission::Matched { created } => Some(created),
            _ => None,
        }
    }
}

/// An operator's action on a room, from the admin API of this node or of
/// another node of the cluster (it travels between nodes as it is).
/// Answered through a local responder with one MessagePack value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AdminOp {
    /// Describe the room: its settings, members (with their address and
    /// outbound queue), variables (with their rules and sizes), clock and
    /// plugin.
    Inspect,
    /// Close the room: members get `room_closed` with `reason`.
    Dispose {
        /// What members are told.
        reason: String,
    },
    /// Remove member `session`: it gets `kicked` with `reason`, the others
    /// `member_left`.
    Kick {
        /// The member.
        session: SessionId,
        /// What it is told.
        reason: String,
    },
    /// Send `data` (one MessagePack value) as a `room_message` from the
    /// room (no sender) to every member, or to member `to` alone.
    Message {
        /// One member, or every member.
        to: Option<SessionId>,
        /// The message.
        data: Payload,
    },
}

impl AdminOp {
    /// The action's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            AdminOp::Inspect => "inspect",
            AdminOp::Dispose { .. } => "dispose",
            AdminOp::Kick { .. } => "kick",
            AdminOp::Message { .. } => "message",
        }
    }
}

/// The largest answer to an [`AdminOp`] a local caller accepts: an
/// inspection holds every variable of the room (bounded by
/// `limits.maxRoomVariableBytes`) besides its members.
pub const MAX_ADMIN_ANSWER_BYTES: usize = 16 << 20;

/// What happened to a member's session, as its room is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// The session ended: the member leaves with this reason
    /// (`"disconnected"`, `"timeout"`, `"left"`).
    Ended(&'static str),
    /// Its connection dropped; the session is held for a resume.
    Dropped,
    /// It resumed on a new connection; with `resync`, it missed more
    /// than was kept and is sent the room's state.
    Resumed {
        /// Send the member a `room_state`.
        resync: bool,
    },
}

/// A command to a room, sent through its mailbox.
///
/// Operations, by far the most common commands, travel by value: boxing
/// them would cost an allocation per request to save bytes in the rarer,
/// smaller commands.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RoomCommand {
    /// A room operation from `caller`, answered through `reply`.
    /// `admission` says how a joiner got past the password (`Open` for
    /// every other operation).
    /// (The operations are boxed here and below: a mailbox holds its
    /// commands in blocks of 32 slots, each as large as the largest
    /// command, and every room has one.)
    Op { op: Box<RoomOp>, caller: Caller, admission: Admission, reply: Responder },
    /// An operator's action, answered through `reply`.
    Admin { op: Box<AdminOp>, reply: Responder },
    /// A message that came over UDP from member `session`: never
    /// answered, and dropped rather than waited for when the mailbox is
    /// full.
    UnreliableMessage { session: SessionId, data: Payload },
    /// Member `session`'s session changed: it ended, or its connection
    /// dropped and it is held, or it resumed.
    Presence { session: SessionId, change: Presence },
    /// Holds a seat for a joiner another node redirects here, or one
    /// `join_or_create` places (`joiner`: refused if already a member).
    ReserveSeat {
        ttl: Duration,
        user_id: Option<String>,
        joiner: Option<SessionId>,
        done: oneshot::Sender<Result<String, ApiError>>,
    },
    /// Whether an invite is live (checked before a join that carries it,
    /// so a wrong one is slowed like a wrong password).
    InviteIsLive { invite: String, done: oneshot::Sender<bool> },
    /// The server is stopping: end the room.
    Shutdown,
    /// Another build of the room's type: swap to it between two commands.
    Reload {
        room_type: Arc<dyn RoomType>,
        swap: Swap,
        done: oneshot::Sender<Result<bool, ApiError>>,
    },
}

/// What a swap of a room type's code brings, which decides whether the
/// members hear of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swap {
    /// A new version: members are told (`room_reloaded`).
    NewVersion,
    /// A version's optimised code, after a reload's quick first compile:
    /// only rooms running that version swap (one that kept an older
    /// version when the reload failed in it keeps it), and nothing a
    /// member can see changes, so nothing is said.
    Recompiled {
        /// The version: the plugin file's hash.
        sha256: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mailbox's block is 32 commands, allocated with the room: a
    /// large variant makes every room's mailbox larger.
    #[test]
    fn a_command_stays_small() {
        assert!(std::mem::size_of::<RoomCommand>() <= 72, "{}", std::mem::size_of::<RoomCommand>());
    }
}
