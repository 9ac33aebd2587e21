//! The one benchmark command: runs the baseline relay, VampireTCP and
//! Colyseus one after another under the same chat fan-out load, waiting
//! for an idle machine before each, and prints a table with ratios; then
//! VampireTCP's own scenarios (invoke round trips, idle connections, room
//! creation). `--sweep` raises the send rate until p99 passes 100 ms to
//! find each server's saturation point.
//!
//! Run: `cargo run --release -p vampire-bench --bin compare [-- --sweep]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use vampire_bench::load::{self, ChatParams, ChatResult};
use vampire_bench::servers::{self, Running};
use vampire_bench::stats::human;

/// Side-by-side benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Rooms (R).
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Clients per room (C).
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Messages each client sends per second (M).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Measured seconds per run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Find each server's saturation point instead of one run per server:
    /// M starts at `--sweep-start` and doubles, then bisects.
    #[arg(long)]
    sweep: bool,
    /// First M of a sweep.
    #[arg(long, default_value_t = 8.0)]
    sweep_start: f64,
    /// Run this VampireTCP binary instead of the one built here (say, a
    /// build of an earlier commit, for before/after figures). It gets the
    /// same configuration, so it must know its keys (every build since the
    /// request rate limit did); with fewer, the invoke scenario was
    /// throttled by the default rate limit.
    #[arg(long, value_name = "PATH")]
    vampire_bin: Option<PathBuf>,
    /// Run each server this many times, alternating the order every round
    /// (A B, B A, …); the ratios compare each server's median run (by CPU
    /// per delivery). Runs of one server differ by several percent on a
    /// 2-core machine: a target of 2% needs five or more.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Skip VampireTCP's own scenarios after the chat runs.
    #[arg(long)]
    no_scenarios: bool,
    /// Leave Colyseus out (no Node.js).
    #[arg(long)]
    no_colyseus: bool,
    /// Only these servers (baseline, vampiretcp, vampiretcp+metrics,
    /// vampiretcp-ws, vampiretcp-noreplay, colyseus), comma-separated.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

/// A server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Baseline,
    Vampire,
    /// VampireTCP with the admin listener on, so it keeps its metrics:
    /// what monitoring costs, beside the same server without it.
    VampireMetrics,
    /// VampireTCP with the chat clients on its WebSocket port.
    VampireWebSocket,
    /// VampireTCP holding no session for a resume (`reconnect.windowSecs`
    /// 0): no replay kept, no frame numbered; what sessions that outlive
    /// their connection cost, beside the default.
    VampireNoReplay,
    Colyseus,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Baseline => "baseline",
            Target::Vampire => "vampiretcp",
            Target::VampireMetrics => "vampiretcp+metrics",
            Target::VampireWebSocket => "vampiretcp-ws",
            Target::VampireNoReplay => "vampiretcp-noreplay",
            Target::Colyseus => "colyseus",
        }
    }
}

