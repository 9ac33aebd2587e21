//! Server configuration: a JSON file, validated, with documented defaults.
//!
//! `config/server.json` is the default and is embedded in the binary
//! ([`DEFAULT_CONFIG_JSON`]), so the server starts with no flag. Its JSON
//! Schema is `config/server.schema.json`. Every key is optional; a missing
//! key takes the default written on its field below. Unknown keys, wrong
//! types and out-of-range values are errors that name the field.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

/// The default configuration, as shipped in `config/server.json`.
pub const DEFAULT_CONFIG_JSON: &str = include_str!("../../config/server.json");

/// Largest frame the server can be configured to accept (16 MiB): a bound
/// on the memory one connection can make the server hold for one frame.
pub const MAX_FRAME_BYTES_CEILING: usize = 16 * 1024 * 1024;

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
    /// type). The message carries the field's path and the line and column.
    #[error("{origin}: {field}: {message}")]
    Parse {
        /// Where the JSON came from (a path or "embedded default").
        origin: String,
        /// Dotted path of the offending field (`.` for the document).
        field: String,
        /// serde_json's message, with line and column.
        message: String,
    },
    /// A value is well-typed but not allowed.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        /// Where the JSON came from.
        origin: String,
        /// Dotted path of the offending field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    /// Address the TCP (and UDP) sockets bind to. Default `0.0.0.0`.
    pub bind_address: IpAddr,
    /// TCP port; `0` picks any free port (the bound address is logged and
    /// printed). Default `7777`.
    pub tcp_port: u16,
    /// Whether to open the UDP port for high-frequency data. Default
    /// `false`.
    #[serde(rename = "enableUDP")]
    pub enable_udp: bool,
    /// UDP port, used when `enableUDP` is true; must differ from `tcpPort`.
    /// Default `7778`.
    pub udp_port: u16,
    /// Folder scanned for `*.wasm` room plugins, relative to the working
    /// directory. Default `plugins`.
    pub plugins_dir: PathBuf,
    /// Log filter (`error`, `warn`, `info`, `debug`, `trace`, or a
    /// `tracing` directive list). `RUST_LOG` overrides it. Default `info`.
    pub log_level: String,
    /// Resource limits.
    pub limits: Limits,
    /// Settings of a new room where its creator gives none.
    pub default_room_settings: DefaultRoomSettings,
}

/// Resource limits: what one client, room or plugin may consume.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Limits {
    /// Connections served at once; one more is told `server_busy` and
    /// closed. Default `10000`.
    pub max_connections: usize,
    /// Rooms alive at once; `create_room` beyond it fails with
    /// `server_busy`. Default `10000`.
    pub max_rooms: usize,
    /// Largest frame body a client may send, in bytes (64 to 16 MiB); a
    /// longer one closes the connection. Default `65536`.
    pub max_frame_bytes: usize,
    /// Upper bound on any room's `max_clients`. Default `1000`.
    pub max_clients_per_room: u32,
    /// Frames queued for one client before it counts as too slow and is
    /// disconnected (`slow_consumer`). Default `4096`.
    pub outbound_queue_frames: usize,
    /// Commands queued for one room before senders wait. Default `4096`.
    pub room_mailbox: usize,
    /// A room nobody has joined this long after its creation is deleted
    /// (when it auto-disposes). Default `60`.
    pub unjoined_room_timeout_secs: u64,
    /// Wall-clock budget of one call into a plugin, in milliseconds; a
    /// call that runs longer is stopped with `plugin_error`. Default `200`.
    pub plugin_call_timeout_ms: u64,
    /// Linear memory one plugin room may grow to, in bytes. Default
    /// `16777216` (16 MiB).
    pub plugin_memory_bytes: usize,
}

/// The seed's `defaultRoomSettings`, plus the other per-room defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DefaultRoomSettings {
    /// New rooms are listed by `list_rooms`. Default `true`.
    pub public: bool,
    /// Member limit of a new room. Default `64`.
    pub max_clients: u32,
    /// A room is deleted when its last member leaves. Default `true`.
    pub auto_dispose: bool,
    /// Variable broadcast policy.
    pub variable_broadcast: VariableBroadcastDefaults,
}

