//! Server configuration: a JSON file, validated, with documented defaults.
//!
//! `config/server.json` is the default and is embedded in the binary
//! ([`DEFAULT_CONFIG_JSON`]), so the server starts with no flag. Its JSON
//! Schema is `config/server.schema.json`. Every key is optional; a missing
//! key takes the default named on its field, a constant of the section's
//! module (a test keeps this file, the schema, the defaults and README's
//! table in step). Unknown keys, wrong types and out-of-range values are
//! errors that name the field.
//!
//! # Layout
//! One module per section, each with its defaults and its own rules:
//! - This module: the top-level keys (addresses, ports, plugins folder,
//!   logging) and [`Config`].
//! - [`limits`]: [`Limits`], what one client, room or plugin may consume.
//! - [`rooms`]: [`DefaultRoomSettings`], what a new room gets.
//! - [`auth`]: [`AuthConfig`], tokens.
//! - [`tls`]: [`TlsConfig`], the certificate.
//! - [`websocket`]: [`WebSocketConfig`], the browsers' port.
//! - [`reconnect`]: [`ReconnectConfig`], sessions that outlive their
//!   connection.
//! - [`cluster`]: [`ClusterConfig`], Redis and this node's place.
//! - [`matchmaking`]: [`MatchmakingConfig`], the matchmaker's queues.
//! - [`admin`]: [`AdminConfig`], the operators' HTTP listener.
//! - [`checks`]: the rules types cannot express, and how rules name
//!   fields.
//! - [`error`]: [`ConfigError`], what is wrong with a configuration.

pub mod admin;
pub mod auth;
pub(crate) mod checks;
pub mod cluster;
pub mod error;
pub mod limits;
pub mod matchmaking;
pub mod reconnect;
pub mod rooms;
pub mod tls;
pub mod websocket;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use admin::AdminConfig;
pub use auth::{AuthConfig, AuthMode, MIN_SECRET_BYTES, SameUserPolicy, TokenAlgorithm};
use checks::name;
pub use cluster::ClusterConfig;
pub use error::ConfigError;
pub use limits::{Limits, MAX_FRAME_BYTES_CEILING, MIN_OUTBOUND_FRAME_MARGIN};
pub use matchmaking::{MatchmakingConfig, QueueConfig};
pub use reconnect::ReconnectConfig;
pub use rooms::{DefaultRoomSettings, VariableBroadcastDefaults};
pub use tls::TlsConfig;
pub use websocket::WebSocketConfig;

/// The default configuration, as shipped in `config/server.json`.
pub const DEFAULT_CONFIG_JSON: &str = include_str!("../../../config/server.json");

/// Default of [`Config::bind_address`]: every IPv4 address.
pub const DEFAULT_BIND_ADDRESS: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
/// Default of [`Config::tcp_port`].
pub const DEFAULT_TCP_PORT: u16 = 7777;
/// Default of [`Config::enable_udp`].
pub const DEFAULT_ENABLE_UDP: bool = true;
/// Default of [`Config::udp_port`].
pub const DEFAULT_UDP_PORT: u16 = 7778;
/// Default of [`Config::enable_web_socket`].
pub const DEFAULT_ENABLE_WEB_SOCKET: bool = true;
/// Default of [`Config::ws_port`].
pub const DEFAULT_WS_PORT: u16 = 7780;
/// Default of [`Config::plugin_cache`].
pub const DEFAULT_PLUGIN_CACHE: bool = true;
/// Default of [`Config::plugins_dir`].
pub const DEFAULT_PLUGINS_DIR: &str = "plugins";
/// Default of [`Config::hot_reload`].
pub const DEFAULT_HOT_RELOAD: bool = true;
/// Default of [`Config::log_level`].
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Default of [`Config::log_format`].
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Text;

