//! What nodes say to each other over their Redis inboxes (pub/sub), as
//! MessagePack through serde. Requests carry the asking node and a number
//! its reply repeats. Operations, settings, identities and errors travel
//! in their own types (the protocol's and the host's), never as frames of
//! the client protocol.

use serde::{Deserialize, Serialize};
use vampire_protocol::{CreateRoom, Payload, RoomOp};

use crate::error::ApiError;
use crate::outbound::Identity;
use crate::rooms::AdminOp;
use crate::rooms::manager::RoomSummary;
use crate::rooms::seats::HeldSeat;

/// One message between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub enum NodeMessage {
    /// A `matched` or `match_timeout` event for the client of this node
    /// that holds `ticket` (from the node forming matches; not answered).
    Ticket {
        /// The ticket.
        ticket: String,
        /// The event's frame, as the client gets it.
        frame: Vec<u8>,
    },
    /// Create a room here for a client of node `from`.
    Create {
        /// The request's number at `from`.
        request: u64,
        /// The asking node.
        from: String,
        /// The client's `create_room` settings (its password left out).
        settings: CreateRoom,
        /// The argon2 hash of the room's password (never the password).
        password_hash: Option<String>,
        /// Who asked: the room's owner, by user id.
        creator: Identity,
        /// A seat the room holds from the start, for a `join_or_create`.
        held: Option<HeldSeat>,
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
        password: Option<String>,
        /// An invite the joiner gave.
        invite: Option<String>,
        /// The joiner's address, for the room's guess limits.
        address: std::net::IpAddr,
    },
    /// Run a room operation (any but `join`, which is a `Reserve`) on one
    /// of this node's rooms for a client of `from`, who is no member here:
    /// it may do what needs no membership (delete a room it owns, invite
    /// into it).
    Forward {
        /// The request's number at `from`.
        request: u64,
        /// The asking node.
        from: String,
        /// The room.
        room: String,
        /// The operation.
        op: RoomOp,
        /// Who asks.
        by: Identity,
    },
    /// Run an operator's action on one of this node's rooms, for the admin
    /// API of `from`.
    Admin {
        /// The request's number at `from`.
        request: u64,
        /// The asking node.
        from: String,
        /// The room.
        room: String,
        /// The action.
        op: AdminOp,
        /// Who asked (for this node's log).
        by: String,
    },
    /// List every room of this node (of one type, when given), for the
    /// admin API of `from`.
    ListRooms {
        /// The request's number at `from`.
        request: u64,
        /// The asking node.
        from: String,
        /// Only rooms of this type.
        room_type: Option<String>,
        /// At most this many, newest first.
        limit: usize,
    },
    /// The answer to `ListRooms`.
    RoomsListed {
        /// The request's number.
        request: u64,
        /// This node's newest rooms, at most the limit asked.
        rooms: Vec<RoomSummary>,
        /// How many rooms of the type this node holds in all.
        total: usize,
    },
    /// The answer to `Create`: the room's `RoomInfo`, or why not.
    Created {
        /// The request's number.
        request: u64,
        /// The room, or why not.
        outcome: Result<Payload, ApiError>,
    },
    /// The answer to `Reserve`.
    Reserved {
        /// The request's number.
        request: u64,
        /// The seat, or why not.
        outcome: Result<Seat, ApiError>,
    },
    /// The answer to `Forward` and `Admin`: the operation's result.
    Answered {
        /// The request's number.
        request: u64,
        /// The result, or why not.
        outcome: Result<Payload, ApiError>,
    },
}

impl NodeMessage {
    /// The request number a reply answers, `None` for a request.
    pub fn answers(&self) -> Option<u64> {
        match self {
            NodeMessage::Created { request, .. }
            | NodeMessage::Reserved { request, .. }
            | NodeMessage::Answered { request, .. }
            | NodeMessage::RoomsListed { request, .. } => Some(*request),
            NodeMessage::Create { .. }
            | NodeMessage::Ticket { .. }
            | NodeMessage::Reserve { .. }
            | NodeMessage::Forward { .. }
            | NodeMessage::Admin { .. }
            | NodeMessage::ListRooms { .. } => None,
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
    /// Where WebSocket clients reach it, when it says. Last, and absent
    /// from a node of an older version (read as none).
    #[serde(default)]
    pub ws_address: Option<String>,
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
