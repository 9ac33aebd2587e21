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

/// What `limits.maxOutboundFrameBytes` must leave beyond
/// `limits.maxRoomVariableBytes` for the rest of a join result (the room's
/// description and member list): 128 KiB.
pub const MIN_OUTBOUND_FRAME_MARGIN: usize = 128 * 1024;

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
    /// Whether to open the UDP port for frequent data that may be lost
    /// (clients bind it with `udp_bind`). Default `true`.
    #[serde(rename = "enableUDP")]
    pub enable_udp: bool,
    /// UDP port, used when `enableUDP` is true; must differ from `tcpPort`;
    /// `0` picks any free port (clients learn it from `udp_bind`). Default
    /// `7778`.
    pub udp_port: u16,
    /// Folder scanned for `*.wasm` room plugins, relative to the working
    /// directory. Default `plugins`.
    pub plugins_dir: PathBuf,
    /// Watch the plugins folder and load a plugin again when its file
    /// changes, swapping it into live rooms; a new file adds a room type,
    /// a removed one stops new rooms of its type. Default `true`.
    pub hot_reload: bool,
    /// Log filter (`error`, `warn`, `info`, `debug`, `trace`, or a
    /// `tracing` directive list). `RUST_LOG` overrides it. Default `info`.
    pub log_level: String,
    /// Resource limits.
    pub limits: Limits,
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
}

/// `cluster`: this node's place in a cluster of servers sharing rooms
/// through Redis (see `docs/ARCHITECTURE.md`, "Cluster").
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterConfig {
    /// The Redis server, as `redis://[user:password@]host:port[/db]`.
    /// Required.
    pub redis_url: String,
    /// Where clients reach this node (`host:port` of its TCP port), given
    /// to clients redirected here. Required.
    pub advertise_address: String,
    /// This node's name in the cluster: 1 to 32 letters, digits or `_`;
    /// every room id starts with it. Default: 8 random hex digits, new at
    /// each start.
    #[serde(default)]
    pub node_id: Option<String>,
    /// What every key and channel of the cluster starts with, so several
    /// clusters can share one Redis. Default `vampire`.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// A node is alive while its key, refreshed every third of this, has
    /// not expired; a dead node's rooms leave listings within 1.5 times
    /// this. Default `6000` (at least `300`).
    #[serde(default = "default_node_ttl_ms")]
    pub node_ttl_ms: u64,
    /// How long a seat reservation (a redirect) holds its place. Default
    /// `15`.
    #[serde(default = "default_reservation_ttl_secs")]
    pub reservation_ttl_secs: u64,
    /// Seat reservations one connection may hold at once (being asked
    /// for, or granted and not expired); one more join of a room on
    /// another node is refused with `quota_exceeded`.
    /// Default `4`.
    #[serde(default = "default_reservations_per_connection")]
    pub reservations_per_connection: usize,
    /// How long a node waits for another to create a room or reserve a
    /// seat before it gives up on it. Default `2000`.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
}

fn default_key_prefix() -> String {
    "vampire".to_owned()
}

fn default_node_ttl_ms() -> u64 {
    6000
}

fn default_reservation_ttl_secs() -> u64 {
    15
}

fn default_reservations_per_connection() -> usize {
    4
}

fn default_request_timeout_ms() -> u64 {
    2000
}

impl ClusterConfig {
    /// [`ClusterConfig::node_ttl_ms`] as a duration.
    pub fn node_ttl(&self) -> Duration {
        Duration::from_millis(self.node_ttl_ms)
    }

    /// [`ClusterConfig::reservation_ttl_secs`] as a duration.
    pub fn reservation_ttl(&self) -> Duration {
        Duration::from_secs(self.reservation_ttl_secs)
    }

