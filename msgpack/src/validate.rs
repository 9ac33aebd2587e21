//! The strict validator: exactly one well-formed value, UTF-8 strings,
//! nesting bounded, walked without recursion.

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
