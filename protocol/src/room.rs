//! Descriptions of rooms as they travel in requests and results.

use bytes::{BufMut, Bytes};

use crate::decode::{DecodeError, MapReader, missing};
use crate::ids::{RoomId, SessionId};
use crate::msgpack::{Reader, Writer};
use crate::payload::Payload;

/// Settings a client may give when creating a room. Every field is
/// optional; the server's `defaultRoomSettings` fill the gaps.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CreateRoom {
    /// Room type: `"generic"` (built in, the default) or the name of a
    /// loaded plugin.
    pub room_type: Option<String>,
    /// Free-form display name (at most 64 characters).
    pub name: Option<String>,
    /// Whether the room appears in `list_rooms`. Private rooms are joined
    /// by id.
    pub public: Option<bool>,
    /// Member limit; at most the server's `limits.maxClientsPerRoom`.
    pub max_clients: Option<u32>,
    /// Free-form data shown in listings (a map, say a game mode).
    pub metadata: Option<Payload>,
    /// Variable broadcast policy of the room.
    pub variable_broadcast: Option<VariableBroadcast>,
    /// Whether the room is deleted once its last member leaves.
    pub auto_dispose: Option<bool>,
    /// When set, `join` must carry the same password.
    pub password: Option<String>,
    /// A value the room type's create hook receives (a game mode, a map),
    /// kept for the room's life (at most `limits.maxVariableBytes`).
    pub options: Option<Payload>,
}

/// A room's variable broadcast policy (the seed's
/// `variableBroadcast.enabled` / `.default`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VariableBroadcast {
    /// When `false`, no variable change is ever broadcast in this room.
    pub enabled: Option<bool>,
    /// Broadcast flag of a variable whose setter gives none.
    pub default: Option<bool>,
}

/// What `create_room` and `list_rooms` report about a room.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomInfo {
    /// Server-assigned room id.
    pub id: RoomId,
    /// `"generic"` or a plugin's room type.
    pub room_type: String,
    /// Display name (empty when none was given).
    pub name: String,
    /// Listed in `list_rooms` (unless locked)?
    pub public: bool,
    /// Locked by the room: refuses joins (`room_locked`), not listed.
    pub locked: bool,
    /// Current number of members.
    pub members: u32,
    /// Member limit.
    pub max_clients: u32,
    /// Whether `join` needs a password.
    pub password_protected: bool,
    /// Free-form listing data (nil when none).
    pub metadata: Payload,
}

impl RoomInfo {
    /// Writes this as a MessagePack map.
    pub fn write<B: BufMut>(&self, w: &mut Writer<'_, B>) {
        w.map(9);
        w.str("id").str(&self.id);
        w.str("room_type").str(&self.room_type);
        w.str("name").str(&self.name);
        w.str("public").bool(self.public);
        w.str("locked").bool(self.locked);
        w.str("members").uint(self.members.into());
        w.str("max_clients").uint(self.max_clients.into());
        w.str("password_protected").bool(self.password_protected);
        w.str("metadata").raw(self.metadata.as_bytes());
    }

    /// An upper bound of the bytes [`RoomInfo::write`] produces.
    pub fn encoded_size_bound(&self) -> usize {
        128 + self.id.len() + self.room_type.len() + self.name.len() + self.metadata.len()
    }

    /// Reads a map written by [`RoomInfo::write`].
    pub(crate) fn read<'a>(
        body: &'a Bytes,
        reader: &mut Reader<'a>,
    ) -> Result<RoomInfo, DecodeError> {
        let mut map = MapReader::new(body, reader)?;
        let (mut id, mut room_type, mut name, mut public, mut members) =
            (None, None, None, None, None);
        let (mut max_clients, mut password_protected, mut metadata) = (None, None, None);
        let mut locked = false;
        while let Some(key) = map.key()? {
            match key {
                "id" => id = Some(map.str()?),
                "room_type" => room_type = Some(map.str()?),
                "name" => name = Some(map.str()?),
                "public" => public = Some(map.bool()?),
                "locked" => locked = map.bool()?,
                "members" => members = Some(map.u32()?),
                "max_clients" => max_clients = Some(map.u32()?),
                "password_protected" => password_protected = Some(map.bool()?),
                "metadata" => metadata = Some(map.payload()?),
                _ => map.skip()?,
            }
        }
        const WHAT: &str = "a room";
        Ok(RoomInfo {
            id: id.map_or_else(|| missing(WHAT, "id"), Ok)?,
            room_type: room_type.map_or_else(|| missing(WHAT, "room_type"), Ok)?,
            name: name.unwrap_or_default(),
            public: public.unwrap_or(true),
            locked,
            members: members.unwrap_or(0),
            max_clients: max_clients.unwrap_or(0),
            password_protected: password_protected.unwrap_or(false),
            metadata: metadata.unwrap_or_default(),
        })
    }

    /// Decodes a payload holding a room description (a `create_room`
    /// result).
    ///
    /// # Errors
    /// When the payload is not such a map.
    pub fn from_payload(payload: &Payload) -> Result<RoomInfo, DecodeError> {
        let body = payload.clone().into_bytes();
        let mut reader = Reader::new(&body);
        RoomInfo::read(&body, &mut reader)
    }
}

