//! `cargo xtask`: project automation.
//!
//! - `cargo serve [--watch] [-- SERVER ARGS]` (alias of `cargo xtask
//!   serve`): builds the example plugins into `plugins/` and starts the
//!   server on the embedded default config. With `--watch`, a plugin crate
//!   whose source changes is rebuilt and its module dropped into
//!   `plugins/`, where the server swaps it into live rooms.
//! - `cargo xtask plugins`: only builds and installs the plugins.
//! - `cargo xtask new-plugin NAME [DIR]`: creates a plugin crate (in
//!   `plugins/` by default, where `cargo serve` builds it).
//! - `cargo xtask layers`: which file of each crate imports which, and
//!   the cycles among them (there must be none).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::mpsc;
use std::time::Duration;

use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, new_debouncer};

fn main() -> anyhow::Result<ExitCode> {
    let mut args = std::env::args().skip(1);
    let task = args.next().unwrap_or_default();
    let rest: Vec<String> = args.collect();
    let root = xtask::workspace_root();
    match task.as_str() {
        "plugins" => {
            for path in xtask::install_plugins(&[xtask::EXAMPLE_PLUGINS], &root.join("plugins"))? {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        "serve" => {
            let watch = rest.first().is_some_and(|arg| arg == "--watch");
            let server_args: Vec<&String> =
                rest.iter().skip(usize::from(watch)).skip_while(|arg| *arg == "--").collect();
            let installed =
                xtask::install_plugins(&[xtask::EXAMPLE_PLUGINS], &root.join("plugins"))?;
            eprintln!("plugins ready: {} in plugins/", installed.len());
            let mut server =
                Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                    .current_dir(&root)
                    .args(["run", "--quiet", "-p", "vampiretcp", "--"])
                    .args(server_args)
                    .spawn()?;
            if watch {
                watch_plugins(&root, &mut server)?;
            }
            let status = server.wait()?;
            Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
        }
        "layers" => {
            let mut cycles = 0;
            for graph in xtask::layers::workspace_graphs(&root)? {
                let found = xtask::layers::cycles(&graph);
                let edges: usize = graph.edges.values().map(|targets| targets.len()).sum();
                let src = graph.src.strip_prefix(&root).unwrap_or(&graph.src);
                println!(
                    "{}: {} files, {edges} edges, {} cycles",
                    src.display(),
                    graph.modules.len(),
                    found.len()
                );
                for (module, targets) in &graph.edges {
                    if !targets.is_empty() {
                        let name = if module.is_empty() { "(root)" } else { module };
                        let targets: Vec<&str> = targets
                            .iter()
                            .map(|t| if t.is_empty() { "(root)" } else { t.as_str() })
                            .collect();
                        println!("  {name} -> {}", targets.join(", "));
                    }
                }
                for cycle in &found {
                    println!("  CYCLE: {}", cycle.join(", "));
                }
                cycles += found.len();
            }
            Ok(if cycles == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        "new-plugin" => {
            let Some(name) = rest.first() else {
                eprintln!("usage: cargo xtask new-plugin NAME [DIR]");
                return Ok(ExitCode::from(2));
            };
            let parent = rest.get(1).map_or_else(|| root.join("plugins"), PathBuf::from);
            let dir = xtask::new_plugin(name, &parent)?;
            println!("created {}", dir.display());
            println!(
                "next: cargo serve (it builds every crate of plugins/), then create_room {name}"
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <serve [--watch] [-- server args] | plugins | new-plugin NAME [DIR]>"
            );
            Ok(ExitCode::from(2))
        }
    }
}

/// Rebuilds a plugin crate of `plugins/` whenever a file of it changes, and
/// drops the new module into `plugins/` (the server reloads it), until the
/// server exits.
fn watch_plugins(root: &Path, server: &mut Child) -> anyhow::Result<()> {
    let plugins = root.join(xtask::EXAMPLE_PLUGINS);
    let (changes, changed) = mpsc::channel();
    let mut debouncer =
        new_debouncer(Duration::from_millis(200), None, move |result: DebounceEventResult| {
            if let Ok(events) = result {
                let paths = events
                    .into_iter()
                    .filter(|e| xtask::is_content_change(&e.event.kind))
                    .flat_map(|e| e.event.paths)
                    .collect::<Vec<_>>();
                let _ = changes.send(paths);
            }
        })?;
    debouncer.watch(&plugins, RecursiveMode::Recursive)?;
    eprintln!("watching plugins/*/ for changes: save a plugin's source to rebuild and reload it");
    loop {
        if server.try_wait()?.is_some() {
            return Ok(());
        }
        let Ok(paths) = changed.recv_timeout(Duration::from_millis(500)) else { continue };
        // The crates whose sources changed: `plugins/<crate>/...`, not the
        // modules `plugins/*.wasm` this loop writes itself.
        let crates: BTreeSet<String> = paths
            .iter()
            .filter_map(|path| path.strip_prefix(&plugins).ok())
            .filter(|relative| relative.components().count() > 1)
            .filter(|relative| !relative.components().any(|c| c.as_os_str() == "target"))
            .filter_map(|relative| relative.components().next())
            .map(|first| first.as_os_str().to_string_lossy().into_owned())
            .filter(|name| plugins.join(name).join("Cargo.toml").is_file())
            .collect();
        for name in crates {
            rebuild(&plugins, &name);
        }
    }
}

/// Builds plugin crate `name` and installs its module; a failed build is
/// reported and the module in place keeps serving.
fn rebuild(plugins: &Path, name: &str) {
    eprintln!("{name}: changed, rebuilding");
    match xtask::build_plugin_crates(&[name.to_owned()]) {
        Ok(built) => {
            for (name, module) in built {
                match xtask::install_module(&module, plugins, &name) {
                    Ok(_) => eprintln!("{name}: installed; the server swaps it into live rooms"),
                    Err(err) => eprintln!("{name}: cannot install: {err:#}"),
                }
            }
        }
        Err(err) => eprintln!("{name}: build failed, the running version stays: {err:#}"),
    }
}
