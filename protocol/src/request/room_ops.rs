//! [`RoomOp`]: every operation on one room, the table its codec comes
//! from. A request carries one with the room's id
//! (`Request::Room { room, op }`); the session hands it to the room
//! unchanged, and the room's actor matches it once.

use crate::payload::Payload;
use crate::request::table::operations;

operations! {
    /// An operation on one room (`op` on the wire, beside `room`).
    pub enum RoomOp {
        /// `join`: join the room; the result is a [`crate::JoinResult`]
        /// (or, in a cluster, a `redirect`).
        Join = "join" {
            /// Needed when the room has a password (unless `invite` is
            /// given).
            password: Option<String>,
            /// An invite the room's owner asked for (`create_invite`):
            /// admits once, in place of the password.
            invite: Option<String>,
            /// A value the room's join hook receives (a team, a
            /// character…).
            options: Option<Payload>,
            /// A seat reservation from a `redirect` (cluster mode): holds
            /// a place in the room until it is used, once, or expires.
            reservation: Option<String>,
        },
        /// `leave`: leave the room; the result is nil.
        Leave = "leave" {},
        /// `delete_room`: delete the room (its owner, or an operator);
        /// members get `room_deleted`.
        Delete = "delete_room" {},
        /// `create_invite`: a one-time invite into the room (its owner, or
        /// an operator); the result is `{"invite": str, "expires_in_ms": n}`.
        CreateInvite = "create_invite" {},
        /// `room_info`: the room as listings show it, a [`crate::RoomInfo`]
        /// (a private room describes itself to its members only).
        Info = "room_info" {},
        /// `get_variable`: the result is `{"value": v}` (members only).
        GetVariable = "get_variable" {
            /// Variable name.
            name: String,
        },
        /// `get_variables`: the result is `{"variables": {name: value}}`
        /// (members only).
        GetVariables = "get_variables" {},
        /// `set_variable`: the result is `{"broadcast": bool}`, whether
        /// members were sent `variable_changed` (members only).
        SetVariable = "set_variable" {
            /// Variable name.
            name: String,
            /// New value.
            value: Payload,
            /// The variable's broadcast flag from now on; when absent, the
            /// flag it has, or the room's default for a new variable.
            broadcast: Option<bool>,
            /// Whether its changes go over UDP to members that bound it
            /// (for frequent values whose every change need not arrive);
            /// when absent, what it was (off for a new variable).
            unreliable: Option<bool>,
        },
        /// `invoke`: call a room method (members only); the result is the
        /// method's.
        Invoke = "invoke" {
            /// Method name.
            method: String,
            /// Arguments (nil when absent).
            args: Payload = Payload::nil(),
        },
        /// `send_message`: a message to the room (members only); the
        /// generic room relays it to every member, the sender included,
        /// as `room_message`.
        SendMessage = "send_message" {
            /// Payload (required; nil is a value).
            data: Payload,
        },
    }
}