/// The result of a successful `join`.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinResult {
    /// The room as it is after the join.
    pub room: RoomInfo,
    /// Session ids of every member, the joiner included, in join order.
    pub members: Vec<SessionId>,
    /// Who each member is, in the same order: `{"session", "user_id",
    /// "user_name"}` (ids and names nil when the server does not
    /// authenticate).
    pub roster: Vec<RosterEntry>,
    /// Every variable the joiner may read, with its value.
    pub variables: Vec<(String, Payload)>,
    /// What the room's join hook answered (nil when nothing).
    pub reply: Payload,
    /// For a `join_or_create`: whether the room was created for this
    /// request (`false` for a plain `join`).
    pub created: bool,
}

/// One member as a join result lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterEntry {
    /// The member's session.
    pub session: SessionId,
    /// Its user id, when the server authenticates.
    pub user_id: Option<String>,
    /// Its display name, when its token gave one.
    pub user_name: Option<String>,
}

impl RosterEntry {
    /// Writes the entry as a map.
    pub fn write<B: BufMut>(&self, w: &mut Writer<'_, B>) {
        w.map(3).str("session").uint(self.session);
        w.str("user_id").opt_str(self.user_id.as_deref());
        w.str("user_name").opt_str(self.user_name.as_deref());
    }

    fn read<'a>(body: &'a Bytes, reader: &mut Reader<'a>) -> Result<RosterEntry, DecodeError> {
        let mut map = MapReader::new(body, reader)?;
        let mut entry = RosterEntry::default();
        while let Some(key) = map.key()? {
            match key {
                "session" => entry.session = map.u64()?,
                "user_id" => entry.user_id = map.opt_str()?,
                "user_name" => entry.user_name = map.opt_str()?,
                _ => map.skip()?,
            }
        }
        Ok(entry)
    }
}

impl JoinResult {
    /// Decodes a `join` result.
    ///
    /// # Errors
    /// When the payload is not such a map.
    pub fn from_payload(payload: &Payload) -> Result<JoinResult, DecodeError> {
        let body = payload.clone().into_bytes();
        let mut reader = Reader::new(&body);
        let mut map = MapReader::new(&body, &mut reader)?;
        let (mut room, mut members, mut variables) = (None, Vec::new(), Vec::new());
        let mut roster = Vec::new();
        let mut reply = Payload::nil();
        let mut created = false;
        while let Some(key) = map.key()? {
            match key {
                "room" => room = Some(RoomInfo::read(&body, map.reader)?),
                "members" => {
                    let len = map.reader.array_len()?;
                    for _ in 0..len {
                        members.push(map.u64()?);
                    }
                }
                "roster" => {
                    let len = map.reader.array_len()?;
                    for _ in 0..len {
                        roster.push(RosterEntry::read(&body, map.reader)?);
                    }
                }
                "variables" => variables = read_variables(&body, map.reader)?,
                "reply" => reply = map.payload()?,
                "created" => created = map.bool()?,
                _ => map.skip()?,
            }
        }
        Ok(JoinResult {
            room: room.map_or_else(|| missing("a join result", "room"), Ok)?,
            members,
            roster,
            variables,
            reply,
            created,
        })
    }
}

/// Reads a map of variable names to values.
pub(crate) fn read_variables<'a>(
    body: &'a Bytes,
    reader: &mut Reader<'a>,
) -> Result<Vec<(String, Payload)>, DecodeError> {
    let mut map = MapReader::new(body, reader)?;
    let mut variables = Vec::new();
    while let Some(name) = map.key()? {
        variables.push((name.to_owned(), map.payload()?));
    }
    Ok(variables)
}

/// Decodes a `{"variables": {name: value}}` result.
///
/// # Errors
/// When the payload is not such a map.
pub fn variables_from_payload(payload: &Payload) -> Result<Vec<(String, Payload)>, DecodeError> {
    let body = payload.clone().into_bytes();
    let mut reader = Reader::new(&body);
    let mut map = MapReader::new(&body, &mut reader)?;
    while let Some(key) = map.key()? {
        if key == "variables" {
            return read_variables(&body, map.reader);
        }
        map.skip()?;
    }
    missing("a variables result", "variables")
}

/// A `list_rooms` result: one page of rooms and how many match in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomList {
    /// The rooms of this page, oldest first.
    pub rooms: Vec<RoomInfo>,
    /// Public rooms matching the request, on every page.
    pub total: u64,
}

impl RoomList {
    /// Decodes a `{"rooms": [RoomInfo], "total": n}` result.
    ///
    /// # Errors
    /// When the payload is not such a map.
    pub fn from_payload(payload: &Payload) -> Result<RoomList, DecodeError> {
        let body = payload.clone().into_bytes();
        let mut reader = Reader::new(&body);
        let mut map = MapReader::new(&body, &mut reader)?;
        let mut list = RoomList::default();
        while let Some(key) = map.key()? {
            match key {
                "rooms" => {
                    let len = map.reader.array_len()?;
                    for _ in 0..len {
                        list.rooms.push(RoomInfo::read(&body, map.reader)?);
                    }
                }
                "total" => list.total = map.u64()?,
                _ => map.skip()?,
            }
        }
        Ok(list)
    }
}

/// The value of field `field` in a map payload, if present.
pub fn field_of(payload: &Payload, field: &str) -> Option<Payload> {
    let body = payload.clone().into_bytes();
    let mut reader = Reader::new(&body);
    let mut map = MapReader::new(&body, &mut reader).ok()?;
    while let Some(key) = map.key().ok()? {
        if key == field {
            return map.payload().ok();
        }
        map.skip().ok()?;
    }
    None
}
