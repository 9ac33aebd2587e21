//! The strict reader of a request's fields ([`Fields`]) and [`WireField`],
//! how each type a request field may have is read and written.
//!
//! The reader is strict so that mistakes surface at once: required
//! fields are required, structured fields must be maps, and every field
//! read is marked, so that the decoder can refuse a field nobody read.

use bytes::Bytes;

use crate::error::quote;
use crate::msgpack::{FieldWriter, Mismatch, Reader};
use crate::payload::Payload;
use crate::room::{CreateRoom, VariableBroadcast};

/// One top-level entry of a request map.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'a> {
    /// The key, or the type found instead of a string.
    pub(crate) key: Result<&'a str, &'static str>,
    /// The value's bytes.
    pub(crate) value: &'a [u8],
    /// Whether a decoder took it.
    pub(crate) used: bool,
}

/// The entries of one request map, taken one by one by name.
pub struct Fields<'a, 'e> {
    pub(crate) body: &'a Bytes,
    pub(crate) entries: &'e mut [Entry<'a>],
}

/// What reading one field gives: the value, or why it is refused.
pub type Field<T> = Result<T, String>;

fn mistyped(name: &str, mismatch: Mismatch) -> String {
    format!("`{name}` must be {}, found {}", mismatch.expected, mismatch.found)
}

fn missing(name: &str) -> String {
    format!("missing field `{name}`")
}

impl<'a> Fields<'a, '_> {
    /// The value of field `name`, marked as used.
    pub(crate) fn take(&mut self, name: &str) -> Option<&'a [u8]> {
        let entry = self.entries.iter_mut().find(|e| e.key == Ok(name))?;
        entry.used = true;
        Some(entry.value)
    }

    /// The value of field `name`, marked as used; nil counts as absent.
    fn take_present(&mut self, name: &str) -> Option<&'a [u8]> {
        self.take(name).filter(|bytes| bytes[..] != [0xc0])
    }

    /// The key of the first field nobody took, if any.
    pub(crate) fn unused(&self) -> Option<&'a str> {
        self.entries.iter().find(|e| !e.used).map(|e| e.key.unwrap_or_default())
    }

    /// A string field that must be present.
    pub(crate) fn str(&mut self, name: &str) -> Field<String> {
        Option::<String>::decode(self, name)?.ok_or_else(|| missing(name))
    }
}

/// A type a request field may have: how it is read from a request (with
/// the field's name, for the refusal) and written into one.
///
/// A plain type is a required field; an `Option` is an optional one, and
/// nil counts as absent except for values ([`Payload`]), where nil is a
/// value. A group ([`CreateRoom`]) stands for several fields of the
/// request itself.
pub trait WireField: Sized {
    /// Reads the field `name` of a request.
    ///
    /// # Errors
    /// A short sentence: missing, or of the wrong type.
    fn decode(fields: &mut Fields<'_, '_>, name: &str) -> Field<Self>;

    /// Writes the field `name` (nothing for an absent optional field).
    fn encode(&self, fields: &mut FieldWriter, name: &str);

    /// The request fields this stands for: its own `name`, or a group's
    /// fields.
    fn names(name: &'static str) -> Vec<&'static str> {
        vec![name]
    }
}

impl WireField for String {
    fn decode(fields: &mut Fields<'_, '_>, name: &str) -> Field<String> {
        fields.str(name)
    }

    fn encode(&self, fields: &mut FieldWriter, name: &str) {
        fields.str(name, self);
    }
}

impl WireField for Option<String> {
    fn decode(fields: &mut Fields<'_, '_>, name: &str) -> Field<Option<String>> {
        match fields.take_present(name) {
            None => Ok(None),
            Some(bytes) => {
                Reader::new(bytes).str().map(|s| Some(s.to_owned())).map_err(|m| mistyped(name, m))
            }
        }
    }

    fn encode(&self, fields: &mut FieldWriter, name: &str) {
        fields.opt_str(name, self.as_deref());
    }
}

impl WireField for Option<bool> {
    fn decode(fields: &mut Fields<'_, '_>, name: &str) -> Field<Option<bool>> {
        match fields.take_present(name) {
            None => Ok(None),
            Some(bytes) => Reader::new(bytes).bool().map(Some).map_err(|m| mistyped(name, m)),
        }
    }

    fn encode(&self, fields: &mut FieldWriter, name: &str) {
        if let Some(value) = self {
            fields.bool(name, *value);
        }
    }
}

impl WireField for Option<u32> {
    fn decode(fields: &mut Fields<'_, '_>, name: &str) -> Field<Option<u32>> {
        match fields.take_present(name) {
            None => Ok(None),
            Some(bytes) => {
                let value = Reader::new(bytes).u64().map_err(|m| mistyped(name, m))?;
                u32::try_from(value)
                    .map(Some)
                    .map_err(|_| format!("`{name}` must be an unsigned 32-bit integer"))
            }
        }
    }