/// Paths and tools the runs need.
struct Setup {
    release: PathBuf,
    vampire_bin: Option<PathBuf>,
    plugins: PathBuf,
    colyseus: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let setup = prepare(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut targets = vec![
        Target::Baseline,
        Target::Vampire,
        Target::VampireMetrics,
        Target::VampireWebSocket,
        Target::VampireNoReplay,
    ];
    if setup.colyseus.is_some() {
        targets.push(Target::Colyseus);
    }
    if !args.only.is_empty() {
        targets.retain(|t| args.only.iter().any(|o| o == t.name()));
    }
    println!(
        "machine: {} cores, {:.0} GiB; R={} rooms x C={} clients, M={} msg/s per client, ~64-byte payload, {} s window after {} s warm-up",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        total_memory_gib(),
        args.rooms,
        args.clients,
        args.rate,
        args.duration,
        args.warmup
    );
    if args.sweep {
        sweep(&runtime, &setup, &args, &targets)?;
    } else {
        let mut results = Vec::new();
        for round in 0..args.rounds.max(1) {
            let mut order = targets.clone();
            if round % 2 == 1 {
                order.reverse();
            }
            for target in order {
                let result = run_chat(&runtime, &setup, &args, target, args.rate)?;
                results.push((target, result));
            }
        }
        print_table(&results);
        if !args.no_scenarios {
            vampire_scenarios(&runtime, &setup)?;
        }
    }
    Ok(())
}

/// Builds what is missing: the server, the plugins, the Colyseus install.
fn prepare(args: &Args) -> anyhow::Result<Setup> {
    let release = servers::build_release()?;
    let plugins = servers::plugins_folder(&[xtask::EXAMPLE_PLUGINS, xtask::BENCH_PLUGINS])?;
    let colyseus = if args.no_colyseus { None } else { install_colyseus(&xtask::workspace_root()) };
    Ok(Setup { release, vampire_bin: args.vampire_bin.clone(), plugins, colyseus })
}

/// `npm ci` in `bench/colyseus` when its packages are missing; `None` (and a
/// note) when Node.js is not available.
fn install_colyseus(root: &Path) -> Option<PathBuf> {
    let dir = root.join("bench").join("colyseus");
    if dir.join("node_modules").join("colyseus").is_dir() {
        return Some(dir);
    }
    eprintln!("installing Colyseus (npm ci in bench/colyseus)...");
    match Command::new("npm").current_dir(&dir).args(["ci", "--no-audit", "--no-fund"]).status() {
        Ok(status) if status.success() => Some(dir),
        other => {
            eprintln!("Colyseus left out: npm ci failed ({other:?})");
            None
        }
    }
}

fn start(setup: &Setup, target: Target) -> anyhow::Result<Running> {
    match target {
        Target::Baseline => servers::start(Command::new(setup.release.join("relay"))),
        Target::Vampire
        | Target::VampireMetrics
        | Target::VampireWebSocket
        | Target::VampireNoReplay => {
            // Limits meant for real clients (request rate, rooms per
            // connection) would throttle the load generator itself.
            let mut config = serde_json::json!({
                "bindAddress": "127.0.0.1",
                "tcpPort": 0,
                "wsPort": 0,
                "udpPort": 0,
                "pluginsDir": setup.plugins,
                "logLevel": "warn",
                "limits": {
                    "maxRooms": 100000,
                    "maxRoomsPerConnection": 100000,
                    "requestsPerSecond": 1000000,
                    "requestBurst": 1000000
                }
            });
            if target == Target::VampireMetrics {
                config["admin"] = serde_json::json!({ "port": 0, "metricsPublic": true });
            }
            if target == Target::VampireNoReplay {
                config["reconnect"] = serde_json::json!({ "windowSecs": 0 });
            }
            let binary =
                setup.vampire_bin.clone().unwrap_or_else(|| setup.release.join("vampiretcp"));
            servers::start_vampire(&binary, &config)
        }
        Target::Colyseus => {
            let dir = setup.colyseus.as_ref().context("Colyseus is not installed")?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut command = Command::new("node");
            command.current_dir(dir).arg("server.js").arg(port.to_string());
            servers::start(command)
        }
    }
}

/// Waits (up to 30 s) until the machine's CPUs are at least 90% idle over
/// half a second, so one run's tail does not load the next.
fn wait_for_idle_machine() {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let a = cpu_times();
        std::thread::sleep(Duration::from_millis(500));
        let b = cpu_times();
        let (busy, total) = (b.0 - a.0, b.1 - a.1);
        if total > 0 && (busy as f64) < 0.1 * total as f64 {
            return;
        }
    }
    eprintln!("note: the machine did not become idle within 30 s");
}

/// (busy, total) jiffies of all CPUs.
fn cpu_times() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().sum();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn total_memory_gib() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0 / 1024.0
}

