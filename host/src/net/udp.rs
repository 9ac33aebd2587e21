//! [`UdpChannel`]: the optional UDP port, for frequent data that may be
//! lost (positions, inputs). TCP stays the channel for everything that
//! matters; UDP only ever carries unreliable room messages and the changes
//! of variables flagged unreliable.
//!
//! The design is netcode.io's, with the client's TCP connection in the
//! role of its web backend: over TCP (`udp_bind`) a client gets a random
//! session id and two random keys, one per direction (see
//! [`vampire_protocol::udp`] for the datagram layout). The server looks a
//! datagram's session up by id, never by address; accepts it only if it
//! opens with the session's key and its sequence number is new (a replay
//! window of 256); and then (re)binds the session to the address the
//! newest such datagram came from, which follows a client through NAT
//! rebinding. It never sends a datagram to an address that has not
//! authenticated, never answers one that has not, and every datagram it
//! sends is one a room sent that member: nothing to amplify. Malformed,
//! oversized, unauthenticated, replayed, stale and expired datagrams are
//! dropped and counted, never an error to anyone. A session ends with its
//! TCP connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::net::UdpSocket;
use tracing::debug;
use vampire_protocol::udp::{
    Binding, ClientDatagram, Direction, Freshness, HEADER_BYTES, Header, KEY_BYTES,
    MAX_DATAGRAM_BYTES, ReplayWindow, SealKey,
};
use vampire_protocol::{ErrorCode, SessionId};

use crate::config::Config;
use crate::error::ApiError;
use crate::lock::lock;
use crate::logging::Throttle;
use crate::metrics::UdpTraffic;
use crate::outbound::{ClientHandle, UnreliableLink};
use crate::rooms::RoomManager;

/// Datagrams dropped, by reason: what an operator looks at when UDP
/// misbehaves.
#[derive(Debug, Default)]
pub struct Drops {
    /// Shorter than a header and a tag, or longer than the maximum.
    pub malformed: AtomicU64,
    /// No session has that id, or its keys expired.
    pub unknown_session: AtomicU64,
    /// Did not open with the session's key.
    pub unauthenticated: AtomicU64,
    /// A sequence number already seen.
    pub replayed: AtomicU64,
    /// A sequence number older than the replay window.
    pub stale: AtomicU64,
    /// Authenticated, but not a datagram the server knows, or over the
    /// session's rate.
    pub refused: AtomicU64,
}

impl Drops {
    /// Every reason, by its metric label, with its count.
    pub fn by_reason(&self) -> Vec<(&'static str, u64)> {
        [
            ("malformed", &self.malformed),
            ("unknown_session", &self.unknown_session),
            ("unauthenticated", &self.unauthenticated),
            ("replayed", &self.replayed),
            ("stale", &self.stale),
            ("refused", &self.refused),
        ]
        .into_iter()
        .map(|(reason, count)| (reason, count.load(Ordering::Relaxed)))
        .collect()
    }

    /// The total of every reason.
    pub fn total(&self) -> u64 {
        [
            &self.malformed,
            &self.unknown_session,
            &self.unauthenticated,
            &self.replayed,
            &self.stale,
            &self.refused,
        ]
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
    }
}

/// Datagrams that went through the socket, both ways.
#[derive(Debug, Default)]
struct Datagrams {
    received: AtomicU64,
    sent: AtomicU64,
}

/// The UDP socket and its sessions.
pub struct UdpChannel {
    socket: Arc<UdpSocket>,
    sessions: Mutex<HashMap<u64, Arc<UdpSession>>>,
    /// The link each bound TCP session's client handle holds: binding
    /// again points it at the new UDP session, so the server sends with
    /// the new id and keys (a client handle takes its link once).
    links: Mutex<HashMap<SessionId, Arc<SessionLink>>>,
    rooms: Arc<RoomManager>,
    key_lifetime: Duration,
    rate: (NonZeroU32, NonZeroU32),
    drops: Drops,
    /// Counted by the channel and its sessions.
    datagrams: Arc<Datagrams>,
    /// Rate-limits the debug lines about drops.
    drop_log: Throttle,
}

