//! The browser example (`examples/browser/`) in a real browser: Debian's
//! chromium, headless, loads the page from the example's own static
//! server; the page speaks WebSocket with the TypeScript client, a Rust
//! client speaks TCP, and each sees the other in a `chat` room and a
//! `positions` room.
//!
//! Needs chromium, chromium-driver and Node.js 20 (`.ci/run` installs the
//! first two; Node.js is on the build machines). Without them the test
//! says so and passes, unless `VAMPIRE_REQUIRE_BROWSER` is set.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::Locator;
use vampire_client::{Client, CreateRoom, Event};
use vampire_tests::browser::{Driver, browser_present, wait_for_text};
use vampire_tests::{PATIENCE, TestServer, as_json, json, wait_for};

/// The example's static server (`serve.mjs`), killed when dropped.
struct StaticServer {
    child: Child,
    port: u16,
}

impl StaticServer {
    fn start() -> StaticServer {
        let script = xtask::node::client_ts_dir().join("../examples/browser/serve.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts the example's server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().rsplit(':').next().unwrap().trim_end_matches('/').parse();
        StaticServer { child, port: port.unwrap_or_else(|_| panic!("no port in {line:?}")) }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A room of `room_type` the Rust client creates and joins.
async fn room_for(client: &Client, room_type: &str) -> String {
    let settings = CreateRoom {
        room_type: Some(room_type.into()),
        auto_dispose: Some(false),
        ..CreateRoom::default()
    };
    let room = client.create_room(settings).await.unwrap().id;
    client.join(&room, None).await.unwrap();
    room
}

/// The position of `session`'s dot in a `positions` update, if there.
fn dot_of(update: &vampire_client::Payload, session: u64) -> Option<(f64, f64)> {
    let update = as_json(update);
    update["dots"]
        .as_array()?
        .iter()
        .find_map(|dot| (dot[0].as_u64()? == session).then(|| (float(&dot[1]), float(&dot[2]))))
}

/// A float32 as JSON shows it (`{"$f32": x}`).
fn float(json: &vampire_tests::serde_json::Value) -> f64 {
    json["$f32"].as_f64().or_else(|| json.as_f64()).expect("a float")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_page_chats_and_steers_a_dot_with_a_rust_client() {
    if !browser_present() {
        return;
    }
    if xtask::node::client_ts().expect("the TypeScript client builds").is_none() {
        return;
    }
    let server = TestServer::with_plugins(|_| {}, |_| {}).await;
    let mut rust = server.client().await;
    let chat = room_for(&rust, "chat").await;
    let positions = room_for(&rust, "positions").await;
    let site = StaticServer::start();
    let driver = Driver::start();
    let browser = driver.browser().await;
    let page = format!(
        "http://127.0.0.1:{}/?server=ws://{}/&chat={chat}&positions={positions}",
        site.port,
        server.ws_addr()
    );
    browser.goto(&page).await.unwrap();
    wait_for_text(&browser, "#status", "connected to").await;
    let session: u64 = browser
        .find(Locator::Css("#session"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();

    // A message from the Rust client appears in the page...
    rust.send_message(&chat, json!("hello from rust")).await.unwrap();
    wait_for_text(&browser, "#messages", "hello from rust").await;
    // ...and one typed in the page reaches the Rust client.
    browser
        .find(Locator::Css("#text"))
        .await
        .unwrap()
        .send_keys("hi from the browser")
        .await
        .unwrap();
    browser.find(Locator::Css("#chat button")).await.unwrap().click().await.unwrap();
    wait_for(&mut rust, |event| {
        matches!(event, Event::RoomMessage { from: Some(from), data, .. }
            if *from == session && data == &json!("hi from the browser"))
    })
    .await;

    // The page's dot stands still until it is steered right; then the
    // Rust client sees it move along x only.
    let still = position(&mut rust, &positions, session).await;
    browser.find(Locator::Css("#right")).await.unwrap().click().await.unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (x, y) = position(&mut rust, &positions, session).await;
        if (x - still.0).abs() > 20.0 {
            assert_eq!(y, still.1, "steered right, the dot moved along x only");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the dot never moved: {still:?}");
    }
    drop(browser);
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// The next position of `session`'s dot the `positions` room sends.
async fn position(rust: &mut Client, room: &str, session: u64) -> (f64, f64) {
    loop {
        let event = wait_for(
            rust,
            |event| matches!(event, Event::RoomMessage { room: r, .. } if r.as_str() == room),
        )
        .await;
        let Event::RoomMessage { data, .. } = event else { unreachable!() };
        if let Some(position) = dot_of(&data, session) {
            return position;
        }
    }
}
