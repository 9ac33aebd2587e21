//! Lenient decoding of what the server sends, for clients: unknown fields
//! are skipped (a newer server may add some), missing ones are errors.

use bytes::Bytes;

use crate::msgpack::{Mismatch, Reader};
use crate::payload::Payload;

/// Something a client could not read in a server message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode the server's message: {0}")]
pub struct DecodeError(pub String);

impl From<Mismatch> for DecodeError {
    fn from(mismatch: Mismatch) -> DecodeError {
        DecodeError(mismatch.to_string())
    }
}

impl From<crate::msgpack::ValueError> for DecodeError {
    fn from(err: crate::msgpack::ValueError) -> DecodeError {
        DecodeError(err.to_string())
    }
}

/// Reads a map field by field.
pub(crate) struct MapReader<'a, 'r> {
    body: &'a Bytes,
    pub(crate) reader: &'r mut Reader<'a>,
    remaining: usize,
}

impl<'a, 'r> MapReader<'a, 'r> {
    /// Reads the map header at the reader's position.
    pub(crate) fn new(body: &'a Bytes, reader: &'r mut Reader<'a>) -> Result<Self, DecodeError> {
        let remaining = reader.map_len()?;
        Ok(MapReader { body, reader, remaining })
    }

    /// The next key, or `None` after the last entry.
    pub(crate) fn key(&mut self) -> Result<Option<&'a str>, DecodeError> {
        if self.remaining == 0 {
            return Ok(None);
        }
        self.remaining -= 1;
        Ok(Some(self.reader.str()?))
    }

    pub(crate) fn str(&mut self) -> Result<String, DecodeError> {
        Ok(self.reader.str()?.to_owned())
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(self.reader.u64()?)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        u32::try_from(self.reader.u64()?).map_err(|_| DecodeError("integer out of range".into()))
    }

    /// A string or nil.
    pub(crate) fn opt_str(&mut self) -> Result<Option<String>, DecodeError> {
        if self.reader.nil() { Ok(None) } else { Ok(Some(self.reader.str()?.to_owned())) }
    }

    /// An integer or nil.
    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, DecodeError> {
        if self.reader.nil() { Ok(None) } else { Ok(Some(self.reader.u64()?)) }
    }

    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.reader.bool()?)
    }

    pub(crate) fn payload(&mut self) -> Result<Payload, DecodeError> {
        let raw = self.reader.raw()?;
        Ok(Payload::from_validated(self.body.slice_ref(raw)))
    }

    pub(crate) fn skip(&mut self) -> Result<(), DecodeError> {
        Ok(self.reader.skip()?)
    }
}

/// `Err` naming a field the message lacks.
pub(crate) fn missing<T>(what: &str, field: &str) -> Result<T, DecodeError> {
    Err(DecodeError(format!("{what} without `{field}`")))
}