pub use crate::logging::LogFormat;

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// Address the TCP (and UDP) sockets bind to. Default
    /// [`DEFAULT_BIND_ADDRESS`].
    pub bind_address: IpAddr,
    /// TCP port; `0` picks any free port (the bound address is logged and
    /// printed). Default [`DEFAULT_TCP_PORT`].
    pub tcp_port: u16,
    /// Whether to open the UDP port for frequent data that may be lost
    /// (clients bind it with `udp_bind`). Default [`DEFAULT_ENABLE_UDP`].
    #[serde(rename = "enableUDP")]
    pub enable_udp: bool,
    /// UDP port, used when `enableUDP` is true; must differ from `tcpPort`;
    /// `0` picks any free port (clients learn it from `udp_bind`). Default
    /// [`DEFAULT_UDP_PORT`].
    pub udp_port: u16,
    /// Whether to open the WebSocket port, for browsers and other clients
    /// without raw TCP: the same protocol, one frame per binary message.
    /// Default [`DEFAULT_ENABLE_WEB_SOCKET`].
    pub enable_web_socket: bool,
    /// WebSocket port (`wss` when `tls` is set), used when
    /// `enableWebSocket` is true; must differ from `tcpPort`; `0` picks any
    /// free port. Default [`DEFAULT_WS_PORT`].
    pub ws_port: u16,
    /// Who may use the WebSocket port. Default: any origin.
    pub websocket: WebSocketConfig,
    /// Folder scanned for `*.wasm` room plugins, relative to the working
    /// directory. Default [`DEFAULT_PLUGINS_DIR`].
    pub plugins_dir: PathBuf,
    /// Watch the plugins folder and load a plugin again when its file
    /// changes, swapping it into live rooms; a new file adds a room type,
    /// a removed one stops new rooms of its type. Default
    /// [`DEFAULT_HOT_RELOAD`].
    pub hot_reload: bool,
    /// Keep plugins' compiled code on disk, so a restart loads them
    /// without compiling again (see [`crate::plugins::cache`]). Default
    /// [`DEFAULT_PLUGIN_CACHE`].
    pub plugin_cache: bool,
    /// Where the compiled code is kept: a folder of this user's alone.
    /// Default `None`: `$XDG_CACHE_HOME/vampiretcp/plugins`, else
    /// `$HOME/.cache/vampiretcp/plugins` (neither set: no cache).
    pub plugin_cache_dir: Option<PathBuf>,
    /// Log filter (`error`, `warn`, `info`, `debug`, `trace`, or a
    /// `tracing` directive list). `RUST_LOG` overrides it. Default
    /// [`DEFAULT_LOG_LEVEL`].
    pub log_level: String,
    /// `text` for people, `json` (one object per line) for log shippers.
    /// Default [`DEFAULT_LOG_FORMAT`].
    pub log_format: LogFormat,
    /// Resource limits.
    pub limits: Limits,
    /// How long a dropped connection's session is held for `resume`.
    /// Default: 30 s, 256 KiB of replay.
    pub reconnect: ReconnectConfig,
    /// The matchmaker's queues. Default none.
    pub matchmaking: MatchmakingConfig,
    /// Settings of a new room where its creator gives none.
    pub default_room_settings: DefaultRoomSettings,
    /// How clients prove who they are. Default: they do not (`mode:
    /// none`).
    pub auth: AuthConfig,
    /// Serve the TCP port over TLS with this certificate and key. Default
    /// none (plain TCP).
    pub tls: Option<TlsConfig>,
    /// Share rooms with other nodes through Redis. Default none (the
    /// server runs alone).
    pub cluster: Option<ClusterConfig>,
    /// Serve metrics, the admin API and the monitor page on an HTTP port
    /// of their own. Default none (off).
    pub admin: Option<AdminConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind_address: DEFAULT_BIND_ADDRESS,
            tcp_port: DEFAULT_TCP_PORT,
            enable_udp: DEFAULT_ENABLE_UDP,
            udp_port: DEFAULT_UDP_PORT,
            enable_web_socket: DEFAULT_ENABLE_WEB_SOCKET,
            ws_port: DEFAULT_WS_PORT,
            websocket: WebSocketConfig::default(),
            plugins_dir: PathBuf::from(DEFAULT_PLUGINS_DIR),
            hot_reload: DEFAULT_HOT_RELOAD,
            plugin_cache: DEFAULT_PLUGIN_CACHE,
            plugin_cache_dir: None,
            log_level: DEFAULT_LOG_LEVEL.to_owned(),
            log_format: DEFAULT_LOG_FORMAT,
            limits: Limits::default(),
            reconnect: ReconnectConfig::default(),
            matchmaking: MatchmakingConfig::default(),
            default_room_settings: DefaultRoomSettings::default(),
            auth: AuthConfig::default(),
            tls: None,
            cluster: None,
            admin: None,
        }
    }
}

