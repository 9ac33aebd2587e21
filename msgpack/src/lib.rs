//! The MessagePack primitives VampireTCP's codecs are built from: a strict
//! validator ([`validate`], [`value_len`]), a cursor that reads typed items
//! ([`Reader`]) and an encoder over any [`BufMut`] ([`Writer`]).
//!
//! The wire protocol (`vampire-protocol`), the plugin ABI (`vampire-abi`),
//! the server and the guest SDK all read and write MessagePack by hand
//! with these rather than through serde, for two reasons: values the
//! server does not interpret (message data, variable values, method
//! arguments) are carried as their sender's own bytes, which serde cannot
//! splice, and every refusal can say exactly what was wrong. The crate
//! depends on nothing but `bytes`, so a plugin compiled to WebAssembly can
//! use it too.

use bytes::BufMut;

/// How deeply arrays and maps may nest inside one value (the top level
/// counts as one). Deeper values are refused with their own message, so a
/// hostile frame cannot make any reader recurse without bound.
pub const MAX_NESTING: usize = 32;

/// Why some bytes are not one acceptable MessagePack value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    /// The bytes are not MessagePack: truncated, a reserved marker (0xc1),
    /// a string that is not UTF-8, or bytes after the value.
    Malformed(String),
    /// Well-formed, but arrays and maps nest deeper than [`MAX_NESTING`].
    TooDeep,
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueError::Malformed(why) => write!(f, "not MessagePack: {why}"),
            ValueError::TooDeep => {
                write!(f, "arrays and maps nest deeper than {MAX_NESTING} levels")
            }
        }
    }
}

impl std::error::Error for ValueError {}

fn malformed(why: &str) -> ValueError {
    ValueError::Malformed(why.to_owned())
}

/// Checks that `bytes` is exactly one MessagePack value, nested at most
/// `max_depth` levels, with UTF-8 strings.
///
/// # Errors
/// [`ValueError::Malformed`] or [`ValueError::TooDeep`].
pub fn validate(bytes: &[u8], max_depth: usize) -> Result<(), ValueError> {
    let len = value_len(bytes, max_depth)?;
    if len != bytes.len() {
        return Err(malformed("bytes follow the value"));
    }
    Ok(())
}

/// The length of the one MessagePack value at the start of `bytes`,
/// checking it is well-formed (see [`validate`]). Bytes after it are not
/// looked at.
///
/// Malformation wins over depth: a value that is both too deep and
/// truncated is reported as malformed, so "not MessagePack" is only ever
/// said of bytes that are not.
///
/// # Errors
/// [`ValueError::Malformed`] or [`ValueError::TooDeep`].
pub fn value_len(bytes: &[u8], max_depth: usize) -> Result<usize, ValueError> {
    let mut pos = 0;
    // Items still to read at each open level; the walk is iterative so
    // a deep value costs no stack.
    let mut pending = Stack::default();
    let mut items: u64 = 1;
    let mut too_deep = false;
    loop {
        while items == 0 {
            match pending.pop() {
                Some(outer) => items = outer,
                None => {
                    return if too_deep { Err(ValueError::TooDeep) } else { Ok(pos) };
                }
            }
        }
        items -= 1;
        let marker = *bytes.get(pos).ok_or_else(|| malformed("the value is truncated"))?;
        pos += 1;
        let (skip, children): (usize, u64) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, u64::from(marker & 0x0f) * 2),
            0x90..=0x9f => (0, u64::from(marker & 0x0f)),
            0xa0..=0xbf => {
                let len = usize::from(marker & 0x1f);
                check_utf8(bytes, pos, len)?;
                (len, 0)
            }
            0xc1 => return Err(malformed("0xc1 is not a MessagePack marker")),
            0xc4 => (read_len(bytes, &mut pos, 1)?, 0),
            0xc5 => (read_len(bytes, &mut pos, 2)?, 0),
            0xc6 => (read_len(bytes, &mut pos, 4)?, 0),
            0xc7 => (read_len(bytes, &mut pos, 1)? + 1, 0),
            0xc8 => (read_len(bytes, &mut pos, 2)? + 1, 0),
            0xc9 => (read_len(bytes, &mut pos, 4)? + 1, 0),
            0xca => (4, 0),
            0xcb => (8, 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xce | 0xd2 => (4, 0),
            0xcf | 0xd3 => (8, 0),
            0xd4 => (2, 0),
            0xd5 => (3, 0),
            0xd6 => (5, 0),
            0xd7 => (9, 0),
            0xd8 => (17, 0),
            0xd9..=0xdb => {
                let width = 1 << (marker - 0xd9);
                let len = read_len(bytes, &mut pos, width)?;
                check_utf8(bytes, pos, len)?;
                (len, 0)
            }
            0xdc => (0, read_len(bytes, &mut pos, 2)? as u64),
            0xdd => (0, read_len(bytes, &mut pos, 4)? as u64),
            0xde => (0, read_len(bytes, &mut pos, 2)? as u64 * 2),
            0xdf => (0, read_len(bytes, &mut pos, 4)? as u64 * 2),
        };
        pos = pos
            .checked_add(skip)
            .filter(|end| *end <= bytes.len())
            .ok_or_else(|| malformed("the value is truncated"))?;
        let is_container = matches!(marker, 0x80..=0x9f | 0xdc..=0xdf);
        if is_container {
            // Every item takes at least one byte: a count the rest of the
            // buffer cannot hold is truncation, found before looping on it.
            if children > (bytes.len() - pos) as u64 {
                return Err(malformed("the value is truncated"));
            }
            if pending.len() >= max_depth {
                too_deep = true;
            }
            pending.push(items);
            items = children;
        }
    }
}

