//! The TypeScript client's own tests (vitest, in `client-ts/`), run by
//! `cargo test` against this build of the server binary and the example
//! plugins, so the one test command covers them. Skipped with a note
//! where Node.js is missing, unless `VAMPIRE_REQUIRE_BROWSER` is set.

mod support;

use std::process::Command;

#[test]
fn the_typescript_client_passes_its_tests_against_this_server() {
    let Some(dir) = xtask::node::client_ts().expect("the TypeScript client builds") else {
        return;
    };
    let plugins = support::plugins_folder();
    let output = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&dir)
        .env("VAMPIRE_BIN", support::BINARY)
        .env("VAMPIRE_PLUGINS", &plugins)
        .env("NO_COLOR", "1")
        .output()
        .expect("npm runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "the TypeScript tests failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("passed"), "vitest ran no test:\n{stdout}");
}
