//! In-process costs of plugin rooms, without the network:
//!
//! 1. **invoke round trip**: host → guest `echo` method (which makes one
//!    host import call, `variable_set`) → back, with a small argument;
//! 2. **room creation**: plugin rooms created per second, through the room
//!    manager (instantiation, the guest's `create` hook, actor start), and
//!    the memory each one holds.
//!
//! Run: `cargo run --release -p vampire-bench --bin plugin-bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use vampire_bench::load::invoke_argument;
use vampire_bench::stats;
use vampire_protocol::{CreateRoom, RoomInfo};
use vampiretcp::Config;
use vampiretcp::outbound::{ClientHandle, ClientLimits, Identity, Responder};
use vampiretcp::plugins::{PluginRoomType, PluginRuntime, loader, room::WasmRoom};
use vampiretcp::rooms::manager::Listing;
use vampiretcp::rooms::{RoomBehaviour, RoomLimits, RoomManager, RoomSettings, RoomState};

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
    let built = xtask::build_plugins(&[xtask::BENCH_PLUGINS])?;
    let (_, echo_path) = built.iter().find(|(name, _)| name == "echo").expect("echo plugin built");
    let config = Config::embedded_default();
    let runtime = Arc::new(PluginRuntime::new(&config.limits)?);
    let module = Arc::new(loader::compile(&runtime, echo_path).map_err(anyhow::Error::from)?);

    // 1. Invoke round trip.
    let settings = RoomSettings {
        room_type: "echo".into(),
        max_clients: 16,
        broadcast_enabled: true,
        broadcast_default: true,
        ..RoomSettings::default()
    };
    let listing = Arc::new(Listing::new(RoomInfo::default()));
    let mut state = RoomState::new("bench".into(), settings, listing, RoomLimits::default());
    let mut room = WasmRoom::new(module.clone());
    room.on_create(&mut state).map_err(|e| anyhow::anyhow!("{e}"))?;
    let argument = invoke_argument();
    for _ in 0..args.calls / 10 {
        room.on_invoke(&mut state, 1, "echo", &argument).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let mut histogram = stats::latency_histogram();
    let started = Instant::now();
    for _ in 0..args.calls {
        let call = Instant::now();
        let result = room.on_invoke(&mut state, 1, "echo", &argument);
        stats::record(&mut histogram, call.elapsed());
        debug_assert!(result.is_ok());
    }
    let total = started.elapsed();
    println!("invoke round trip (host -> guest -> host import -> back), argument {argument:?}:");
    println!(
        "  {} calls: mean {} ({:.0} calls/s on one core); {}",
        args.calls,
        stats::human((total.as_nanos() / u128::from(args.calls)) as u64),
        f64::from(args.calls) / total.as_secs_f64(),
        stats::percentiles(&histogram)
    );

    // 2. Room creation through the manager, actors included.
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    tokio.block_on(async {
        let mut config = Config::embedded_default();
        config.limits.max_rooms = args.rooms as usize + 1;
        let owner = ClientHandle::new(
            1,
            ClientLimits {
                queue_frames: usize::MAX,
                queue_bytes: usize::MAX,
                max_frame_bytes: config.limits.max_outbound_frame_bytes,
                max_memberships: 1,
                max_owned_rooms: usize::MAX,
            },
            Identity::default(),
        );
        let manager = RoomManager::new(Arc::new(config));
        manager.register_type(Arc::new(PluginRoomType(module.clone())));
        let request = CreateRoom {
            room_type: Some("echo".into()),
            auto_dispose: Some(false),
            ..CreateRoom::default()
        };
        let rss_before = stats::process_usage("self")?.rss_bytes;
        let started = Instant::now();
        for _ in 0..args.rooms {
            let respond = Responder::new(owner.clone(), Some(1), None);
            manager.create(request.clone(), owner.clone(), respond);
        }
        // Creation ends in each room's own task; wait until all are in.
        while manager.room_count() < args.rooms as usize {
            tokio::time::sleep(Duration::from_micros(200)).await;
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
    })
}
