//! A real browser for the tests: Debian's `chromium`, headless, driven
//! through `chromedriver` (WebDriver). Nothing downloads a browser.
//!
//! Without `chromium` and `chromium-driver` a test says so and passes,
//! unless `VAMPIRE_REQUIRE_BROWSER` is set, as CI sets it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client as Browser, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

/// Debian's chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Its WebDriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, killed when dropped.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts chromedriver.
    pub fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        Driver { child, port }
    }

    /// A headless browser session.
    pub async fn browser(&self) -> Browser {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1440,900"],
            }),
        );
        let address = format!("http://127.0.0.1:{}", self.port);
        for _ in 0..100 {
            let connected = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&address)
                .await;
            if let Ok(browser) = connected {
                return browser;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start a browser");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the browser is here; without it, whether that fails the test.
pub fn browser_present() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(
            std::env::var_os("VAMPIRE_REQUIRE_BROWSER").is_none(),
            "the browser test needs chromium and chromium-driver"
        );
        eprintln!("browser test skipped: install chromium and chromium-driver to run it");
    }
    present
}

/// Waits until `css` matches an element whose text contains `text`.
pub async fn wait_for_text(browser: &Browser, css: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + crate::PATIENCE;
    loop {
        if let Ok(element) = browser.find(Locator::Css(css)).await
            && element.text().await.is_ok_and(|shown| shown.contains(text))
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{css} never showed {text:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until nothing matches `css`.
pub async fn wait_for_none(browser: &Browser, css: &str) {
    let deadline = tokio::time::Instant::now() + crate::PATIENCE;
    while !browser.find_all(Locator::Css(css)).await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "{css} is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
