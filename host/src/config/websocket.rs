//! `websocket`: who may open the WebSocket port (`enableWebSocket`,
//! `wsPort`), for browser clients.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::config::checks::name;

/// `websocket`: settings of the WebSocket port beyond its number. Every
/// limit, timeout and rate of `limits` applies there as on TCP.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebSocketConfig {
    /// Origins (`scheme://host[:port]`, as browsers send them in the
    /// `Origin` header) whose pages may connect; an upgrade from any other
    /// origin, or with none, is refused with 403. A browser sends its
    /// page's origin and a page cannot forge it, so this keeps other sites'
    /// pages from using a visitor's browser as a client. Default empty:
    /// any origin, and clients that send none (native clients).
    pub allowed_origins: Vec<String>,
}

impl WebSocketConfig {
    /// Whether a client whose upgrade carried `origin` may connect.
    pub fn allows(&self, origin: Option<&[u8]>) -> bool {
        if self.allowed_origins.is_empty() {
            return true;
        }
        origin.is_some_and(|origin| {
            self.allowed_origins
                .iter()
                .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin))
        })
    }

    /// Checks that every allowed origin has the form browsers send.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `websocket.allowedOrigins` for an
    /// entry that is not `http://` or `https://` followed by a host (and
    /// port), with nothing after it: a trailing `/` or a path would never
    /// match.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        for allowed in &self.allowed_origins {
            let host = allowed.strip_prefix("https://").or_else(|| allowed.strip_prefix("http://"));
            let well_formed = host.is_some_and(|host| {
                !host.is_empty() && !host.contains(['/', '?', '#', ' ']) && !host.ends_with(':')
            });
            if !well_formed {
                return Err(ConfigError::invalid(
                    origin,
                    name!("websocket", allowed_origins),
                    format!("{allowed:?} is not an origin like \"https://game.example.com\""),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> WebSocketConfig {
        WebSocketConfig { allowed_origins: list.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn no_list_allows_every_origin_and_none() {
        let config = WebSocketConfig::default();
        assert!(config.allows(Some(b"https://evil.example")));
        assert!(config.allows(None));
    }

    #[test]
    fn a_list_allows_its_origins_only_and_not_a_missing_one() {
        let config = origins(&["https://game.example.com", "http://localhost:8080"]);
        assert!(config.allows(Some(b"https://game.example.com")));
        assert!(config.allows(Some(b"HTTP://LOCALHOST:8080")));
        assert!(!config.allows(Some(b"https://game.example.com.evil.example")));
        assert!(!config.allows(None));
    }

    #[test]
    fn malformed_origins_are_refused_by_name() {
        for bad in ["game.example.com", "https://game.example.com/", "https://", "ftp://x"] {
            let err = origins(&[bad]).validate("t").unwrap_err().to_string();
            assert!(err.contains("websocket.allowedOrigins"), "{err}");
        }
        origins(&["https://a.example", "http://127.0.0.1:8080"]).validate("t").unwrap();
    }
}
