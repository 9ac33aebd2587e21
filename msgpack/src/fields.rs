//! [`FieldWriter`]: the fields of a map being encoded, written out once
//! their number is known, so a writer of optional fields need not count
//! them first.

use bytes::BufMut;

use crate::writer::Writer;

/// The fields of a map being encoded: each `key` call adds one, and
/// [`FieldWriter::write`] writes the map header and the fields.
#[derive(Debug, Default)]
pub struct FieldWriter {
    count: usize,
    body: Vec<u8>,
}

impl FieldWriter {
    /// Adds a field named `key`; write its value with the writer returned.
    pub fn key(&mut self, key: &str) -> Writer<'_, Vec<u8>> {
        self.count += 1;
        let mut writer = Writer::new(&mut self.body);
        writer.str(key);
        writer
    }

    /// A string field.
    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key).str(value);
    }

    /// A string field, when `value` is given.
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    /// An unsigned integer field.
    pub fn uint(&mut self, key: &str, value: u64) {
        self.key(key).uint(value);
    }

    /// A boolean field.
    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key).bool(value);
    }

    /// A field whose value is already MessagePack (one value).
    pub fn raw(&mut self, key: &str, value: &[u8]) {
        self.key(key).raw(value);
    }

    /// A field whose value is a map of `fields`.
    pub fn map(&mut self, key: &str, fields: FieldWriter) {
        let mut writer = self.key(key);
        writer.map(fields.count).raw(&fields.body);
    }

    /// How many fields were added.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Writes the map: its header, then the fields.
    pub fn write<B: BufMut>(self, buf: &mut B) {
        Writer::new(buf).map(self.count).raw(&self.body);
    }
}
