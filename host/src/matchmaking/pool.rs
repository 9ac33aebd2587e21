//! [`TicketPool`]: where tickets wait, one pool per server or per
//! cluster; and [`LocalPool`], a server's own when it runs alone (the
//! cluster's lives in Redis: `crate::cluster::tickets`).

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::future::BoxFuture;

use crate::error::ApiError;
use crate::lock::lock;
use crate::matchmaking::ticket::Ticket;
use crate::matchmaking::ticket::pool_full;

/// Where tickets wait. A ticket is taken for a match at most once: `take`
/// is all or none, and `remove` of a taken ticket finds nothing.
pub trait TicketPool: Send + Sync {
    /// Adds `ticket` to its queue, unless `max_tickets` wait already.
    ///
    /// # Errors
    /// `server_busy` when the pool is full or cannot be reached.
    fn add(&self, ticket: &Ticket, max_tickets: usize) -> BoxFuture<'_, Result<(), ApiError>>;

    /// Removes waiting ticket `id` of `queue`; `false` when it is not
    /// waiting (matched, timed out or never added).
    fn remove<'a>(&'a self, queue: &'a str, id: &'a str) -> BoxFuture<'a, bool>;

    /// Whether this server forms the matches now: always alone; in a
    /// cluster, while it holds the matchmaker's lease.
    fn lead(&self) -> BoxFuture<'_, bool>;

    /// The tickets waiting in `queue`, oldest first (in a cluster, those
    /// of live nodes: the others' tickets are dropped).
    ///
    /// # Errors
    /// `server_busy` when the pool cannot be reached.
    fn waiting<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Vec<Ticket>, ApiError>>;

    /// Takes `tickets` out of `queue` for a match, all of them or none
    /// (some were removed meanwhile): `true` when taken. Taken tickets are
    /// kept aside until [`TicketPool::settle`], so a server that stops
    /// before it delivers them loses none (the cluster puts them back).
    fn take<'a>(&'a self, queue: &'a str, tickets: &'a [Ticket]) -> BoxFuture<'a, bool>;

    /// Forgets taken tickets once their owners were told.
    fn settle<'a>(&'a self, tickets: &'a [Ticket]) -> BoxFuture<'a, ()>;

    /// Hands `frame` (a `matched` or `match_timeout` event) to the client
    /// that holds `ticket` on another node (never called alone).
    fn tell<'a>(&'a self, ticket: &'a Ticket, frame: bytes::Bytes) -> BoxFuture<'a, ()>;

    /// This node's id in a cluster (`None` alone): tickets of other nodes
    /// are told through [`TicketPool::tell`].
    fn node(&self) -> Option<&str>;

    /// Where clients reach this server, for a `matched` event of a room
    /// here sent to a client of another node (`None` alone).
    fn address(&self) -> Option<(String, Option<String>)>;
}

/// The pool of a server that runs alone: tickets in memory.
#[derive(Debug, Default)]
pub struct LocalPool {
    queues: Mutex<HashMap<String, Vec<Ticket>>>,
}

impl TicketPool for LocalPool {
    fn add(&self, ticket: &Ticket, max_tickets: usize) -> BoxFuture<'_, Result<(), ApiError>> {
        let mut queues = lock(&self.queues);
        let waiting: usize = queues.values().map(Vec::len).sum();
        let outcome = if waiting >= max_tickets {
            Err(pool_full(max_tickets))
        } else {
            queues.entry(ticket.queue.clone()).or_default().push(ticket.clone());
            Ok(())
        };
        Box::pin(std::future::ready(outcome))
    }

    fn remove<'a>(&'a self, queue: &'a str, id: &'a str) -> BoxFuture<'a, bool> {
        let mut queues = lock(&self.queues);
        let tickets = queues.entry(queue.to_owned()).or_default();
        let before = tickets.len();
        tickets.retain(|ticket| ticket.id != id);
        let removed = tickets.len() < before;
        Box::pin(std::future::ready(removed))
    }

    fn lead(&self) -> BoxFuture<'_, bool> {
        Box::pin(std::future::ready(true))
    }

    fn waiting<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Vec<Ticket>, ApiError>> {
        let tickets = lock(&self.queues).get(queue).cloned().unwrap_or_default();
        Box::pin(std::future::ready(Ok(tickets)))
    }

    fn take<'a>(&'a self, queue: &'a str, tickets: &'a [Ticket]) -> BoxFuture<'a, bool> {
        let mut queues = lock(&self.queues);
        let waiting = queues.entry(queue.to_owned()).or_default();
        let all = tickets.iter().all(|t| waiting.iter().any(|w| w.id == t.id));
        if all {
            waiting.retain(|w| !tickets.iter().any(|t| t.id == w.id));
        }
        Box::pin(std::future::ready(all))
    }

    fn settle<'a>(&'a self, _tickets: &'a [Ticket]) -> BoxFuture<'a, ()> {
        // Taken tickets leave memory with their match.
        Box::pin(std::future::ready(()))
    }

    fn tell<'a>(&'a self, _ticket: &'a Ticket, _frame: bytes::Bytes) -> BoxFuture<'a, ()> {
        // Every ticket is this server's.
        Box::pin(std::future::ready(()))
    }

    fn node(&self) -> Option<&str> {
        None
    }

    fn address(&self) -> Option<(String, Option<String>)> {
        None
    }
}