/// One client's UDP session.
pub struct UdpSession {
    id: u64,
    client: ClientHandle,
    socket: Arc<UdpSocket>,
    to_server: SealKey,
    to_client: SealKey,
    expires: Instant,
    received: Mutex<Received>,
    /// The sequence number of the next datagram the server sends.
    sent: AtomicU64,
    rate: DefaultDirectRateLimiter,
    /// The channel's counts.
    datagrams: Arc<Datagrams>,
}

/// What a session has received so far.
#[derive(Default)]
struct Received {
    window: ReplayWindow,
    /// Where the newest authenticated datagram came from: the only address
    /// the server sends this session's datagrams to.
    address: Option<SocketAddr>,
}

impl std::fmt::Debug for UdpSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UdpSession({})", self.id)
    }
}

impl UdpChannel {
    /// Binds the UDP port of `config` (on its bind address).
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn bind(config: &Config, rooms: Arc<RoomManager>) -> std::io::Result<UdpChannel> {
        let socket = UdpSocket::bind(SocketAddr::new(config.bind_address, config.udp_port)).await?;
        let limits = &config.limits;
        let per_second = NonZeroU32::new(limits.requests_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.request_burst).unwrap_or(per_second);
        Ok(UdpChannel {
            socket: Arc::new(socket),
            sessions: Mutex::default(),
            links: Mutex::default(),
            rooms,
            key_lifetime: Duration::from_secs(limits.udp_key_lifetime_secs),
            rate: (per_second, burst),
            drops: Drops::default(),
            datagrams: Arc::default(),
            drop_log: Throttle::per_second(1),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Datagrams dropped so far, by reason.
    pub fn drops(&self) -> &Drops {
        &self.drops
    }

    /// Datagrams received, sent and dropped so far, for `/metrics`.
    pub fn traffic(&self) -> UdpTraffic {
        UdpTraffic {
            received: self.datagrams.received.load(Ordering::Relaxed),
            sent: self.datagrams.sent.load(Ordering::Relaxed),
            dropped: self.drops.by_reason(),
        }
    }

    /// Gives `client` a new UDP session (replacing any it had: the old id
    /// and keys stop working both ways) and returns
    /// the binding to send it over TCP. The session's link is set on the
    /// client, so rooms send it unreliable events from now on.
    ///
    /// # Errors
    /// When the system's random generator fails.
    pub fn bind_session(&self, client: &ClientHandle) -> Result<Binding, ApiError> {
        let random = |bytes: &mut [u8]| {
            getrandom::fill(bytes).map_err(|err| {
                ApiError::new(ErrorCode::Internal, format!("no random bytes: {err}"))
            })
        };
        let mut to_server_key = [0u8; KEY_BYTES];
        let mut to_client_key = [0u8; KEY_BYTES];
        let mut id = [0u8; 8];
        random(&mut to_server_key)?;
        random(&mut to_client_key)?;
        random(&mut id)?;
        let id = u64::from_be_bytes(id);
        let session = Arc::new(UdpSession {
            id,
            client: client.clone(),
            socket: self.socket.clone(),
            to_server: SealKey::new(&to_server_key),
            to_client: SealKey::new(&to_client_key),
            expires: Instant::now() + self.key_lifetime,
            received: Mutex::default(),
            sent: AtomicU64::new(0),
            rate: RateLimiter::direct(Quota::per_second(self.rate.0).allow_burst(self.rate.1)),
            datagrams: self.datagrams.clone(),
        });
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| s.client.session() != client.session());
        sessions.insert(id, session.clone());
        drop(sessions);
        let mut links = lock(&self.links);
        match links.get(&client.session()) {
            Some(link) => *lock(&link.0) = session,
            None => {
                let link = Arc::new(SessionLink(Mutex::new(session)));
                links.insert(client.session(), link.clone());
                client.set_udp(link);
            }
        }
        let expires_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            + self.key_lifetime.as_millis() as u64;
        Ok(Binding {
            port: self.local_addr().map_or(0, |a| a.port()),
            session: id,
            to_server_key,
            to_client_key,
            expires_ms,
        })
    }

    /// Ends every UDP session of TCP session `session` (its connection
    /// ended).
    pub fn end(&self, session: SessionId) {
        lock(&self.sessions).retain(|_, s| s.client.session() != session);
        lock(&self.links).remove(&session);
    }

    /// Receives datagrams until the task is stopped.
    pub async fn serve(self: Arc<Self>) {
        let mut buf = vec![0u8; MAX_DATAGRAM_BYTES + 1];
        loop {
            let (len, from) = match self.socket.recv_from(&mut buf).await {
                Ok(received) => received,
                Err(err) => {
                    // ICMP errors of an earlier send surface here on some
                    // systems; they concern one peer, not the socket.
                    debug!(%err, "UDP receive failed");
                    continue;
                }
            };
            self.datagrams.received.fetch_add(1, Ordering::Relaxed);
            self.receive(&mut buf[..len], from).await;
        }
    }

    fn drop_datagram(&self, counter: &AtomicU64, why: &str, from: SocketAddr) {
        counter.fetch_add(1, Ordering::Relaxed);
        self.drop_log.warn(|suppressed| debug!(%from, suppressed, "UDP datagram dropped: {why}"));
    }

    /// Checks, opens and acts on one datagram.
    async fn receive(&self, datagram: &mut [u8], from: SocketAddr) {
        let Some(header) = Header::read(datagram) else {
            return self.drop_datagram(&self.drops.malformed, "malformed or oversized", from);
        };
        let session = lock(&self.sessions).get(&header.session).cloned();
        let Some(session) = session.filter(|s| s.expires > Instant::now()) else {
            return self.drop_datagram(&self.drops.unknown_session, "no such session", from);
        };
        match lock(&session.received).window.check(header.sequence) {
            Freshness::Replayed => {
                return self.drop_datagram(&self.drops.replayed, "replayed", from);
            }
            Freshness::Stale => return self.drop_datagram(&self.drops.stale, "stale", from),
            Freshness::Newest | Freshness::Late => {}
        }
        let Ok(end) = session.to_server.open(Direction::ToServer, datagram) else {
            return self.drop_datagram(&self.drops.unauthenticated, "does not authenticate", from);
        };
        {
            let mut received = lock(&session.received);
            // Checked again: another datagram may have won the race.
            let freshness = received.window.check(header.sequence);
            if matches!(freshness, Freshness::Replayed | Freshness::Stale) {
                drop(received);
                return self.drop_datagram(&self.drops.replayed, "replayed", from);
            }
            received.window.accept(header.sequence);
            if freshness == Freshness::Newest {
                received.address = Some(from);
            }
        }
        if session.rate.check().is_err() {
            return self.drop_datagram(&self.drops.refused, "over the session's rate", from);
        }
        match ClientDatagram::decode(&datagram[HEADER_BYTES..end]) {
            Some(ClientDatagram::Hello) => {}
            Some(ClientDatagram::Message { room, data }) => {
                let Ok(handle) = self.rooms.get(&room) else {
                    return self.drop_datagram(&self.drops.refused, "no such room", from);
                };
                // An unreliable message gets no answer, and a full room
                // mailbox drops it rather than hold the UDP socket.
                handle.try_send_unreliable(session.client.session(), data);
            }
            None => {
                self.drop_datagram(&self.drops.refused, "not a datagram the server knows", from)
            }
        }
    }
}

/// The link a client handle holds to its UDP session.
struct SessionLink(Mutex<Arc<UdpSession>>);

impl std::fmt::Debug for SessionLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionLink")
    }
}

impl UnreliableLink for SessionLink {
    fn send(&self, body: &[u8]) -> bool {
        let session = lock(&self.0).clone();
        session.send(body)
    }
}

thread_local! {
    /// The buffer datagrams are sealed into, reused by each thread.
    static SEALED: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(MAX_DATAGRAM_BYTES));
}

impl UdpSession {
    /// Seals `body` into a datagram and sends it to the session's bound
    /// address; `false` (nothing sent) when none is bound yet or the
    /// body is too large for a datagram. A full socket buffer drops the
    /// datagram: it was unreliable.
    fn send(&self, body: &[u8]) -> bool {
        let Some(address) = lock(&self.received).address else { return false };
        if self.expires <= Instant::now() {
            return false;
        }
        let sequence = self.sent.fetch_add(1, Ordering::Relaxed);
        SEALED.with(|sealed| {
            let mut sealed = sealed.borrow_mut();
            let header = Header { session: self.id, sequence };
            if self.to_client.seal(Direction::ToClient, header, body, &mut sealed).is_err() {
                return false;
            }
            if self.socket.try_send_to(&sealed, address).is_ok() {
                self.datagrams.sent.fetch_add(1, Ordering::Relaxed);
            }
            true
        })
    }
}
