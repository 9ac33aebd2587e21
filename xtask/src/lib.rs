//! Project automation shared by `cargo serve` (see `.cargo/config.toml`)
//! and the end-to-end tests: building the example plugins for
//! `wasm32-unknown-unknown` and putting them in a plugins folder.
//!
//! Plugins are built with their own target directory so that a build run
//! from inside `cargo test` (which holds the main target directory's lock)
//! does not wait on itself.
//!
//! [`layers`] lists which file imports which (and finds cycles);
//! [`process`] reads what a process uses, for the benchmarks and the
//! tests that watch the server's memory; [`node`] readies the TypeScript
//! client for the tests `cargo test` drives.

pub mod layers;
pub mod node;
pub mod process;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The target every plugin is built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The cargo profile the plugins are built with (see the root
/// `Cargo.toml`).
pub const PLUGIN_PROFILE: &str = "plugin";

/// The repository's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits one level below the root")
        .to_owned()
}

/// The cargo to run: the one running us, if any.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Makes sure the wasm target's standard library is installed, adding it
/// with rustup when it is missing (rustup does not add a target listed in
/// `rust-toolchain.toml` to a toolchain that is already installed).
///
/// # Errors
/// When the target is missing and rustup cannot add it.
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let sysroot = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .current_dir(workspace_root())
        .args(["--print", "sysroot"])
        .output()
        .context("cannot run rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(WASM_TARGET).exists() {
        return Ok(());
    }
    eprintln!("installing the {WASM_TARGET} target with rustup");
    let status = Command::new("rustup")
        .current_dir(workspace_root())
        .args(["target", "add", WASM_TARGET])
        .status()
        .context("cannot run rustup to add the wasm target")?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed");
    }
    Ok(())
}

/// Folders (relative to the root) holding one plugin crate per subfolder:
/// the example plugins, and the test-only plugins.
pub const EXAMPLE_PLUGINS: &str = "plugins";
/// See [`EXAMPLE_PLUGINS`].
pub const TEST_PLUGINS: &str = "tests/plugins";
/// See [`EXAMPLE_PLUGINS`].
pub const BENCH_PLUGINS: &str = "bench/plugins";

/// Names of the plugin crates in `folder` (relative to the root): every
/// subfolder with a `Cargo.toml`, sorted.
///
/// # Errors
/// When the folder cannot be read.
pub fn plugin_crates(folder: &str) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(workspace_root().join(folder))? {
        let path = entry?.path();
        if path.join("Cargo.toml").is_file() {
            names.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Builds every plugin crate of `folders` and returns `(room type, .wasm
/// file)` pairs; the room type is the crate's name.
///
/// # Errors
/// When the target cannot be installed or the build fails.
pub fn build_plugins(folders: &[&str]) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut crates = Vec::new();
    for folder in folders {
        crates.extend(plugin_crates(folder)?);
    }
    build_plugin_crates(&crates)
}

/// Builds the plugin crates named `crates` and returns `(room type, .wasm
/// file)` pairs.
///
/// # Errors
/// When the target cannot be installed or the build fails.
pub fn build_plugin_crates(crates: &[String]) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let crates = crates.to_vec();
    if crates.is_empty() {
        return Ok(Vec::new());
    }
    ensure_wasm_target()?;
    let root = workspace_root();
    let target_dir = root.join("target").join("plugins");
    let mut build = cargo();
    build
        .current_dir(&root)
        .args(["build", "--quiet", "--profile", PLUGIN_PROFILE, "--target", WASM_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags meant for the host build (coverage, sanitizers) do not
        // apply to wasm.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    for name in &crates {
        build.args(["-p", name]);
    }
    let status = build.status().context("cannot run cargo to build the plugins")?;
    if !status.success() {
        bail!("building the plugins failed");
    }
    let out = target_dir.join(WASM_TARGET).join(PLUGIN_PROFILE);
    crates
        .into_iter()
        .map(|name| {
            let built = out.join(format!("{}.wasm", name.replace('-', "_")));
            if built.is_file() {
                Ok((name, built))
            } else {
                bail!("plugin {name} built no {}", built.display())
            }
        })
        .collect()
}

/// Builds the plugins of `folders` and copies them into `destination` as
/// `<room type>.wasm`.
///
/// # Errors
/// As for [`build_plugins`], or when copying fails.
pub fn install_plugins(folders: &[&str], destination: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(destination)?;
    let mut installed = Vec::new();
    for (name, built) in build_plugins(folders)? {
        installed.push(install_module(&built, destination, &name)?);
    }
    Ok(installed)
}

/// Copies a built module into `destination` as `<name>.wasm` the safe
/// way for a server that hot-reloads: into a hidden temporary file first,
/// then renamed over the old one, so the server never sees it half
/// written.
///
/// # Errors
/// When copying or renaming fails.
pub fn install_module(built: &Path, destination: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let target = destination.join(format!("{name}.wasm"));
    let temporary = destination.join(format!(".{name}.wasm.tmp"));
    std::fs::copy(built, &temporary)
        .with_context(|| format!("cannot copy {} to {}", built.display(), temporary.display()))?;
    std::fs::rename(&temporary, &target).with_context(|| {
        format!("cannot rename {} to {}", temporary.display(), target.display())
    })?;
    Ok(target)
}

/// Whether a file-system event can change a file's content: a creation,
/// a write, a rename or a removal. Reading a file (as a build or the
/// server does) raises access and metadata events, which must not count.
pub fn is_content_change(kind: &notify_debouncer_full::notify::EventKind) -> bool {
    use notify_debouncer_full::notify::EventKind;
    use notify_debouncer_full::notify::event::ModifyKind;
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        _ => false,
    }
}

