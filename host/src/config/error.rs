//! [`ConfigError`]: why a configuration cannot be used.

use std::path::PathBuf;

use thiserror::Error;

/// A configuration that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON is malformed or does not fit the schema (unknown key, wrong
    /// type, a value a field's own rule refuses). The message carries the
    /// field's path and the line and column.
    #[error("{origin}: {field}: {message}")]
    Parse {
        /// Where the JSON came from (a path or "embedded default").
        origin: String,
        /// Dotted path of the offending field (`.` for the document).
        field: String,
        /// serde_json's message, with line and column.
        message: String,
    },
    /// A value is well-typed but not allowed beside the others.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        /// Where the JSON came from.
        origin: String,
        /// Dotted path of the offending field.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// [`ConfigError::Invalid`] for `field` of the configuration from
    /// `origin`.
    pub fn invalid(origin: &str, field: String, message: String) -> ConfigError {
        ConfigError::Invalid { origin: origin.to_owned(), field, message }
    }
}
