//! [`Sessions`]: every session's resume token, and the sessions held
//! after their connection dropped, for `resume`.
//!
//! A session gets a token when its connection opens (the welcome's
//! `resume_token`). When the connection ends without `close_session` and
//! for a reason the client did not choose (end of stream, reset,
//! `timeout`, `slow_consumer`), the session is *held*: it stays in its
//! rooms, seats counted, its members told `member_disconnected`, and what
//! it is sent goes to its replay, for `reconnect.windowSecs`. A `resume`
//! with the token on a new connection takes it back (the token is then
//! spent, and a new one given); when the window passes first, the session
//! ends and its rooms see it leave with reason `"timeout"`.
//!
//! Tokens are 256 random bits, never logged; in a cluster they start with
//! the id of the node that holds the session and a `.`, so that another
//! node answers a resume with a redirect there. A token names a session that
//! is live, held, or nothing; a live session's token is refused
//! (`session_in_use`), so a token copied off a client cannot take over a
//! connection that works.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;
use vampire_protocol::{ErrorCode, SessionId};

use crate::auth::SignedIn;
use crate::config::ReconnectConfig;
use crate::error::ApiError;
use crate::lock::lock;
use crate::net::udp::UdpChannel;
use crate::outbound::{ClientHandle, Link};
use crate::rooms::{Presence, RoomManager};

/// How a connection ended, for [`Sessions::connection_ended`] to decide
/// whether its session is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The client asked (`close_session`): the session ends, its rooms
    /// see it leave with reason `"left"`.
    Closed,
    /// The network or the client's silence ended it (or, with a code,
    /// the server closed it for a reason that does not end the session:
    /// `timeout`, `slow_consumer`): the session is held when it may be.
    Dropped,
    /// The server ended it for good (a refused token, a protocol
    /// violation, shutdown, a newer sign-in): the session ends.
    Refused,
}

impl Ending {
    /// How a connection that the server closed with `code` (or, with
    /// none, that the client or the network closed) ended.
    pub fn from_farewell(code: Option<ErrorCode>) -> Ending {
        match code {
            None | Some(ErrorCode::Timeout | ErrorCode::SlowConsumer) => Ending::Dropped,
            Some(_) => Ending::Refused,
        }
    }
}

/// What a session that ends is taken out of: its rooms, its UDP channel
/// and its sign-in.
pub struct SessionEnds {
    /// The rooms.
    pub rooms: Arc<RoomManager>,
    /// The UDP channel, when `enableUDP` is on.
    pub udp: Option<Arc<UdpChannel>>,
    /// Who is signed in where.
    pub signed_in: Arc<SignedIn>,
}

/// One token's session.
struct Entry {
    client: ClientHandle,
    /// No connection serves it.
    held: bool,
}

/// Every session's token, and the held sessions.
pub struct Sessions {
    /// How long a dropped session is held; `None`: never.
    window: Option<Duration>,
    /// Held sessions at most (`reconnect.maxHeldSessions`).
    max_held: usize,
    entries: Mutex<HashMap<String, Entry>>,
    /// Held sessions now.
    held: AtomicUsize,
    rooms: Arc<RoomManager>,
    udp: Option<Arc<UdpChannel>>,
    signed_in: Arc<SignedIn>,
    /// Where the window's timers run, so shutdown waits for them.
    tasks: TaskTracker,
    /// Cancelled when the server stops: held sessions end at once.
    shutdown: CancellationToken,
    /// This node's id, in a cluster: the prefix of its tokens.
    node: Option<String>,
}

/// A session a `resume` took back.
pub struct Taken {
    /// The session.
    pub client: ClientHandle,
    /// Its new token.
    pub token: String,
}

