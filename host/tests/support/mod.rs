//! Running the `vampiretcp` binary as its own process, as an operator
//! does: so that a test can read its memory from `/proc`, its log from
//! standard error, and send it signals.

#![allow(dead_code)] // Each test binary uses a different part.

pub mod cluster;
pub mod hostile;

#[path = "../../../tests/src/http.rs"]
pub mod http;

#[path = "../../../tests/src/proxy.rs"]
pub mod proxy;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The server binary cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_vampiretcp");

/// A fresh folder under the system's temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vampiretcp-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
pub fn plugins_folder() -> PathBuf {
    let folder = temp_dir("plugins");
    for (name, path) in built_plugins() {
        std::fs::copy(path, folder.join(format!("{name}.wasm"))).unwrap();
    }
    folder
}

/// `overrides` merged into `base`, key by key at every depth.
fn merge(base: &mut serde_json::Value, overrides: &serde_json::Value) {
    match (base, overrides) {
        (serde_json::Value::Object(base), serde_json::Value::Object(overrides)) => {
            for (key, value) in overrides {
                merge(base.entry(key.clone()).or_insert(serde_json::Value::Null), value);
            }
        }
        (base, overrides) => *base = overrides.clone(),
    }
}

/// A server process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its admin listener listens, when the config has `admin`.
    pub admin: Option<SocketAddr>,
    /// Where its WebSocket port listens, unless `enableWebSocket` is off.
    pub websocket: Option<SocketAddr>,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts the binary on 127.0.0.1 and a free port with `overrides`
    /// merged into a config, and its log (info level) going to a file.
    pub fn start(overrides: serde_json::Value) -> ServerProcess {
        let dir = temp_dir("server");
        let mut config = serde_json::json!({
            "bindAddress": "127.0.0.1",
            "tcpPort": 0,
            "udpPort": 0,
            "wsPort": 0,
            "pluginsDir": dir.join("no-plugins"),
            "logLevel": "info",
        });
        merge(&mut config, &overrides);
        let config_path = dir.join("server.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let log = dir.join("server.log");
        let mut child = Command::new(BINARY)
            .arg("--config")
            .arg(&config_path)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let with_admin = config.get("admin").is_some();
        let with_websocket = config.get("enableWebSocket") != Some(&serde_json::json!(false));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| {
                    panic!("the server exited: {}", std::fs::read_to_string(&log).unwrap())
                })
                .unwrap();
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.parse().unwrap();
            }
        };
        let websocket = with_websocket.then(|| {
            let line = lines.next().expect("the WebSocket address is printed").unwrap();
            let addr = line.strip_prefix("websocket listening on ").expect("the WebSocket address");
            addr.parse().unwrap()
        });
        let admin = with_admin.then(|| {
            let line = lines.next().expect("the admin address is printed").unwrap();
            let addr = line.strip_prefix("admin listening on ").expect("the admin address");
            addr.parse().unwrap()
        });
        std::thread::spawn(move || for _ in lines {});
        ServerProcess { child, addr, admin, websocket, log }
    }

    /// Starts the binary with the example and test plugins.
    pub fn with_plugins(overrides: serde_json::Value) -> ServerProcess {
        let folder = plugins_folder();
        let mut config = serde_json::json!({ "pluginsDir": folder });
        merge(&mut config, &overrides);
        ServerProcess::start(config)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now and at its peak, in bytes.
    pub fn memory(&self) -> (u64, u64) {
        let usage = xtask::process::usage(&self.pid().to_string()).unwrap();
        (usage.rss_bytes, usage.peak_rss_bytes)
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle`.
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(Instant::now() < deadline, "the log never said {needle:?}:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits at most `patience` for the process to exit by itself.
    pub fn wait_exit(&mut self, patience: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let status =
            Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary with `config` (127.0.0.1, port 0 and an empty plugins
/// folder unless it says otherwise), expecting it to refuse to start;
/// returns what it wrote to standard error.
pub fn refused_start(config: serde_json::Value) -> String {
    let dir = temp_dir("refused");
    let mut full = serde_json::json!({
        "bindAddress": "127.0.0.1",
        "tcpPort": 0,
        "enableUDP": false,
        "enableWebSocket": false,
        "pluginsDir": dir.join("plugins"),
    });
    merge(&mut full, &config);
    let path = dir.join("server.json");
    std::fs::write(&path, full.to_string()).unwrap();
    let output = Command::new(BINARY).arg("--config").arg(&path).output().unwrap();
    assert!(!output.status.success(), "the server started with {full}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Where a server's plugin folder should be when a test writes its own.
pub fn empty_plugins_folder() -> PathBuf {
    temp_dir("plugins")
}

/// Path helper for symlinks.
pub fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// The admin token of [`admin_section`].
pub const ADMIN_TOKEN: &str = "process-test-admin-token";

/// An `admin` section on a free port with [`ADMIN_TOKEN`] (and `extra`
/// merged in).
pub fn admin_section(extra: serde_json::Value) -> serde_json::Value {
    let file = temp_dir("admin").join("token");
    std::fs::write(&file, ADMIN_TOKEN).unwrap();
    let mut admin = serde_json::json!({ "port": 0, "tokenFile": file });
    merge(&mut admin, &extra);
    admin
}

/// A port free on 127.0.0.1 now (for a server that must know its port
/// before it starts, such as a cluster node announcing its address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl ServerProcess {
    /// Sends `signal` (`KILL`, `STOP`, `CONT`, …) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// A real Redis server on a free port of 127.0.0.1, with nothing saved to
/// disk, stopped when dropped.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts `redis-server` (Debian's `redis-server` package) and waits
    /// until it answers.
    ///
    /// # Panics
    /// When `redis-server` is not installed or does not start.
    pub fn start() -> RedisServer {
        let mut redis = RedisServer { child: None, port: free_port(), dir: temp_dir("redis") };
        redis.restart();
        redis
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it at once (SIGKILL): its data is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (install Debian's redis-server package; .ci/run does)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut socket) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                let _ = socket.set_read_timeout(Some(Duration::from_secs(1)));
                let mut answer = [0u8; 7];
                if socket.write_all(b"PING\r\n").is_ok()
                    && socket.read_exact(&mut answer).is_ok()
                    && &answer == b"+PONG\r\n"
                {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
