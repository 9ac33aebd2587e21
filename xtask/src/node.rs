//! The TypeScript client's tool chain, for the tests that `cargo test`
//! drives: Node.js 20 or later and npm, `npm ci` when the lock file
//! changed, and the build the browser example serves.
//!
//! Tests call [`client_ts`]; when Node.js is missing it says so and
//! they skip, unless `VAMPIRE_REQUIRE_BROWSER` is set (CI sets it), where
//! it is an error.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context, bail};

/// The oldest Node.js major version the client supports and its tests
/// (vitest 4) run on.
pub const NODE_MAJOR: u32 = 20;

/// The TypeScript client's folder in this workspace.
pub fn client_ts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../client-ts")
}

/// Makes the TypeScript client ready (its packages installed, `dist/`
/// built) and gives its folder; `Ok(None)` when Node.js or npm is
/// missing and that is allowed. Calls from one process are serialized.
///
/// # Errors
/// When Node.js is older than [`NODE_MAJOR`], when it is missing and
/// `VAMPIRE_REQUIRE_BROWSER` is set, or when `npm ci` or the build fails.
pub fn client_ts() -> anyhow::Result<Option<PathBuf>> {
    static READY: Mutex<bool> = Mutex::new(false);
    let mut ready = READY.lock().unwrap_or_else(|p| p.into_inner());
    let dir = client_ts_dir();
    let Some(major) = node_major()? else {
        if std::env::var_os("VAMPIRE_REQUIRE_BROWSER").is_some() {
            bail!("Node.js {NODE_MAJOR}+ and npm are needed for the TypeScript tests (not found)");
        }
        eprintln!("TypeScript tests skipped: install Node.js {NODE_MAJOR}+ and npm to run them");
        return Ok(None);
    };
    if major < NODE_MAJOR {
        bail!("Node.js {major} found; the TypeScript client needs {NODE_MAJOR} or later");
    }
    if !*ready {
        if needs_install(&dir) {
            npm(&dir, &["ci", "--no-audit", "--no-fund"])?;
        }
        npm(&dir, &["run", "build"])?;
        *ready = true;
    }
    Ok(Some(dir))
}

/// Node's major version, `None` when `node` or `npm` is not installed.
fn node_major() -> anyhow::Result<Option<u32>> {
    let Ok(output) = Command::new("node").arg("--version").output() else { return Ok(None) };
    if Command::new("npm").arg("--version").output().is_err() {
        return Ok(None);
    }
    let version = String::from_utf8_lossy(&output.stdout);
    let major = version.trim().trim_start_matches('v').split('.').next().unwrap_or("");
    Ok(Some(major.parse().with_context(|| format!("node --version said {version:?}"))?))
}

/// Whether `node_modules` is missing or older than the lock file.
fn needs_install(dir: &Path) -> bool {
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    match (
        modified(dir.join("node_modules/.package-lock.json")),
        modified(dir.join("package-lock.json")),
    ) {
        (Some(installed), Some(lock)) => installed < lock,
        _ => true,
    }
}

/// Runs `npm args` in `dir`.
///
/// # Errors
/// When npm cannot start or fails; with its output.
pub fn npm(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("npm").args(args).current_dir(dir).output().context("npm")?;
    if !output.status.success() {
        bail!(
            "npm {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
