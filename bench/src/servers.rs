//! Building and starting the servers under test as processes of their
//! own: the release build, a plugins folder, and a child process whose
//! `listening on ADDR` line gives its address.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

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
