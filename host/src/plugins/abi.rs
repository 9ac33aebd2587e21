//! The host/guest contract (`docs/ABI.md`): names, signatures, the version,
//! and the encoding of what crosses the boundary.

use bytes::Bytes;
use vampire_protocol::error::quote;
use vampire_protocol::msgpack::{self, MAX_NESTING, Reader};
use vampire_protocol::{ErrorCode, Payload};
use wasmtime::{ExternType, Module, ValType};

use crate::error::ApiError;

/// The ABI version this host speaks; a module must export
/// `vampire_abi_version` returning it.
pub const ABI_VERSION: i32 = 1;

/// Module name of every host import.
pub const IMPORT_MODULE: &str = "vampire";

/// The guest's linear memory export.
pub const MEMORY: &str = "memory";
/// `() -> i32`: the module's ABI version.
pub const ABI_VERSION_EXPORT: &str = "vampire_abi_version";
/// `(len: i32) -> i32`: a buffer of `len` bytes for the host to fill.
pub const ALLOC: &str = "vampire_alloc";
/// `(ptr: i32, len: i32)`: frees a hook's output.
pub const DEALLOC: &str = "vampire_dealloc";

/// The guest's entry points. Each is `(ptr: i32, len: i32) -> i64`: it
/// takes ownership of an input buffer from `vampire_alloc` holding a
/// MessagePack map, and returns `0` (success, nil) or `(ptr << 32) | len`
/// of a MessagePack reply the host frees with `vampire_dealloc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `vampire_create`
    Create,
    /// `vampire_join`
    Join,
    /// `vampire_leave`
    Leave,
    /// `vampire_invoke`
    Invoke,
    /// `vampire_message`
    Message,
}

impl Hook {
    /// Every hook, in the order of [`Hook::index`].
    pub const ALL: [Hook; 5] = [Hook::Create, Hook::Join, Hook::Leave, Hook::Invoke, Hook::Message];

    /// The export's name.
    pub fn export(self) -> &'static str {
        match self {
            Hook::Create => "vampire_create",
            Hook::Join => "vampire_join",
            Hook::Leave => "vampire_leave",
            Hook::Invoke => "vampire_invoke",
            Hook::Message => "vampire_message",
        }
    }

    /// Position in [`Hook::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Checks that `module` exports everything the ABI requires with the right
/// signatures.
///
/// # Errors
/// A sentence naming the first missing or mistyped export.
pub fn check_exports(module: &Module) -> Result<(), String> {
    use ValType::{I32, I64};
    let mut required: Vec<(&str, Vec<ValType>, Vec<ValType>)> = vec![
        (ABI_VERSION_EXPORT, vec![], vec![I32]),
        (ALLOC, vec![I32], vec![I32]),
        (DEALLOC, vec![I32, I32], vec![]),
    ];
    for hook in Hook::ALL {
        required.push((hook.export(), vec![I32, I32], vec![I64]));
    }
    match module.get_export(MEMORY) {
        Some(ExternType::Memory(_)) => {}
        Some(_) => return Err(format!("export `{MEMORY}` is not a memory")),
        None => return Err(format!("missing export `{MEMORY}`")),
    }
    for (name, params, results) in required {
        let Some(export) = module.get_export(name) else {
            return Err(format!("missing export `{name}`"));
        };
        let ExternType::Func(func) = export else {
            return Err(format!("export `{name}` is not a function"));
        };
        let same = |actual: &mut dyn ExactSizeIterator<Item = ValType>, expected: &[ValType]| {
            actual.len() == expected.len() && actual.zip(expected).all(|(a, e)| ValType::eq(&a, e))
        };
        if !same(&mut func.params(), &params) || !same(&mut func.results(), &results) {
            return Err(format!(
                "export `{name}` has signature {func}, expected (param {params:?}) (result {results:?})"
            ));
        }
    }
    Ok(())
}

/// Splits a hook's packed return value into `(ptr, len)`.
pub fn unpack(packed: i64) -> (u32, u32) {
    ((packed as u64 >> 32) as u32, packed as u32)
}

/// Decodes a hook's reply: `{"ok": value}` gives the value's bytes as
/// they are; `{"error": {"code", "message"}}` gives the error for the
/// client.
///
/// A guest may use the codes `not_authorized`, `method_not_found` and
/// `invalid_request`; any other code becomes `room_error`.
///
/// # Errors
/// The guest's error, or `plugin_error` when the reply is malformed.
pub fn decode_reply(bytes: &[u8]) -> Result<Payload, ApiError> {
    let malformed = |why: &str| {
        ApiError::new(ErrorCode::PluginError, format!("the plugin's reply is malformed: {why}"))
    };
    msgpack::validate(bytes, MAX_NESTING + 1).map_err(|err| malformed(&err.to_string()))?;
    let mut reader = Reader::new(bytes);
    let entries = reader.map_len().map_err(|m| malformed(&m.to_string()))?;
    if entries != 1 {
        return Err(malformed("expected a map with one entry, `ok` or `error`"));
    }
    match reader.str().map_err(|m| malformed(&m.to_string()))? {
        "ok" => {
            let value = reader.raw().map_err(|err| malformed(&err.to_string()))?;
            Ok(Payload::from_bytes(Bytes::copy_from_slice(value))
                .map_err(|err| malformed(&err.to_string()))?)
        }
        "error" => {
            let fields = reader.map_len().map_err(|m| malformed(&m.to_string()))?;
            let (mut code, mut message) = ("", "");
            for _ in 0..fields {
                let key = reader.str().map_err(|m| malformed(&m.to_string()))?;
                match key {
                    "code" => code = reader.str().map_err(|m| malformed(&m.to_string()))?,
                    "message" => message = reader.str().map_err(|m| malformed(&m.to_string()))?,
                    _ => reader.skip().map_err(|err| malformed(&err.to_string()))?,
                }
            }
            let code = match code {
                "not_authorized" => ErrorCode::NotAuthorized,
                "method_not_found" => ErrorCode::MethodNotFound,
                "invalid_request" => ErrorCode::InvalidRequest,
                _ => ErrorCode::RoomError,
            };
            Err(ApiError::new(code, message))
        }
        other => Err(malformed(&format!("unknown reply {}", quote(other)))),
    }
}