fn run_chat(
    runtime: &tokio::runtime::Runtime,
    setup: &Setup,
    args: &Args,
    target: Target,
    rate: f64,
) -> anyhow::Result<ChatResult> {
    wait_for_idle_machine();
    let server = start(setup, target)?;
    let pid = server.pid();
    eprintln!("running {} at M={rate}...", target.name());
    let result = match target {
        Target::Colyseus => {
            let dir = setup.colyseus.as_ref().context("Colyseus is not installed")?;
            let output = Command::new("node")
                .current_dir(dir)
                .arg("load.js")
                .args(["--port", &server.addr.port().to_string()])
                .args(["--rooms", &args.rooms.to_string(), "--clients", &args.clients.to_string()])
                .args(["--rate", &rate.to_string(), "--duration", &args.duration.to_string()])
                .args(["--warmup", &args.warmup.to_string(), "--server-pid", &pid.to_string()])
                .output()?;
            let stdout = String::from_utf8_lossy(&output.stdout);
            let line =
                stdout.lines().find_map(|l| l.strip_prefix("RESULT ")).with_context(|| {
                    format!(
                        "the Colyseus load script failed: {}",
                        String::from_utf8_lossy(&output.stderr)
                    )
                })?;
            serde_json::from_str(line)?
        }
        _ => {
            let params = ChatParams {
                rooms: args.rooms,
                clients: args.clients,
                rate,
                duration: Duration::from_secs(args.duration),
                warmup: Duration::from_secs(args.warmup),
            };
            let transport = match (target, server.websocket) {
                (Target::VampireWebSocket, Some(ws)) => load::Transport::WebSocket(ws),
                (Target::VampireWebSocket, None) => {
                    anyhow::bail!("the server has no WebSocket port")
                }
                _ => load::Transport::Tcp(server.addr),
            };
            runtime.block_on(load::chat_over(transport, params, pid))?
        }
    };
    drop(server);
    Ok(result)
}

fn print_table(results: &[(Target, ChatResult)]) {
    println!();
    println!(
        "| server | offered deliveries/s | delivered/s | server CPU-s per 1M delivered | p50 | p99 | p99.9 | peak RSS |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (target, r) in results {
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {} | {} | {} | {:.1} MiB |",
            target.name(),
            r.offered_per_s,
            r.delivered_per_s,
            r.cpu_per_million(),
            human(r.p50_ns),
            human(r.p99_ns),
            human(r.p999_ns),
            r.peak_rss_bytes as f64 / 1048576.0
        );
    }
    // Each server's median run by CPU per delivery (its only run, without
    // `--rounds`).
    let find = |t: Target| {
        let mut runs: Vec<&ChatResult> =
            results.iter().filter(|(target, _)| *target == t).map(|(_, r)| r).collect();
        runs.sort_by(|a, b| a.cpu_per_million().total_cmp(&b.cpu_per_million()));
        runs.get(runs.len() / 2).copied()
    };
    if let Some(vampire) = find(Target::Vampire) {
        println!();
        if let Some(baseline) = find(Target::Baseline) {
            println!(
                "vampiretcp / baseline: CPU per delivery {:.2}x (target <= 1.0x), delivered {:.2}x",
                vampire.cpu_per_million() / baseline.cpu_per_million(),
                vampire.delivered_per_s / baseline.delivered_per_s
            );
        }
        if let Some(metered) = find(Target::VampireMetrics) {
            println!(
                "vampiretcp+metrics / vampiretcp: CPU per delivery {:+.1}% (target within 2%), p99 {:.2}x",
                (metered.cpu_per_million() / vampire.cpu_per_million() - 1.0) * 100.0,
                metered.p99_ns as f64 / vampire.p99_ns as f64
            );
            print_paired(results, Target::VampireMetrics, Target::Vampire);
        }
        if let Some(plain) = find(Target::VampireNoReplay) {
            println!(
                "vampiretcp / vampiretcp-noreplay: CPU per delivery {:+.1}% (target within 2%), p99 {:.2}x",
                (vampire.cpu_per_million() / plain.cpu_per_million() - 1.0) * 100.0,
                vampire.p99_ns as f64 / plain.p99_ns as f64
            );
            print_paired(results, Target::Vampire, Target::VampireNoReplay);
        }
        if let Some(ws) = find(Target::VampireWebSocket) {
            println!(
                "vampiretcp-ws / vampiretcp: delivered {:.2}x, CPU per delivery {:.2}x (target <= 1.25x), p99 {:.2}x",
                ws.delivered_per_s / vampire.delivered_per_s,
                ws.cpu_per_million() / vampire.cpu_per_million(),
                ws.p99_ns as f64 / vampire.p99_ns as f64
            );
            if let Some(colyseus) = find(Target::Colyseus) {
                println!(
                    "vampiretcp-ws / colyseus: delivered {:.2}x, CPU per delivery {:.3}x",
                    ws.delivered_per_s / colyseus.delivered_per_s,
                    ws.cpu_per_million() / colyseus.cpu_per_million()
                );
            }
        }
        if let Some(colyseus) = find(Target::Colyseus) {
            println!(
                "vampiretcp / colyseus: delivered {:.2}x, CPU per delivery {:.3}x, p99 {:.3}x",
                vampire.delivered_per_s / colyseus.delivered_per_s,
                vampire.cpu_per_million() / colyseus.cpu_per_million(),
                vampire.p99_ns as f64 / colyseus.p99_ns as f64
            );
        }
    }
}