    /// [`ClusterConfig::request_timeout_ms`] as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// Client authentication: `auth` in the config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `none`: clients are anonymous (for development); `jwt`: a client's
    /// first request must be `authenticate` with a token signed by the
    /// operator's account service. Default `none`.
    pub mode: AuthMode,
    /// How tokens are signed: `HS256` (a shared secret), `RS256` or
    /// `EdDSA` (a public key; the private key stays with the signer).
    /// Default `HS256`.
    pub algorithm: TokenAlgorithm,
    /// The HS256 secret, at least 32 bytes. Prefer `secretFile`, so the
    /// secret stays out of the config. Default none.
    pub secret: Option<String>,
    /// A file holding the HS256 secret (one trailing newline is ignored).
    /// Default none.
    pub secret_file: Option<PathBuf>,
    /// A PEM file holding the RS256 or EdDSA public key. Default none.
    pub public_key_file: Option<PathBuf>,
    /// When set, a token's `iss` must be this. Default none.
    pub issuer: Option<String>,
    /// When set, a token's `aud` must include this. Default none.
    pub audience: Option<String>,
    /// Clock difference tolerated when checking `exp` and `nbf`, in
    /// seconds. Default `30`.
    pub leeway_secs: u64,
    /// A token whose `roles` claim holds this role may delete any room.
    /// Default `operator`.
    pub operator_role: String,
    /// When a user signs in while signed in on another connection:
    /// `replace` closes the older connection (`signed_in_elsewhere`);
    /// `allow` keeps both. Default `replace`.
    pub same_user: SameUserPolicy,
}

/// `auth.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Anonymous clients.
    None,
    /// Signed JSON Web Tokens.
    Jwt,
}

/// `auth.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TokenAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    #[serde(rename = "HS256")]
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

/// `auth.sameUser`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameUserPolicy {
    /// The newer connection wins; the older is closed.
    Replace,
    /// One user may be signed in on several connections.
    Allow,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::None,
            algorithm: TokenAlgorithm::Hs256,
            secret: None,
            secret_file: None,
            public_key_file: None,
            issuer: None,
            audience: None,
            leeway_secs: 30,
            operator_role: "operator".to_owned(),
            same_user: SameUserPolicy::Replace,
        }
    }
}

/// Shortest HS256 secret accepted, in bytes (the hash's output size).
pub const MIN_SECRET_BYTES: usize = 32;

impl AuthConfig {
    /// The HS256 secret, from `secret` or `secretFile`.
    ///
    /// # Errors
    /// When neither is set, the file cannot be read, or the secret is
    /// shorter than [`MIN_SECRET_BYTES`].
    pub fn secret(&self) -> anyhow::Result<Vec<u8>> {
        let secret = match (&self.secret, &self.secret_file) {
            (Some(secret), None) => secret.as_bytes().to_vec(),
            (None, Some(path)) => {
                let mut bytes = std::fs::read(path).map_err(|err| {
                    anyhow::anyhow!("auth.secretFile: cannot read {}: {err}", path.display())
                })?;
                if bytes.last() == Some(&b'\n') {
                    bytes.pop();
                }
                bytes
            }
            _ => anyhow::bail!("auth: HS256 needs exactly one of secret and secretFile"),
        };
        if secret.len() < MIN_SECRET_BYTES {
            anyhow::bail!("auth: the HS256 secret must have at least {MIN_SECRET_BYTES} bytes");
        }
        Ok(secret)
    }
}

/// `tls`: the certificate the TCP port presents.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the certificate chain, leaf first. Read again on
    /// SIGHUP and when it changes.
    pub cert_file: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// Resource limits: what one client, room or plugin may consume. Each