/// The item counts of the open containers during [`value_len`]: inline
/// for the usual shallow values, so validating a payload allocates
/// nothing.
#[derive(Default)]
struct Stack {
    inline: [u64; 16],
    len: usize,
    spill: Vec<u64>,
}

impl Stack {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, items: u64) {
        if self.len < self.inline.len() {
            self.inline[self.len] = items;
        } else {
            self.spill.push(items);
        }
        self.len += 1;
    }

    fn pop(&mut self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        if self.len < self.inline.len() { Some(self.inline[self.len]) } else { self.spill.pop() }
    }
}

fn read_len(bytes: &[u8], pos: &mut usize, width: usize) -> Result<usize, ValueError> {
    let end = *pos + width;
    let field = bytes.get(*pos..end).ok_or_else(|| malformed("the value is truncated"))?;
    *pos = end;
    Ok(field.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
}

fn check_utf8(bytes: &[u8], pos: usize, len: usize) -> Result<(), ValueError> {
    let text = bytes.get(pos..pos + len).ok_or_else(|| malformed("the value is truncated"))?;
    std::str::from_utf8(text).map(drop).map_err(|_| malformed("a string is not UTF-8"))
}

/// The MessagePack type of an item, as refusals name it.
pub fn type_name(marker: u8) -> &'static str {
    match marker {
        0x00..=0x7f | 0xcc..=0xcf => "an unsigned integer",
        0xe0..=0xff | 0xd0..=0xd3 => "a negative integer",
        0x80..=0x8f | 0xde | 0xdf => "a map",
        0x90..=0x9f | 0xdc | 0xdd => "an array",
        0xa0..=0xbf | 0xd9..=0xdb => "a string",
        0xc0 => "nil",
        0xc2 | 0xc3 => "a boolean",
        0xc4..=0xc6 => "binary",
        0xc7..=0xc9 | 0xd4..=0xd8 => "an extension",
        0xca => "a float32",
        0xcb => "a float64",
        0xc1 => "an invalid marker",
    }
}

/// A type mismatch found while reading an item: what was expected and
/// what came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What the reader wanted, e.g. "a string".
    pub expected: &'static str,
    /// What it found, e.g. "binary".
    pub found: &'static str,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {}, found {}", self.expected, self.found)
    }
}

/// A cursor over bytes already checked by [`validate`]: it reads typed
/// items and reports a wrong type as a [`Mismatch`]. On bytes that were
/// not validated it never panics, but reports truncation as a mismatch
/// with `found: "the end of the value"`.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

