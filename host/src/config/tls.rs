//! `tls`: the certificate the TCP port presents.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `tls`: the certificate the TCP port presents. Both files are read
/// again on SIGHUP and when they change; files that cannot be read are
/// refused at start (see `crate::server::check_config_files`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}