/// The room a new plugin crate starts with: complete, and small enough to
/// read at a glance (`docs/PLUGINS.md` opens with the same room).
pub const PLUGIN_TEMPLATE: &str = r#"//! The `ROOM_TYPE` room type.

use room_sdk::prelude::*;

#[derive(Default)]
struct Room_ {
    greeted: u64,
}

#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
enum Call {
    Hello { name: String },
}

impl Room for Room_ {
    type Call = Call;

    fn call(&mut self, _caller: &Member, call: Call) -> Result<Reply, RoomError> {
        let Call::Hello { name } = call;
        self.greeted += 1;
        host::variable("greeted").broadcast(true).set(&self.greeted)?;
        reply(&format!("hello, {name}"))
    }
}

room_sdk::export_room!(Room_);
"#;

/// Creates a new plugin crate `name` in `parent/name`: a `Cargo.toml` and
/// a `src/lib.rs` holding [`PLUGIN_TEMPLATE`]. Inside this repository's
/// `plugins/` folder the crate is a workspace member; anywhere else it is
/// a workspace of its own that depends on this repository's `room-sdk` by
/// path, with this repository's `Cargo.lock` copied so it builds with the
/// same dependency versions.
///
/// # Errors
/// When `name` is not a valid room type (letters, digits, `-`, `_`; not
/// `generic`), the folder exists already, or it cannot be written.
pub fn new_plugin(name: &str, parent: &Path) -> anyhow::Result<PathBuf> {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !valid || name == "generic" {
        bail!(
            "{name:?} cannot be a room type: use letters, digits, '-' and '_', starting with a letter, and not \"generic\""
        );
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} exists already", dir.display());
    }
    let root = workspace_root();
    let inside = parent.canonicalize().ok() == root.join(EXAMPLE_PLUGINS).canonicalize().ok();
    let manifest = if inside {
        format!(
            r#"[package]
name = "{name}"
description = "The {name} room type"
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
room-sdk.workspace = true
"#
        )
    } else {
        let sdk = root.join("room-sdk");
        format!(
            r#"[package]
name = "{name}"
description = "The {name} room type"
version = "0.1.0"
edition = "2024"
publish = false

# A VampireTCP room plugin: build with
#   cargo build --release --target wasm32-unknown-unknown
# and copy target/wasm32-unknown-unknown/release/{file}.wasm into the
# server's plugins folder as {name}.wasm.
[lib]
crate-type = ["cdylib"]

[dependencies]
room-sdk = {{ path = {sdk:?} }}

[profile.release]
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
strip = true

[workspace]
"#,
            file = name.replace('-', "_"),
        )
    };
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    if !inside {
        // A room's memory starts with its stack, and counts against the
        // server's plugin memory budget: Rust's default 1 MiB is far more
        // than room hooks need.
        std::fs::create_dir_all(dir.join(".cargo"))?;
        std::fs::write(
            dir.join(".cargo").join("config.toml"),
            "[target.wasm32-unknown-unknown]\nrustflags = [\"-C\", \"link-arg=-zstack-size=131072\"]\n",
        )?;
    }
    let type_name: String = name
        .split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| part[..1].to_ascii_uppercase() + &part[1..])
        .collect();
    let source = PLUGIN_TEMPLATE.replace("ROOM_TYPE", name).replace("Room_", &type_name);
    std::fs::write(dir.join("src").join("lib.rs"), source)?;
    if !inside {
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    }
    Ok(dir)
}
