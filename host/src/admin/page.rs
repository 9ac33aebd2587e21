//! The monitor page at `/`: plain HTML, CSS and JavaScript embedded in the
//! binary (no build step). The files hold no data and need no token; the
//! page asks the admin API for everything with the token the operator
//! types in (kept in the tab's `sessionStorage`, never in a URL).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The page.
const INDEX: &str = include_str!("page/index.html");
/// Its script.
const SCRIPT: &str = include_str!("page/monitor.js");
/// Its style.
const STYLE: &str = include_str!("page/monitor.css");

/// What every file of the page is sent with: no caching across versions,
/// nothing loaded from elsewhere, no framing by other sites.
fn file(content_type: &'static str, body: &'static str) -> Response {
    let csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
               connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
        body,
    )
        .into_response()
}

/// `GET /`.
pub async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

/// `GET /monitor.js`.
pub async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /monitor.css`.
pub async fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}
