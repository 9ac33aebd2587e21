//! MessagePack values shown to people as JSON, and read back from JSON.
//!
//! JSON has no binary, extension, float32 or non-finite numbers, and only
//! string keys, so those are written with `$` markers that read back to
//! the same value:
//!
//! | MessagePack | JSON |
//! | --- | --- |
//! | binary | `{"$bin": "<base64>"}` |
//! | extension | `{"$ext": [type, "<base64>"]}` |
//! | float32 | `{"$f32": 1.5}` |
//! | NaN, ±infinity | `{"$float": "NaN"}`, `"inf"`, `"-inf"` |
//! | map with a non-string key | `{"$map": [[key, value], …]}` |

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value as Json, json};

use crate::Value;

/// A value as JSON, with `$` markers for what JSON cannot hold.
///
/// # Examples
///
/// ```
/// use vampire_protocol::Value;
/// use vampire_protocol::json::{from_json, to_json};
///
/// let value = Value::Array(vec![Value::Binary(vec![1, 2]), Value::F64(f64::INFINITY)]);
/// let shown = to_json(&value);
/// assert_eq!(shown, serde_json::json!([{"$bin": "AQI="}, {"$float": "inf"}]));
/// assert_eq!(from_json(&shown), value);
/// ```
pub fn to_json(value: &Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(n) => match (n.as_u64(), n.as_i64()) {
            (Some(n), _) => json!(n),
            (None, Some(n)) => json!(n),
            _ => Json::Null,
        },
        Value::F32(x) if x.is_finite() => json!({ "$f32": x }),
        Value::F32(x) => non_finite(f64::from(*x)),
        Value::F64(x) if x.is_finite() => json!(x),
        Value::F64(x) => non_finite(*x),
        Value::String(s) => match s.as_str() {
            Some(text) => Json::String(text.to_owned()),
            None => json!({ "$bin": STANDARD.encode(s.as_bytes()) }),
        },
        Value::Binary(bytes) => json!({ "$bin": STANDARD.encode(bytes) }),
        Value::Ext(kind, bytes) => json!({ "$ext": [kind, STANDARD.encode(bytes)] }),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| k.is_str()) {
                let map: Map<String, Json> = entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), to_json(v)))
                    .collect();
                Json::Object(map)
            } else {
                let pairs = entries.iter().map(|(k, v)| json!([to_json(k), to_json(v)]));
                json!({ "$map": pairs.collect::<Vec<_>>() })
            }
        }
    }
}

fn non_finite(x: f64) -> Json {
    let text = if x.is_nan() {
        "NaN"
    } else if x > 0.0 {
        "inf"
    } else {
        "-inf"
    };
    json!({ "$float": text })
}

/// A value from JSON, reading the `$` markers of [`to_json`]. Integers stay
/// integers; other numbers become float64.
pub fn from_json(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(n), _, _) => Value::from(n),
            (None, Some(n), _) => Value::from(n),
            (_, _, Some(x)) => Value::F64(x),
            _ => Value::Nil,
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(from_json).collect()),
        Json::Object(map) => marked(map).unwrap_or_else(|| {
            Value::Map(map.iter().map(|(k, v)| (Value::from(k.as_str()), from_json(v))).collect())
        }),
    }
}

/// The value a one-key `$` marker object stands for, if it is one.
fn marked(map: &Map<String, Json>) -> Option<Value> {
    if map.len() != 1 {
        return None;
    }
    let (key, inner) = map.iter().next()?;
    match (key.as_str(), inner) {
        ("$bin", Json::String(b64)) => STANDARD.decode(b64).ok().map(Value::Binary),
        ("$f32", Json::Number(n)) => n.as_f64().map(|x| Value::F32(x as f32)),
        ("$float", Json::String(text)) => match text.as_str() {
            "NaN" => Some(Value::F64(f64::NAN)),
            "inf" => Some(Value::F64(f64::INFINITY)),
            "-inf" => Some(Value::F64(f64::NEG_INFINITY)),
            _ => None,
        },
        ("$ext", Json::Array(parts)) => match parts.as_slice() {
            [Json::Number(kind), Json::String(b64)] => {
                let kind = i8::try_from(kind.as_i64()?).ok()?;
                STANDARD.decode(b64).ok().map(|bytes| Value::Ext(kind, bytes))
            }
            _ => None,
        },
        ("$map", Json::Array(pairs)) => pairs
            .iter()
            .map(|pair| match pair {
                Json::Array(kv) if kv.len() == 2 => Some((from_json(&kv[0]), from_json(&kv[1]))),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(Value::Map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_values_read_back_to_themselves() {
        for value in [
            Value::Binary(vec![0, 1, 255]),
            Value::Ext(-5, vec![7]),
            Value::F32(2.5),
            Value::F64(f64::INFINITY),
            Value::from(u64::MAX),
            Value::from(i64::MIN),
            Value::Map(vec![(Value::from(1), Value::from("one"))]),
        ] {
            assert_eq!(from_json(&to_json(&value)), value, "{}", to_json(&value));
        }
        assert!(matches!(from_json(&to_json(&Value::F64(f64::NAN))), Value::F64(x) if x.is_nan()));
    }
}
