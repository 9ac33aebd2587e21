//! The chat scenario's clients over the WebSocket port, as lean as the
//! TCP ones: a pre-encoded message whose timestamp is patched per send,
//! and received messages read only for their timestamp.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use vampire_protocol::{Payload, Request, RoomOp, ServerMessage, frame};

use crate::load::{STAMP_FROM_END, Window, chat_payload, stamp_of};
use crate::stats;

/// One WebSocket connection of the load generator.
pub struct WsConn {
    /// Session id from the welcome.
    pub session: u64,
    socket: WebSocketStream<TcpStream>,
    next_id: u32,
}

impl WsConn {
    /// Connects, upgrades and reads the welcome.
    ///
    /// # Errors
    /// When the connection or the upgrade fails, or the first message is
    /// not a welcome.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<WsConn> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let (socket, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp).await?;
        let mut conn = WsConn { session: 0, socket, next_id: 1 };
        match ServerMessage::decode(&conn.next_message().await?)? {
            ServerMessage::Welcome(welcome) => conn.session = welcome.session,
            other => bail!("expected a welcome, got {other:?}"),
        }
        Ok(conn)
    }

    async fn next_message(&mut self) -> anyhow::Result<bytes::Bytes> {
        loop {
            match self.socket.next().await.context("connection closed")?? {
                Message::Binary(body) => return Ok(body),
                Message::Close(_) => bail!("connection closed"),
                _ => continue,
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
        let body = request.encode(Some(id)).slice(frame::LENGTH_PREFIX..);
        self.socket.send(Message::Binary(body)).await?;
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

/// One chat client over WebSocket: as `load`'s TCP client, sends a message
/// every `period` (the first after `offset`) and records the latency of
/// every message of the window it receives, until a second after the
/// senders stop.
pub(crate) async fn chat_client(
    conn: WsConn,
    room: String,
    period: Duration,
    offset: Duration,
    window: Arc<Window>,
) -> Histogram<u64> {
    let mut histogram = stats::latency_histogram();
    let (mut sink, mut stream) = conn.socket.split();
    let request = Request::room(
        room,
        RoomOp::SendMessage { data: Payload::from_bytes(chat_payload(0).into()).unwrap() },
    );
    let mut message = request.encode(None)[frame::LENGTH_PREFIX..].to_vec();
    let stamp_at = message.len() - STAMP_FROM_END;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sending = true;
    let mut grace_end: Option<tokio::time::Instant> = None;
    loop {
        if sending && window.stop.load(Ordering::Relaxed) {
            sending = false;
            grace_end = Some(tokio::time::Instant::now() + Duration::from_secs(1));
        }
        let grace = async {
            match grace_end {
                Some(end) => tokio::time::sleep_until(end).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            received = stream.next() => match received {
                Some(Ok(Message::Binary(body))) => {
                    if let Some(t) = stamp_of(&body)
                        && window.contains(t)
                    {
                        let now = window.now();
                        stats::record(&mut histogram, Duration::from_nanos(now.saturating_sub(t)));
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = ticks.tick(), if sending => {
                let t = window.now();
                message[stamp_at..stamp_at + 8].copy_from_slice(&t.to_be_bytes());
                if window.contains(t) {
                    window.sent.fetch_add(1, Ordering::Relaxed);
                }
                if sink.send(Message::Binary(message.clone().into())).await.is_err() {
                    break;
                }
            }
            () = grace => break,
        }
    }
    histogram
}