const END: &str = "the end of the value";

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The marker of the next item, without reading it.
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn mismatch(&self, expected: &'static str) -> Mismatch {
        Mismatch { expected, found: self.peek().map_or(END, type_name) }
    }

    fn take(&mut self, n: usize, expected: &'static str) -> Result<&'a [u8], Mismatch> {
        let end = self.pos.checked_add(n).filter(|end| *end <= self.bytes.len());
        let end = end.ok_or(Mismatch { expected, found: END })?;
        let taken = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(taken)
    }

    fn uint_field(&mut self, width: usize, expected: &'static str) -> Result<u64, Mismatch> {
        let field = self.take(width, expected)?;
        Ok(field.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// Reads a map header and returns its number of entries.
    ///
    /// # Errors
    /// When the next item is not a map.
    pub fn map_len(&mut self) -> Result<usize, Mismatch> {
        const WANT: &str = "a map";
        let marker = self.peek().ok_or(Mismatch { expected: WANT, found: END })?;
        let len = match marker {
            0x80..=0x8f => {
                self.pos += 1;
                usize::from(marker & 0x0f)
            }
            0xde => {
                self.pos += 1;
                self.uint_field(2, WANT)? as usize
            }
            0xdf => {
                self.pos += 1;
                self.uint_field(4, WANT)? as usize
            }
            _ => return Err(self.mismatch(WANT)),
        };
        Ok(len)
    }

    /// Reads an array header and returns its number of items.
    ///
    /// # Errors
    /// When the next item is not an array.
    pub fn array_len(&mut self) -> Result<usize, Mismatch> {
        const WANT: &str = "an array";
        let marker = self.peek().ok_or(Mismatch { expected: WANT, found: END })?;
        let len = match marker {
            0x90..=0x9f => {
                self.pos += 1;
                usize::from(marker & 0x0f)
            }
            0xdc => {
                self.pos += 1;
                self.uint_field(2, WANT)? as usize
            }
            0xdd => {
                self.pos += 1;
                self.uint_field(4, WANT)? as usize
            }
            _ => return Err(self.mismatch(WANT)),
        };
        Ok(len)
    }

    /// Reads a string.
    ///
    /// # Errors
    /// When the next item is not a UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str, Mismatch> {
        const WANT: &str = "a string";
        let marker = self.peek().ok_or(Mismatch { expected: WANT, found: END })?;
        let len = match marker {
            0xa0..=0xbf => {
                self.pos += 1;
                usize::from(marker & 0x1f)
            }
            0xd9 => {
                self.pos += 1;
                self.uint_field(1, WANT)? as usize
            }
            0xda => {
                self.pos += 1;
                self.uint_field(2, WANT)? as usize
            }
            0xdb => {
                self.pos += 1;
                self.uint_field(4, WANT)? as usize
            }
            _ => return Err(self.mismatch(WANT)),
        };
        let text = self.take(len, WANT)?;
        std::str::from_utf8(text).map_err(|_| Mismatch { expected: WANT, found: "invalid UTF-8" })
    }

    /// Reads binary data.
    ///
    /// # Errors
    /// When the next item is not `bin`.
    pub fn bin(&mut self) -> Result<&'a [u8], Mismatch> {
        const WANT: &str = "binary";
        let marker = self.peek().ok_or(Mismatch { expected: WANT, found: END })?;
        let width = match marker {
            0xc4 => 1,
            0xc5 => 2,
            0xc6 => 4,
            _ => return Err(self.mismatch(WANT)),
        };
        self.pos += 1;
        let len = self.uint_field(width, WANT)? as usize;
        self.take(len, WANT)
    }

    /// Reads a non-negative integer of any width.
    ///
    /// # Errors
    /// When the next item is not an integer, or is negative.
    pub fn u64(&mut self) -> Result<u64, Mismatch> {
        const WANT: &str = "an unsigned integer";
        let marker = self.peek().ok_or(Mismatch { expected: WANT, found: END })?;
        let value = match marker {
            0x00..=0x7f => {
                self.pos += 1;
                u64::from(marker)
            }
            0xcc..=0xcf => {
                self.pos += 1;
                self.uint_field(1 << (marker - 0xcc), WANT)?
            }
            0xd0..=0xd3 => {
                // A signed encoding of a non-negative number is accepted:
                // some encoders always write signed integers.
                let start = self.pos;
                self.pos += 1;
                let width = 1 << (marker - 0xd0);
                let raw = self.uint_field(width, WANT)?;
                let shift = 64 - 8 * width as u32;
                let signed = ((raw << shift) as i64) >> shift;
                if signed < 0 {
                    self.pos = start;
                    return Err(Mismatch { expected: WANT, found: "a negative integer" });
                }
                signed as u64
            }
            _ => return Err(self.mismatch(WANT)),
        };
        Ok(value)
    }

    /// Reads a boolean.
    ///
    /// # Errors
    /// When the next item is not a boolean.
    pub fn bool(&mut self) -> Result<bool, Mismatch> {
        match self.peek() {
            Some(0xc2) => {
                self.pos += 1;
                Ok(false)
            }
            Some(0xc3) => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.mismatch("a boolean")),
        }
    }

    /// Reads nil if it comes next; returns whether it did.
    pub fn nil(&mut self) -> bool {
        if self.peek() == Some(0xc0) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Reads one whole value of any type and returns its bytes.
    ///
    /// # Errors
    /// When the bytes are truncated or malformed (never, on bytes checked
    /// by [`validate`]).
    pub fn raw(&mut self) -> Result<&'a [u8], ValueError> {
        let rest = &self.bytes[self.pos.min(self.bytes.len())..];
        let len = value_len(rest, usize::MAX)?;
        self.pos += len;
        Ok(&rest[..len])
    }

    /// Skips one whole value.
    ///
    /// # Errors
    /// As for [`Reader::raw`].
    pub fn skip(&mut self) -> Result<(), ValueError> {
        self.raw().map(drop)
    }
}

