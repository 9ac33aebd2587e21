//! A small HTTP/1.1 client over a plain socket, for the admin listener's
//! tests: one request per connection (`Connection: close`), the answer read
//! to its end (chunked or not). Written by hand so the hostile tests can
//! send what no client library would. The process tests of the host
//! crate include this file too.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long an answer may take.
const PATIENCE: Duration = Duration::from_secs(10);

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Its status code.
    pub status: u16,
    /// Its headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Its body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, failing the test when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.text()))
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Sends `method path` with `token` as a bearer token and `body` as JSON,
/// and reads the answer.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> HttpResponse {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body);
    raw(addr, head.as_bytes()).await.expect("the admin listener answers")
}

/// `GET path` with `token`.
pub async fn get(addr: SocketAddr, path: &str, token: &str) -> HttpResponse {
    request(addr, "GET", path, Some(token), None).await
}

/// `POST path` with `token` and a JSON `body`.
pub async fn post(addr: SocketAddr, path: &str, token: &str, body: &str) -> HttpResponse {
    request(addr, "POST", path, Some(token), Some(body)).await
}

/// Writes `bytes` as they are and reads the answer; `None` when the
/// connection closes without one.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> Option<HttpResponse> {
    let mut socket = TcpStream::connect(addr).await.expect("connects to the admin listener");
    socket.write_all(bytes).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, socket.read_to_end(&mut answer))
        .await
        .expect("the admin listener answers in time")
        .ok()?;
    parse(&answer)
}

/// Reads one answer from `bytes`.
pub fn parse(bytes: &[u8]) -> Option<HttpResponse> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = bytes[end + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Some(HttpResponse { status, headers, body })
}

/// The data of a chunked body (as much as arrived).
fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&bytes[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        bytes = &bytes[line_end + 2..];
        if size == 0 || bytes.len() < size {
            out.extend_from_slice(&bytes[..size.min(bytes.len())]);
            break;
        }
        out.extend_from_slice(&bytes[..size]);
        bytes = bytes.get(size + 2..).unwrap_or(&[]);
    }
    out
}