impl Sessions {
    /// No session yet; dropped ones are held as `reconnect` says, until
    /// `shutdown`, with their timers on `tasks`; `node` names this node of
    /// a cluster in its tokens; a session that ends leaves `ends`' rooms.
    pub fn new(
        reconnect: &ReconnectConfig,
        node: Option<String>,
        ends: SessionEnds,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> Sessions {
        Sessions {
            window: reconnect.window(),
            max_held: reconnect.max_held_sessions,
            entries: Mutex::default(),
            held: AtomicUsize::new(0),
            rooms: ends.rooms,
            udp: ends.udp,
            signed_in: ends.signed_in,
            tasks,
            shutdown,
            node,
        }
    }

    /// The node of the cluster holding `token`'s session, when it is not
    /// this one.
    pub fn elsewhere<'t>(&self, token: &'t str) -> Option<&'t str> {
        let (node, _) = token.split_once('.')?;
        (self.node.as_deref() != Some(node)).then_some(node)
    }

    /// A new token: random, after this node's id in a cluster.
    fn new_token(&self) -> Option<String> {
        let random = random_token()?;
        Some(match &self.node {
            Some(node) => format!("{node}.{random}"),
            None => random,
        })
    }

    /// Sessions held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// A token for `client`'s new session, when sessions are held; `None`
    /// otherwise (or when the system has no randomness).
    pub fn issue(&self, client: &ClientHandle) -> Option<String> {
        self.window?;
        let token = self.new_token()?;
        lock(&self.entries).insert(token.clone(), Entry { client: client.clone(), held: false });
        Some(token)
    }

    /// Forgets `token` (a session that ended, or a fresh session a resume
    /// replaced).
    pub fn forget(&self, token: &str) {
        lock(&self.entries).remove(token);
    }

    /// Takes back the held session of `token` for a new connection, after
    /// `same_user` accepts its client (the identity check of a server that
    /// authenticates). The session gets a new token; the old one is spent.
    ///
    /// # Errors
    /// `session_not_found` (an unknown or spent token, or a window that
    /// passed), `session_in_use` (a connection serves it), or what
    /// `same_user` refuses with.
    pub fn take(
        &self,
        token: &str,
        same_user: impl FnOnce(&ClientHandle) -> Result<(), ApiError>,
    ) -> Result<Taken, ApiError> {
        let mut entries = lock(&self.entries);
        let Some(entry) = entries.get(token) else {
            return Err(ApiError::new(
                ErrorCode::SessionNotFound,
                "no session to resume with that token: it expired, was used, or never was",
            ));
        };
        if !entry.held {
            return Err(ApiError::new(
                ErrorCode::SessionInUse,
                "that session is served by a live connection",
            ));
        }
        if entry.client.is_end_asked() {
            return Err(ApiError::new(ErrorCode::SessionNotFound, "that session has ended"));
        }
        same_user(&entry.client)?;
        let new_token = self
            .new_token()
            .ok_or_else(|| ApiError::internal("no randomness for a resume token"))?;
        let entry = entries.remove(token).expect("looked up above");
        let client = entry.client.clone();
        entries.insert(new_token.clone(), Entry { client: entry.client, held: false });
        self.held.fetch_sub(1, Ordering::Relaxed);
        Ok(Taken { client, token: new_token })
    }

    /// Tells the rooms of a session that resumed, so that its members see
    /// `member_reconnected` (and it gets each room's state on a `resync`).
    pub async fn resumed(&self, client: &ClientHandle, resync: bool) {
        for room in client.memberships() {
            if let Ok(handle) = self.rooms.get(&room) {
                handle.presence(client.session(), Presence::Resumed { resync }).await;
            }
        }
    }

    /// Ends connection `link` of `client` (token `token`): holds the
    /// session when `ending` allows and there is room, else ends it.
    pub async fn connection_ended(
        self: &Arc<Self>,
        client: &ClientHandle,
        link: &Arc<Link>,
        token: Option<&str>,
        ending: Ending,
    ) {
        client.detach(link);
        let (Some(window), Some(token), Ending::Dropped) = (self.window, token, ending) else {
            if let Some(token) = token {
                self.forget(token);
            }
            let reason = if ending == Ending::Closed { "left" } else { "disconnected" };
            return self.end(client, reason).await;
        };
        if !self.try_hold(token) {
            self.forget(token);
            return self.end(client, "disconnected").await;
        }
        info!(
            session = client.session(),
            window_secs = window.as_secs(),
            "connection dropped; session held"
        );
        for room in client.memberships() {
            if let Ok(handle) = self.rooms.get(&room) {
                handle.presence(client.session(), Presence::Dropped).await;
            }
        }
        let (sessions, client, token) = (self.clone(), client.clone(), token.to_owned());
        self.tasks.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(window) => {}
                () = client.end_asked() => {}
                () = sessions.shutdown.cancelled() => {}
            }
            if sessions.release(&token) {
                info!(session = client.session(), "session not resumed in time; ended");
                sessions.end(&client, "timeout").await;
            }
        });
    }

    /// Marks `token`'s session held, if fewer than the maximum are.
    fn try_hold(&self, token: &str) -> bool {
        let mut entries = lock(&self.entries);
        let Some(entry) = entries.get_mut(token) else { return false };
        let held = self.held.fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
            (held < self.max_held).then_some(held + 1)
        });
        entry.held = held.is_ok();
        entry.held
    }

    /// Removes `token`'s session if it is still held (not resumed
    /// meanwhile); returns whether it was.
    fn release(&self, token: &str) -> bool {
        let mut entries = lock(&self.entries);
        if !entries.get(token).is_some_and(|entry| entry.held) {
            return false;
        }
        entries.remove(token);
        self.held.fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// Ends `client`'s session: its UDP channel, its sign-in, and its
    /// rooms, which see it leave with `reason`.
    pub async fn end(&self, client: &ClientHandle, reason: &'static str) {
        let session: SessionId = client.session();
        if let Some(udp) = &self.udp {
            udp.end(session);
        }
        if let Some(user_id) = &client.identity().user_id {
            self.signed_in.sign_out(user_id, session);
        }
        for room in client.end_memberships() {
            if let Ok(handle) = self.rooms.get(&room) {
                handle.presence(session, Presence::Ended(reason)).await;
            }
        }
    }
}

/// 256 random bits as 64 hex digits; `None` without randomness.
fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    let mut token = String::with_capacity(64);
    for byte in bytes {
        let _ = write!(token, "{byte:02x}");
    }
    Some(token)
}