/// Writes MessagePack items into a [`BufMut`], each in its shortest form.
pub struct Writer<'b, B: BufMut> {
    buf: &'b mut B,
}

impl<'b, B: BufMut> Writer<'b, B> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'b mut B) -> Writer<'b, B> {
        Writer { buf }
    }

    /// A map header for `len` entries (each then written as key, value).
    pub fn map(&mut self, len: usize) -> &mut Self {
        match len {
            0..=15 => self.buf.put_u8(0x80 | len as u8),
            16..=0xffff => {
                self.buf.put_u8(0xde);
                self.buf.put_u16(len as u16);
            }
            _ => {
                self.buf.put_u8(0xdf);
                self.buf.put_u32(len as u32);
            }
        }
        self
    }

    /// An array header for `len` items.
    pub fn array(&mut self, len: usize) -> &mut Self {
        match len {
            0..=15 => self.buf.put_u8(0x90 | len as u8),
            16..=0xffff => {
                self.buf.put_u8(0xdc);
                self.buf.put_u16(len as u16);
            }
            _ => {
                self.buf.put_u8(0xdd);
                self.buf.put_u32(len as u32);
            }
        }
        self
    }

    /// A string.
    pub fn str(&mut self, text: &str) -> &mut Self {
        let len = text.len();
        match len {
            0..=31 => self.buf.put_u8(0xa0 | len as u8),
            32..=0xff => {
                self.buf.put_u8(0xd9);
                self.buf.put_u8(len as u8);
            }
            0x100..=0xffff => {
                self.buf.put_u8(0xda);
                self.buf.put_u16(len as u16);
            }
            _ => {
                self.buf.put_u8(0xdb);
                self.buf.put_u32(len as u32);
            }
        }
        self.buf.put_slice(text.as_bytes());
        self
    }

    /// Binary data.
    pub fn bin(&mut self, data: &[u8]) -> &mut Self {
        let len = data.len();
        match len {
            0..=0xff => {
                self.buf.put_u8(0xc4);
                self.buf.put_u8(len as u8);
            }
            0x100..=0xffff => {
                self.buf.put_u8(0xc5);
                self.buf.put_u16(len as u16);
            }
            _ => {
                self.buf.put_u8(0xc6);
                self.buf.put_u32(len as u32);
            }
        }
        self.buf.put_slice(data);
        self
    }

    /// A non-negative integer.
    pub fn uint(&mut self, value: u64) -> &mut Self {
        match value {
            0..=0x7f => self.buf.put_u8(value as u8),
            0x80..=0xff => {
                self.buf.put_u8(0xcc);
                self.buf.put_u8(value as u8);
            }
            0x100..=0xffff => {
                self.buf.put_u8(0xcd);
                self.buf.put_u16(value as u16);
            }
            0x1_0000..=0xffff_ffff => {
                self.buf.put_u8(0xce);
                self.buf.put_u32(value as u32);
            }
            _ => {
                self.buf.put_u8(0xcf);
                self.buf.put_u64(value);
            }
        }
        self
    }

    /// A boolean.
    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.buf.put_u8(if value { 0xc3 } else { 0xc2 });
        self
    }

    /// Nil.
    pub fn nil(&mut self) -> &mut Self {
        self.buf.put_u8(0xc0);
        self
    }

    /// An integer that may be absent (nil).
    pub fn opt_uint(&mut self, value: Option<u64>) -> &mut Self {
        match value {
            Some(value) => self.uint(value),
            None => self.nil(),
        }
    }

    /// A string that may be absent (nil).
    pub fn opt_str(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.str(value),
            None => self.nil(),
        }
    }

    /// Bytes that already are one MessagePack value, copied as they are.
    pub fn raw(&mut self, value: &[u8]) -> &mut Self {
        self.buf.put_slice(value);
        self
    }
}