/// field's default is the constant named on it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Limits {
    /// Connections served at once; one more is told `server_busy` and
    /// closed. Default `10000`.
    pub max_connections: usize,
    /// Connections served at once from one client address; one more is
    /// told `server_busy` and closed. Default `1024`.
    pub max_connections_per_address: usize,
    /// Rooms alive at once; `create_room` beyond it fails with
    /// `server_busy`. Default `10000`.
    pub max_rooms: usize,
    /// Largest frame body a client may send, in bytes (64 to 16 MiB); a
    /// longer one closes the connection (`frame_too_large`). Default
    /// `65536`.
    pub max_frame_bytes: usize,
    /// Largest frame the server sends, in bytes; an answer that would be
    /// longer is refused with `response_too_large` before it is built,
    /// and an event that would be longer is not sent (a plugin's call
    /// fails). Default `1048576` (1 MiB).
    pub max_outbound_frame_bytes: usize,
    /// Upper bound on any room's `max_clients`. Default `1000`.
    pub max_clients_per_room: u32,
    /// Frames (or batches of frames) queued for one client before it
    /// counts as too slow and is disconnected (`slow_consumer`). Default
    /// `4096`.
    pub outbound_queue_frames: usize,
    /// Bytes queued for one client before it counts as too slow and is
    /// disconnected (`slow_consumer`). Default `4194304` (4 MiB).
    pub outbound_queue_bytes: usize,
    /// Bytes queued for one client past which unreliable data to it (UDP's
    /// fallback over the connection) is dropped, oldest first, and
    /// counted, instead of queued; it never disconnects anyone. At most
    /// `outboundQueueBytes`. Default `262144` (256 KiB).
    pub unreliable_queue_bytes: usize,
    /// Commands queued for one room before senders wait. Default `4096`.
    pub room_mailbox: usize,
    /// Variables one room may hold; a new one past it is refused with
    /// `variable_limit`. Default `1024`.
    pub max_room_variables: usize,
    /// Bytes of variable names and values one room may hold together.
    /// Default `524288` (512 KiB).
    pub max_room_variable_bytes: usize,
    /// Largest value of one variable, in bytes of MessagePack. Default
    /// `65536`.
    pub max_variable_bytes: usize,
    /// Longest variable name, in bytes. Default `128`.
    pub max_variable_name_bytes: usize,
    /// Largest room metadata, in bytes of MessagePack: every listing and
    /// room info carries it, so it is kept small; `create_room` past it
    /// is `invalid_request`, a plugin's `room_set_metadata` is refused.
    /// Default `4096`.
    pub max_listed_metadata_bytes: usize,
    /// Bytes a room may send a joiner while its join is being decided
    /// (held until the join response); past it the join fails with
    /// `plugin_error`. Default `262144` (256 KiB).
    pub pending_join_bytes: usize,
    /// A room nobody has joined this long after its creation is deleted
    /// (when it auto-disposes). Default `60`.
    pub unjoined_room_timeout_secs: u64,
    /// A room that does not auto-dispose is deleted once it has been
    /// empty this long after its creator disconnected. Default `300`.
    pub orphan_room_timeout_secs: u64,
    /// Rooms one connection may have created and still alive; more are
    /// refused with `quota_exceeded`. Default `16`.
    pub max_rooms_per_connection: usize,
    /// Rooms one connection may be a member of at once; more are refused
    /// with `quota_exceeded`. Default `64`.
    pub max_joined_rooms_per_connection: usize,
    /// Requests one connection may send per second on average; more are
    /// refused with `rate_limited`. Default `300`.
    pub requests_per_second: u32,
    /// Requests one connection may send in a burst above the rate.
    /// Default `600`.
    pub request_burst: u32,
    /// A new connection must send its first complete frame within this
    /// many seconds, or it is closed (`timeout`). Default `10`.
    pub handshake_timeout_secs: u64,
    /// A connection that sends no complete frame for this many seconds
    /// is closed (`timeout`); clients keep it open with `ping`. Default
    /// `60`.
    pub idle_timeout_secs: u64,
    /// A frame whose first bytes arrived must be complete within this
    /// many seconds, or the connection is closed (`timeout`). Default
    /// `10`.
    pub frame_timeout_secs: u64,
    /// Running-time budget of one call into a plugin, in milliseconds; a
    /// call that runs longer is stopped with `plugin_error`. Time the call
    /// spends paused while other rooms run is not counted. Default `200`.
    pub plugin_call_timeout_ms: u64,
    /// Percent of one plugin thread a plugin room may run, averaged over
    /// a second (1 to 100); a room past it is paused until it is back
    /// within its share (throttled, never closed for it). Default `50`.
    pub plugin_cpu_percent: u32,
    /// Linear memory one plugin room may grow to, in bytes. Default
    /// `16777216` (16 MiB).
    pub plugin_memory_bytes: usize,
    /// Linear memory all plugin rooms together may hold, in bytes; a room
    /// that would pass it cannot grow (its call fails as out of memory)
    /// and a new plugin room cannot start. Default `2147483648` (2 GiB:
    /// about 10 000 rooms of the example plugins, which start at 192 KiB).
    pub plugin_memory_total_bytes: usize,
    /// Failed plugin calls (traps, budget overruns) within
    /// `pluginFailureWindowSecs` after which the room is closed. Default
    /// `5`.
    pub plugin_failures_to_close: u32,
    /// The window of `pluginFailuresToClose`, in seconds. Default `60`.
    pub plugin_failure_window_secs: u64,
    /// Log lines one plugin room may write per second; the rest are
    /// counted and reported once. Default `20`.
    pub plugin_log_lines_per_second: u32,
    /// Threads that run plugin rooms, apart from the network threads so
    /// that a plugin running to its time budget never delays a
    /// connection; `0` means four per CPU (at least four). Default `0`.
    pub plugin_threads: usize,
    /// How long shutdown waits for rooms to run their last hooks and
    /// connections to flush their farewell, in seconds. Default `5`.
    pub shutdown_grace_secs: u64,
    /// How long the keys a `udp_bind` gives stay valid, in seconds; the
    /// client binds again after. Default `3600`.
    pub udp_key_lifetime_secs: u64,
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
            enable_udp: true,
            udp_port: 7778,
            plugins_dir: PathBuf::from("plugins"),
            hot_reload: true,
            log_level: "info".to_owned(),
            limits: Limits::default(),
            default_room_settings: DefaultRoomSettings::default(),
            auth: AuthConfig::default(),
            tls: None,
            cluster: None,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_connections_per_address: 1_024,
            max_rooms: 10_000,
            max_frame_bytes: 65_536,
            max_outbound_frame_bytes: 1 << 20,
            max_clients_per_room: 1_000,
            outbound_queue_frames: 4_096,
            outbound_queue_bytes: 4 << 20,
            unreliable_queue_bytes: 256 << 10,
            room_mailbox: 4_096,
            max_room_variables: 1_024,
            max_room_variable_bytes: 512 << 10,
            max_variable_bytes: 65_536,
            max_variable_name_bytes: 128,
            max_listed_metadata_bytes: 4_096,
            pending_join_bytes: 256 << 10,
            unjoined_room_timeout_secs: 60,
            orphan_room_timeout_secs: 300,
            max_rooms_per_connection: 16,
            max_joined_rooms_per_connection: 64,
            requests_per_second: 300,
            request_burst: 600,
            handshake_timeout_secs: 10,
            idle_timeout_secs: 60,
            frame_timeout_secs: 10,
            plugin_call_timeout_ms: 200,
            plugin_cpu_percent: 50,
            plugin_memory_bytes: 16 << 20,
            plugin_memory_total_bytes: 2 << 30,
            plugin_failures_to_close: 5,
            plugin_failure_window_secs: 60,
            plugin_log_lines_per_second: 20,
            plugin_threads: 0,
            shutdown_grace_secs: 5,
            udp_key_lifetime_secs: 3_600,
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

    /// [`Limits::orphan_room_timeout_secs`] as a duration.
    pub fn orphan_room_timeout(&self) -> Duration {
        Duration::from_secs(self.orphan_room_timeout_secs)
    }

    /// [`Limits::plugin_call_timeout_ms`] as a duration.
    pub fn plugin_call_timeout(&self) -> Duration {
        Duration::from_millis(self.plugin_call_timeout_ms)
    }

    /// [`Limits::plugin_failure_window_secs`] as a duration.
    pub fn plugin_failure_window(&self) -> Duration {
        Duration::from_secs(self.plugin_failure_window_secs)
    }

    /// [`Limits::handshake_timeout_secs`] as a duration.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }

    /// [`Limits::idle_timeout_secs`] as a duration.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// [`Limits::frame_timeout_secs`] as a duration.
    pub fn frame_timeout(&self) -> Duration {
        Duration::from_secs(self.frame_timeout_secs)
    }

    /// [`Limits::shutdown_grace_secs`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// Threads for plugin rooms: [`Limits::plugin_threads`], or four per
    /// CPU (at least four) when it is 0.
    ///
    /// More threads than cores, because a plugin looping to its time
    /// budget holds its thread: with threads to spare, the kernel shares
    /// the cores between it and the healthy rooms, instead of those rooms
    /// waiting for the budget to run out.
    pub fn plugin_thread_count(&self) -> usize {
        match self.plugin_threads {
            0 => 4 * std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
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
    /// 64 B–16 MiB, a zero limit, budgets that contradict each other (an
    /// outgoing frame too small for a join result, a queue smaller than a
    /// frame, one variable larger than a room's, a total plugin budget
    /// smaller than one room's), a default `maxClients` above
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
        let positive: [(&'static str, u64); 29] = [
            ("limits.maxConnections", limits.max_connections as u64),
            ("limits.maxConnectionsPerAddress", limits.max_connections_per_address as u64),
            ("limits.maxRooms", limits.max_rooms as u64),
            ("limits.maxClientsPerRoom", limits.max_clients_per_room.into()),
            ("limits.outboundQueueFrames", limits.outbound_queue_frames as u64),
            ("limits.unreliableQueueBytes", limits.unreliable_queue_bytes as u64),
            ("limits.roomMailbox", limits.room_mailbox as u64),
            ("limits.maxRoomVariables", limits.max_room_variables as u64),
            ("limits.maxRoomVariableBytes", limits.max_room_variable_bytes as u64),
            ("limits.maxVariableBytes", limits.max_variable_bytes as u64),
            ("limits.maxVariableNameBytes", limits.max_variable_name_bytes as u64),
            ("limits.maxListedMetadataBytes", limits.max_listed_metadata_bytes as u64),
            ("limits.pendingJoinBytes", limits.pending_join_bytes as u64),
            ("limits.maxRoomsPerConnection", limits.max_rooms_per_connection as u64),
            ("limits.maxJoinedRoomsPerConnection", limits.max_joined_rooms_per_connection as u64),
            ("limits.requestsPerSecond", limits.requests_per_second.into()),
            ("limits.requestBurst", limits.request_burst.into()),
            ("limits.handshakeTimeoutSecs", limits.handshake_timeout_secs),
            ("limits.idleTimeoutSecs", limits.idle_timeout_secs),
            ("limits.frameTimeoutSecs", limits.frame_timeout_secs),
            ("limits.pluginCallTimeoutMs", limits.plugin_call_timeout_ms),
            ("limits.pluginCpuPercent", limits.plugin_cpu_percent.into()),
            ("limits.pluginMemoryBytes", limits.plugin_memory_bytes as u64),
            ("limits.pluginMemoryTotalBytes", limits.plugin_memory_total_bytes as u64),
            ("limits.pluginFailuresToClose", limits.plugin_failures_to_close.into()),
            ("limits.pluginFailureWindowSecs", limits.plugin_failure_window_secs),
            ("limits.pluginLogLinesPerSecond", limits.plugin_log_lines_per_second.into()),
            ("limits.shutdownGraceSecs", limits.shutdown_grace_secs),
            ("limits.udpKeyLifetimeSecs", limits.udp_key_lifetime_secs),
        ];
        if let Some((field, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(invalid(field, "must be greater than 0".to_owned()));
        }
        // The largest answer the server must be able to send: a join
        // result holding every variable of a full room.
        let join_bound = limits.max_room_variable_bytes + MIN_OUTBOUND_FRAME_MARGIN;
        if limits.max_outbound_frame_bytes < join_bound
            || limits.max_outbound_frame_bytes > MAX_FRAME_BYTES_CEILING
        {
            return Err(invalid(
                "limits.maxOutboundFrameBytes",
                format!(
                    "{} is outside {join_bound}..={MAX_FRAME_BYTES_CEILING} (limits.maxRoomVariableBytes plus {MIN_OUTBOUND_FRAME_MARGIN})",
                    limits.max_outbound_frame_bytes
                ),
            ));
        }
        if limits.outbound_queue_bytes < limits.max_outbound_frame_bytes {
            return Err(invalid(
                "limits.outboundQueueBytes",
                format!(
                    "{} is less than limits.maxOutboundFrameBytes ({})",
                    limits.outbound_queue_bytes, limits.max_outbound_frame_bytes
                ),
            ));
        }
        if limits.plugin_cpu_percent > 100 {
            return Err(invalid(
                "limits.pluginCpuPercent",
                format!("{} is more than 100", limits.plugin_cpu_percent),
            ));
        }
        if limits.unreliable_queue_bytes > limits.outbound_queue_bytes {
            return Err(invalid(
                "limits.unreliableQueueBytes",
                format!(
                    "{} is more than limits.outboundQueueBytes ({})",
                    limits.unreliable_queue_bytes, limits.outbound_queue_bytes
                ),
            ));
        }
        // A listing page holds at least one room.
        if limits.max_listed_metadata_bytes > MIN_OUTBOUND_FRAME_MARGIN / 2 {
            return Err(invalid(
                "limits.maxListedMetadataBytes",
                format!(
                    "{} is more than {}",
                    limits.max_listed_metadata_bytes,
                    MIN_OUTBOUND_FRAME_MARGIN / 2
                ),
            ));
        }
        if limits.max_variable_bytes > limits.max_room_variable_bytes {
            return Err(invalid(
                "limits.maxVariableBytes",
                format!(
                    "{} is more than limits.maxRoomVariableBytes ({})",
                    limits.max_variable_bytes, limits.max_room_variable_bytes
                ),
            ));
        }
        if limits.plugin_memory_total_bytes < limits.plugin_memory_bytes {
            return Err(invalid(
                "limits.pluginMemoryTotalBytes",
                format!(
                    "{} is less than limits.pluginMemoryBytes ({})",
                    limits.plugin_memory_total_bytes, limits.plugin_memory_bytes
                ),
            ));
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
        if let Some(cluster) = &self.cluster {
            let valid_id = |id: &str| {
                (1..=32).contains(&id.len())
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            if let Some(id) = &cluster.node_id
                && !valid_id(id)
            {
                return Err(invalid(
                    "cluster.nodeId",
                    "must be 1 to 32 letters, digits or `_`".to_owned(),
                ));
            }
            if !cluster.redis_url.starts_with("redis://") {
                return Err(invalid(
                    "cluster.redisUrl",
                    "must start with redis:// (redis://host:port)".to_owned(),
                ));
            }
            if cluster
                .advertise_address
                .rsplit_once(':')
                .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
            {
                return Err(invalid(
                    "cluster.advertiseAddress",
                    "must be host:port, where clients reach this node".to_owned(),
                ));
            }
            if cluster.key_prefix.is_empty() || cluster.key_prefix.len() > 64 {
                return Err(invalid("cluster.keyPrefix", "must have 1 to 64 bytes".to_owned()));
            }
            if cluster.node_ttl_ms < 300 {
                return Err(invalid("cluster.nodeTtlMs", "must be at least 300".to_owned()));
            }
            let positive = [
                ("cluster.reservationTtlSecs", cluster.reservation_ttl_secs),
                ("cluster.reservationsPerConnection", cluster.reservations_per_connection as u64),
                ("cluster.requestTimeoutMs", cluster.request_timeout_ms),
            ];
            if let Some((field, _)) = positive.iter().find(|(_, value)| *value == 0) {
                return Err(invalid(field, "must be greater than 0".to_owned()));
            }
        }
        let auth = &self.auth;
        if auth.mode == AuthMode::Jwt {
            match auth.algorithm {
                TokenAlgorithm::Hs256 => {
                    if auth.secret.is_some() == auth.secret_file.is_some() {
                        return Err(invalid(
                            "auth.secret",
                            "HS256 needs exactly one of auth.secret and auth.secretFile".to_owned(),
                        ));
                    }
                    if auth.secret.as_ref().is_some_and(|s| s.len() < MIN_SECRET_BYTES) {
                        return Err(invalid(
                            "auth.secret",
                            format!("must have at least {MIN_SECRET_BYTES} bytes"),
                        ));
                    }
                }
                TokenAlgorithm::Rs256 | TokenAlgorithm::EdDsa => {
                    if auth.public_key_file.is_none() {
                        return Err(invalid(
                            "auth.publicKeyFile",
                            "RS256 and EdDSA need the public key's PEM file".to_owned(),
                        ));
                    }
                    if auth.secret.is_some() || auth.secret_file.is_some() {
                        return Err(invalid(
                            "auth.secret",
                            "only HS256 uses a secret; RS256 and EdDSA use auth.publicKeyFile"
                                .to_owned(),
                        ));
                    }
                }
            }
        }
        if let Err(err) = crate::logging::parse_filter(&self.log_level) {
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
