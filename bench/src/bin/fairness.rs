//! Fair plugin scheduling: a healthy plugin room's `invoke` round trip
//! while other plugin rooms never idle, against the same room on an
//! otherwise idle server.
//!
//! Each busy room is the `faulty` test plugin running `busy`: many
//! repeating 1 ms timers, each running close to the per-call budget, so
//! the room always has a call to make. The healthy room is the `echo`
//! bench plugin, invoked one call at a time from its own connection.
//!
//! Run: `cargo run --release -p vampire-bench --bin fairness`
//! (`-- --busy 16 --seconds 10` are the defaults).

use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use vampire_bench::load::{invoke_argument, kept_room};
use vampire_bench::{servers, stats};
use vampire_client::{Client, Payload, Value};

/// Fair-scheduling benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Plugin rooms kept busy.
    #[arg(long, default_value_t = 16)]
    busy: usize,
    /// Timers each busy room runs.
    #[arg(long, default_value_t = 64)]
    timers: u32,
    /// Milliseconds each busy timer call runs (the budget is 200).
    #[arg(long, default_value_t = 150)]
    busy_ms: u32,
    /// Seconds of healthy invokes timed, with and without the busy rooms.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// `limits.pluginThreads` (0: the server's default).
    #[arg(long, default_value_t = 0)]
    plugin_threads: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    let binary = servers::build_release()?.join("vampiretcp");
    let plugins = servers::plugins_folder(&[xtask::TEST_PLUGINS, xtask::BENCH_PLUGINS])?;
    let config = servers::bench_config(
        &plugins,
        serde_json::json!({
            "maxRoomsPerConnection": 1000,
            "pluginThreads": args.plugin_threads,
            "pluginFailuresToClose": 1_000_000,
        }),
    );
    let server = servers::start_vampire(&binary, &config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let healthy = Client::connect(server.addr).await?;
        let room = healthy.create_room(kept_room("echo")).await?.id;
        healthy.join(&room, None).await?;
        let window = Duration::from_secs(args.seconds);
        let idle = time_invokes(&healthy, &room, window).await?;

        let owner = Client::connect(server.addr).await?;
        let busy = serde_json::json!({"timers": args.timers, "ms": args.busy_ms});
        for _ in 0..args.busy {
            let busy_room = owner.create_room(kept_room("faulty")).await?.id;
            owner.join(&busy_room, None).await?;
            owner.invoke(&busy_room, "busy", Payload::from(json_value(&busy))).await?;
        }
        // Let every busy room reach its steady state.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let loaded = time_invokes(&healthy, &room, window).await?;
        let usage = stats::process_usage(&server.pid().to_string())?;

        println!(
            "healthy plugin room invoke round trip, one call at a time, {} s each ({} plugin rooms busy: {} timers of {} ms each):",
            args.seconds, args.busy, args.timers, args.busy_ms
        );
        println!();
        println!("| server | calls | p50 | p99 | max | p99 vs idle |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        let idle_p99 = idle.value_at_quantile(0.99);
        for (name, histogram) in [("idle", &idle), ("busy rooms", &loaded)] {
            println!(
                "| {name} | {} | {} | {} | {} | {:.1}x |",
                histogram.len(),
                stats::human(histogram.value_at_quantile(0.5)),
                stats::human(histogram.value_at_quantile(0.99)),
                stats::human(histogram.max()),
                histogram.value_at_quantile(0.99) as f64 / idle_p99 as f64,
            );
        }
        println!();
        println!("server CPU so far: {usage:?}");
        anyhow::Ok(())
    })?;
    Ok(())
}

/// Invokes `echo` in `room` one call at a time for `window`.
async fn time_invokes(
    client: &Client,
    room: &str,
    window: Duration,
) -> anyhow::Result<Histogram<u64>> {
    let argument = invoke_argument();
    let mut histogram = stats::latency_histogram();
    let started = Instant::now();
    while started.elapsed() < window {
        let call = Instant::now();
        client.invoke(room, "echo", argument.clone()).await?;
        stats::record(&mut histogram, call.elapsed());
    }
    Ok(histogram)
}

/// A JSON object as a MessagePack value (string keys, integer values).
fn json_value(json: &serde_json::Value) -> Value {
    let entries = json.as_object().into_iter().flatten();
    Value::Map(
        entries
            .map(|(key, value)| {
                (Value::from(key.as_str()), Value::from(value.as_u64().unwrap_or(0)))
            })
            .collect(),
    )
}