/// Bytes [`Writer::str`] takes for a string of `len` bytes.
pub fn str_size(len: usize) -> usize {
    len + match len {
        0..=31 => 1,
        32..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

/// Bytes a map or array header for `len` items takes.
pub fn header_size(len: usize) -> usize {
    match len {
        0..=15 => 1,
        16..=0xffff => 3,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &rmpv::Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, value).unwrap();
        out
    }

    fn nested(depth: usize) -> Vec<u8> {
        let mut bytes = vec![0x91; depth - 1];
        bytes.push(0x90);
        bytes
    }

    #[test]
    fn accepts_every_kind_of_value() {
        use rmpv::Value;
        let value = Value::Map(vec![
            (Value::from("bin"), Value::Binary(vec![0, 1, 2])),
            (Value::from(1), Value::F32(f32::NAN)),
            (Value::from("max"), Value::from(u64::MAX)),
            (Value::from("min"), Value::from(i64::MIN)),
            (Value::from("ext"), Value::Ext(-3, vec![1; 20])),
            (Value::from("inf"), Value::F64(f64::NEG_INFINITY)),
        ]);
        let bytes = encode(&value);
        assert_eq!(value_len(&bytes, MAX_NESTING), Ok(bytes.len()));
    }

    #[test]
    fn refuses_truncation_reserved_markers_bad_utf8_and_trailing_bytes() {
        assert!(matches!(validate(&[0x92, 0x01], 32), Err(ValueError::Malformed(_))));
        assert!(matches!(validate(&[0xc1], 32), Err(ValueError::Malformed(_))));
        assert!(matches!(validate(&[0xa2, 0xff, 0xfe], 32), Err(ValueError::Malformed(_))));
        assert!(matches!(validate(&[0x01, 0x02], 32), Err(ValueError::Malformed(_))));
        // A count no buffer could hold is truncation, found at once.
        assert!(matches!(
            validate(&[0xdd, 0xff, 0xff, 0xff, 0xff], 32),
            Err(ValueError::Malformed(_))
        ));
    }

    #[test]
    fn depth_is_limited_and_reported_in_its_own_words() {
        assert_eq!(validate(&nested(MAX_NESTING), MAX_NESTING), Ok(()));
        assert_eq!(validate(&nested(MAX_NESTING + 1), MAX_NESTING), Err(ValueError::TooDeep));
        // Deep and truncated: malformed.
        let mut bytes = nested(100);
        bytes.pop();
        assert!(matches!(validate(&bytes, MAX_NESTING), Err(ValueError::Malformed(_))));
    }

    #[test]
    fn reader_reads_typed_items_and_names_mismatches() {
        let mut buf = Vec::new();
        Writer::new(&mut buf).map(2).str("id").uint(300).str("op").bin(b"x");
        let mut reader = Reader::new(&buf);
        assert_eq!(reader.map_len(), Ok(2));
        assert_eq!(reader.str(), Ok("id"));
        assert_eq!(reader.u64(), Ok(300));
        assert_eq!(reader.str(), Ok("op"));
        let err = reader.str().unwrap_err();
        assert_eq!(err.to_string(), "expected a string, found binary");
        assert_eq!(reader.bin(), Ok(&b"x"[..]));
        assert!(reader.is_empty());
    }

    #[test]
    fn signed_encodings_of_non_negative_integers_are_unsigned() {
        let mut reader = Reader::new(&[0xd0, 0x05, 0xd0, 0xfb]);
        assert_eq!(reader.u64(), Ok(5));
        assert_eq!(reader.u64().unwrap_err().found, "a negative integer");
    }

    #[test]
    fn the_writer_matches_rmpv_for_every_width() {
        for n in [0u64, 127, 128, 255, 256, 65535, 65536, u32::MAX as u64, u64::MAX] {
            let mut ours = Vec::new();
            Writer::new(&mut ours).uint(n);
            assert_eq!(ours, encode(&rmpv::Value::from(n)), "{n}");
        }
        for len in [0usize, 31, 32, 255, 256, 70000] {
            let text = "x".repeat(len);
            let mut ours = Vec::new();
            Writer::new(&mut ours).str(&text);
            assert_eq!(ours, encode(&rmpv::Value::from(text.as_str())), "{len}");
            assert_eq!(ours.len(), str_size(len));
        }
    }
}
