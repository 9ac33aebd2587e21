//! The start-up benchmark: how long a release server with the four example
//! plugins takes from its start to listening, compiling every plugin
//! (`pluginCache` off) or loading their compiled code from the cache
//! (after a first start filled it).
//!
//! Run: `cargo run --release -p vampire-bench --bin startup [-- --starts 10]`.

use std::time::Instant;

use clap::Parser;
use vampire_bench::{servers, stats};

/// Start-up benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Starts timed each way.
    #[arg(long, default_value_t = 10)]
    starts: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = servers::build_release()?.join("vampiretcp");
    let plugins = servers::plugins_folder(&[xtask::EXAMPLE_PLUGINS])?;
    let cache = std::env::temp_dir().join(format!("vampire-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let mut config = servers::bench_config(&plugins, serde_json::json!({}));
    config["pluginCacheDir"] = cache.to_string_lossy().into_owned().into();
    let timed = |config: &serde_json::Value| -> anyhow::Result<_> {
        let mut took = stats::latency_histogram();
        for _ in 0..args.starts {
            let started = Instant::now();
            let server = servers::start_vampire(&binary, config)?;
            stats::record(&mut took, started.elapsed());
            drop(server);
        }
        Ok(took)
    };
    config["pluginCache"] = false.into();
    let compiling = timed(&config)?;
    // The first start with the cache on fills it; the next ones load it.
    config["pluginCache"] = true.into();
    drop(servers::start_vampire(&binary, &config)?);
    let cached = timed(&config)?;
    let _ = std::fs::remove_dir_all(&cache);
    println!(
        "start -> listening, four example plugins, {} starts each ({}):",
        args.starts,
        stats::machine()
    );
    println!("  compiling every plugin:     {}", stats::percentiles(&compiling));
    println!("  compiled code from the cache: {}", stats::percentiles(&cached));
    let p50 = cached.value_at_quantile(0.5);
    println!(
        "  target: under 100 ms p50 with the cache: {}",
        if p50 < 100_000_000 { "met" } else { "missed" }
    );
    Ok(())
}
