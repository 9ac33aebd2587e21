//! Helpers for the end-to-end tests: start a real server on a free port and
//! connect real clients to it over TCP.
//!
//! The tests themselves are in `tests/tests/`, one file per capability.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vampire_client::{Client, ErrorCode, Event, Incoming, Payload, ServerMessage, Value};
use vampiretcp::{Config, RunningServer, Server};

pub mod browser;
pub mod http;
pub mod proxy;
pub mod websocket;

pub use serde_json;

/// A [`Payload`] written as JSON (with the `$` markers of
/// [`vampire_client::json`] for binary and other MessagePack-only values).
#[macro_export]
macro_rules! json {
    ($($json:tt)*) => {
        $crate::payload(&$crate::serde_json::json!($($json)*))
    };
}

/// The payload a JSON value stands for.
pub fn payload(json: &serde_json::Value) -> Payload {
    Payload::from(vampire_client::json::from_json(json))
}

/// The value a JSON literal stands for.
pub fn value(json: &serde_json::Value) -> Value {
    vampire_client::json::from_json(json)
}

pub use vampire_protocol::strategies::any_value;

/// A payload as JSON (for indexing into results in assertions).
pub fn as_json(payload: &Payload) -> serde_json::Value {
    vampire_client::json::to_json(&payload.to_value())
}

/// The value of `name` among `variables`.
pub fn variable<'a>(variables: &'a [(String, Payload)], name: &str) -> Option<&'a Payload> {
    variables.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A server running in this test's runtime, stopped when dropped.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its admin listener listens, when `admin` is set.
    pub admin: Option<SocketAddr>,
    running: Option<RunningServer>,
}

impl TestServer {
    /// Starts a server with the embedded default config, on 127.0.0.1 and
    /// a free port.
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server whose default config (on 127.0.0.1, a free port) is
    /// first changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config::embedded_default();
        config.bind_address = [127, 0, 0, 1].into();
        config.tcp_port = 0;
        config.udp_port = 0;
        config.ws_port = 0;
        adjust(&mut config);
        config.validate("test").expect("test config is valid");
        let server = Server::bind(config).await.expect("server binds");
        let running = server.start();
        TestServer { addr: running.local_addr, admin: running.admin_addr, running: Some(running) }
    }

    /// Starts a server whose plugins folder holds the example plugins and
    /// the test plugins (built from source on first use), plus whatever
    /// `extra` writes into the folder; `adjust` then changes the config.
    pub async fn with_plugins(
        extra: impl FnOnce(&Path),
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let folder = fresh_plugins_folder();
        extra(&folder);
        TestServer::start_with(|config| {
            config.plugins_dir = folder;
            adjust(config);
        })
        .await
    }

    /// A new connected client.
    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await.expect("client connects")
    }

    /// A new client connected to the WebSocket port.
    pub async fn ws_client(&self) -> Client {
        Client::connect_websocket(&self.ws_addr().to_string(), Default::default())
            .await
            .expect("client connects over WebSocket")
    }

    /// The WebSocket port's address.
    pub fn ws_addr(&self) -> std::net::SocketAddr {
        self.running().ws_addr.expect("the WebSocket port is on")
    }

    /// The server itself (to start a drain).
    pub fn running(&self) -> &RunningServer {
        self.running.as_ref().expect("the server runs")
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// The token [`admin_config`] opens the admin API with.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// An `admin` section on a free port of 127.0.0.1 whose token file holds
/// [`ADMIN_TOKEN`].
pub fn admin_config() -> vampiretcp::config::AdminConfig {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let file = std::env::temp_dir().join(format!(
        "vampiretcp-admin-token-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, format!("{ADMIN_TOKEN}\n")).unwrap();
    vampiretcp::config::AdminConfig { port: 0, token_file: Some(file), ..Default::default() }
}

/// The next room event, failing the test after [`PATIENCE`].
pub async fn next_event(client: &mut Client) -> Event {
    match client.next_event_within(PATIENCE).await {
        Some(Incoming::Event(event)) => event,
        Some(other) => panic!("expected an event, got {other:?}"),
        None => panic!("no event within {PATIENCE:?}"),
    }
}

/// Reads events until one matches `pred`, failing after [`PATIENCE`].
pub async fn wait_for(client: &mut Client, mut pred: impl FnMut(&Event) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.next_event_within(left).await {
            Some(Incoming::Event(event)) if pred(&event) => return event,
            Some(_) => continue,
            None => panic!("the awaited event did not come within {PATIENCE:?}"),
        }
    }
}

/// Asserts no event arrives for a short while. A ping round trip first makes
/// sure anything the server had already queued has arrived.
pub async fn assert_no_event(client: &mut Client) {
    client.ping().await.expect("ping");
    if let Some(event) = client.try_next_event() {
        panic!("unexpected event {event:?}");
    }
}

/// The example and test plugins, built once per test process.
pub fn built_plugins() -> &'static [(String, PathBuf)] {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    BUILT.get_or_init(|| {
        xtask::build_plugins(&[xtask::EXAMPLE_PLUGINS, xtask::TEST_PLUGINS])
            .expect("the plugins build")
    })
}

/// A new folder holding a copy of every built plugin.
pub fn fresh_plugins_folder() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let folder = std::env::temp_dir().join(format!(
        "vampiretcp-plugins-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    for (name, path) in built_plugins() {
        std::fs::copy(path, folder.join(format!("{name}.wasm"))).unwrap();
    }
    folder
}

/// A raw connection that writes bytes and reads frames by hand, for
/// input the client crate would never send.
pub struct RawConnection {
    /// The socket, for tests that write or shut it down by hand.
    pub socket: TcpStream,
}

impl RawConnection {
    /// Connects and reads the welcome.
    pub async fn connect(server: &TestServer) -> RawConnection {
        let mut raw = RawConnection { socket: TcpStream::connect(server.addr).await.unwrap() };
        assert!(matches!(raw.read().await, Some(ServerMessage::Welcome { .. })));
        raw
    }

    /// Writes `bytes` as they are.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).await.unwrap();
    }

    /// Writes `body` as one frame.
    pub async fn send_frame(&mut self, body: &[u8]) {
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(body);
        self.send(&bytes).await;
    }

    /// Writes `value` as one frame.
    pub async fn send_value(&mut self, value: Payload) {
        self.send_frame(value.as_bytes()).await;
    }

    /// The next frame, or `None` at end of stream.
    pub async fn read(&mut self) -> Option<ServerMessage> {
        tokio::time::timeout(PATIENCE, async {
            let mut len = [0u8; 4];
            self.socket.read_exact(&mut len).await.ok()?;
            let mut body = vec![0; u32::from_be_bytes(len) as usize];
            self.socket.read_exact(&mut body).await.ok()?;
            Some(decode_server_frame(body))
        })
        .await
        .expect("the server answers in time")
    }

    /// The next frame, which must be an error: its id, code and message.
    pub async fn read_error(&mut self) -> (Option<u32>, ErrorCode, String) {
        match self.read().await {
            Some(ServerMessage::Error { id, code, message }) => (id, code, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// Asserts the connection still answers a ping.
    pub async fn assert_alive(&mut self) {
        self.send_value(json!({"id": 77, "op": "ping"})).await;
        assert_eq!(
            self.read().await,
            Some(ServerMessage::Response { id: 77, result: Payload::nil() })
        );
    }
}

fn decode_server_frame(body: Vec<u8>) -> ServerMessage {
    ServerMessage::decode(&body.into()).expect("server frames decode")
}
