//! The hot-reload benchmark: for every example plugin, the time from a new
//! version's file landing in the plugins folder to a live room's member
//! getting its first answer from it; then 20 swaps of the `chat` plugin
//! under a room full of sequence-checked senders, counting what was lost
//! or seen twice.
//!
//! Run: `cargo run --release -p vampire-bench --bin reload`.

use std::time::Duration;

use clap::Parser;
use vampire_bench::{reload, servers, stats};

/// Hot-reload benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Swaps timed per example plugin.
    #[arg(long, default_value_t = 10)]
    swaps: u64,
    /// Swaps of `chat` under load.
    #[arg(long, default_value_t = 20)]
    loaded_swaps: u64,
    /// Members of the loaded `chat` room.
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Messages each member sends per second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Milliseconds between two loaded swaps.
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    let release = servers::build_release()?;
    let folder = servers::plugins_folder(&[xtask::EXAMPLE_PLUGINS])?;
    let config = serde_json::json!({
        "bindAddress": "127.0.0.1",
        "tcpPort": 0,
        "wsPort": 0,
        "pluginsDir": folder,
        "hotReload": true,
        "logLevel": "warn",
    });
    let server = servers::start_vampire(&release.join("vampiretcp"), &config)?;
    let mut plugins: Vec<(String, std::path::PathBuf, Vec<u8>)> = Vec::new();
    for entry in std::fs::read_dir(&folder)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            let module = std::fs::read(&path)?;
            plugins.push((name, path, module));
        }
    }
    plugins.sort();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;

    println!("file landing -> first answer from the new version ({} swaps each):", args.swaps);
    println!();
    println!("| plugin | module size | p50 | p90 | max |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, path, module) in &plugins {
        let mut latencies =
            runtime.block_on(reload::swap_latency(server.addr, name, path, module, args.swaps))?;
        latencies.sort();
        let at = |q: f64| {
            let index = ((latencies.len() - 1) as f64 * q).round() as usize;
            stats::human(latencies[index].as_nanos() as u64)
        };
        println!(
            "| {name} | {} KiB | {} | {} | {} |",
            module.len() / 1024,
            at(0.5),
            at(0.9),
            at(1.0),
        );
    }

    let (_, chat_path, chat_module) = plugins
        .iter()
        .find(|(name, _, _)| name == "chat")
        .ok_or_else(|| anyhow::anyhow!("no chat plugin among the examples"))?;
    let outcome = runtime.block_on(reload::swaps_under_load(
        server.addr,
        "chat",
        chat_path,
        chat_module,
        reload::SwapLoad {
            clients: args.clients,
            rate: args.rate,
            swaps: args.loaded_swaps,
            interval: Duration::from_millis(args.interval_ms),
        },
    ))?;
    println!();
    println!(
        "{} swaps of chat, one every {} ms, under {} members sending {} msg/s each:",
        outcome.swaps, args.interval_ms, args.clients, args.rate
    );
    println!();
    println!(
        "| sent | delivered | lost | duplicated | room_reloaded seen (fewest) | members dropped |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    println!(
        "| {} | {} | {} | {} | {} | {} |",
        outcome.sent,
        outcome.delivered,
        outcome.lost,
        outcome.duplicated,
        outcome.reloads_seen,
        outcome.dropped
    );
    Ok(())
}
