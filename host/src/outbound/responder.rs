//! [`Responder`]: the reply sink every request is answered through,
//! exactly once.
//!
//! A responder answers one of three listeners:
//! - a client connection: the answer is a `response` or `error` frame in
//!   its queue (a notification, a request without id, gets no success
//!   response, and its error goes out with a nil id);
//! - a caller in this process ([`Responder::local`]): the cluster asking
//!   for another node's client, the admin API, the benchmarks. The answer
//!   is the typed result, through a oneshot ([`Answer`]): nobody reads the
//!   server's own frames back;
//! - nobody ([`Responder::silent`]): what came over UDP is never answered.
//!
//! A responder dropped without an answer (a room that ended with the
//! request in its mailbox, say) answers `room_not_found` for the room it
//! was sent to (`internal` when it was about no room), which is how
//! "every request gets exactly one answer" holds whatever a room does.

use bytes::BytesMut;
use tokio::sync::oneshot;
use vampire_protocol::msgpack::Writer;
use vampire_protocol::server::{self, Redirect};
use vampire_protocol::{ErrorCode, Payload, RoomId, SessionId};

use crate::error::ApiError;
use crate::outbound::handle::ClientHandle;

/// What a local caller gets: the operation's result (one MessagePack
/// value) or its error.
pub type Outcome = Result<Payload, ApiError>;

/// The answer to one request.
#[derive(Debug)]
#[must_use = "a responder answers its request when used or dropped"]
pub struct Responder {
    /// Who hears the answer; taken by the answer, so a responder answers
    /// once (`None` once answered).
    sink: Option<Sink>,
    /// The room the request went to, for the answer owed if the responder
    /// is dropped unanswered.
    room: Option<Box<str>>,
}

/// Who hears the answer.
#[derive(Debug)]
enum Sink {
    /// A client's request, which the answer goes to.
    Client { client: ClientHandle, asked: Asked },
    /// A caller in this process, and the largest result it accepts.
    Local { reply: oneshot::Sender<Outcome>, max_bytes: usize },
    /// Nobody (UDP).
    Silent,
}

/// Which of a client's requests an answer is for: its id and its
/// operation, packed in eight bytes (a responder travels in every room
/// command, and the mailbox holds commands by value).
#[derive(Debug, Clone, Copy)]
struct Asked {
    /// The request's id (when `has_id`).
    id: u32,
    /// `false` for a notification, which gets no success response.
    has_id: bool,
    /// Its place in `Request::ops`, which the answer is counted under;
    /// [`UNREADABLE`] for a frame that did not decode.
    op: u8,
}

/// [`Asked::op`] of a frame that did not decode.
const UNREADABLE: u8 = u8::MAX;

impl Asked {
    fn id(self) -> Option<u32> {
        self.has_id.then_some(self.id)
    }

    /// Counts the answer to this request, `outcome` (`None`: success).
    fn count(self, client: &ClientHandle, outcome: Option<ErrorCode>) {
        let op = (self.op != UNREADABLE).then_some(usize::from(self.op));
        client.metrics().request(op, outcome);
    }
}

/// The answer a local caller waits for ([`Responder::local`]).
#[derive(Debug)]
#[must_use = "the answer comes through this"]
pub struct Answer(oneshot::Receiver<Outcome>);

impl Answer {
    /// Waits for the answer.
    ///
    /// # Errors
    /// The operation's error.
    pub async fn outcome(self) -> Outcome {
        // A responder always answers, even when dropped; a closed channel
        // would be a bug.
        self.0.await.unwrap_or_else(|_| Err(ApiError::internal("the request went unanswered")))
    }
}

impl Responder {
    /// A responder for request `id` of `client`, an operation of place
    /// `op` in `Request::ops` (`None`: a frame that did not decode), which
    /// its answer is counted under; `room` names the room the request
    /// went to, for the answer owed if it is dropped.
    pub fn new(
        client: ClientHandle,
        id: Option<u32>,
        op: Option<usize>,
        room: Option<RoomId>,
    ) -> Responder {
        let room = room.map(String::into_boxed_str);
        let op = op.and_then(|op| u8::try_from(op).ok()).unwrap_or(UNREADABLE);
        let asked = Asked { id: id.unwrap_or(0), has_id: id.is_some(), op };
        Responder { sink: Some(Sink::Client { client, asked }), room }
    }

    /// A responder for a caller in this process, which accepts results of
    /// at most `max_bytes` (the node's largest outgoing frame, usually:
    /// what it gets may go on to a client); the answer comes through the
    /// [`Answer`].
    pub fn local(max_bytes: usize) -> (Responder, Answer) {
        let (reply, answer) = oneshot::channel();
        let sink = Sink::Local { reply, max_bytes };
        (Responder { sink: Some(sink), room: None }, Answer(answer))
    }

    /// A responder that answers nothing, for an unreliable message (a UDP
    /// datagram gets no answer, and its errors are dropped).
    pub fn silent() -> Responder {
        Responder { sink: Some(Sink::Silent), room: None }
    }

    /// This responder, owing `room_not_found` for `room` if dropped
    /// unanswered.
    pub fn about_room(mut self, room: &str) -> Responder {
        self.room = Some(room.into());
        self
    }

    /// The client's request id, when the answer goes to a client as a
    /// response (`None` for a notification, a local caller or nobody).
    pub fn id(&self) -> Option<u32> {
        match &self.sink {
            Some(Sink::Client { asked, .. }) => asked.id(),
            _ => None,
        }
    }

    /// Whether the answer goes to the connection of `session`: only then
    /// can it be queued among the frames a room sends that client.
    pub fn answers_session(&self, session: SessionId) -> bool {
        matches!(&self.sink, Some(Sink::Client { client, .. }) if client.session() == session)
    }

