//! [`Writer`]: MessagePack items into any [`BufMut`], each in its
//! shortest form, and the sizes they take.

use bytes::BufMut;

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

    /// A float64 (always 9 bytes).
    pub fn f64(&mut self, value: f64) -> &mut Self {
        self.buf.put_u8(0xcb);
        self.buf.put_f64(value);
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