/// With `--rounds`, the CPU per delivery of `numerator` over
/// `denominator` round by round (the two ran back to back, so slow drifts
/// of the machine cancel), their geometric mean and its standard error:
/// what the median runs' ratio cannot say is how sure it is.
fn print_paired(results: &[(Target, ChatResult)], numerator: Target, denominator: Target) {
    let runs = |t: Target| results.iter().filter(move |(target, _)| *target == t).map(|(_, r)| r);
    let logs: Vec<f64> = runs(numerator)
        .zip(runs(denominator))
        .map(|(n, d)| (n.cpu_per_million() / d.cpu_per_million()).ln())
        .collect();
    if logs.len() < 2 {
        return;
    }
    let count = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / count;
    let variance = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (count - 1.0);
    let ratios: Vec<String> = logs.iter().map(|l| format!("{:.3}", l.exp())).collect();
    println!(
        "  per round: {}; geometric mean {:+.1}% (standard error {:.1} points)",
        ratios.join(", "),
        (mean.exp() - 1.0) * 100.0,
        (variance / count).sqrt() * 100.0
    );
}

/// Raises M for each server until p99 passes 100 ms or deliveries fall
/// behind the offer by more than 5%, doubling at first (halving, when the
/// first rate is already too much), then bisecting
/// between the last rate that passed and the first that failed (three
/// steps, so the saturation point is known within about 12%). The
/// saturation point is the highest delivered rate that still met
/// p99 <= 100 ms.
fn sweep(
    runtime: &tokio::runtime::Runtime,
    setup: &Setup,
    args: &Args,
    targets: &[Target],
) -> anyhow::Result<()> {
    let mut saturation = Vec::new();
    for &target in targets {
        let mut best: Option<(f64, ChatResult)> = None;
        let try_rate = |rate: f64, best: &mut Option<(f64, ChatResult)>| -> anyhow::Result<bool> {
            let result = run_chat(runtime, setup, args, target, rate)?;
            let ok = result.p99_ns <= 100_000_000
                && result.delivered_per_s >= 0.95 * result.offered_per_s;
            eprintln!(
                "  {} M={rate:.1}: offered {:.0}/s delivered {:.0}/s p99 {} CPU-s/1M {:.2} -> {}",
                target.name(),
                result.offered_per_s,
                result.delivered_per_s,
                human(result.p99_ns),
                result.cpu_per_million(),
                if ok { "ok" } else { "saturated" }
            );
            if ok && best.as_ref().is_none_or(|(_, b)| result.delivered_per_s > b.delivered_per_s) {
                *best = Some((rate, result));
            }
            Ok(ok)
        };
        let mut low = 0.0;
        let mut high = args.sweep_start;
        while try_rate(high, &mut best)? {
            low = high;
            high *= 2.0;
            if high > 100_000.0 {
                break;
            }
        }
        // Saturated at the first rate (Colyseus, from a start meant for
        // the others): halve down to a rate that passes.
        while low == 0.0 && high > 0.5 {
            let lower = high / 2.0;
            if try_rate(lower, &mut best)? {
                low = lower;
            } else {
                high = lower;
            }
        }
        for _ in 0..3 {
            if low == 0.0 {
                break;
            }
            let mid = (low + high) / 2.0;
            if try_rate(mid, &mut best)? {
                low = mid;
            } else {
                high = mid;
            }
        }
        saturation.push((target, best));
    }
    println!();
    println!(
        "| server | saturation M (msg/s per client) | delivered/s at p99 <= 100 ms | p99 there | server CPU-s per 1M |"
    );
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (target, best) in &saturation {
        match best {
            Some((rate, r)) => println!(
                "| {} | {rate} | {:.0} | {} | {:.2} |",
                target.name(),
                r.delivered_per_s,
                human(r.p99_ns),
                r.cpu_per_million()
            ),
            None => println!("| {} | below the first rate | - | - | - |", target.name()),
        }
    }
    let delivered = |t: Target| {
        saturation
            .iter()
            .find(|(target, _)| *target == t)
            .and_then(|(_, best)| best.as_ref().map(|(_, r)| r.delivered_per_s))
    };
    if let (Some(v), Some(c)) = (delivered(Target::Vampire), delivered(Target::Colyseus)) {
        println!("\nsaturation throughput vampiretcp / colyseus: {:.1}x (target >= 10x)", v / c);
    }
    if let (Some(v), Some(b)) = (delivered(Target::Vampire), delivered(Target::Baseline)) {
        println!("saturation throughput vampiretcp / baseline: {:.2}x (target >= 0.75x)", v / b);
    }
    if let Some(ws) = delivered(Target::VampireWebSocket) {
        if let Some(tcp) = delivered(Target::Vampire) {
            println!(
                "saturation throughput vampiretcp-ws / vampiretcp: {:.2}x (target >= 0.8x)",
                ws / tcp
            );
        }
        if let Some(c) = delivered(Target::Colyseus) {
            println!(
                "saturation throughput vampiretcp-ws / colyseus: {:.1}x (target >= 20x)",
                ws / c
            );
        }
    }
    Ok(())
}

