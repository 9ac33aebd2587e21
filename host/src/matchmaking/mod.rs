//! The ticket matchmaker: players wait in queues of the server's config
//! (`matchmaking.queues`) with a ticket, until the matchmaker forms a match
//! of tickets that accept each other, creates its room (with the players'
//! properties in its create options and a seat held for each) and sends
//! each player `matched`.
//!
//! Tickets wait in one pool per server, or per cluster in Redis
//! (`crate::cluster::tickets`), where one node at a time, the lease
//! holder, forms the matches: a ticket is taken for one match at most. A
//! ticket ends when it is matched, withdrawn (`matchmaker_remove`), when
//! its connection ends, or after its queue's time-out (`match_timeout`).
//!
//! # Layout
//! - [`matcher`]: which tickets form a match (pure).
//! - [`pool`]: where tickets wait ([`TicketPool`]), and a lone server's
//!   pool.
//! - [`ticket`]: [`Ticket`], a waiting player.

pub mod matcher;
pub mod pool;
pub mod ticket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vampire_abi::matched::{MatchOptions, MatchedPlayer};
use vampire_protocol::Value;
use vampire_protocol::error::quote;
use vampire_protocol::event::{write_match_timeout, write_matched};
use vampire_protocol::matchmaking::{Properties, parse_properties, parse_query};
use vampire_protocol::{CreateRoom, ErrorCode, Payload, RoomInfo, SessionId};

use crate::config::matchmaking::PropertyType;
use crate::config::{MatchmakingConfig, QueueConfig};
use crate::error::ApiError;
use crate::lock::lock;
use crate::outbound::{ClientHandle, Responder};
use crate::rooms::invites::random_token;
use crate::rooms::seats::HeldSeat;
use crate::rooms::{Caller, RoomManager};
use matcher::Anchors;
pub use pool::{LocalPool, TicketPool};
pub use ticket::{Ticket, pool_full};

/// Tickets one connection may have waiting at once; one more is
/// `quota_exceeded`.
pub const MAX_TICKETS_PER_CONNECTION: usize = 4;

/// Bytes a ticket's properties and query may take together.
pub const MAX_TICKET_BYTES: usize = 2048;

/// How long the seat of a matched player is held in the match's room.
pub const MATCHED_SEAT_TTL: Duration = Duration::from_secs(30);

/// The matchmaker of this server.
pub struct Matchmaker {
    config: MatchmakingConfig,
    pool: Arc<dyn TicketPool>,
    rooms: Arc<RoomManager>,
    /// The waiting tickets of this server's clients: id → queue and
    /// client.
    held: Mutex<HashMap<String, (String, ClientHandle)>>,
}

impl std::fmt::Debug for Matchmaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matchmaker").field("queues", &self.config.queues.len()).finish()
    }
}

impl Matchmaker {
    /// A matchmaker for `config`'s queues, with tickets in `pool`, whose
    /// matches are rooms of `rooms`.
    pub fn new(
        config: MatchmakingConfig,
        pool: Arc<dyn TicketPool>,
        rooms: Arc<RoomManager>,
    ) -> Matchmaker {
        Matchmaker { config, pool, rooms, held: Mutex::default() }
    }

