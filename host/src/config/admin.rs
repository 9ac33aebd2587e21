//! `admin`: the operators' HTTP listener (metrics, the admin API, the
//! monitor page, health and drain). Off unless the section is given.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::checks::positive;

/// Default of [`AdminConfig::bind_address`]: this machine only.
pub const DEFAULT_ADMIN_BIND_ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
/// Default of [`AdminConfig::port`].
pub const DEFAULT_ADMIN_PORT: u16 = 7779;
/// Default of [`AdminConfig::drain_timeout_secs`].
pub const DEFAULT_DRAIN_TIMEOUT_SECS: u64 = 300;
/// Default of [`AdminConfig::max_connections`].
pub const DEFAULT_ADMIN_MAX_CONNECTIONS: usize = 64;
/// Default of [`AdminConfig::request_timeout_secs`].
pub const DEFAULT_ADMIN_REQUEST_TIMEOUT_SECS: u64 = 10;
/// Default of [`AdminConfig::max_body_bytes`].
pub const DEFAULT_ADMIN_MAX_BODY_BYTES: usize = 65_536;

/// `admin`: the operators' HTTP listener.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Address the listener binds to. Default
    /// [`DEFAULT_ADMIN_BIND_ADDRESS`]: reachable from this machine only.
    pub bind_address: IpAddr,
    /// Port of the listener; `0` picks a free one (logged). Default
    /// [`DEFAULT_ADMIN_PORT`].
    pub port: u16,
    /// A file holding the admin token (one trailing newline ignored):
    /// `Authorization: Bearer TOKEN` opens the admin API. With `auth.mode`
    /// `jwt`, a token with the operator role does too. Default none.
    pub token_file: Option<PathBuf>,
    /// Serve `/metrics` without a token (to a Prometheus on a private
    /// network). Default `false`.
    pub metrics_public: bool,
    /// How long a drain waits for the node's rooms to empty before it
    /// tells their members the server is going and exits. Default
    /// [`DEFAULT_DRAIN_TIMEOUT_SECS`].
    #[serde(deserialize_with = "positive")]
    pub drain_timeout_secs: u64,
    /// Admin connections served at once; more are closed at once.
    /// Default [`DEFAULT_ADMIN_MAX_CONNECTIONS`].
    #[serde(deserialize_with = "positive")]
    pub max_connections: usize,
    /// How long one admin request (its headers, body and answer) may take;
    /// a slower client is dropped. Default
    /// [`DEFAULT_ADMIN_REQUEST_TIMEOUT_SECS`].
    #[serde(deserialize_with = "positive")]
    pub request_timeout_secs: u64,
    /// Largest request body accepted, in bytes; a larger one is refused
    /// with 413. Default [`DEFAULT_ADMIN_MAX_BODY_BYTES`].
    #[serde(deserialize_with = "positive")]
    pub max_body_bytes: usize,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            bind_address: DEFAULT_ADMIN_BIND_ADDRESS,
            port: DEFAULT_ADMIN_PORT,
            token_file: None,
            metrics_public: false,
            drain_timeout_secs: DEFAULT_DRAIN_TIMEOUT_SECS,
            max_connections: DEFAULT_ADMIN_MAX_CONNECTIONS,
            request_timeout_secs: DEFAULT_ADMIN_REQUEST_TIMEOUT_SECS,
            max_body_bytes: DEFAULT_ADMIN_MAX_BODY_BYTES,
        }
    }
}

impl AdminConfig {
    /// [`AdminConfig::drain_timeout_secs`] as a duration.
    pub fn drain_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.drain_timeout_secs)
    }

    /// [`AdminConfig::request_timeout_secs`] as a duration.
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs)
    }

    /// The admin token, from `tokenFile`, if one is configured.
    ///
    /// # Errors
    /// When the file cannot be read or holds an empty token.
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        let Some(path) = &self.token_file else { return Ok(None) };
        let text = std::fs::read_to_string(path).map_err(|err| {
            anyhow::anyhow!("admin.tokenFile: cannot read {}: {err}", path.display())
        })?;
        let token = text.strip_suffix('\n').unwrap_or(&text).to_owned();
        if token.trim().is_empty() {
            anyhow::bail!("admin.tokenFile: {} holds no token", path.display());
        }
        Ok(Some(token))
    }
}
