//! In-process costs of plugin rooms, without the network:
//!
//! 1. **invoke round trip**: host → guest `echo` method (which makes one
//!    host import call, `variable_set`) → back, with a small argument;
//! 2. **message relay**: a member's 64-byte message through the plugin's
//!    message hook and back out as a relay (the `relay` host call);
//! 3. **room creation**: plugin rooms created per second, through the room
//!    manager (instantiation, the guest's `create` hook, actor start), and
//!    the memory each one holds;
//! 4. **the room clock**: the CPU share of 1000 plugin rooms ticking at
//!    20 Hz, with an empty tick and with a tick that sets one variable.
//!
//! Run: `cargo run --release -p vampire-bench --bin plugin-bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use vampire_bench::load::kept_room;
use vampire_bench::load::{self, invoke_argument};
use vampire_bench::stats;
use vampire_protocol::{CreateRoom, RoomInfo};
use vampiretcp::Config;
use vampiretcp::metrics::Metrics;
use vampiretcp::outbound::{Answer, Responder};
use vampiretcp::plugins::{PluginRoomType, PluginRuntime, loader, room::WasmRoom};
use vampiretcp::rooms::listing::Listing;
use vampiretcp::rooms::{Caller, RoomBehaviour, RoomLimits, RoomManager, RoomSettings, RoomState};

