//! `cargo xtask`: project automation.
//!
//! - `cargo serve [-- SERVER ARGS]` (alias of `cargo xtask serve`): builds
//!   the example plugins into `plugins/` and starts the server on the
//!   embedded default config.
//! - `cargo xtask plugins`: only builds and installs the plugins.
//! - `cargo xtask new-plugin NAME [DIR]`: creates a plugin crate (in
//!   `plugins/` by default, where `cargo serve` builds it).

use std::process::{Command, ExitCode};

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
            let installed =
                xtask::install_plugins(&[xtask::EXAMPLE_PLUGINS], &root.join("plugins"))?;
            eprintln!("plugins ready: {} in plugins/", installed.len());
            let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .current_dir(&root)
                .args(["run", "--quiet", "-p", "vampiretcp", "--"])
                .args(rest)
                .status()?;
            Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
        }
        "new-plugin" => {
            let Some(name) = rest.first() else {
                eprintln!("usage: cargo xtask new-plugin NAME [DIR]");
                return Ok(ExitCode::from(2));
            };
            let parent = rest.get(1).map_or_else(|| root.join("plugins"), std::path::PathBuf::from);
            let dir = xtask::new_plugin(name, &parent)?;
            println!("created {}", dir.display());
            println!(
                "next: cargo serve (it builds every crate of plugins/), then create_room {name}"
            );
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <serve [-- server args] | plugins | new-plugin NAME [DIR]>"
            );
            Ok(ExitCode::from(2))
        }
    }
}