    /// Adds `client`'s ticket to `queue`; returns its id.
    ///
    /// # Errors
    /// `invalid_request` for an unknown queue, a property the queue does
    /// not declare or of another type, a query that cannot be read or names
    /// an undeclared property, or a ticket over [`MAX_TICKET_BYTES`];
    /// `quota_exceeded` past [`MAX_TICKETS_PER_CONNECTION`]; `server_busy`
    /// when the pool is full or cannot be reached.
    pub async fn add(
        &self,
        client: &ClientHandle,
        queue: &str,
        properties: Option<&Payload>,
        query: Option<&Payload>,
    ) -> Result<String, ApiError> {
        let invalid = |why: String| ApiError::new(ErrorCode::InvalidRequest, why);
        let Some(config) = self.config.queue(queue) else {
            let names: Vec<&str> = self.config.queues.iter().map(|q| q.name.as_str()).collect();
            return Err(invalid(format!(
                "no matchmaking queue {}; queues: {}",
                quote(queue),
                names.join(", ")
            )));
        };
        let size = properties.map_or(0, Payload::len) + query.map_or(0, Payload::len);
        if size > MAX_TICKET_BYTES {
            return Err(invalid(format!(
                "a ticket's properties and query take at most {MAX_TICKET_BYTES} bytes"
            )));
        }
        let properties = parse_properties(properties).map_err(invalid)?;
        check_properties(config, &properties).map_err(invalid)?;
        let query = parse_query(query, &properties).map_err(invalid)?;
        if let Some((key, _)) = query.iter().find(|(key, _)| !config.properties.contains_key(key)) {
            return Err(invalid(format!(
                "the query names {}, not a property of this queue",
                quote(key)
            )));
        }
        let session = client.session();
        let id = {
            let held = lock(&self.held);
            if held.values().filter(|(_, c)| c.session() == session).count()
                >= MAX_TICKETS_PER_CONNECTION
            {
                return Err(ApiError::new(
                    ErrorCode::QuotaExceeded,
                    format!("a connection may have {MAX_TICKETS_PER_CONNECTION} tickets waiting"),
                ));
            }
            random_token().map_err(|_| ApiError::internal("the system's random source failed"))?
        };
        let ticket = Ticket {
            id: id.clone(),
            queue: queue.to_owned(),
            node: self.pool.node().map(str::to_owned),
            session,
            user_id: client.identity().user_id.clone(),
            properties,
            query,
            created_unix_ms: unix_ms(),
        };
        lock(&self.held).insert(id.clone(), (queue.to_owned(), client.clone()));
        if let Err(err) = self.pool.add(&ticket, self.config.max_tickets).await {
            lock(&self.held).remove(&id);
            return Err(err);
        }
        Ok(id)
    }

    /// Withdraws `client`'s waiting ticket `id`.
    ///
    /// # Errors
    /// `invalid_request` when `client` has no such ticket waiting (it was
    /// matched, timed out, or is another client's).
    pub async fn remove(&self, client: &ClientHandle, id: &str) -> Result<(), ApiError> {
        let queue = match lock(&self.held).get(id) {
            Some((queue, owner)) if owner.session() == client.session() => queue.clone(),
            _ => return Err(no_ticket(id)),
        };
        if !self.pool.remove(&queue, id).await {
            return Err(no_ticket(id));
        }
        lock(&self.held).remove(id);
        Ok(())
    }

