//! [`ServerOp`]: every operation that is not about one room (the
//! connection, the server's room types and listings), the table its codec
//! comes from. The session answers these itself.

use crate::payload::Payload;
use crate::request::table::operations;
use crate::room::CreateRoom;

operations! {
    /// An operation of the connection or the server (`op` on the wire).
    pub enum ServerOp {
        /// `authenticate`: presents a signed token; on a server with
        /// authentication, the first request of every connection. The
        /// result is `{"user_id": str, "user_name": str or nil}`.
        Authenticate = "authenticate" {
            /// The token (a JWT) the operator's account service signed.
            token: String,
        },
        /// `create_room`: create a room; the result is a
        /// [`crate::RoomInfo`]. The creator does not join.
        CreateRoom = "create_room" {
            /// The room's settings: fields of the request itself.
            settings: CreateRoom,
        },
        /// `list_rooms`: public rooms, optionally of one type, oldest
        /// first; the result is `{"rooms": [RoomInfo], "total": n}` (see
        /// [`crate::room::RoomList`]).
        ListRooms = "list_rooms" {
            /// Only rooms of this type.
            room_type: Option<String>,
            /// Rooms to skip (default 0).
            offset: Option<u32>,
            /// Rooms to return at most (default and maximum 1000; fewer
            /// when they would not fit in one frame).
            limit: Option<u32>,
            /// Conditions on the rooms' metadata (see
            /// [`crate::listing::ListQuery::parse_filters`]).
            filters: Option<Payload>,
            /// Only rooms with a free seat (default false).
            free_seats: Option<bool>,
            /// The order (see [`crate::listing::RoomSort`]; default
            /// `"oldest"`).
            sort: Option<String>,
        },
        /// `join_or_create`: joins a public, unlocked room without a
        /// password, of `room_type`, with a free seat, whose metadata
        /// `filters` accepts (the fullest first), or creates one with the
        /// request's settings and joins it; the result is a
        /// [`crate::JoinResult`] with `created` (or, in a cluster, a
        /// `redirect` with `created`). Two requests racing never create
        /// two rooms when one would do, nor take the same last seat.
        JoinOrCreate = "join_or_create" {
            /// The settings of a room it creates: fields of the request
            /// itself, as for `create_room` (`room_type` also picks the
            /// rooms it may join).
            settings: CreateRoom,
            /// Conditions on the metadata of the rooms it may join, as
            /// `list_rooms` takes them; the room it creates must meet them
            /// (its `metadata`, or when absent the filters' exact values).
            filters: Option<Payload>,
            /// A value the room's join hook receives (`join`'s `options`).
            join_options: Option<Payload>,
        },
        /// `matchmaker_add`: a ticket in a matchmaking queue of the
        /// server's config; the result is `{"ticket": str}`. When a match
        /// forms, the client gets a `matched` event with the room and its
        /// seat; after the queue's time-out without one, `match_timeout`.
        /// The ticket ends with the connection.
        MatchmakerAdd = "matchmaker_add" {
            /// The queue's name.
            queue: String,
            /// What the player is: names and values (see
            /// [`crate::matchmaking`]); the room's create hook sees them.
            properties: Option<Payload>,
            /// Whom the ticket accepts (see [`crate::matchmaking`]).
            query: Option<Payload>,
        },
        /// `matchmaker_remove`: withdraws a waiting ticket; the result is
        /// nil.
        MatchmakerRemove = "matchmaker_remove" {
            /// The ticket `matchmaker_add` gave.
            ticket: String,
        },
        /// `ping`: does nothing; the result is nil. Keeps an idle
        /// connection open and measures latency.
        Ping = "ping" {},
        /// `udp_bind`: asks for the UDP channel; the result is a
        /// [`crate::udp::Binding`] (the port, a session id and the keys).
        UdpBind = "udp_bind" {},
        /// `resume`: as the first request of a new connection, takes back
        /// a session whose connection dropped; the result is a
        /// [`crate::ResumeResult`], followed by the numbered frames after
        /// `last_seq` (or, with `resync`, each room's `room_state`).
        Resume = "resume" {
            /// The session's resume token (the welcome's `resume_token`,
            /// or the last `resume` result's).
            token: String,
            /// The sequence number of the last numbered frame the client
            /// handled (0 for none).
            last_seq: u64,
            /// On a server that authenticates: a valid token (JWT) of the
            /// session's user.
            auth_token: Option<String>,
        },
        /// `ack`: the client has handled every numbered frame up to `seq`,
        /// so the server need not keep them for a resume. Sent as a
        /// notification (no id: no answer); with an id the result is nil.
        /// A client acknowledges now and then (say twice a second) while
        /// frames arrive, which keeps what the server holds for it small.
        Ack = "ack" {
            /// The number of the last numbered frame the client handled.
            seq: u64,
        },
        /// `close_session`: ends the session now: it leaves every room
        /// (reason `"left"`) and is not held for a resume; the result is
        /// nil and the server then closes the connection.
        CloseSession = "close_session" {},
    }
}
