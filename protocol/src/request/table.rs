//! [`operations!`]: one table of operations, from which their enum and
//! codec are generated, so that an operation is declared in one place.
//!
//! Each entry gives the variant, its `op` name on the wire, and its
//! fields (name, type, docs; `= default` for a field that may be absent
//! without being an `Option`). From the table come the enum (with serde,
//! so nodes of a cluster can pass operations to each other), the list of
//! names, each operation's fields, the decoder and the encoder: adding an
//! operation is adding an entry, and nothing can be decoded that cannot be
//! encoded, or named that cannot be decoded.

/// Declares an enum of operations and its codec; see the module docs.
macro_rules! operations {
    (
        $(#[$enum_meta:meta])*
        pub enum $Enum:ident {
            $(
                $(#[$meta:meta])*
                $Variant:ident = $name:literal {
                    $(
                        $(#[$field_meta:meta])*
                        $field:ident : $Type:ty $(= $default:expr)?
                    ),* $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$enum_meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        pub enum $Enum {
            $(
                $(#[$meta])*
                $Variant { $( $(#[$field_meta])* $field: $Type ),* }
            ),*
        }

        impl $Enum {
            /// The `op` of every operation of this table, in table order.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// This operation's `op` on the wire.
            pub fn name(&self) -> &'static str {
                match self {
                    $( $Enum::$Variant { .. } => $name ),*
                }
            }

            /// This operation's place in [`Self::NAMES`] (for counters kept
            /// by operation).
            pub fn index(&self) -> usize {
                /// The variants in table order: their discriminants are the
                /// places.
                #[allow(dead_code)]
                enum Place { $($Variant),* }
                match self {
                    $( $Enum::$Variant { .. } => Place::$Variant as usize ),*
                }
            }

            /// The request fields operation `op` takes (beyond `id`, `op`
            /// and, for a room operation, `room`); `None` for an `op` not
            /// in this table.
            pub fn fields_of(op: &str) -> Option<Vec<&'static str>> {
                match op {
                    $(
                        $name => {
                            #[allow(unused_mut)]
                            let mut names: Vec<&'static str> = Vec::new();
                            $( names.extend(
                                <$Type as $crate::request::fields::WireField>::names(stringify!($field))
                            ); )*
                            Some(names)
                        }
                    )*
                    _ => None,
                }
            }

            /// Reads operation `op` from a request's fields; `None` for an
            /// `op` not in this table.
            pub(crate) fn decode(
                op: &str,
                fields: &mut $crate::request::fields::Fields<'_, '_>,
            ) -> Option<$crate::request::fields::Field<$Enum>> {
                match op {
                    $(
                        $name => {
                            #[allow(unused_variables)]
                            fn read(
                                fields: &mut $crate::request::fields::Fields<'_, '_>,
                            ) -> $crate::request::fields::Field<$Enum> {
                                Ok($Enum::$Variant {
                                    $( $field: $crate::request::table::field!(fields, $field, $Type $(, $default)?) ),*
                                })
                            }
                            Some(read(fields))
                        }
                    )*
                    _ => None,
                }
            }

            /// Writes this operation's fields (not `op`).
            #[allow(unused_variables)]
            pub(crate) fn encode(&self, fields: &mut $crate::msgpack::FieldWriter) {
                match self {
                    $(
                        $Enum::$Variant { $($field),* } => {
                            $( $crate::request::fields::WireField::encode($field, fields, stringify!($field)); )*
                        }
                    ),*
                }
            }
        }
    };
}

/// Reads one field of a table entry: required or optional by its type,
/// or its default when absent.
macro_rules! field {
    ($fields:ident, $field:ident, $Type:ty) => {
        <$Type as $crate::request::fields::WireField>::decode($fields, stringify!($field))?
    };
    ($fields:ident, $field:ident, $Type:ty, $default:expr) => {
        <Option<$Type> as $crate::request::fields::WireField>::decode($fields, stringify!($field))?
            .unwrap_or_else(|| $default)
    };
}

pub(crate) use {field, operations};