impl Config {
    /// The folder compiled plugins are kept in, when the cache is on and a
    /// folder can be named.
    pub fn plugin_cache_folder(&self) -> Option<PathBuf> {
        if !self.plugin_cache {
            return None;
        }
        if let Some(folder) = &self.plugin_cache_dir {
            return Some(folder.clone());
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
        Some(base.join("vampiretcp").join("plugins"))
    }

    /// The embedded default configuration.
    ///
    /// # Panics
    /// Never in a released build: a test checks that the embedded file is
    /// valid.
    pub fn embedded_default() -> Config {
        Config::from_json(DEFAULT_CONFIG_JSON, "embedded default")
            .expect("the embedded config/server.json is valid")
    }

    /// Reads and validates the configuration file at `path`.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file cannot be read, and the errors of
    /// [`Config::from_json`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::from_json(&text, &path.display().to_string())
    }

    /// Parses and validates configuration JSON. `origin` names the source in
    /// error messages.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] for malformed JSON (with line and column), an
    /// unknown key, a wrong type or a value its field refuses (a zero
    /// limit); [`ConfigError::Invalid`] for values that contradict each
    /// other (see [`Config::validate`]).
    pub fn from_json(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let config: Config =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
                ConfigError::Parse {
                    origin: origin.to_owned(),
                    field: err.path().to_string(),
                    message: err.inner().to_string(),
                }
            })?;
        deserializer.end().map_err(|err| ConfigError::Parse {
            origin: origin.to_owned(),
            field: ".".to_owned(),
            message: err.to_string(),
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Checks the rules between fields, section by section.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first offending field: `udpPort`
    /// equal to a non-zero `tcpPort` while UDP is on, `wsPort` likewise
    /// while WebSocket is on, a `logLevel` that is
    /// not a filter, or a section's own rules ([`Limits::validate`],
    /// [`DefaultRoomSettings::validate`], [`ClusterConfig::validate`],
    /// [`AuthConfig::validate`]).
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        if self.enable_udp && self.tcp_port != 0 && self.udp_port == self.tcp_port {
            return Err(ConfigError::invalid(
                origin,
                name!("", udp_port),
                format!("must differ from tcpPort ({}) when enableUDP is true", self.tcp_port),
            ));
        }
        if self.enable_web_socket && self.ws_port != 0 && self.ws_port == self.tcp_port {
            return Err(ConfigError::invalid(
                origin,
                name!("", ws_port),
                format!(
                    "must differ from tcpPort ({}) when enableWebSocket is true",
                    self.tcp_port
                ),
            ));
        }
        if let Err(err) = crate::logging::parse_filter(&self.log_level) {
            let why = format!("not a log filter: {err}");
            return Err(ConfigError::invalid(origin, name!("", log_level), why));
        }
        self.limits.validate(origin)?;
        self.websocket.validate(origin)?;
        self.matchmaking.validate(&self.limits, origin)?;
        self.default_room_settings.validate(&self.limits, origin)?;
        if let Some(cluster) = &self.cluster {
            cluster.validate(origin)?;
        }
        self.auth.validate(origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid_and_equals_the_documented_defaults() {
        assert_eq!(Config::embedded_default(), Config::default());
    }

    #[test]
    fn empty_object_takes_every_default() {
        assert_eq!(Config::from_json("{}", "t").unwrap(), Config::default());
    }

    fn error_of(json: &str) -> String {
        Config::from_json(json, "t").unwrap_err().to_string()
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let err = error_of("{\n  \"tcpPort\": 7777,\n  oops\n}");
        assert!(err.contains("line 3 column 3"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let err = error_of(r#"{"limits": {"maxFrameByte": 10}}"#);
        assert!(err.contains("limits"), "{err}");
        assert!(err.contains("unknown field `maxFrameByte`"), "{err}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = error_of(r#"{"defaultRoomSettings": {"public": "yes"}}"#);
        assert!(err.contains("defaultRoomSettings.public"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn ports_outside_the_range_are_refused() {
        let err = error_of(r#"{"tcpPort": 70000}"#);
        assert!(err.contains("tcpPort"), "{err}");
        let err = error_of(r#"{"udpPort": -1}"#);
        assert!(err.contains("udpPort"), "{err}");
        assert_eq!(Config::from_json(r#"{"tcpPort": 0}"#, "t").unwrap().tcp_port, 0);
    }

    #[test]
    fn udp_port_must_differ_from_tcp_port_when_udp_is_on() {
        let err = error_of(r#"{"enableUDP": true, "tcpPort": 9000, "udpPort": 9000}"#);
        assert!(err.contains("udpPort"), "{err}");
        Config::from_json(r#"{"enableUDP": false, "tcpPort": 9000, "udpPort": 9000}"#, "t")
            .unwrap();
    }

    #[test]
    fn out_of_range_limits_name_the_field() {
        assert!(error_of(r#"{"limits": {"maxFrameBytes": 1}}"#).contains("limits.maxFrameBytes"));
        assert!(error_of(r#"{"limits": {"roomMailbox": 0}}"#).contains("limits.roomMailbox"));
        assert!(
            error_of(r#"{"defaultRoomSettings": {"maxClients": 5000}}"#)
                .contains("defaultRoomSettings.maxClients")
        );
        assert!(error_of(r#"{"logLevel": "info,=,x=y=z"}"#).contains("logLevel"));
    }

    /// The schema and the default file describe the same keys, with the
    /// same defaults.
    #[test]
    fn the_json_schema_matches_the_default_config() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../config/server.schema.json")).unwrap();
        let defaults: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
        fn compare(schema: &serde_json::Value, defaults: &serde_json::Value, path: &str) {
            let properties = schema["properties"].as_object().unwrap();
            let keys = defaults.as_object().unwrap();
            let mut schema_keys: Vec<_> = properties.keys().collect();
            let mut default_keys: Vec<_> = keys.keys().collect();
            schema_keys.sort();
            default_keys.sort();
            assert_eq!(schema_keys, default_keys, "keys of {path}");
            for (key, value) in keys {
                let property = &properties[key];
                if value.is_object() {
                    compare(property, value, &format!("{path}.{key}"));
                } else {
                    assert_eq!(&property["default"], value, "default of {path}.{key}");
                }
            }
        }
        compare(&schema, &defaults, "");
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(error_of("{} {").contains("line 1"));
    }

    /// Every key of the schema, as dotted paths.
    fn schema_keys() -> Vec<String> {
        fn walk(schema: &serde_json::Value, path: &str, keys: &mut Vec<String>) {
            let Some(properties) = schema["properties"].as_object() else { return };
            for (key, property) in properties {
                let dotted = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                walk(property, &dotted, keys);
                keys.push(dotted);
            }
        }
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../../config/server.schema.json")).unwrap();
        let mut keys = Vec::new();
        walk(&schema, "", &mut keys);
        keys
    }

    /// The field an error names.
    fn field_of(err: ConfigError) -> String {
        match err {
            ConfigError::Parse { field, .. } | ConfigError::Invalid { field, .. } => field,
            ConfigError::Read { .. } => unreachable!("nothing is read from a file here"),
        }
    }

    /// A limit of 0 is refused, naming the field, for every limit but the
    /// three where 0 means something (a room disposed at once, four
    /// plugin threads per CPU).
    #[test]
    fn every_zero_limit_is_refused_by_its_own_name() {
        let defaults = serde_json::to_value(Limits::default()).unwrap();
        let keys = schema_keys();
        for key in defaults.as_object().unwrap().keys() {
            let json = format!(r#"{{"limits": {{"{key}": 0}}}}"#);
            let outcome = Config::from_json(&json, "t");
            if ["pluginThreads", "unjoinedRoomTimeoutSecs", "orphanRoomTimeoutSecs"]
                .contains(&key.as_str())
            {
                assert!(outcome.is_ok(), "{key}: {outcome:?}");
                continue;
            }
            let field = field_of(outcome.unwrap_err());
            assert_eq!(field, format!("limits.{key}"));
            assert!(keys.contains(&field), "{field} is not in the schema");
        }
    }

    /// Every rule between fields names a field the schema has.
    #[test]
    fn every_rule_between_fields_names_a_key_of_the_schema() {
        let cluster = r#""cluster": {"redisUrl": "redis://r:6379", "advertiseAddress": "h:1""#;
        let cases = [
            (r#"{"udpPort": 7777}"#.to_owned(), "udpPort"),
            (r#"{"logLevel": "info,=,x=y=z"}"#.to_owned(), "logLevel"),
            (r#"{"limits": {"maxFrameBytes": 10}}"#.to_owned(), "limits.maxFrameBytes"),
            (
                r#"{"limits": {"maxOutboundFrameBytes": 1000}}"#.to_owned(),
                "limits.maxOutboundFrameBytes",
            ),
            (r#"{"limits": {"outboundQueueBytes": 1000}}"#.to_owned(), "limits.outboundQueueBytes"),
            (
                r#"{"limits": {"unreliableQueueBytes": 99999999}}"#.to_owned(),
                "limits.unreliableQueueBytes",
            ),
            (
                r#"{"limits": {"maxListedMetadataBytes": 99999999}}"#.to_owned(),
                "limits.maxListedMetadataBytes",
            ),
            (r#"{"limits": {"maxVariableBytes": 99999999}}"#.to_owned(), "limits.maxVariableBytes"),
            (r#"{"limits": {"pluginCpuPercent": 101}}"#.to_owned(), "limits.pluginCpuPercent"),
            (
                r#"{"limits": {"pluginMemoryTotalBytes": 1}}"#.to_owned(),
                "limits.pluginMemoryTotalBytes",
            ),
            (
                r#"{"defaultRoomSettings": {"maxClients": 5000}}"#.to_owned(),
                "defaultRoomSettings.maxClients",
            ),
            (r#"{"auth": {"mode": "jwt"}}"#.to_owned(), "auth.secret"),
            (r#"{"auth": {"mode": "jwt", "secret": "short"}}"#.to_owned(), "auth.secret"),
            (r#"{"auth": {"mode": "jwt", "algorithm": "EdDSA"}}"#.to_owned(), "auth.publicKeyFile"),
            (format!(r#"{{{cluster}, "nodeId": "a-b"}}}}"#), "cluster.nodeId"),
            (
                r#"{"cluster": {"redisUrl": "http://r", "advertiseAddress": "h:1"}}"#.to_owned(),
                "cluster.redisUrl",
            ),
            (
                r#"{"cluster": {"redisUrl": "redis://r", "advertiseAddress": "h"}}"#.to_owned(),
                "cluster.advertiseAddress",
            ),
            (
                format!(r#"{{{cluster}, "advertiseWsAddress": ":7780"}}}}"#),
                "cluster.advertiseWsAddress",
            ),
            (format!(r#"{{{cluster}, "keyPrefix": ""}}}}"#), "cluster.keyPrefix"),
            (format!(r#"{{{cluster}, "nodeTtlMs": 10}}}}"#), "cluster.nodeTtlMs"),
            (format!(r#"{{{cluster}, "requestTimeoutMs": 0}}}}"#), "cluster.requestTimeoutMs"),
        ];
        let keys = schema_keys();
        for (json, expected) in cases {
            let field = field_of(Config::from_json(&json, "t").unwrap_err());
            assert_eq!(field, expected, "{json}");
            assert!(keys.contains(&field), "{field} is not in the schema");
        }
    }

    /// README's configuration table gives every key with the default the
    /// code has.
    #[test]
    fn the_readme_table_lists_every_key_with_its_default() {
        fn flatten(
            value: &serde_json::Value,
            path: &str,
            out: &mut Vec<(String, serde_json::Value)>,
        ) {
            match value.as_object() {
                Some(map) => {
                    for (key, inner) in map {
                        let dotted =
                            if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                        flatten(inner, &dotted, out);
                    }
                }
                None => out.push((path.to_owned(), value.clone())),
            }
        }
        let readme = include_str!("../../../README.md");
        let mut documented = std::collections::HashMap::new();
        for row in readme.lines().filter(|line| line.starts_with("| `")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let default = cells[2].trim_matches('`');
            for key in cells[1].split(" / ") {
                documented.insert(key.trim_matches('`').to_owned(), default.to_owned());
            }
        }
        let mut defaults = Vec::new();
        flatten(&serde_json::to_value(Config::default()).unwrap(), "", &mut defaults);
        for (key, value) in defaults {
            let cell = documented.get(&key).unwrap_or_else(|| panic!("README lacks {key}"));
            let written = if value.is_null() && cell == "none" {
                serde_json::Value::Null
            } else {
                serde_json::from_str(cell).unwrap_or_else(|_| panic!("{key}: {cell} is not JSON"))
            };
            assert_eq!(written, value, "README's default of {key}");
        }
    }
}
