//! How each hook input is written and read, from one table per input
//! ([`input_map!`]): a map of named fields, written in table order and
//! read in any order, unknown keys skipped (a later host may add some).
//!
//! [`AbiField`] says how one field's type crosses: integers, booleans,
//! strings, MessagePack values spliced as their bytes, and the nested
//! maps of a member and a room.

use vampire_msgpack::{Reader, Writer};

use crate::error::AbiError;

/// A type a hook input's field may have.
pub trait AbiField<'a>: Sized {
    /// The value when the key is absent.
    const ABSENT: Self;

    /// Writes the value.
    fn write(&self, w: &mut Writer<'_, Vec<u8>>);

    /// Reads a value written by [`AbiField::write`].
    ///
    /// # Errors
    /// When the item is not of this type.
    fn read(reader: &mut Reader<'a>) -> Result<Self, AbiError>;
}

impl<'a> AbiField<'a> for u64 {
    const ABSENT: u64 = 0;

    fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
        w.uint(*self);
    }

    fn read(reader: &mut Reader<'a>) -> Result<u64, AbiError> {
        Ok(reader.u64()?)
    }
}

impl<'a> AbiField<'a> for u32 {
    const ABSENT: u32 = 0;

    fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
        w.uint(u64::from(*self));
    }

    fn read(reader: &mut Reader<'a>) -> Result<u32, AbiError> {
        u32::try_from(reader.u64()?).map_err(|_| AbiError("an integer out of range".into()))
    }
}

impl<'a> AbiField<'a> for bool {
    const ABSENT: bool = false;

    fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
        w.bool(*self);
    }

    fn read(reader: &mut Reader<'a>) -> Result<bool, AbiError> {
        Ok(reader.bool()?)
    }
}

impl<'a> AbiField<'a> for &'a str {
    const ABSENT: &'a str = "";

    fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
        w.str(self);
    }

    fn read(reader: &mut Reader<'a>) -> Result<&'a str, AbiError> {
        Ok(reader.str()?)
    }
}

/// A string or nil.
impl<'a> AbiField<'a> for Option<&'a str> {
    const ABSENT: Option<&'a str> = None;

    fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
        w.opt_str(*self);
    }

    fn read(reader: &mut Reader<'a>) -> Result<Option<&'a str>, AbiError> {
        if reader.nil() { Ok(None) } else { Ok(Some(reader.str()?)) }
    }
}

/// One MessagePack value, as its bytes (an empty slice is written as nil).
impl<'a> AbiField<'a> for &'a [u8] {
    const ABSENT: &'a [u8] = &[0xc0];

    fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
        w.raw(if self.is_empty() { &[0xc0] } else { self });
    }

    fn read(reader: &mut Reader<'a>) -> Result<&'a [u8], AbiError> {
        Ok(reader.raw()?)
    }
}

impl<'a, T: AbiField<'a>> AbiField<'a> for Vec<T> {
    const ABSENT: Vec<T> = Vec::new();

    fn write(&self, w: &mut Writer<'_, Vec<u8>>) {
        w.array(self.len());
        for item in self {
            item.write(w);
        }
    }

    fn read(reader: &mut Reader<'a>) -> Result<Vec<T>, AbiError> {
        let len = reader.array_len()?;
        (0..len).map(|_| T::read(reader)).collect()
    }
}

/// Declares a hook input (a struct) and its map codec from one table:
/// each field's name, type and docs, in the order they are written; a
/// field marked `required` is an error when absent, the others take
/// [`AbiField::ABSENT`]. The struct gets [`AbiField`] (to nest it in
/// another input) and `encode_into` / `decode` (for a whole hook input).
macro_rules! input_map {
    (
        $(#[$meta:meta])*
        pub struct $Name:ident<$a:lifetime>: $what:literal { $($fields:tt)* }
    ) => {
        $crate::fields::input_map!(@struct [$(#[$meta])*] $Name [<$a>] $($fields)*);
        $crate::fields::input_map!(@codec [$a] [<$a>] $Name [<$a>] $what { $($fields)* });
    };
    (
        $(#[$meta:meta])*
        pub struct $Name:ident: $what:literal { $($fields:tt)* }
    ) => {
        $crate::fields::input_map!(@struct [$(#[$meta])*] $Name [] $($fields)*);
        $crate::fields::input_map!(@codec ['r] [<'r>] $Name [] $what { $($fields)* });
    };
    (@struct [$(#[$meta:meta])*] $Name:ident [$($generics:tt)*]
        $( $(#[$field_meta:meta])* $field:ident : $Type:ty $(, $required:ident)? );* $(;)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $Name $($generics)* {
            $( $(#[$field_meta])* pub $field: $Type ),*
        }
    };
    (@codec [$lt:lifetime] [$($impl_generics:tt)*] $Name:ident [$($generics:tt)*] $what:literal {
        $( $(#[$field_meta:meta])* $field:ident : $Type:ty $(, $required:ident)? );* $(;)?
    }) => {
        impl $($impl_generics)* $crate::fields::AbiField<$lt> for $Name $($generics)* {
            const ABSENT: Self = $Name {
                $( $field: <$Type as $crate::fields::AbiField<$lt>>::ABSENT ),*
            };

            fn write(&self, w: &mut ::vampire_msgpack::Writer<'_, Vec<u8>>) {
                w.map([$(stringify!($field)),*].len());
                $( w.str(stringify!($field)); $crate::fields::AbiField::write(&self.$field, w); )*
            }

            fn read(
                reader: &mut ::vampire_msgpack::Reader<$lt>,
            ) -> Result<Self, $crate::error::AbiError> {
                let mut map_so_far = <Self as $crate::fields::AbiField<$lt>>::ABSENT;
                $( let mut $field = false; )*
                for _ in 0..reader.map_len()? {
                    match reader.str()? {
                        $( stringify!($field) => {
                            map_so_far.$field = $crate::fields::AbiField::read(reader)?;
                            $field = true;
                        } )*
                        _ => reader.skip()?,
                    }
                }
                $( $crate::fields::input_map!(@check $what, $field $(, $required)?); )*
                Ok(map_so_far)
            }
        }

        impl $($impl_generics)* $Name $($generics)* {
            /// Appends this input, as its map, to `out`.
            pub fn encode_into(&self, out: &mut Vec<u8>) {
                $crate::fields::AbiField::write(self, &mut ::vampire_msgpack::Writer::new(out));
            }

            /// Reads what [`Self::encode_into`] wrote.
            ///
            /// # Errors
            /// When `bytes` is not such a map, or lacks a required field.
            pub fn decode(bytes: &$lt [u8]) -> Result<Self, $crate::error::AbiError> {
                let mut reader = ::vampire_msgpack::Reader::new(bytes);
                <Self as $crate::fields::AbiField<$lt>>::read(&mut reader)
            }
        }
    };
    (@check $what:literal, $field:ident) => {
        let _ = $field;
    };
    (@check $what:literal, $field:ident, required) => {
        if !$field {
            return Err($crate::error::AbiError(format!(
                "{} input without `{}`",
                $what,
                stringify!($field)
            )));
        }
    };
}

pub(crate) use input_map;
