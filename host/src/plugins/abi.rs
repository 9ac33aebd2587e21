//! The host's side of the plugin ABI (`docs/ABI.md`), whose names,
//! version, flags and encodings live in the `vampire-abi` crate: checking
//! a module's exports, and turning a hook's reply into the client's
//! answer.

use bytes::Bytes;
use vampire_abi::reply::{self, GuestCode, Reply};
use vampire_abi::{ABI_VERSION, Hook, exports};
use vampire_protocol::msgpack::{self, MAX_NESTING};
use vampire_protocol::{ErrorCode, Payload};
use wasmtime::{ExternType, Module, ValType};

use crate::error::ApiError;

/// Checks that `module` exports everything the ABI requires, and any
/// optional hook it exports, with the right signatures.
///
/// # Errors
/// A sentence naming the first missing or mistyped export.
pub fn check_exports(module: &Module) -> Result<(), String> {
    use ValType::{I32, I64};
    match module.get_export(exports::MEMORY) {
        Some(ExternType::Memory(_)) => {}
        Some(_) => return Err(format!("export `{}` is not a memory", exports::MEMORY)),
        None => return Err(format!("missing export `{}`", exports::MEMORY)),
    }
    let mut expected: Vec<(&str, bool, Vec<ValType>, Vec<ValType>)> = vec![
        (exports::ABI_VERSION, true, vec![], vec![I32]),
        (exports::ALLOC, true, vec![I32], vec![I32]),
        (exports::DEALLOC, true, vec![I32, I32], vec![]),
    ];
    for hook in Hook::ALL {
        expected.push((hook.export(), hook.required(), vec![I32, I32], vec![I64]));
    }
    for (name, required, params, results) in expected {
        let Some(export) = module.get_export(name) else {
            if required {
                return Err(format!("missing export `{name}`"));
            }
            continue;
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

/// The refusal of a module built for another ABI version, naming both.
pub fn version_mismatch(found: i32) -> String {
    format!("it was built for ABI version {found}; this server speaks version {ABI_VERSION}")
}

/// Decodes a hook's reply: `{"ok": value}` gives the value's bytes as
/// they are; `{"error": {"code", "message"}}` gives the error for the
/// client.
///
/// A guest's code is one of [`GuestCode`] (any other reads as
/// `room_error`).
///
/// # Errors
/// The guest's error, or `plugin_error` when the reply is malformed.
pub fn decode_reply(bytes: &[u8]) -> Result<Payload, ApiError> {
    let malformed = |why: &str| {
        ApiError::new(ErrorCode::PluginError, format!("the plugin's reply is malformed: {why}"))
    };
    msgpack::validate(bytes, MAX_NESTING + 1).map_err(|err| malformed(&err.to_string()))?;
    match reply::read(bytes).map_err(|err| malformed(&err.0))? {
        Reply::Ok(value) => Payload::from_bytes(Bytes::copy_from_slice(value))
            .map_err(|err| malformed(&err.to_string())),
        Reply::Error { code, message } => Err(ApiError::new(error_code(code), message)),
    }
}

/// The protocol's code for what a guest reported.
fn error_code(code: GuestCode) -> ErrorCode {
    match code {
        GuestCode::RoomError => ErrorCode::RoomError,
        GuestCode::NotAuthorized => ErrorCode::NotAuthorized,
        GuestCode::MethodNotFound => ErrorCode::MethodNotFound,
        GuestCode::InvalidRequest => ErrorCode::InvalidRequest,
    }
}
