//! An async client for VampireTCP, used by the command-line client, the
//! end-to-end tests and the benchmarks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vampire_client::ClientError> {
//! use vampire_client::{Client, CreateRoom, Value};
//!
//! let mut client = Client::connect("127.0.0.1:7777").await?;
//! let room = client.create_room(CreateRoom::default()).await?;
//! client.join(&room.id, None).await?;
//! client.set_variable(&room.id, "score", Value::from(10), None).await?;
//! client.set_variable(&room.id, "blob", Value::Binary(vec![1, 2, 3]), None).await?;
//! while let Some(event) = client.next_event().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`connection`]: [`Client`], one connection: connecting (TLS, a
//!   token), requests and their answers, the event stream, the
//!   keep-alive, the connections to other nodes of a cluster.
//! - `heartbeat`: what the client writes by itself (`ping`, `ack`).
//! - `dial`: reaching the server over TCP, TLS or WebSocket, first and
//!   again after a drop, and the welcome.
//! - [`ops`]: one method per operation, on [`Client`].
//! - `reader`: the reading side (answers to their requests, the event
//!   stream), the writer it shares, and the resume after a drop.
//! - [`error`]: [`ClientError`], what can go wrong, including the
//!   server's error codes; [`Incoming`], events and connection errors.
//! - [`reconnect`]: resuming the session after a drop
//!   ([`ReconnectPolicy`], [`ConnectionEvent`]).
//! - [`tls`]: which certificates to trust ([`TlsOptions`]).
//! - [`json`]: values shown as JSON and read from JSON (binary and other
//!   MessagePack-only values with `$` markers), for people.
//! - [`udp`]: the client's side of the UDP channel.
//! - `websocket`: [`Client::connect_websocket`]'s upgrade and the bridge
//!   that lets the rest of the client see TCP's frames.
//!
//! [`Client::connect_with`] connects over TLS and authenticates with a
//! token ([`ConnectOptions`]); [`Client::connect_websocket`] over the
//! WebSocket port.
//!
//! A background task reads frames: responses complete the matching
//! request, events and connection-level errors go to [`Client::next_event`].
//! Another keeps the connection alive with `ping` notifications when the
//! client has sent nothing for a third of the server's idle timeout, and
//! acknowledges the frames handled (`ack`) twice a second while they
//! arrive, so that the server keeps little for a resume.

pub mod connection;
pub(crate) mod dial;
pub mod error;
mod heartbeat;
/// Values as JSON and back (from `vampire-protocol`).
pub use vampire_protocol::json;
pub mod ops;
pub(crate) mod reader;
pub mod reconnect;
pub mod tls;
pub mod udp;
pub(crate) mod websocket;

pub use connection::Client;
pub use dial::{ConnectOptions, MAX_INCOMING_FRAME};
pub use error::{ClientError, Incoming};
pub use heartbeat::ACK_EVERY;
pub use ops::Authenticated;
pub use reconnect::{ConnectionEvent, ReconnectPolicy};
pub use tls::{TlsOptions, host_of};
pub use vampire_protocol::listing::{Condition, ListQuery, RoomSort};
pub use vampire_protocol::room::{field_of, variables_from_payload};
pub use vampire_protocol::{
    ApiError, CreateRoom, DecodeError, ErrorCode, Event, JoinResult, Payload, Redirect, Request,
    ResumeResult, RoomId, RoomInfo, RoomList, RoomOp, ServerMessage, ServerOp, SessionId, Value,
    VariableBroadcast, Welcome, frame,
};
