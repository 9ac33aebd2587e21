//! The baseline: a bare relay, the physical limit VampireTCP's overhead is
//! measured against. It speaks the framing and the few requests the chat
//! benchmark needs before its clients talk (welcome, `create_room`,
//! `join`, `ping`); once a connection has joined a group, nothing it sends
//! is decoded any more: each run of complete frames one read brings in is
//! forwarded as it is, one shared buffer, to the bounded queue of every
//! member of the group (the sender too, as the chat room does), and each
//! connection's writer sends its whole queue with one vectored write per
//! wake-up. No rooms layer, no actors, no variables, no limits, no wasm.
//!
//! The members get the clients' `send_message` requests, not
//! `room_message` events: the generator reads a message's timestamp at a
//! fixed distance from the end of a frame, where both put it.
//!
//! Run: `relay [--port N]`; prints `listening on ADDR`.

use std::collections::{HashMap, VecDeque};
use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use vampire_protocol::msgpack::Writer;
use vampire_protocol::{
    ErrorCode, PROTOCOL_VERSION, Request, RoomOp, ServerOp, SessionId, Welcome, frame, request,
    server,
};

/// Bytes one connection's queue holds at most; what would pass it is
/// dropped (a real server would disconnect the slow client).
const QUEUE_BYTES: usize = 4 << 20;

/// Bytes one read takes at most.
const READ_BYTES: usize = 64 * 1024;

/// Baseline relay.
#[derive(Debug, Parser)]
struct Args {
    /// TCP port (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

/// One connection's outbound queue: shared buffers, bounded in bytes.
#[derive(Default)]
struct Outbox {
    queue: Mutex<(VecDeque<Bytes>, usize)>,
    ready: Notify,
}

impl Outbox {
    fn push(&self, bytes: Bytes) {
        let mut queue = lock(&self.queue);
        if queue.1 + bytes.len() > QUEUE_BYTES {
            return;
        }
        queue.1 += bytes.len();
        queue.0.push_back(bytes);
        drop(queue);
        self.ready.notify_one();
    }

    fn take(&self) -> VecDeque<Bytes> {
        let mut queue = lock(&self.queue);
        queue.1 = 0;
        std::mem::take(&mut queue.0)
    }
}

/// Members of each group.
type Groups = Arc<Mutex<HashMap<String, Vec<(SessionId, Arc<Outbox>)>>>>;

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

/// Sends everything queued, one vectored write per wake-up (several when
/// the socket takes less).
async fn write(mut writer: tokio::net::tcp::OwnedWriteHalf, outbox: Arc<Outbox>) {
    loop {
        outbox.ready.notified().await;
        let mut pending = outbox.take();
        while !pending.is_empty() {
            let slices: Vec<IoSlice<'_>> = pending.iter().map(|b| IoSlice::new(b)).collect();
            let Ok(mut written) = writer.write_vectored(&slices).await else { return };
            if written == 0 {
                return;
            }
            while let Some(front) = pending.front_mut() {
                if written < front.len() {
                    front.advance(written);
                    break;
                }
                written -= front.len();
                pending.pop_front();
            }
        }
    }
}

async fn serve(socket: TcpStream, session: SessionId, groups: Groups, next_id: Arc<AtomicU64>) {
    let _ = socket.set_nodelay(true);
    let (mut reader, writer) = socket.into_split();
    let outbox = Arc::new(Outbox::default());
    tokio::spawn(write(writer, outbox.clone()));
    let mut hello = BytesMut::new();
    let welcome = Welcome {
        protocol: PROTOCOL_VERSION,
        session,
        server: "baseline-relay".into(),
        idle_timeout_ms: 0,
        auth_required: false,
        resume_token: None,
    };
    server::write_welcome(&mut hello, &welcome);
    outbox.push(hello.freeze());
    let mut buf = BytesMut::with_capacity(READ_BYTES);
    // The group this connection talks to, once it joined one.
    let mut group: Option<(String, Vec<Arc<Outbox>>, usize)> = None;
    let mut joined = Vec::new();
    loop {
        match reader.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Some((room, members, seen)) = &mut group {
            // The complete frames read, unparsed, to every member.
            let complete = complete_frames(&buf);
            if complete > 0 {
                let run = buf.split_to(complete).freeze();
                let groups = lock(&groups);
                let now = groups.get(room.as_str()).map_or(0, Vec::len);
                if now != *seen {
                    // Members came or went since (the chat benchmark's
                    // groups only grow): read the group again.
                    *members = groups[room.as_str()].iter().map(|(_, m)| m.clone()).collect();
                    *seen = now;
                }
                drop(groups);
                for member in members.iter() {
                    member.push(run.clone());
                }
            }
        } else {
            let mut answers = BytesMut::new();
            let mut joining = None;
            while let Ok(Some(body)) = frame::split(&mut buf, READ_BYTES) {
                joining = answer(&body, &next_id, &mut answers);
                if joining.is_some() {
                    break;
                }
            }
            if !answers.is_empty() {
                outbox.push(answers.freeze());
            }
            // A member from now on: the join's answer is queued first.
            if let Some(room) = joining {
                lock(&groups).entry(room.clone()).or_default().push((session, outbox.clone()));
                joined.push(room.clone());
                group = Some((room, Vec::new(), usize::MAX));
            }
        }
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(READ_BYTES);
        }
    }
    let mut groups = lock(&groups);
    for room in joined {
        if let Some(members) = groups.get_mut(&room) {
            members.retain(|(member, _)| *member != session);
        }
    }
}

/// Answers one request of a connection that has not joined yet into
/// `answers`; returns the room it joins, if it does.
fn answer(body: &Bytes, next_id: &AtomicU64, answers: &mut BytesMut) -> Option<String> {
    let Ok(frame) = request::decode(body) else {
        server::write_error(answers, None, ErrorCode::InvalidRequest, "unreadable request");
        return None;
    };
    let mut result = vec![0xc0];
    let mut joined = None;
    match frame.request {
        Request::Server(ServerOp::CreateRoom { .. }) => {
            result.clear();
            let id = format!("g{}", next_id.fetch_add(1, Ordering::Relaxed));
            Writer::new(&mut result).map(1).str("id").str(&id);
        }
        Request::Room { room, op: RoomOp::Join { .. } } => joined = Some(room),
        _ => {}
    }
    if let Some(id) = frame.id {
        server::write_response(answers, id, &result);
    }
    joined
}

/// The length of the complete frames at the start of `buf`: only their
/// length prefixes are read.
fn complete_frames(buf: &[u8]) -> usize {
    let mut at = 0;
    while let Some(prefix) = buf.get(at..at + frame::LENGTH_PREFIX) {
        let length = u32::from_be_bytes(prefix.try_into().expect("four bytes")) as usize;
        let end = at + frame::LENGTH_PREFIX + length;
        if end > buf.len() {
            break;
        }
        at = end;
    }
    at
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
