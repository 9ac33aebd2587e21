//! What security costs: connecting plain, with a token (HS256), over TLS
//! and over TLS with a token; joining an open room against a
//! password-protected one (argon2); and a message's round trip through a
//! generic room over plain TCP against TLS. Each against a release server
//! started here; the certificate is made at start (rcgen).
//!
//! Run: `cargo run --release -p vampire-bench --bin auth`.

use std::net::SocketAddr;
use std::time::Instant;

use clap::Parser;
use hdrhistogram::Histogram;
use vampire_bench::load::kept_room;
use vampire_bench::{servers, stats};
use vampire_client::{Client, ConnectOptions, CreateRoom, Event, Incoming, TlsOptions, Value};

/// Security cost benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Connections timed per kind.
    #[arg(long, default_value_t = 300)]
    connections: usize,
    /// Joins timed per kind.
    #[arg(long, default_value_t = 100)]
    joins: usize,
    /// Message round trips timed per transport.
    #[arg(long, default_value_t = 5000)]
    messages: usize,
}

const SECRET: &str = "a-benchmark-secret-of-at-least-32-bytes";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("measured on {}", vampire_bench::stats::machine());
    let binary = servers::build_release()?.join("vampiretcp");
    let folder = std::env::temp_dir().join(format!("vampire-auth-bench-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let key = rcgen::KeyPair::generate()?;
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?.self_signed(&key)?;
    let (cert_file, key_file) = (folder.join("cert.pem"), folder.join("key.pem"));
    std::fs::write(&cert_file, cert.pem())?;
    std::fs::write(&key_file, key.serialize_pem())?;
    let base = serde_json::json!({
        "bindAddress": "127.0.0.1",
        "tcpPort": 0,
        "wsPort": 0,
        "enableUDP": false,
        "pluginsDir": "no-plugins",
        "logLevel": "warn",
        "limits": { "maxRoomsPerConnection": 100_000, "requestsPerSecond": 1_000_000, "requestBurst": 1_000_000 },
    });
    let with = |extra: serde_json::Value| {
        let mut config = base.clone();
        if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
            config.extend(extra.clone());
        }
        config
    };
    let auth = serde_json::json!({ "mode": "jwt", "secret": SECRET });
    let tls = serde_json::json!({ "certFile": cert_file, "keyFile": key_file });
    let plain = servers::start_vampire(&binary, &base)?;
    let tokens = servers::start_vampire(&binary, &with(serde_json::json!({ "auth": auth })))?;
    let tls_only = servers::start_vampire(&binary, &with(serde_json::json!({ "tls": tls })))?;
    let both =
        servers::start_vampire(&binary, &with(serde_json::json!({ "auth": auth, "tls": tls })))?;
    let tls_options = TlsOptions { server_name: "localhost".to_owned(), ca_file: cert_file };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let token = development_token()?;
        let kinds = [
            ("plain TCP", plain.addr, ConnectOptions::default()),
            (
                "plain TCP + token (HS256)",
                tokens.addr,
                ConnectOptions { token: Some(token.clone()), ..ConnectOptions::default() },
            ),
            (
                "TLS",
                tls_only.addr,
                ConnectOptions { tls: Some(tls_options.clone()), ..ConnectOptions::default() },
            ),
            (
                "TLS + token",
                both.addr,
                ConnectOptions {
                    tls: Some(tls_options.clone()),
                    token: Some(token),
                    ..ConnectOptions::default()
                },
            ),
        ];
        println!("connect until ready ({} connections each, one at a time):", args.connections);
        println!();
        println!("| connection | p50 | p99 | p50 vs plain |");
        println!("| --- | --- | --- | --- |");
        let mut plain_p50 = 0;
        for (name, addr, options) in &kinds {
            let mut histogram = stats::latency_histogram();
            for _ in 0..args.connections {
                let started = Instant::now();
                let client = Client::connect_with(*addr, options.clone()).await?;
                stats::record(&mut histogram, started.elapsed());
                drop(client);
            }
            let p50 = histogram.value_at_quantile(0.5);
            if plain_p50 == 0 {
                plain_p50 = p50;
            }
            row(name, &histogram, p50 as f64 / plain_p50 as f64);
        }

        let client = Client::connect(plain.addr).await?;
        let kept = kept_room("generic");
        let open = client.create_room(kept.clone()).await?.id;
        let guarded = client
            .create_room(CreateRoom { password: Some("correct horse".into()), ..kept })
            .await?
            .id;
        println!();
        println!("join then leave ({} joins each):", args.joins);
        println!();
        println!("| room | p50 | p99 | p50 vs open |");
        println!("| --- | --- | --- | --- |");
        let mut open_p50 = 0;
        for (name, room, password) in
            [("open", &open, None), ("password (argon2)", &guarded, Some("correct horse"))]
        {
            let joiner = Client::connect(plain.addr).await?;
            let mut histogram = stats::latency_histogram();
            for _ in 0..args.joins {
                let started = Instant::now();
                joiner.join(room, password).await?;
                stats::record(&mut histogram, started.elapsed());
                joiner.leave(room).await?;
            }
            let p50 = histogram.value_at_quantile(0.5);
            if open_p50 == 0 {
                open_p50 = p50;
            }
            row(name, &histogram, p50 as f64 / open_p50 as f64);
        }

        println!();
        println!("message round trip through a generic room ({} messages each):", args.messages);
        println!();
        println!("| transport | p50 | p99 | p50 vs plain |");
        println!("| --- | --- | --- | --- |");
        let mut plain_p50 = 0;
        for (name, addr, options) in [
            ("plain TCP", plain.addr, ConnectOptions::default()),
            (
                "TLS",
                tls_only.addr,
                ConnectOptions { tls: Some(tls_options.clone()), ..ConnectOptions::default() },
            ),
        ] {
            let histogram = round_trips(addr, options, args.messages).await?;
            let p50 = histogram.value_at_quantile(0.5);
            if plain_p50 == 0 {
                plain_p50 = p50;
            }
            row(name, &histogram, p50 as f64 / plain_p50 as f64);
        }
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&folder);
    Ok(())
}

fn row(name: &str, histogram: &Histogram<u64>, ratio: f64) {
    println!(
        "| {name} | {} | {} | {ratio:.2}x |",
        stats::human(histogram.value_at_quantile(0.5)),
        stats::human(histogram.value_at_quantile(0.99)),
    );
}

/// One member sends to a generic room and waits for its own relay, one
/// message at a time.
async fn round_trips(
    addr: SocketAddr,
    options: ConnectOptions,
    messages: usize,
) -> anyhow::Result<Histogram<u64>> {
    let mut client = Client::connect_with(addr, options).await?;
    let room = client.create_room(CreateRoom::default()).await?.id;
    client.join(&room, None).await?;
    let mut histogram = stats::latency_histogram();
    for n in 0..messages {
        let started = Instant::now();
        client
            .notify(vampire_client::Request::room(
                room.clone(),
                vampire_client::RoomOp::SendMessage { data: Value::from(n as u64).into() },
            ))
            .await?;
        loop {
            match client.next_event().await {
                Some(Incoming::Event(Event::RoomMessage { .. })) => break,
                Some(_) => continue,
                None => anyhow::bail!("the connection closed"),
            }
        }
        stats::record(&mut histogram, started.elapsed());
    }
    Ok(histogram)
}

/// An hour-long HS256 token for user `bench`.
fn development_token() -> anyhow::Result<String> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let claims = serde_json::json!({ "sub": "bench", "exp": now + 3600 });
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    Ok(jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)?)
}
