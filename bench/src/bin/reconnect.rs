//! The reconnection benchmark: how long a client whose connection is cut
//! waits for the first event it missed.
//!
//! A member of a room (the Rust client with `ConnectOptions::reconnect`)
//! reaches the release server through a cutting proxy; another member
//! sends it a message every `--every-ms`. Each trial cuts the proxy and
//! times, from the cut, the client's first replayed message: the resume's
//! dial, welcome, answer and replay. The client's first backoff step
//! (`--first-delay-ms`, less up to a quarter of jitter) is part of the
//! wait, and reported apart, so the server's share shows.
//!
//! Run: `cargo run --release -p vampire-bench --bin reconnect`.

use std::time::{Duration, Instant};

use clap::Parser;
use vampire_bench::{servers, stats};
use vampire_client::{
    Client, ConnectOptions, ConnectionEvent, Event, Incoming, ReconnectPolicy, Value,
};
use vampire_tests::proxy::CuttingProxy;

/// Reconnection benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Cuts timed.
    #[arg(long, default_value_t = 200)]
    cuts: usize,
    /// The client's first backoff step, in milliseconds.
    #[arg(long, default_value_t = 10)]
    first_delay_ms: u64,
    /// Milliseconds between two messages of the talking member.
    #[arg(long, default_value_t = 2)]
    every_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let release = servers::build_release()?;
    let folder = servers::plugins_folder(&[])?;
    let config = servers::bench_config(&folder, serde_json::json!({}));
    let server = servers::start_vampire(&release.join("vampiretcp"), &config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (total, beyond_backoff) = runtime.block_on(trials(server.addr, &args))?;
    println!(
        "cut -> first replayed event, {} cuts, first backoff step {} ms, a message every {} ms ({}):",
        args.cuts,
        args.first_delay_ms,
        args.every_ms,
        stats::machine()
    );
    println!("  total:                      {}", stats::percentiles(&total));
    println!("  beyond the backoff step:    {}", stats::percentiles(&beyond_backoff));
    println!(
        "  target: p99 beyond the backoff step under 50 ms: {}",
        if beyond_backoff.value_at_quantile(0.99) < 50_000_000 { "met" } else { "missed" }
    );
    Ok(())
}

/// Runs the cuts; returns the histograms of the whole wait and of the
/// wait past the client's backoff step (nanoseconds).
async fn trials(
    server: std::net::SocketAddr,
    args: &Args,
) -> anyhow::Result<(hdrhistogram::Histogram<u64>, hdrhistogram::Histogram<u64>)> {
    let proxy = CuttingProxy::start(server).await;
    let options = ConnectOptions {
        reconnect: Some(ReconnectPolicy {
            first_delay: Duration::from_millis(args.first_delay_ms),
            ..ReconnectPolicy::default()
        }),
        ..ConnectOptions::default()
    };
    let mut listener = Client::connect_with(proxy.addr, options).await?;
    let talker = Client::connect(server).await?;
    let room = listener.create_room(Default::default()).await?.id;
    listener.join(&room, None).await?;
    talker.join(&room, None).await?;
    let every = Duration::from_millis(args.every_ms);
    let talking = tokio::spawn({
        let room = room.clone();
        async move {
            let mut n = 0i64;
            loop {
                if talker
                    .notify(vampire_client::Request::room(
                        &room,
                        vampire_client::RoomOp::SendMessage { data: Value::from(n).into() },
                    ))
                    .await
                    .is_err()
                {
                    return;
                }
                n += 1;
                tokio::time::sleep(every).await;
            }
        }
    });
    let (mut total, mut beyond) = (stats::latency_histogram(), stats::latency_histogram());
    for _ in 0..args.cuts {
        // Settle: the listener is connected and hearing messages.
        tokio::time::sleep(Duration::from_millis(20)).await;
        while listener.try_next_event().is_some() {}
        let cut = Instant::now();
        proxy.cut();
        let mut backoff = Duration::ZERO;
        let mut resumed = false;
        loop {
            match listener.next_event_within(Duration::from_secs(10)).await {
                Some(Incoming::Connection(ConnectionEvent::Reconnecting { delay, .. })) => {
                    backoff += delay;
                }
                Some(Incoming::Connection(ConnectionEvent::Reconnected { .. })) => resumed = true,
                Some(Incoming::Connection(ConnectionEvent::Lost { reason })) => {
                    anyhow::bail!("the session was lost: {reason}")
                }
                Some(Incoming::Event(Event::RoomMessage { .. })) if resumed => break,
                Some(_) => {}
                None => anyhow::bail!("no replayed event within 10 s of a cut"),
            }
        }
        let waited = cut.elapsed();
        stats::record(&mut total, waited);
        stats::record(&mut beyond, waited.saturating_sub(backoff));
    }
    talking.abort();
    Ok((total, beyond))
}
