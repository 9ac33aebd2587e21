//! What nodes say to each other over their Redis inboxes (pub/sub), as
//! MessagePack. Requests carry the asking node and a number its reply
//! repeats.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::outbound::Identity;
use vampire_protocol::{ErrorCode, Payload};

/// One message between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub enum NodeMessage {
    /// Create a room here for a client of node `from`.
    Create {
        /// The request's number at `from`.
        request: u64,
        /// The asking node.
        from: String,
        /// The client's `create_room` request, encoded as a frame body.
        create: Vec<u8>,
        /// The argon2 hash of the room's password (never the password).
        password_hash: Option<String>,
        /// Who asked: the room's owner by user id.
        owner: Owner,
    },
    /// Hold a seat in one of this node's rooms for a client of `from`.
    Reserve {
        /// The request's number at `from`.
        request: u64,
        /// The asking node.
        from: String,
        /// The room.
        room: String,
        /// The joiner's user id, to bind the seat to, when signed in.
        user_id: Option<String>,
        /// The room's password as the joiner gave it: the room's node
        /// checks it (or the invite) before it holds a seat.
        #[serde(default)]
        password: Option<String>,
        /// An invite the joiner gave.
        #[serde(default)]
        invite: Option<String>,
        /// The joiner's address, for the room's guess limits.
        #[serde(default)]
        address: Option<std::net::IpAddr>,
    },
    /// Delete one of this node's rooms, or invite into it, for a client
    /// of `from` (allowed to the room's owner by user id, or an operator).
    Administer {
        /// The request's number at `from`.
        request: u64,
        /// The asking node.
        from: String,
        /// The room.
        room: String,
        /// What to do.
        act: Act,
        /// Who asks.
        by: Owner,
    },
    /// The answer to `Administer`: the request's result (MessagePack).
    Administered {
        /// The request's number.
        request: u64,
        /// The result, or why not.
        outcome: Result<Vec<u8>, Failure>,
    },
    /// The answer to `Create`: the room's `RoomInfo` (MessagePack).
    Created {
        /// The request's number.
        request: u64,
        /// The room, or why not.
        outcome: Result<Vec<u8>, Failure>,
    },
    /// The answer to `Reserve`.
    Reserved {
        /// The request's number.
        request: u64,
        /// The seat, or why not.
        outcome: Result<Seat, Failure>,
    },
}

impl NodeMessage {
    /// The request number a reply answers, `None` for a request.
    pub fn answers(&self) -> Option<u64> {
        match self {
            NodeMessage::Created { request, .. }
            | NodeMessage::Reserved { request, .. }
            | NodeMessage::Administered { request, .. } => Some(*request),
            NodeMessage::Create { .. }
            | NodeMessage::Reserve { .. }
            | NodeMessage::Administer { .. } => None,
        }
    }
}

/// What an `Administer` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Act {
    /// `delete_room`.
    Delete,
    /// `create_invite`.
    Invite,
}

/// A room's creator, as the node that places the room knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Owner {
    /// The user id, when signed in.
    pub user_id: Option<String>,
    /// The display name.
    pub name: Option<String>,
    /// The token's claims (MessagePack).
    pub claims: Vec<u8>,
    /// Whether the token had the operator role.
    pub operator: bool,
}

impl Owner {
    /// The owner `identity` describes.
    pub fn of(identity: &Identity) -> Owner {
        Owner {
            user_id: identity.user_id.clone(),
            name: identity.name.clone(),
            claims: identity.claims.as_bytes().to_vec(),
            operator: identity.operator,
        }
    }

    /// Back to an identity.
    pub fn identity(&self) -> Identity {
        Identity {
            user_id: self.user_id.clone(),
            name: self.name.clone(),
            claims: Payload::from_bytes(self.claims.clone().into()).unwrap_or_default(),
            operator: self.operator,
        }
    }
}

/// A seat held for a redirected joiner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seat {
    /// The one-time reservation.
    pub reservation: String,
    /// How long it is held.
    pub expires_in_ms: u64,
    /// Where clients reach the node holding it.
    pub address: String,
}

/// A refusal, as the client will see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    /// The error code's wire name.
    pub code: String,
    /// Its message.
    pub message: String,
}

impl From<ApiError> for Failure {
    fn from(err: ApiError) -> Failure {
        Failure { code: err.code.as_str().to_owned(), message: err.message }
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> ApiError {
        ApiError::new(ErrorCode::parse(&failure.code), failure.message)
    }
}

/// Encodes a message for an inbox.
pub fn encode(message: &NodeMessage) -> Vec<u8> {
    rmp_serde::to_vec(message).expect("node messages always encode")
}

/// Decodes a message from an inbox.
///
/// # Errors
/// When the bytes are not a node message (another version, or not ours).
pub fn decode(bytes: &[u8]) -> Result<NodeMessage, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}
