//! `cargo xtask`: project automation.
//!
//! - `cargo serve [-- SERVER ARGS]` (alias of `cargo xtask serve`): builds
//!   the example plugins into `plugins/` and starts the server on the
//!   embedded default config.
//! - `cargo xtask plugins`: only builds and installs the plugins.

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
        _ => {
            eprintln!("usage: cargo xtask <serve [-- server args] | plugins>");
            Ok(ExitCode::from(2))
        }
    }
}
