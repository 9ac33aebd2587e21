//! A WebSocket spoken by hand over a TCP socket, for the input a real
//! WebSocket library would never send: unmasked or fragmented frames,
//! lengths no one could send, upgrades with missing pieces.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vampire_client::ServerMessage;

use crate::PATIENCE;

/// Binary message opcode.
pub const BINARY: u8 = 0x2;
/// Text message opcode.
pub const TEXT: u8 = 0x1;
/// Continuation frame opcode.
pub const CONTINUATION: u8 = 0x0;
/// Close frame opcode.
pub const CLOSE: u8 = 0x8;
/// Ping opcode.
pub const PING: u8 = 0x9;
/// Pong opcode.
pub const PONG: u8 = 0xA;

/// A hand-spoken WebSocket connection.
pub struct RawWebSocket {
    /// The socket, for tests that write bytes as they are.
    pub socket: TcpStream,
}

/// The upgrade request a browser would send, with `extra` header lines
/// (each ending in `\r\n`).
pub fn upgrade_request(extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

/// Sends `request` to `addr` and reads the HTTP answer's head and body
/// (what came before the connection closed or, after a 101, the head
/// only), with the socket.
pub async fn http_exchange(addr: std::net::SocketAddr, request: &[u8]) -> (String, TcpStream) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        let mut byte = [0u8; 1];
        // Byte by byte, so nothing after the head is taken from the socket.
        while !answer.ends_with(b"\r\n\r\n") {
            match socket.read(&mut byte).await {
                Ok(1) => answer.push(byte[0]),
                _ => break,
            }
        }
        if !answer.starts_with(b"HTTP/1.1 101") {
            let _ = socket.read_to_end(&mut answer).await;
        }
    })
    .await
    .expect("the server answers the upgrade in time");
    (String::from_utf8_lossy(&answer).into_owned(), socket)
}

impl RawWebSocket {
    /// Upgrades with `extra` headers and reads the welcome.
    pub async fn connect(addr: std::net::SocketAddr) -> RawWebSocket {
        let (head, socket) = http_exchange(addr, upgrade_request("").as_bytes()).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
        let mut raw = RawWebSocket { socket };
        assert!(matches!(raw.read().await, Some(ServerMessage::Welcome(_))));
        raw
    }

    /// Writes one frame as a client must (masked) or, with `masked`
    /// false, as one must not.
    pub async fn send_frame(&mut self, opcode: u8, fin: bool, masked: bool, payload: &[u8]) {
        let bytes = frame_bytes(opcode, fin, masked, payload.len() as u64, payload);
        self.socket.write_all(&bytes).await.unwrap();
    }

    /// Writes a binary message.
    pub async fn send_binary(&mut self, payload: &[u8]) {
        self.send_frame(BINARY, true, true, payload).await;
    }

    /// The next frame from the server: its opcode and payload, `None` at
    /// end of stream.
    pub async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        tokio::time::timeout(PATIENCE, async {
            let mut head = [0u8; 2];
            self.socket.read_exact(&mut head).await.ok()?;
            assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
            let len = match head[1] & 0x7f {
                126 => self.socket.read_u16().await.ok()? as usize,
                127 => self.socket.read_u64().await.ok()? as usize,
                len => len as usize,
            };
            let mut payload = vec![0; len];
            self.socket.read_exact(&mut payload).await.ok()?;
            Some((head[0] & 0x0f, payload))
        })
        .await
        .expect("the server answers in time")
    }

    /// The next binary message, decoded; `None` at a close frame or the
    /// end of the stream.
    pub async fn read(&mut self) -> Option<ServerMessage> {
        loop {
            match self.read_frame().await? {
                (BINARY, body) => return Some(ServerMessage::decode(&body.into()).unwrap()),
                (CLOSE, _) => return None,
                _ => continue,
            }
        }
    }

    /// The next message, which must be an error: its code and message.
    pub async fn read_error(&mut self) -> (vampire_client::ErrorCode, String) {
        match self.read().await {
            Some(ServerMessage::Error { code, message, .. }) => (code, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

/// A frame's bytes: a header announcing `announced` bytes, then
/// `payload` (masked with a fixed key when `masked`).
pub fn frame_bytes(opcode: u8, fin: bool, masked: bool, announced: u64, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![(u8::from(fin) << 7) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match announced {
        0..126 => bytes.push(mask_bit | announced as u8),
        126..65536 => {
            bytes.push(mask_bit | 126);
            bytes.extend_from_slice(&(announced as u16).to_be_bytes());
        }
        _ => {
            bytes.push(mask_bit | 127);
            bytes.extend_from_slice(&announced.to_be_bytes());
        }
    }
    let key = [0x37, 0xfa, 0x21, 0x3d];
    if masked {
        bytes.extend_from_slice(&key);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        bytes.extend_from_slice(payload);
    }
    bytes
}