    /// Withdraws the tickets of a connection that ended.
    pub async fn connection_ended(&self, session: SessionId) {
        let ended: Vec<(String, String)> = {
            let mut held = lock(&self.held);
            let ids: Vec<String> = held
                .iter()
                .filter(|(_, (_, c))| c.session() == session)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| held.remove(&id).map(|(queue, _)| (id, queue)))
                .collect()
        };
        for (id, queue) in ended {
            self.pool.remove(&queue, &id).await;
        }
    }

    /// Hands `frame` to the client holding ticket `id` here, if it is
    /// still connected: the ticket is over.
    pub fn deliver(&self, id: &str, frame: Bytes) {
        if let Some((_, client)) = lock(&self.held).remove(id) {
            client.send(frame);
        }
    }

    /// Forms matches every `matchmaking.intervalMs` while this server
    /// leads, until `shutdown`.
    pub async fn run(self: Arc<Matchmaker>, shutdown: CancellationToken) {
        if self.config.queues.is_empty() {
            return;
        }
        let mut anchors: HashMap<String, Anchors> = HashMap::new();
        let mut every = tokio::time::interval(Duration::from_millis(self.config.interval_ms));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = every.tick() => {}
            }
            if !self.pool.lead().await {
                anchors.clear();
                continue;
            }
            for queue in &self.config.queues {
                let anchors = anchors.entry(queue.name.clone()).or_default();
                self.pass(queue, anchors).await;
            }
        }
    }

    /// One pass over `queue`: tickets whose time is up end, matches form.
    async fn pass(&self, queue: &QueueConfig, anchors: &mut Anchors) {
        let tickets = match self.pool.waiting(&queue.name).await {
            Ok(tickets) => tickets,
            Err(err) => return warn!(queue = %queue.name, %err, "cannot read the waiting tickets"),
        };
        let pass = anchors.pass(queue, &tickets, unix_ms());
        for expired in pass.expired {
            let ticket = std::slice::from_ref(&tickets[expired]);
            if self.pool.take(&queue.name, ticket).await {
                self.rooms.metrics().ticket_timed_out();
                let mut frame = BytesMut::new();
                write_match_timeout(&mut frame, &ticket[0].id);
                self.tell(&ticket[0], frame.freeze()).await;
                self.pool.settle(ticket).await;
            }
        }
        for group in pass.matches {
            let players: Vec<Ticket> = group.into_iter().map(|n| tickets[n].clone()).collect();
            if self.pool.take(&queue.name, &players).await {
                self.start_match(queue, &players).await;
                self.pool.settle(&players).await;
            }
        }
    }

    /// Creates the room of a match of `players`, each with a seat held,
    /// and tells them; if it cannot be created, their tickets end
    /// (`match_timeout`) and the log says why.
    async fn start_match(&self, queue: &QueueConfig, players: &[Ticket]) {
        let seats: Vec<HeldSeat> = players
            .iter()
            .filter_map(|p| HeldSeat::new(MATCHED_SEAT_TTL, p.user_id.clone()).ok())
            .collect();
        let settings = CreateRoom {
            room_type: Some(queue.room_type.clone()),
            max_clients: Some(queue.max_players),
            public: Some(false),
            auto_dispose: Some(true),
            options: Some(match_options(queue, players)),
            ..CreateRoom::default()
        };
        let (creating, created) = Responder::local(MAX_TICKET_BYTES * 64 + 4096);
        let creator = Caller::Remote(Box::default());
        self.rooms.create(settings, None, creator, seats.clone(), creating);
        let room = created.outcome().await.and_then(|info| {
            RoomInfo::from_payload(&info).map_err(|err| ApiError::internal(err.to_string()))
        });
        let room = match room {
            Ok(room) if seats.len() == players.len() => room.id,
            outcome => {
                let why = outcome.err().map_or_else(|| "no randomness".to_owned(), |e| e.message);
                warn!(queue = %queue.name, reason = %why, "a match's room could not be created");
                for player in players {
                    let mut frame = BytesMut::new();
                    write_match_timeout(&mut frame, &player.id);
                    self.tell(player, frame.freeze()).await;
                }
                return;
            }
        };
        info!(queue = %queue.name, %room, players = players.len(), "match formed");
        self.rooms.metrics().match_formed();
        let ttl_ms = MATCHED_SEAT_TTL.as_millis() as u64;
        let here = self.pool.address();
        for (player, seat) in players.iter().zip(&seats) {
            let elsewhere = player.node.as_deref() != self.pool.node();
            let at = match (&here, elsewhere) {
                (Some((tcp, ws)), true) => (Some(tcp.as_str()), ws.as_deref()),
                _ => (None, None),
            };
            let mut frame = BytesMut::new();
            write_matched(&mut frame, &player.id, &room, &seat.token, ttl_ms, at);
            self.tell(player, frame.freeze()).await;
        }
    }

    /// Hands `frame` to `ticket`'s client, here or on its node.
    async fn tell(&self, ticket: &Ticket, frame: Bytes) {
        if ticket.node.as_deref() == self.pool.node() {
            self.deliver(&ticket.id, frame);
        } else {
            self.pool.tell(ticket, frame).await;
        }
    }
}

/// Checks that every property is one `queue` declares, of its type.
fn check_properties(queue: &QueueConfig, properties: &Properties) -> Result<(), String> {
    for (name, value) in properties {
        let Some(kind) = queue.properties.get(name) else {
            return Err(format!("queue {} takes no property {}", quote(&queue.name), quote(name)));
        };
        let fits = match kind {
            PropertyType::Number => {
                matches!(value, Value::Integer(_) | Value::F32(_) | Value::F64(_))
            }
            PropertyType::String => value.is_str(),
            PropertyType::Bool => value.is_bool(),
        };
        if !fits {
            return Err(format!("property {} must be a {kind:?}", quote(name)).to_lowercase());
        }
    }
    Ok(())
}

/// The create options of a match's room ([`MatchOptions`]), so its plugin
/// sees who is coming.
fn match_options(queue: &QueueConfig, players: &[Ticket]) -> Payload {
    let players = players
        .iter()
        .map(|p| MatchedPlayer {
            ticket: p.id.clone(),
            session: p.session,
            user_id: p.user_id.clone(),
            properties: p.properties.iter().cloned().collect(),
        })
        .collect();
    let options = MatchOptions { queue: queue.name.clone(), players };
    let bytes = rmp_serde::to_vec_named(&options).expect("match options encode");
    Payload::from_bytes(Bytes::from(bytes)).expect("match options are one value")
}

fn no_ticket(id: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, format!("no waiting ticket {} of yours", quote(id)))
}

/// Now, in Unix milliseconds.
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
