//! The monitor page in a real browser: Debian's `chromium`, headless,
//! driven through `chromedriver` (WebDriver). The page signs in with the
//! admin token, shows a room a test client creates, follows a variable
//! as it changes, and disposes the room, whose member is told.
//!
//! Needs `chromium` and `chromium-driver` (`.ci/run` installs them). On a
//! machine without them the test says so and passes, unless
//! `VAMPIRE_REQUIRE_BROWSER` is set, as CI sets it. With
//! `VAMPIRE_SCREENSHOT=PATH` it saves a screenshot of the page there (the
//! one in `docs/` was made so).

use std::time::Duration;

use fantoccini::Locator;
use vampire_client::{CreateRoom, Event};
use vampire_tests::browser::{Driver, browser_present, wait_for_none, wait_for_text};
use vampire_tests::{ADMIN_TOKEN, TestServer, admin_config, json, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_page_shows_a_room_live_and_disposes_it() {
    if !browser_present() {
        return;
    }
    let server =
        TestServer::with_plugins(|_| {}, |config| config.admin = Some(admin_config())).await;
    let admin = server.admin.unwrap();
    let driver = Driver::start();
    let browser = driver.browser().await;

    browser.goto(&format!("http://{admin}/")).await.unwrap();
    let token = browser.wait().for_element(Locator::Css("#token")).await.unwrap();
    token.send_keys(ADMIN_TOKEN).await.unwrap();
    browser.find(Locator::Css("#signin button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "#server", "rooms").await;

    // A room a client creates appears in the table.
    let mut player = server.client().await;
    let room = player
        .create_room(CreateRoom {
            room_type: Some("chat".into()),
            name: Some("Friday night".into()),
            auto_dispose: Some(false),
            ..CreateRoom::default()
        })
        .await
        .unwrap()
        .id;
    player.join(&room, None).await.unwrap();
    player.set_variable(&room, "score", json!(1), Some(true)).await.unwrap();
    let row = format!("#rooms tr[data-room='{room}']");
    wait_for_text(&browser, &row, "Friday night").await;

    // Opened, it follows the room live.
    browser.find(Locator::Css(&row)).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "#detail-title", &room).await;
    wait_for_text(&browser, "#variables tr[data-variable='score']", "1").await;
    player.set_variable(&room, "score", json!(42), Some(true)).await.unwrap();
    wait_for_text(&browser, "#variables tr[data-variable='score']", "42").await;
    wait_for_text(&browser, "#members tbody", &player.session().to_string()).await;

    if let Some(path) = std::env::var_os("VAMPIRE_SCREENSHOT") {
        // A busier server, and two samples for the charts.
        let others = [server.client().await, server.client().await];
        for (n, room_type) in ["tictactoe", "generic", "chat", "positions"].iter().enumerate() {
            let created = CreateRoom {
                room_type: Some((*room_type).into()),
                name: Some(format!("{room_type} #{n}")),
                auto_dispose: Some(false),
                ..CreateRoom::default()
            };
            let id = others[n % 2].create_room(created).await.unwrap().id;
            others[n % 2].join(&id, None).await.unwrap();
        }
        for second in 0..12 {
            for other in &others {
                other.join(&room, None).await.ok();
                other.send_message(&room, json!({"tick": second})).await.unwrap();
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        std::fs::write(path, browser.screenshot().await.unwrap()).unwrap();
    }

    // Dispose: the room leaves the table and its member is told.
    browser.find(Locator::Css("#dispose")).await.unwrap().click().await.unwrap();
    let closed = wait_for(&mut player, |e| matches!(e, Event::RoomClosed { .. })).await;
    assert_eq!(
        closed,
        Event::RoomClosed { room: room.clone(), reason: "closed by an operator".into() }
    );
    wait_for_none(&browser, &row).await;
    wait_for_text(&browser, "#live", "closed").await;

    browser.close().await.unwrap();
    server.stop().await;
}
