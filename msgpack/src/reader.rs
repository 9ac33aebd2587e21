//! [`Reader`]: a cursor that reads typed items from validated bytes.

use crate::validate::{ValueError, type_name, value_len};

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
