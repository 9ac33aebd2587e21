//! Building and starting the servers under test as processes of their
//! own: the release build, a plugins folder, and a child process whose
//! `listening on ADDR` line gives its address.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The server binary a benchmark runs: `chosen` (another build, given by
/// `--server`), else the release build of this workspace, built now.
///
/// # Errors
/// When cargo fails.
pub fn server_binary(chosen: Option<&Path>) -> anyhow::Result<PathBuf> {
    match chosen {
        Some(path) => Ok(path.to_owned()),
        None => Ok(build_release()?.join("vampiretcp")),
    }
}

/// Builds the server and the bench binaries in release mode, and returns
/// the folder they are in.
///
/// # Errors
/// When cargo fails.
pub fn build_release() -> anyhow::Result<PathBuf> {
    let root = xtask::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "--quiet", "--release", "-p", "vampiretcp", "-p", "vampire-bench"])
        .status()?;
    if !status.success() {
        bail!("building the servers failed");
    }
    Ok(root.join("target").join("release"))
}

/// Builds the plugins of `folders` into a fresh temporary plugins folder.
///
/// # Errors
/// When a plugin does not build.
pub fn plugins_folder(folders: &[&str]) -> anyhow::Result<PathBuf> {
    let plugins =
        std::env::temp_dir().join(format!("vampire-bench-plugins-{}", std::process::id()));
    xtask::install_plugins(folders, &plugins)?;
    Ok(plugins)
}

/// A started server process and its address; killed when dropped.
pub struct Running {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its WebSocket port listens (VampireTCP with
    /// `enableWebSocket`).
    pub websocket: Option<SocketAddr>,
}

impl Running {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` and waits for its `listening on ADDR` line.
///
/// # Errors
/// When it cannot start or exits before listening.
pub fn start(command: Command) -> anyhow::Result<Running> {
    start_expecting(command, false)
}

/// Starts `command` and waits for its `listening on ADDR` line and, with
/// `websocket`, the `websocket listening on ADDR` line after it.
///
/// # Errors
/// When it cannot start or exits before listening.
pub fn start_expecting(mut command: Command, websocket: bool) -> anyhow::Result<Running> {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().context("the server exited before listening")??;
        if let Some(addr) = line.trim().strip_prefix("listening on ") {
            break addr.parse::<SocketAddr>()?;
        }
    };
    let websocket = if websocket {
        let line = lines.next().context("the server exited before listening")??;
        let addr =
            line.trim().strip_prefix("websocket listening on ").context("no WebSocket port")?;
        Some(addr.parse::<SocketAddr>()?)
    } else {
        None
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Running { child, addr, websocket })
}

/// A VampireTCP config for a benchmark's own server: loopback, a free TCP
/// port, no UDP, no hot reload, warnings only, plugins from `plugins`, and
/// no request rate limit (it would throttle the load generator), with
/// `limits` added to the `limits` section.
pub fn bench_config(plugins: &Path, limits: serde_json::Value) -> serde_json::Value {
    let mut all_limits = serde_json::json!({
        "requestsPerSecond": 1_000_000,
        "requestBurst": 1_000_000,
    });
    if let (Some(all), Some(extra)) = (all_limits.as_object_mut(), limits.as_object()) {
        all.extend(extra.clone());
    }
    serde_json::json!({
        "bindAddress": "127.0.0.1",
        "tcpPort": 0,
        "wsPort": 0,
        "enableUDP": false,
        "pluginsDir": plugins,
        "hotReload": false,
        "logLevel": "warn",
        "limits": all_limits,
    })
}

/// Starts the VampireTCP binary `binary` with `config` (written to a
/// temporary file).
///
/// # Errors
/// As for [`start`].
pub fn start_vampire(binary: &Path, config: &serde_json::Value) -> anyhow::Result<Running> {
    let path = std::env::temp_dir().join(format!(
        "vampire-bench-{}-{}.json",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos()
    ));
    std::fs::write(&path, config.to_string())?;
    let mut command = Command::new(binary);
    command.arg("--config").arg(path);
    start_expecting(command, config.get("enableWebSocket") != Some(&serde_json::json!(false)))
}

/// How much of each connection [`outside_listener`] reads before it
/// answers.
#[derive(Debug, Clone, Copy)]
pub enum OutsideRead {
    /// The first chunk (within 2 s): enough for one HTTP request.
    FirstChunk,
    /// Everything until the client stops or 3 s pass: a stream of frames.
    ToTheEnd,
}

/// A listener outside the server that reads what comes and answers
/// `400` (on a thread of its own): the control of the hostile-traffic
/// benchmarks, which shows what the traffic costs the machine's cores
/// apart from what it costs the server.
///
/// # Errors
/// When no loopback port can be bound.
pub fn outside_listener(read: OutsideRead) -> anyhow::Result<SocketAddr> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    let _ = match read {
                        OutsideRead::FirstChunk => {
                            let first = socket.read(&mut buf);
                            tokio::time::timeout(Duration::from_secs(2), first).await.map(drop)
                        }
                        OutsideRead::ToTheEnd => {
                            let all =
                                async { while matches!(socket.read(&mut buf).await, Ok(1..)) {} };
                            tokio::time::timeout(Duration::from_secs(3), all).await
                        }
                    };
                    let _ = socket
                        .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                        .await;
                });
            }
        });
    });
    Ok(addr)
}

/// A Redis server for the run, killed when dropped.
pub struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port of 127.0.0.1.
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `redis-server` on `port` of 127.0.0.1, saving nothing.
///
/// # Errors
/// When it is not installed or does not listen within 10 s.
pub fn start_redis(port: u16) -> anyhow::Result<Redis> {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly"])
        .arg("no")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|err| {
            anyhow::anyhow!("cannot run redis-server (apt install redis-server): {err}")
        })?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Redis(child))
}
