//! The `vampiretcp` binary as an operator runs it: config errors exit
//! non-zero naming the field; a valid config prints the bound address.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const BINARY: &str = env!("CARGO_BIN_EXE_vampiretcp");

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vampiretcp-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_with_config(json: &str) -> std::process::Output {
    let dir = temp_dir("config");
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = dir.join(format!("{}.json", NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, json).unwrap();
    Command::new(BINARY).arg("--config").arg(&path).arg("--check-config").output().unwrap()
}

#[test]
fn bad_configs_exit_non_zero_and_name_the_field() {
    let cases = [
        ("{\"tcpPort\": 7777,,}", "line 1 column 18"),
        (r#"{"tcpPort": 65536}"#, "tcpPort"),
        (r#"{"enableUDP": true, "tcpPort": 5000, "udpPort": 5000}"#, "udpPort"),
        (r#"{"limits": {"maxFrameBytes": "big"}}"#, "limits.maxFrameBytes"),
        (r#"{"colour": "red"}"#, "unknown field `colour`"),
    ];
    for (json, expected) in cases {
        let output = run_with_config(json);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{json}: {stderr}");
        assert!(stderr.contains(expected), "{json}: {stderr}");
    }
    let output = run_with_config(r#"{"tcpPort": 0, "wsPort": 0}"#);
    assert!(output.status.success());
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let output =
        Command::new(BINARY).args(["--config", "/nonexistent/server.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read config file"));
}

/// Starts the binary and returns it with the first line it printed, or
/// its log when it printed none.
fn start(args: &[&str], dir: &std::path::Path) -> (std::process::Child, String) {
    let log = dir.join("server.log");
    let mut child = Command::new(BINARY)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    if line.is_empty() {
        let _ = child.wait();
        line = std::fs::read_to_string(&log).unwrap_or_default();
    }
    (child, line)
}

#[test]
fn with_no_flag_it_listens_on_the_default_tcp_port() {
    let dir = temp_dir("default");
    let (mut child, line) = start(&[], &dir);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(line.trim(), "listening on 0.0.0.0:7777");
}

#[test]
fn port_zero_prints_the_port_it_got() {
    let dir = temp_dir("port0");
    let config = dir.join("server.json");
    std::fs::write(&config, r#"{"tcpPort": 0, "wsPort": 0, "bindAddress": "127.0.0.1"}"#).unwrap();
    let (mut child, line) = start(&["--config", config.to_str().unwrap()], &dir);
    let address = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let connected = std::net::TcpStream::connect(&address);
    let _ = child.kill();
    let _ = child.wait();
    assert!(!address.ends_with(":0"), "{address}");
    connected.expect("the printed address accepts connections");
}

#[test]
fn refused_plugins_are_logged_with_the_file_and_the_problem() {
    let dir = temp_dir("refused");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(plugins.join("empty.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(plugins.join("junk.wasm"), b"definitely not wasm").unwrap();
    // Any free ports: the default ones belong to the test of the defaults,
    // which runs at the same time.
    let config = dir.join("server.json");
    std::fs::write(
        &config,
        r#"{"tcpPort": 0, "udpPort": 0, "wsPort": 0, "bindAddress": "127.0.0.1"}"#,
    )
    .unwrap();
    let mut child = Command::new(BINARY)
        .arg("--config")
        .arg(&config)
        .current_dir(&dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = String::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("listening on TCP") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let refusal = |file: &str| {
        log.lines().find(|l| l.contains("plugin refused") && l.contains(file)).map(str::to_owned)
    };
    let empty =
        refusal("empty.wasm").unwrap_or_else(|| panic!("no refusal of empty.wasm in:\n{log}"));
    assert!(empty.contains("missing export `memory`"), "{empty}");
    let junk = refusal("junk.wasm").unwrap_or_else(|| panic!("no refusal of junk.wasm in:\n{log}"));
    assert!(junk.contains("not a valid WebAssembly module"), "{junk}");
    assert!(log.contains("listening on TCP"), "the server still started:\n{log}");
}

/// Issue 17, item 14: a token key or TLS file that is missing or wrong is
/// found by `--check-config`, and is a configuration error (exit 2).
#[test]
fn item_14_missing_or_wrong_key_and_certificate_files_are_config_errors() {
    let dir = temp_dir("check-files");
    let not_a_key = dir.join("not-a-key.pem");
    std::fs::write(&not_a_key, "hello").unwrap();
    let missing = dir.join("missing.pem");
    let cases = [
        (
            serde_json::json!({"auth": {"mode": "jwt", "algorithm": "EdDSA", "publicKeyFile": missing}}),
            "auth.publicKeyFile",
        ),
        (
            serde_json::json!({"auth": {"mode": "jwt", "algorithm": "RS256", "publicKeyFile": not_a_key}}),
            "auth.publicKeyFile",
        ),
        (serde_json::json!({"tls": {"certFile": missing, "keyFile": missing}}), "tls.certFile"),
        (serde_json::json!({"tls": {"certFile": not_a_key, "keyFile": not_a_key}}), "tls.certFile"),
    ];
    for (config, expected) in cases {
        let output = run_with_config(&config.to_string());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{config}: {stderr}");
        assert!(stderr.contains(expected), "{config}: {stderr}");
    }
}
