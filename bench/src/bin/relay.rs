//! The baseline: a minimal tokio relay speaking the same framing and the
//! subset of the protocol the chat benchmark uses (welcome, create_room,
//! join, send_message, ping), with no rooms layer, no actors, no variables
//! and no wasm. Groups are a map from room id to members' queues behind
//! one mutex. It is the physical limit VampireTCP's overhead is measured
//! against.
//!
//! Run: `relay [--port N]`; prints `listening on ADDR`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use clap::Parser;
use futures_util::StreamExt;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use vampire_protocol::{
    ErrorCode, Event, PROTOCOL_VERSION, Request, RequestFrame, ServerMessage, SessionId, Value,
    frame,
};

/// Baseline relay.
#[derive(Debug, Parser)]
struct Args {
    /// TCP port (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

/// Members of each group: session and outbound queue.
type Groups = Arc<Mutex<HashMap<String, Vec<(SessionId, mpsc::Sender<Bytes>)>>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let groups = Groups::default();
    let next_id = Arc::new(AtomicU64::new(1));
    loop {
        let (socket, _) = listener.accept().await?;
        let session = next_id.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(serve(socket, session, groups.clone(), next_id.clone()));
    }
}

async fn serve(socket: TcpStream, session: SessionId, groups: Groups, next_id: Arc<AtomicU64>) {
    let _ = socket.set_nodelay(true);
    let (read_half, write_half) = socket.into_split();
    let (queue, mut outbound) = mpsc::channel::<Bytes>(4096);
    tokio::spawn(async move {
        let mut writer = BufWriter::with_capacity(64 * 1024, write_half);
        while let Some(frame) = outbound.recv().await {
            if writer.write_all(&frame).await.is_err() {
                return;
            }
            while let Ok(frame) = outbound.try_recv() {
                if writer.write_all(&frame).await.is_err() {
                    return;
                }
            }
            if writer.flush().await.is_err() {
                return;
            }
        }
    });
    let send = |message: &ServerMessage| {
        if let Ok(bytes) = frame::encode(message) {
            let _ = queue.try_send(bytes);
        }
    };
    send(&ServerMessage::Welcome {
        protocol: PROTOCOL_VERSION,
        session,
        server: "baseline-relay".into(),
        udp: None,
    });
    let mut frames = FramedRead::new(read_half, frame::codec(64 * 1024));
    let mut joined = Vec::new();
    while let Some(Ok(body)) = frames.next().await {
        let Ok(RequestFrame { id, request }) = rmp_serde::from_slice::<RequestFrame>(&body) else {
            send(&ServerMessage::Error {
                id: None,
                code: ErrorCode::InvalidRequest,
                message: "unreadable request".into(),
            });
            continue;
        };
        let result = match request {
            Request::CreateRoom(_) => Value::from(
                serde_json::json!({ "id": format!("g{}", next_id.fetch_add(1, Ordering::Relaxed)) }),
            ),
            Request::Join { room, .. } => {
                lock(&groups).entry(room.clone()).or_default().push((session, queue.clone()));
                joined.push(room);
                Value::Null
            }
            Request::SendMessage { room, data } => {
                let event = ServerMessage::Event(Event::RoomMessage {
                    room: room.clone(),
                    from: Some(session),
                    data,
                });
                if let Ok(bytes) = frame::encode(&event)
                    && let Some(members) = lock(&groups).get(&room)
                {
                    for (_, member) in members {
                        let _ = member.try_send(bytes.clone());
                    }
                }
                Value::Null
            }
            _ => Value::Null,
        };
        if let Some(id) = id {
            send(&ServerMessage::Response { id, result });
        }
    }
    let mut groups = lock(&groups);
    for room in joined {
        if let Some(members) = groups.get_mut(&room) {
            members.retain(|(member, _)| *member != session);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
