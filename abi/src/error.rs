//! [`AbiError`]: why a hook's input or reply could not be read.

use vampire_msgpack::{Mismatch, ValueError};

/// Why an input or reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiError(pub String);

impl std::fmt::Display for AbiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AbiError {}

impl From<Mismatch> for AbiError {
    fn from(mismatch: Mismatch) -> AbiError {
        AbiError(mismatch.to_string())
    }
}

impl From<ValueError> for AbiError {
    fn from(err: ValueError) -> AbiError {
        AbiError(err.to_string())
    }
}