    fn encode(&self, fields: &mut FieldWriter, name: &str) {
        if let Some(value) = self {
            fields.uint(name, u64::from(*value));
        }
    }
}

impl WireField for u64 {
    fn decode(fields: &mut Fields<'_, '_>, name: &str) -> Field<u64> {
        match fields.take_present(name) {
            None => Err(missing(name)),
            Some(bytes) => Reader::new(bytes).u64().map_err(|m| mistyped(name, m)),
        }
    }

    fn encode(&self, fields: &mut FieldWriter, name: &str) {
        fields.uint(name, *self);
    }
}

/// A value carried as its bytes (validated with the whole frame); nil is
/// a value here.
impl WireField for Option<Payload> {
    fn decode(fields: &mut Fields<'_, '_>, name: &str) -> Field<Option<Payload>> {
        let body = fields.body;
        Ok(fields.take(name).map(|bytes| Payload::from_validated(body.slice_ref(bytes))))
    }

    fn encode(&self, fields: &mut FieldWriter, name: &str) {
        if let Some(value) = self {
            fields.raw(name, value.as_bytes());
        }
    }
}

impl WireField for Payload {
    fn decode(fields: &mut Fields<'_, '_>, name: &str) -> Field<Payload> {
        Option::<Payload>::decode(fields, name)?.ok_or_else(|| missing(name))
    }

    fn encode(&self, fields: &mut FieldWriter, name: &str) {
        fields.raw(name, self.as_bytes());
    }
}

/// `{enabled?: bool, default?: bool}`.
impl WireField for Option<VariableBroadcast> {
    fn decode(fields: &mut Fields<'_, '_>, name: &str) -> Field<Option<VariableBroadcast>> {
        let Some(bytes) = fields.take_present(name) else {
            return Ok(None);
        };
        let mut reader = Reader::new(bytes);
        let len = reader.map_len().map_err(|m| mistyped(name, m))?;
        let mut policy = VariableBroadcast::default();
        for _ in 0..len {
            let key = reader
                .str()
                .map_err(|m| format!("`{name}` keys must be strings, found {}", m.found))?;
            let slot = match key {
                "enabled" => &mut policy.enabled,
                "default" => &mut policy.default,
                other => return Err(format!("`{name}` has no field {}", quote(other))),
            };
            if slot.is_some() {
                return Err(format!("duplicate field `{name}.{key}`"));
            }
            if !reader.nil() {
                *slot = Some(reader.bool().map_err(|m| mistyped(&format!("{name}.{key}"), m))?);
            }
        }
        Ok(Some(policy))
    }

    fn encode(&self, fields: &mut FieldWriter, name: &str) {
        let Some(policy) = self else { return };
        let mut inner = FieldWriter::default();
        policy.enabled.encode(&mut inner, "enabled");
        policy.default.encode(&mut inner, "default");
        fields.map(name, inner);
    }
}

/// The settings of `create_room` are fields of the request itself.
impl WireField for CreateRoom {
    fn decode(fields: &mut Fields<'_, '_>, _name: &str) -> Field<CreateRoom> {
        Ok(CreateRoom {
            room_type: WireField::decode(fields, "room_type")?,
            name: WireField::decode(fields, "name")?,
            public: WireField::decode(fields, "public")?,
            max_clients: WireField::decode(fields, "max_clients")?,
            metadata: WireField::decode(fields, "metadata")?,
            variable_broadcast: WireField::decode(fields, "variable_broadcast")?,
            auto_dispose: WireField::decode(fields, "auto_dispose")?,
            password: WireField::decode(fields, "password")?,
            options: WireField::decode(fields, "options")?,
        })
    }

    fn encode(&self, fields: &mut FieldWriter, _name: &str) {
        self.room_type.encode(fields, "room_type");
        self.name.encode(fields, "name");
        self.public.encode(fields, "public");
        self.max_clients.encode(fields, "max_clients");
        self.metadata.encode(fields, "metadata");
        self.variable_broadcast.encode(fields, "variable_broadcast");
        self.auto_dispose.encode(fields, "auto_dispose");
        self.password.encode(fields, "password");
        self.options.encode(fields, "options");
    }

    fn names(_name: &'static str) -> Vec<&'static str> {
        vec![
            "room_type",
            "name",
            "public",
            "max_clients",
            "metadata",
            "variable_broadcast",
            "auto_dispose",
            "password",
            "options",
        ]
    }
}
