//! [`Payload`]: one MessagePack value carried as its bytes; [`Value`],
//! one built or inspected by a program.

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::msgpack::{self, MAX_NESTING, ValueError};

/// A dynamically typed MessagePack value, for programs that build or
/// inspect values (clients, tests, the SDK); the server carries
/// [`Payload`]s.
pub type Value = rmpv::Value;

/// One MessagePack value, held as the bytes its sender wrote.
///
/// Message data, variable values, method arguments and results and room
/// metadata are payloads: the server checks them once (well-formed, UTF-8
/// strings, nested at most [`MAX_NESTING`] levels) and then copies their
/// bytes into outgoing frames without rebuilding them, so every kind of
/// value (binary, extensions, float32, NaN, every 64-bit integer, maps
/// with any keys) reaches other clients exactly as it was sent.
///
/// Cloning is cheap (a reference count). Equality compares bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Payload(Bytes);

/// Why a value could not be turned into a payload or read back.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The bytes are not one acceptable MessagePack value.
    #[error(transparent)]
    Invalid(#[from] ValueError),
    /// serde could not encode the value.
    #[error("cannot encode as MessagePack: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// serde could not decode the value into the requested type.
    #[error("cannot decode: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
}

impl Payload {
    /// The nil value.
    pub fn nil() -> Payload {
        Payload(Bytes::from_static(&[0xc0]))
    }

    /// Checks `bytes` and wraps them.
    ///
    /// # Errors
    /// When `bytes` is not exactly one well-formed value nested at most
    /// [`MAX_NESTING`] levels.
    pub fn from_bytes(bytes: Bytes) -> Result<Payload, ValueError> {
        msgpack::validate(&bytes, MAX_NESTING)?;
        Ok(Payload(bytes))
    }

    /// Wraps bytes the caller has already validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Payload {
        Payload(bytes)
    }

    /// Encodes a dynamic value.
    pub fn from_value(value: &Value) -> Payload {
        let mut bytes = Vec::with_capacity(16);
        // Writing into a Vec cannot fail.
        let _ = rmpv::encode::write_value(&mut bytes, value);
        Payload(bytes.into())
    }

    /// Encodes any serde value (structs become maps keyed by field name).
    ///
    /// # Errors
    /// When serde cannot encode it, or it nests deeper than
    /// [`MAX_NESTING`].
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Payload, PayloadError> {
        let bytes = rmp_serde::to_vec_named(value)?;
        Ok(Payload::from_bytes(bytes.into())?)
    }

    /// Decodes into a dynamic value.
    pub fn to_value(&self) -> Value {
        // A validated payload always decodes.
        rmpv::decode::read_value(&mut &self.0[..]).unwrap_or(Value::Nil)
    }

    /// Decodes into a serde type.
    ///
    /// # Errors
    /// When the value does not fit `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        Ok(rmp_serde::from_slice(&self.0)?)
    }

    /// Whether this is nil.
    pub fn is_nil(&self) -> bool {
        self.0[..] == [0xc0]
    }

    /// The MessagePack bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The MessagePack bytes, shared.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length of the encoded value in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a value takes at least one byte.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Default for Payload {
    fn default() -> Payload {
        Payload::nil()
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_value())
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Payload {
        Payload::from_value(&value)
    }
}

impl From<&Value> for Payload {
    fn from(value: &Value) -> Payload {
        Payload::from_value(value)
    }
}

/// A payload travels through serde (between the nodes of a cluster) as
/// its bytes, checked again when read.
impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        struct PayloadBytes;
        impl<'de> serde::de::Visitor<'de> for PayloadBytes {
            type Value = Payload;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the bytes of one MessagePack value")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Payload, E> {
                Payload::from_bytes(Bytes::copy_from_slice(bytes)).map_err(E::custom)
            }
            fn visit_byte_buf<E: serde::de::Error>(self, bytes: Vec<u8>) -> Result<Payload, E> {
                Payload::from_bytes(bytes.into()).map_err(E::custom)
            }
        }
        deserializer.deserialize_bytes(PayloadBytes)
    }
}

macro_rules! payload_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Payload {
            fn from(value: $t) -> Payload {
                Payload::from_value(&Value::from(value))
            }
        }
    )*};
}
payload_from!(bool, i32, i64, u32, u64, f32, f64, &str, String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_exact_kind() {
        for value in [
            Value::F32(1.5),
            Value::F64(f64::INFINITY),
            Value::Binary(vec![0, 255]),
            Value::Ext(7, vec![1, 2]),
            Value::from(u64::MAX),
            Value::from(i64::MIN),
        ] {
            let payload = Payload::from_value(&value);
            assert_eq!(payload.to_value(), value);
            let again = Payload::from_bytes(payload.clone().into_bytes()).unwrap();
            assert_eq!(again, payload);
        }
        let nan = Payload::from(f64::NAN);
        assert!(matches!(nan.to_value(), Value::F64(x) if x.is_nan()));
    }

    #[test]
    fn a_payload_goes_through_serde_as_its_bytes_and_is_checked_again() {
        let payload = Payload::from(Value::Binary(vec![1, 2, 3]));
        let encoded = rmp_serde::to_vec(&payload).unwrap();
        assert_eq!(rmp_serde::from_slice::<Payload>(&encoded).unwrap(), payload);
        let broken = rmp_serde::to_vec(&serde_bytes_of(&[0xc1])).unwrap();
        assert!(rmp_serde::from_slice::<Payload>(&broken).is_err());
    }

    fn serde_bytes_of(bytes: &[u8]) -> Payload {
        Payload(Bytes::copy_from_slice(bytes))
    }
}