    /// The largest result this answer may carry, in bytes (about the
    /// largest frame the server sends).
    pub fn max_result_bytes(&self) -> usize {
        match &self.sink {
            Some(Sink::Client { client, .. }) => client.max_frame_bytes(),
            Some(Sink::Local { max_bytes, .. }) => *max_bytes,
            Some(Sink::Silent) | None => usize::MAX,
        }
    }

    /// Answers with `result` (one MessagePack value). A result too large
    /// to send becomes `response_too_large`.
    pub fn ok(mut self, result: &[u8]) {
        let size = server::response_size(result.len());
        if size > self.max_result_bytes() {
            let error = too_large(size, self.max_result_bytes());
            return self.fail(error);
        }
        match self.sink.take() {
            Some(Sink::Client { client, asked }) => {
                asked.count(&client, None);
                if let Some(id) = asked.id() {
                    let mut buf = BytesMut::with_capacity(size);
                    server::write_response(&mut buf, id, result);
                    client.send(buf.freeze());
                }
            }
            Some(Sink::Local { reply, .. }) => {
                let result = Payload::from_bytes(bytes::Bytes::copy_from_slice(result))
                    .map_err(|err| ApiError::internal(format!("a malformed result: {err}")));
                let _ = reply.send(result);
            }
            Some(Sink::Silent) | None => {}
        }
    }

    /// Answers with nil.
    pub fn ok_nil(self) {
        self.ok(&[0xc0]);
    }

    /// Answers with a result `write` builds, after checking that a result
    /// of at most `size_bound` bytes may be sent; a larger one is refused
    /// with `response_too_large` without being built.
    pub fn ok_with(mut self, size_bound: usize, write: impl FnOnce(&mut Writer<'_, BytesMut>)) {
        let size = server::response_size(size_bound);
        if size > self.max_result_bytes() {
            let error = too_large(size, self.max_result_bytes());
            return self.fail(error);
        }
        let notification = matches!(&self.sink, Some(Sink::Client { asked, .. }) if !asked.has_id);
        if notification || matches!(self.sink, Some(Sink::Silent)) {
            // Nobody reads a success: do not build it.
            if let Some(Sink::Client { client, asked }) = self.sink.take() {
                asked.count(&client, None);
            }
            return;
        }
        let mut result = BytesMut::with_capacity(size_bound);
        write(&mut Writer::new(&mut result));
        self.ok(&result);
    }

    /// Answers with an error.
    pub fn fail(mut self, error: ApiError) {
        self.send_error(error);
    }

    /// Answers with `outcome`: nil on success.
    pub fn finish(self, outcome: Result<(), ApiError>) {
        match outcome {
            Ok(()) => self.ok_nil(),
            Err(error) => self.fail(error),
        }
    }

    /// Answers with what a local caller got: the result as it is, or the
    /// error.
    pub fn relay(self, outcome: Outcome) {
        match outcome {
            Ok(result) => self.ok(result.as_bytes()),
            Err(error) => self.fail(error),
        }
    }

    /// Answers a client's `join` (or `join_or_create`, which says whether
    /// it `created` the room) with a `redirect` to the node that holds
    /// the room (`to`: its TCP address, and its WebSocket one when it
    /// advertises one), and the seat reserved there. A local caller is
    /// told it cannot follow one.
    pub fn redirect(
        mut self,
        room: RoomId,
        to: (String, Option<String>),
        reservation: String,
        ttl_ms: u64,
        created: bool,
    ) {
        match self.sink.take() {
            Some(Sink::Client { client, asked }) => {
                asked.count(&client, None);
                client.metrics().redirected();
                if let Some(id) = asked.id() {
                    let (address, ws_address) = to;
                    let expires_in_ms = ttl_ms;
                    let redirect = Redirect {
                        id,
                        room,
                        address,
                        ws_address,
                        reservation,
                        expires_in_ms,
                        created,
                    };
                    let mut buf = BytesMut::with_capacity(64 + redirect.reservation.len());
                    server::write_redirect(&mut buf, &redirect);
                    client.send(buf.freeze());
                }
            }
            Some(Sink::Local { reply, .. }) => {
                let _ = reply.send(Err(ApiError::internal("a redirect answers clients only")));
            }
            Some(Sink::Silent) | None => {}
        }
    }

    /// Marks the request as answered by other means: a `join` response
    /// the room queued among the member's own frames.
    pub fn answered_elsewhere(mut self) {
        if let Some(Sink::Client { client, asked }) = self.sink.take() {
            asked.count(&client, None);
        }
    }

    /// Answers `error`, once.
    fn send_error(&mut self, error: ApiError) {
        match self.sink.take() {
            Some(Sink::Client { client, asked }) => {
                asked.count(&client, Some(error.code));
                let mut buf = BytesMut::with_capacity(64 + error.message.len());
                server::write_error(&mut buf, asked.id(), error.code, &error.message);
                client.send(buf.freeze());
            }
            Some(Sink::Local { reply, .. }) => {
                let _ = reply.send(Err(error));
            }
            Some(Sink::Silent) | None => {}
        }
    }
}

fn too_large(size: usize, max: usize) -> ApiError {
    ApiError::new(
        ErrorCode::ResponseTooLarge,
        format!("the answer would take {size} bytes; the server sends at most {max} in one frame"),
    )
}

impl Drop for Responder {
    fn drop(&mut self) {
        if self.sink.is_some() {
            let error = match &self.room {
                Some(room) => ApiError::room_not_found(room),
                None => ApiError::internal("the request was dropped unanswered"),
            };
            self.send_error(error);
        }
    }
}
