//! The chat scenario's clients over the WebSocket port, as lean as the
//! TCP ones: a pre-encoded, pre-masked message whose timestamp is patched
//! per send, and received messages split from one buffer and read only
//! for their timestamp.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use bytes::{Buf, Bytes, BytesMut};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use vampire_protocol::{Payload, Request, RoomOp, ServerMessage, ServerOp, frame};

use crate::chat::{self, Outgoing, STAMP_FROM_END, Window, chat_payload};

/// The upgrade request of every generator connection (the key is
/// RFC 6455's example: the server's answer is not checked).
const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// The mask of every frame the generator sends. A client must mask; a
/// fixed key costs the generator nothing per message.
const MASK: [u8; 4] = [0x5a, 0x17, 0xc3, 0x8e];

/// One WebSocket connection of the load generator, spoken by hand as
/// the TCP one is: frames split from one large buffer (the server's are
/// never masked or fragmented), a pre-masked message to send. (A
/// WebSocket library's per-message work made the generator, not the
/// server, the ceiling.)
pub struct WsConn {
    /// Session id from the welcome.
    pub session: u64,
    /// The welcome gave a resume token (see [`crate::load::Conn::resumes`]).
    pub resumes: bool,
    socket: TcpStream,
    buf: BytesMut,
    next_id: u32,
}

impl WsConn {
    /// Connects, upgrades and reads the welcome.
    ///
    /// # Errors
    /// When the connection or the upgrade fails, or the first message is
    /// not a welcome.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<WsConn> {
        let mut socket = TcpStream::connect(addr).await?;
        socket.set_nodelay(true)?;
        socket.write_all(UPGRADE).await?;
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let head_end = loop {
            if socket.read_buf(&mut buf).await? == 0 {
                bail!("closed during the upgrade");
            }
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
        };
        if !buf.starts_with(b"HTTP/1.1 101") {
            bail!("upgrade refused: {}", String::from_utf8_lossy(&buf[..head_end]));
        }
        buf.advance(head_end);
        let mut conn = WsConn { session: 0, resumes: false, socket, buf, next_id: 1 };
        match ServerMessage::decode(&conn.next_message().await?)? {
            ServerMessage::Welcome(welcome) => {
                conn.session = welcome.session;
                conn.resumes = welcome.resume_token.is_some();
            }
            other => bail!("expected a welcome, got {other:?}"),
        }
        Ok(conn)
    }

    async fn next_message(&mut self) -> anyhow::Result<Bytes> {
        loop {
            if let Some(body) = split_message(&mut self.buf)? {
                return Ok(body);
            }
            if self.socket.read_buf(&mut self.buf).await? == 0 {
                bail!("connection closed");
            }
        }
    }

    /// Sends a request and waits for its response, skipping events.
    ///
    /// # Errors
    /// On an error response or a closed connection.
    pub async fn request(&mut self, request: Request) -> anyhow::Result<Payload> {
        let id = self.next_id;
        self.next_id += 1;
        let body = request.encode(Some(id));
        self.socket.write_all(&masked_message(&body[frame::LENGTH_PREFIX..])).await?;
        loop {
            match ServerMessage::decode(&self.next_message().await?)? {
                ServerMessage::Response { id: got, result } if got == id => return Ok(result),
                ServerMessage::Error { id: Some(got), message, .. } if got == id => {
                    bail!("server error: {message}")
                }
                _ => continue,
            }
        }
    }
}

/// A client's binary message carrying `body`, masked with [`MASK`]; the
/// header is 4 bytes for bodies up to 64 KiB, 2 below 126.
pub fn masked_message(body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(body.len() + 8);
    message.push(0x82);
    if body.len() < 126 {
        message.push(0x80 | body.len() as u8);
    } else {
        message.push(0x80 | 126);
        message.extend_from_slice(&(body.len() as u16).to_be_bytes());
    }
    message.extend_from_slice(&MASK);
    message.extend(body.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    message
}

/// The next whole message's payload in `buf` (skipping control frames),
/// `None` when it has not all come.
///
/// # Errors
/// For a masked or fragmented server frame, which the server never sends.
pub fn split_message(buf: &mut BytesMut) -> anyhow::Result<Option<Bytes>> {
    loop {
        if buf.len() < 2 {
            return Ok(None);
        }
        if buf[0] & 0x80 == 0 || buf[1] & 0x80 != 0 {
            bail!("a fragmented or masked frame from the server");
        }
        let (len, head) = match buf[1] & 0x7f {
            126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
            127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into()?) as usize, 10),
            126 | 127 => return Ok(None),
            len => (len as usize, 2),
        };
        if buf.len() < head + len {
            buf.reserve(head + len - buf.len());
            return Ok(None);
        }
        let opcode = buf[0] & 0x0f;
        buf.advance(head);
        let payload = buf.split_to(len).freeze();
        if opcode == 0x2 {
            return Ok(Some(payload));
        }
    }
}

/// One chat client over WebSocket (see [`crate::chat::client`]): the
/// message is masked, and so is its timestamp.
pub(crate) async fn chat_client(
    conn: WsConn,
    room: String,
    period: Duration,
    offset: Duration,
    window: Arc<Window>,
) -> Histogram<u64> {
    let WsConn { socket, buf, resumes, .. } = conn;
    let request = Request::room(
        room,
        RoomOp::SendMessage { data: Payload::from_bytes(chat_payload(0).into()).unwrap() },
    );
    let body = request.encode(None);
    let body = &body[frame::LENGTH_PREFIX..];
    let message = masked_message(body);
    let ack = |seq| {
        let frame = Request::from(ServerOp::Ack { seq }).encode(None);
        masked_message(&frame[frame::LENGTH_PREFIX..])
    };
    let outgoing = Outgoing {
        stamp_at: message.len() - STAMP_FROM_END,
        message,
        mask: MASK,
        mask_at: (body.len() - STAMP_FROM_END) % 4,
        ack: resumes.then_some(ack as fn(u64) -> Vec<u8>),
    };
    let split = |buf: &mut BytesMut| split_message(buf).ok().flatten();
    chat::client(socket, buf, outgoing, split, period, offset, window).await
}
