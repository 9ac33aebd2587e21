//! Decoding one frame body into a request, with the error a client should
//! get when that fails.

use vampire_protocol::{ErrorCode, Request, RequestFrame};

use crate::error::ApiError;

/// A frame that could not be turned into a request: the id to answer (when
/// one could be read) and why.
#[derive(Debug)]
pub struct Rejected {
    /// The request's id, if the frame had a readable one.
    pub id: Option<u32>,
    /// What is wrong.
    pub error: ApiError,
}

/// Decodes a frame body.
///
/// The body is first read as a generic MessagePack value, so that a known
/// id can be echoed even when the rest is wrong, and so that an unknown
/// `op` (`unknown_operation`) is told apart from bad fields
/// (`invalid_request`).
///
/// # Errors
/// `invalid_frame` when the body is not MessagePack, `invalid_request` when
/// it is not a map with a valid `id` and `op` or a field is missing or of
/// the wrong type, `unknown_operation` for an unknown `op`.
pub fn decode(body: &[u8]) -> Result<RequestFrame, Rejected> {
    let value: serde_json::Value = rmp_serde::from_slice(body).map_err(|err| Rejected {
        id: None,
        error: ApiError::new(ErrorCode::InvalidFrame, format!("frame is not MessagePack: {err}")),
    })?;
    let invalid = |id, message: String| Rejected {
        id,
        error: ApiError::new(ErrorCode::InvalidRequest, message),
    };
    let Some(map) = value.as_object() else {
        return Err(invalid(None, "a request must be a map".to_owned()));
    };
    let id = match map.get("id") {
        None | Some(serde_json::Value::Null) => None,
        Some(id) => Some(id.as_u64().and_then(|id| u32::try_from(id).ok()).ok_or_else(|| {
            invalid(None, format!("id must be an unsigned 32-bit integer, not {id}"))
        })?),
    };
    let op = match map.get("op") {
        Some(serde_json::Value::String(op)) => op,
        Some(other) => return Err(invalid(id, format!("op must be a string, not {other}"))),
        None => return Err(invalid(id, "missing field `op`".to_owned())),
    };
    if !Request::OPS.contains(&op.as_str()) {
        return Err(Rejected {
            id,
            error: ApiError::new(
                ErrorCode::UnknownOperation,
                format!("unknown operation {op:?}; known: {}", Request::OPS.join(", ")),
            ),
        });
    }
    let op = op.clone();
    // `id` is the envelope's, not the operation's: the operation's fields
    // are checked strictly, so a misspelt optional field is an error.
    let mut value = value;
    if let Some(map) = value.as_object_mut() {
        map.remove("id");
    }
    let request: Request = serde_json::from_value(value)
        .map_err(|err| invalid(id, format!("bad `{op}` request: {err}")))?;
    Ok(RequestFrame { id, request })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(value: serde_json::Value) -> Vec<u8> {
        rmp_serde::to_vec_named(&value).unwrap()
    }

    #[test]
    fn decodes_a_join() {
        let frame = decode(&encode(json!({"id": 3, "op": "join", "room": "r1"}))).unwrap();
        assert_eq!(frame.id, Some(3));
        assert_eq!(frame.request, Request::Join { room: "r1".into(), password: None });
    }

    #[test]
    fn tells_unknown_operations_from_bad_fields() {
        let err = decode(&encode(json!({"id": 1, "op": "fly"}))).unwrap_err();
        assert_eq!((err.id, err.error.code), (Some(1), ErrorCode::UnknownOperation));
        let err = decode(&encode(json!({"id": 2, "op": "join", "room": 5}))).unwrap_err();
        assert_eq!((err.id, err.error.code), (Some(2), ErrorCode::InvalidRequest));
        assert!(err.error.message.contains("invalid type"), "{}", err.error.message);
    }

    #[test]
    fn rejects_bytes_that_are_not_messagepack() {
        let err = decode(&[0xc1, 0xff, 0x00]).unwrap_err();
        assert_eq!(err.error.code, ErrorCode::InvalidFrame);
    }
}
