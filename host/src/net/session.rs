//! [`Session`]: what one connection may do, request by request.
//!
//! The session keeps the rooms it joined so that a disconnect, clean or
//! not, leaves every one of them. Membership itself is decided by each
//! room; the session's list may hold a room that has since deleted or
//! kicked it, which is harmless.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use vampire_protocol::{Request, RoomId, SessionId, Value};

use crate::error::ApiError;
use crate::net::ClientHandle;
use crate::rooms::{RoomHandle, RoomManager};

/// What a request produced.
pub enum Outcome {
    /// Send this result as the response.
    Result(Value),
    /// The response was already queued (by the room, for a join).
    Sent,
}

/// One connection's requests and room memberships.
pub struct Session {
    client: ClientHandle,
    rooms: Arc<RoomManager>,
    /// Rooms joined through this session, left on disconnect.
    joined: HashMap<RoomId, RoomHandle>,
}

impl Session {
    /// A session for `client` with no room joined.
    pub fn new(client: ClientHandle, rooms: Arc<RoomManager>) -> Session {
        Session { client, rooms, joined: HashMap::new() }
    }

    /// This session's id.
    pub fn id(&self) -> SessionId {
        self.client.session()
    }

    /// Runs one request.
    ///
    /// # Errors
    /// The request's failure, to be reported to the client.
    pub async fn handle(
        &mut self,
        request: Request,
        request_id: Option<u32>,
    ) -> Result<Outcome, ApiError> {
        let session = self.id();
        let result = match request {
            Request::CreateRoom(settings) => {
                let info = self.rooms.create(settings, session)?;
                to_value(info)
            }
            Request::ListRooms { room_type } => {
                json!({ "rooms": self.rooms.list_public(room_type.as_deref()) })
            }
            Request::Join { room, password } => {
                let handle = self.rooms.get(&room)?;
                handle.join(self.client.clone(), password, request_id).await?;
                self.joined.insert(room, handle);
                return Ok(Outcome::Sent);
            }
            Request::Leave { room } => {
                let handle = self.room(&room)?;
                let outcome = handle.leave(session).await;
                self.joined.remove(&room);
                outcome?;
                Value::Null
            }
            Request::DeleteRoom { room } => {
                self.rooms.get(&room)?.delete(session).await?;
                self.joined.remove(&room);
                Value::Null
            }
            Request::GetVariable { room, name } => {
                self.room(&room)?.get_variable(session, name).await?
            }
            Request::GetVariables { room } => self.room(&room)?.get_variables(session).await?,
            Request::SetVariable { room, name, value, broadcast } => {
                let broadcast =
                    self.room(&room)?.set_variable(session, name, value, broadcast).await?;
                json!({ "broadcast": broadcast })
            }
            Request::Invoke { room, method, args } => {
                self.room(&room)?.invoke(session, method, args).await?
            }
            Request::SendMessage { room, data } => {
                self.room(&room)?.send_message(session, data).await?;
                Value::Null
            }
            Request::Ping => Value::Null,
        };
        Ok(Outcome::Result(result))
    }

    /// Leaves every joined room; called once the connection has ended.
    pub async fn leave_all(&mut self) {
        let session = self.id();
        for (_, room) in self.joined.drain() {
            room.leave_on_disconnect(session).await;
        }
    }

    /// A room this session may address: one it joined, else any live one
    /// (the room itself then checks membership).
    fn room(&self, id: &str) -> Result<RoomHandle, ApiError> {
        match self.joined.get(id) {
            Some(handle) => Ok(handle.clone()),
            None => self.rooms.get(id),
        }
    }
}

fn to_value(value: impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("protocol types always convert to a value")
}
