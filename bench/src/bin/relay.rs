//! The baseline: a minimal tokio relay speaking the same framing and the
//! subset of the protocol the chat benchmark uses (welcome, create_room,
//! join, send_message, ping), with no rooms layer, no actors, no variables,
//! no limits and no wasm. Groups are a map from room id to members' queues
//! behind one mutex. A connection relays everything one read brought in as
//! one buffer per member. It is the physical limit VampireTCP's overhead is
//! measured against.
//!
//! Run: `relay [--port N]`; prints `listening on ADDR`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use vampire_protocol::event::Lane;
use vampire_protocol::msgpack::Writer;
use vampire_protocol::{
    ErrorCode, PROTOCOL_VERSION, Request, RoomOp, ServerOp, SessionId, Welcome, frame, request,
    server,
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
    let (mut reader, mut writer) = socket.into_split();
    let (queue, mut outbound) = mpsc::channel::<Bytes>(4096);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(64 * 1024);
        while let Some(first) = outbound.recv().await {
            batch.clear();
            batch.extend_from_slice(&first);
            while batch.len() < 64 * 1024 {
                match outbound.try_recv() {
                    Ok(more) => batch.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            if writer.write_all(&batch).await.is_err() {
                return;
            }
        }
    });
    let mut hello = BytesMut::new();
    server::write_welcome(
        &mut hello,
        &Welcome {
            protocol: PROTOCOL_VERSION,
            session,
            server: "baseline-relay".into(),
            idle_timeout_ms: 0,
            auth_required: false,
            resume_token: None,
        },
    );
    let _ = queue.try_send(hello.freeze());
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut joined = Vec::new();
    // Messages of one read, per group, relayed together.
    let mut relayed: HashMap<String, BytesMut> = HashMap::new();
    let mut answers = BytesMut::new();
    loop {
        match reader.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while let Ok(Some(body)) = frame::split(&mut buf, 64 * 1024) {
            let Ok(frame) = request::decode(&body) else {
                server::write_error(
                    &mut answers,
                    None,
                    ErrorCode::InvalidRequest,
                    "unreadable request",
                );
                continue;
            };
            let mut result = vec![0xc0];
            match frame.request {
                Request::Server(ServerOp::CreateRoom { .. }) => {
                    result.clear();
                    let id = format!("g{}", next_id.fetch_add(1, Ordering::Relaxed));
                    Writer::new(&mut result).map(1).str("id").str(&id);
                }
                Request::Room { room, op: RoomOp::Join { .. } } => {
                    lock(&groups).entry(room.clone()).or_default().push((session, queue.clone()));
                    joined.push(room);
                }
                Request::Room { room, op: RoomOp::SendMessage { data } } => {
                    if !relayed.contains_key(&room) {
                        relayed.insert(room.clone(), BytesMut::new());
                    }
                    let out = relayed.get_mut(&room).expect("inserted above");
                    server::write_room_message(
                        out,
                        &room,
                        Some(session),
                        data.as_bytes(),
                        Lane::Reliable,
                    );
                }
                _ => {}
            }
            if let Some(id) = frame.id {
                server::write_response(&mut answers, id, &result);
            }
        }
        for (room, pending) in relayed.iter_mut() {
            if pending.is_empty() {
                continue;
            }
            let events = pending.split().freeze();
            if let Some(members) = lock(&groups).get(room) {
                for (_, member) in members {
                    let _ = member.try_send(events.clone());
                }
            }
        }
        if !answers.is_empty() {
            let _ = queue.try_send(answers.split().freeze());
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
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