/// The seed's `variableBroadcast` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VariableBroadcastDefaults {
    /// When `false`, rooms broadcast no variable change at all. Default
    /// `true`.
    pub enabled: bool,
    /// Broadcast flag of a new variable whose setter gives none. Default
    /// `true`.
    pub default: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind_address: IpAddr::from([0, 0, 0, 0]),
            tcp_port: 7777,
            enable_udp: false,
            udp_port: 7778,
            plugins_dir: PathBuf::from("plugins"),
            log_level: "info".to_owned(),
            limits: Limits::default(),
            default_room_settings: DefaultRoomSettings::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_rooms: 10_000,
            max_frame_bytes: 65_536,
            max_clients_per_room: 1_000,
            outbound_queue_frames: 4_096,
            room_mailbox: 4_096,
            unjoined_room_timeout_secs: 60,
            plugin_call_timeout_ms: 200,
            plugin_memory_bytes: 16 * 1024 * 1024,
        }
    }
}

impl Default for DefaultRoomSettings {
    fn default() -> Self {
        DefaultRoomSettings {
            public: true,
            max_clients: 64,
            auto_dispose: true,
            variable_broadcast: VariableBroadcastDefaults::default(),
        }
    }
}

impl Default for VariableBroadcastDefaults {
    fn default() -> Self {
        VariableBroadcastDefaults { enabled: true, default: true }
    }
}

impl Limits {
    /// [`Limits::unjoined_room_timeout_secs`] as a duration.
    pub fn unjoined_room_timeout(&self) -> Duration {
        Duration::from_secs(self.unjoined_room_timeout_secs)
    }

    /// [`Limits::plugin_call_timeout_ms`] as a duration.
    pub fn plugin_call_timeout(&self) -> Duration {
        Duration::from_millis(self.plugin_call_timeout_ms)
    }
}

impl Config {
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
    /// unknown key or a wrong type; [`ConfigError::Invalid`] for a value out
    /// of range (see [`Config::validate`]).
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

    /// Checks the rules a type cannot express.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first offending field: `udpPort`
    /// equal to a non-zero `tcpPort` while UDP is on, a frame limit outside
    /// 64 B–16 MiB, a zero limit, a default `maxClients` above
    /// `limits.maxClientsPerRoom`, or a `logLevel` that is not a filter.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |field: &'static str, message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            field,
            message,
        };
        if self.enable_udp && self.tcp_port != 0 && self.udp_port == self.tcp_port {
            return Err(invalid(
                "udpPort",
                format!("must differ from tcpPort ({}) when enableUDP is true", self.tcp_port),
            ));
        }
        let limits = &self.limits;
        if !(64..=MAX_FRAME_BYTES_CEILING).contains(&limits.max_frame_bytes) {
            return Err(invalid(
                "limits.maxFrameBytes",
                format!("{} is outside 64..={MAX_FRAME_BYTES_CEILING}", limits.max_frame_bytes),
            ));
        }
        let positive: [(&'static str, u64); 7] = [
            ("limits.maxConnections", limits.max_connections as u64),
            ("limits.maxRooms", limits.max_rooms as u64),
            ("limits.maxClientsPerRoom", limits.max_clients_per_room.into()),
            ("limits.outboundQueueFrames", limits.outbound_queue_frames as u64),
            ("limits.roomMailbox", limits.room_mailbox as u64),
            ("limits.pluginCallTimeoutMs", limits.plugin_call_timeout_ms),
            ("limits.pluginMemoryBytes", limits.plugin_memory_bytes as u64),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(invalid(field, "must be greater than 0".to_owned()));
        }
        let room = &self.default_room_settings;
        if room.max_clients == 0 || room.max_clients > limits.max_clients_per_room {
            return Err(invalid(
                "defaultRoomSettings.maxClients",
                format!(
                    "{} is outside 1..={} (limits.maxClientsPerRoom)",
                    room.max_clients, limits.max_clients_per_room
                ),
            ));
        }
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log_level) {
            return Err(invalid("logLevel", format!("not a log filter: {err}")));
        }
        Ok(())
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
            serde_json::from_str(include_str!("../../config/server.schema.json")).unwrap();
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
}