/// VampireTCP's own scenarios: invoke round trips, idle connections, room
/// creation.
fn vampire_scenarios(runtime: &tokio::runtime::Runtime, setup: &Setup) -> anyhow::Result<()> {
    println!();
    wait_for_idle_machine();
    let server = start(setup, Target::Vampire)?;
    let pid = server.pid();
    let invoke = runtime.block_on(load::invoke(
        server.addr,
        "echo",
        "echo",
        50,
        Duration::from_secs(5),
        pid,
    ))?;
    println!(
        "invoke round trips (echo plugin, 50 clients in one room, closed loop, 5 s): {:.0} calls/s; p50 {} / p99 {} / p99.9 {}; server CPU {:.2} s per 1M calls",
        invoke.calls_per_s,
        human(invoke.p50_ns),
        human(invoke.p99_ns),
        human(invoke.p999_ns),
        invoke.server_cpu_s_per_million
    );
    let per_client = runtime.block_on(load::idle(server.addr, 800, pid))?;
    println!(
        "idle connections: {:.1} KiB of server memory per connected client (800 clients)",
        per_client / 1024.0
    );
    let (rate, per_room) = runtime.block_on(load::rooms(server.addr, "echo", 2000, 2000, pid))?;
    println!(
        "wasm rooms over TCP (echo plugin, one client creating): {rate:.0} rooms/s; {:.1} KiB of server memory per room (2000 rooms)",
        per_room / 1024.0
    );
    Ok(())
}