/// In-process plugin benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Invoke calls to time (after 10% as warm-up).
    #[arg(long, default_value_t = 200_000)]
    calls: u32,
    /// Rooms to create.
    #[arg(long, default_value_t = 5_000)]
    rooms: u32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!(
        "measured on {}; plugins built with the `{}` profile (opt-level 3, LTO)",
        vampire_bench::stats::machine(),
        xtask::PLUGIN_PROFILE
    );
    let built = xtask::build_plugins(&[xtask::BENCH_PLUGINS])?;
    let (_, echo_path) = built.iter().find(|(name, _)| name == "echo").expect("echo plugin built");
    let config = Config::embedded_default();
    let runtime = Arc::new(PluginRuntime::new(&config.limits, Metrics::off())?);
    let module = Arc::new(loader::compile(&runtime, echo_path).map_err(anyhow::Error::from)?);

    // 1 and 2 call the hooks directly, on one thread, as a room's actor
    // does.
    let one_thread = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    one_thread.block_on(async {
        // 1. Invoke round trip.
        let settings = RoomSettings {
            room_type: "echo".into(),
            max_clients: 16,
            broadcast_enabled: true,
            broadcast_default: true,
            ..RoomSettings::default()
        };
        let listing = Arc::new(Listing::new(RoomInfo::default()));
        let mut state = RoomState::new(
            "bench".into(),
            settings,
            listing,
            RoomLimits::default(),
            Metrics::off(),
        );
        let mut room = WasmRoom::new(module.clone());
        room.on_create(&mut state).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let argument = invoke_argument();
        for _ in 0..args.calls / 10 {
            room.on_invoke(&mut state, 1, "echo", &argument)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let mut histogram = stats::latency_histogram();
        let started = Instant::now();
        for _ in 0..args.calls {
            let call = Instant::now();
            let result = room.on_invoke(&mut state, 1, "echo", &argument).await;
            stats::record(&mut histogram, call.elapsed());
            debug_assert!(result.is_ok());
        }
        let total = started.elapsed();
        println!(
            "invoke round trip (host -> guest -> host import -> back), argument {argument:?}:"
        );
        println!(
            "  {} calls: mean {} ({:.0} calls/s on one core); {}",
            args.calls,
            stats::human((total.as_nanos() / u128::from(args.calls)) as u64),
            f64::from(args.calls) / total.as_secs_f64(),
            stats::percentiles(&histogram)
        );

        // 2. Relay of a 64-byte message through the message hook.
        let message = vampire_protocol::Payload::from_bytes(load::chat_payload(1).into())?;
        for _ in 0..args.calls / 10 {
            room.on_message(&mut state, 1, &message, false)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let mut histogram = stats::latency_histogram();
        let started = Instant::now();
        for _ in 0..args.calls {
            let call = Instant::now();
            let result = room.on_message(&mut state, 1, &message, false).await;
            stats::record(&mut histogram, call.elapsed());
            debug_assert!(result.is_ok());
        }
        let total = started.elapsed();
        println!("message relay through a plugin room (64-byte message, message hook -> relay):");
        println!(
            "  {} messages: mean {} ({:.0} messages/s on one core); {}",
            args.calls,
            stats::human((total.as_nanos() / u128::from(args.calls)) as u64),
            f64::from(args.calls) / total.as_secs_f64(),
            stats::percentiles(&histogram)
        );
        anyhow::Ok(())
    })?;

    // 3. Room creation through the manager, actors included.
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    tokio.block_on(async {
        let mut config = Config::embedded_default();
        config.limits.max_rooms = args.rooms as usize + 1;
        config.limits.plugin_memory_total_bytes = 64 << 30;
        let max_frame_bytes = config.limits.max_outbound_frame_bytes;
        let manager = RoomManager::new(Arc::new(config), Metrics::off());
        manager.register_type(Arc::new(PluginRoomType(module.clone())));
        let request = kept_room("echo");
        let rss_before = stats::process_usage("self")?.rss_bytes;
        let started = Instant::now();
        let answers = create_rooms(&manager, args.rooms, max_frame_bytes, || request.clone());
        // Creation ends in each room's own task, which answers.
        for answer in answers {
            answer.outcome().await.map_err(|err| anyhow::anyhow!("a room was refused: {err}"))?;
        }
        let elapsed = started.elapsed();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let rss_after = stats::process_usage("self")?.rss_bytes;
        println!("room creation (plugin rooms through the room manager):");
        println!(
            "  {} rooms in {:.2} s: {:.0} rooms/s; resident memory +{:.1} KiB per room",
            args.rooms,
            elapsed.as_secs_f64(),
            f64::from(args.rooms) / elapsed.as_secs_f64(),
            rss_after.saturating_sub(rss_before) as f64 / 1024.0 / f64::from(args.rooms)
        );
        anyhow::Ok(())
    })?;

    // 4. The room clock: 1000 rooms at 20 Hz.
    println!("room clock (1000 plugin rooms ticking at 20 Hz, 5 s):");
    for (label, set_variable) in [("empty tick", false), ("tick setting one variable", true)] {
        let share = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(tick_share(module.clone(), 1000, set_variable, Duration::from_secs(5)))?;
        println!("  {label}: {:.1}% of one core ({:.2} µs per tick)", share.0 * 100.0, share.1);
    }
    Ok(())
}

/// Creates `rooms` echo rooms ticking at 20 Hz, lets them tick for
/// `window`, and returns the process's CPU time over the window as a share
/// of one core, and per tick in microseconds (with the server's idle cost,
/// measured first, taken off).
async fn tick_share(
    module: Arc<vampiretcp::plugins::PluginModule>,
    rooms: u32,
    set_variable: bool,
    window: Duration,
) -> anyhow::Result<(f64, f64)> {
    let mut config = Config::embedded_default();
    config.limits.max_rooms = rooms as usize + 1;
    let max_frame_bytes = config.limits.max_outbound_frame_bytes;
    let manager = RoomManager::new(Arc::new(config), Metrics::off());
    manager.register_type(Arc::new(PluginRoomType(module)));
    let options = serde_json::json!({"tick_hz": 20, "set_variable": set_variable});
    let options = vampire_protocol::Payload::from(vampire_client::json::from_json(&options));
    let answers = create_rooms(&manager, rooms, max_frame_bytes, || CreateRoom {
        options: Some(options.clone()),
        ..kept_room("echo")
    });
    for answer in answers {
        answer.outcome().await.map_err(|err| anyhow::anyhow!("a room was refused: {err}"))?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = stats::process_usage("self")?.cpu;
    tokio::time::sleep(window).await;
    let cpu = stats::process_usage("self")?.cpu.saturating_sub(before).as_secs_f64();
    let ticks = f64::from(rooms) * 20.0 * window.as_secs_f64();
    Ok((cpu / window.as_secs_f64(), cpu / ticks * 1e6))
}

/// Asks `manager` for `rooms` rooms of the settings `settings` makes, as a
/// caller in this process (no connection: the rooms belong to nobody
/// here, as those another node places); the answers come as each room's
/// `create` hook ran.
fn create_rooms(
    manager: &RoomManager,
    rooms: u32,
    max_frame_bytes: usize,
    settings: impl Fn() -> CreateRoom,
) -> Vec<Answer> {
    (0..rooms)
        .map(|_| {
            let (reply, answer) = Responder::local(max_frame_bytes);
            manager.create(settings(), None, Caller::Remote(Box::default()), Vec::new(), reply);
            answer
        })
        .collect()
}
