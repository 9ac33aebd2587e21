//! The matchmaker's pool of a cluster, in Redis: one pool for every node,
//! and one node at a time (the lease holder) forming matches.
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P:mm:tickets:{queue}` | hash | ticket id → the waiting ticket (MessagePack) |
//! | `P:mm:taken:{node}` | hash | `{queue}\0{id}` → a ticket `node` took for a match and has not yet delivered |
//! | `P:mm:takers` | set | nodes that have taken tickets |
//! | `P:mm:lease` | string, expires | the node forming matches now |
//!
//! Taking the tickets of a match is one script (all or none), so a ticket
//! joins one match at most and a ticket withdrawn meanwhile spoils the
//! match rather than joining it. Taken tickets wait in the taker's hash
//! until their players were told: when the lease holder dies mid-way, the
//! next holder puts them back, and the tickets of the surviving nodes are
//! not lost. Tickets of nodes that died are dropped (their connections
//! are gone).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use redis::{AsyncCommands, Script};
use tracing::{debug, info};

use crate::cluster::messages::{self, NodeMessage};
use crate::cluster::node::Node;
use crate::error::ApiError;
use crate::matchmaking::{Ticket, TicketPool, pool_full};
use vampire_protocol::ErrorCode;

/// Adds `ARGV[3]` (id) → `ARGV[4]` (ticket) to `KEYS[ARGV[2]]` unless the
/// queues of `KEYS` hold `ARGV[1]` tickets together.
const ADD: &str = r"
local waiting = 0
for i = 1, #KEYS do waiting = waiting + redis.call('HLEN', KEYS[i]) end
if waiting >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[tonumber(ARGV[2])], ARGV[3], ARGV[4])
return 1
";

/// Takes tickets `ARGV[2..]` of queue `ARGV[1]` (`KEYS[1]`) into the
/// taker's hash (`KEYS[2]`), all of them or none.
const TAKE: &str = r"
for i = 2, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then return 0 end
end
for i = 2, #ARGV do
  local ticket = redis.call('HGET', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('HSET', KEYS[2], ARGV[1] .. '\0' .. ARGV[i], ticket)
end
return 1
";

/// Holds or renews the lease `KEYS[1]` for node `ARGV[1]`, `ARGV[2]` ms.
const LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Puts the tickets dead node `ARGV[2]` had taken back into their queues
/// (prefix `ARGV[1]`), unless that node's key exists again.
const GIVE_BACK: &str = r"
local p, node = ARGV[1], ARGV[2]
if redis.call('EXISTS', p .. ':node:' .. node) == 1 then return 0 end
local taken = redis.call('HGETALL', p .. ':mm:taken:' .. node)
for i = 1, #taken, 2 do
  local cut = string.find(taken[i], '\0', 1, true)
  redis.call('HSET', p .. ':mm:tickets:' .. string.sub(taken[i], 1, cut - 1), string.sub(taken[i], cut + 1), taken[i + 1])
end
redis.call('DEL', p .. ':mm:taken:' .. node)
redis.call('SREM', p .. ':mm:takers', node)
return #taken / 2
";

/// The cluster's ticket pool, as one node uses it.
pub struct ClusterTickets {
    node: Arc<Node>,
    /// The queues' names, for the total bound.
    queues: Vec<String>,
    /// How long the lease lasts unrenewed: a few passes.
    lease_ms: u64,
    /// Whether this node held the lease at its last pass (to log when
    /// that changes).
    leading: AtomicBool,
}

impl ClusterTickets {
    /// The pool of `node`'s cluster, for `queues`, whose matches are
    /// formed every `interval_ms`.
    pub(crate) fn new(node: Arc<Node>, queues: Vec<String>, interval_ms: u64) -> ClusterTickets {
        let lease_ms = (interval_ms * 10).max(node.config.node_ttl_ms);
        ClusterTickets { node, queues, lease_ms, leading: AtomicBool::new(false) }
    }

    fn key(&self, name: &str) -> String {
        format!("{}:mm:{name}", self.node.registry.prefix())
    }

    fn redis(&self) -> redis::aio::ConnectionManager {
        self.node.registry.connection()
    }

    /// Puts back what dead nodes had taken.
    async fn give_back(&self) -> redis::RedisResult<()> {
        let mut redis = self.redis();
        let takers: Vec<String> = redis.smembers(self.key("takers")).await?;
        for taker in takers.into_iter().filter(|taker| *taker != self.node.id) {
            let given: i64 = Script::new(GIVE_BACK)
                .arg(self.node.registry.prefix())
                .arg(&taker)
                .invoke_async(&mut redis)
                .await?;
            if given > 0 {
                info!(node = %taker, tickets = given, "put back the tickets a stopped node had taken");
            }
        }
        Ok(())
    }
}

impl TicketPool for ClusterTickets {
    fn add(&self, ticket: &Ticket, max_tickets: usize) -> BoxFuture<'_, Result<(), ApiError>> {
        let body = rmp_serde::to_vec(ticket).expect("a ticket encodes");
        let (id, queue) = (ticket.id.clone(), ticket.queue.clone());
        Box::pin(async move {
            let add = Script::new(ADD);
            let mut script = add.prepare_invoke();
            for name in &self.queues {
                script.key(self.key(&format!("tickets:{name}")));
            }
            let place = self.queues.iter().position(|name| *name == queue).unwrap_or(0) + 1;
            script.arg(max_tickets).arg(place).arg(&id).arg(body);
            let mut redis = self.redis();
            match script.invoke_async::<i64>(&mut redis).await {
                Ok(1) => Ok(()),
                Ok(_) => Err(pool_full(max_tickets)),
                Err(err) => {
                    debug!(%err, "cannot add a ticket");
                    Err(ApiError::new(ErrorCode::ServerBusy, "the cluster store failed; try again"))
                }
            }
        })
    }

    fn remove<'a>(&'a self, queue: &'a str, id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let mut redis = self.redis();
            let removed: redis::RedisResult<i64> =
                redis.hdel(self.key(&format!("tickets:{queue}")), id).await;
            removed.is_ok_and(|n| n > 0)
        })
    }

    fn lead(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            if !self.node.healthy() {
                return false;
            }
            let mut redis = self.redis();
            let held: redis::RedisResult<i64> = Script::new(LEASE)
                .key(self.key("lease"))
                .arg(&self.node.id)
                .arg(self.lease_ms)
                .invoke_async(&mut redis)
                .await;
            let leads = matches!(held, Ok(1));
            if self.leading.swap(leads, Ordering::Relaxed) != leads {
                if leads {
                    info!(node = %self.node.id, "this node forms the cluster's matches");
                } else {
                    info!(node = %self.node.id, "another node forms the cluster's matches");
                }
            }
            if !leads {
                return false;
            }
            let registered: redis::RedisResult<()> =
                redis.sadd(self.key("takers"), &self.node.id).await;
            if let Err(err) = registered.and(self.give_back().await) {
                debug!(%err, "cannot put back taken tickets");
            }
            true
        })
    }

    fn waiting<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<Vec<Ticket>, ApiError>> {
        Box::pin(async move {
            let busy = |err: redis::RedisError| {
                debug!(%err, "cannot read the waiting tickets");
                ApiError::new(ErrorCode::ServerBusy, "the cluster store failed")
            };
            let live = self.node.registry.live_nodes().await.map_err(busy)?;
            let key = self.key(&format!("tickets:{queue}"));
            let mut redis = self.redis();
            let stored: Vec<(String, Vec<u8>)> = redis.hgetall(&key).await.map_err(busy)?;
            let mut tickets = Vec::with_capacity(stored.len());
            let mut orphans = Vec::new();
            for (id, body) in stored {
                match rmp_serde::from_slice::<Ticket>(&body) {
                    Ok(ticket) if ticket.node.as_ref().is_some_and(|n| live.contains(n)) => {
                        tickets.push(ticket);
                    }
                    _ => orphans.push(id),
                }
            }
            if !orphans.is_empty() {
                let dropped: redis::RedisResult<i64> = redis.hdel(&key, &orphans).await;
                debug!(?dropped, "dropped the tickets of nodes that stopped");
            }
            tickets.sort_by(|a, b| a.created_unix_ms.cmp(&b.created_unix_ms).then(a.id.cmp(&b.id)));
            Ok(tickets)
        })
    }

    fn take<'a>(&'a self, queue: &'a str, tickets: &'a [Ticket]) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let take = Script::new(TAKE);
            let mut script = take.prepare_invoke();
            script.key(self.key(&format!("tickets:{queue}")));
            script.key(self.key(&format!("taken:{}", self.node.id)));
            script.arg(queue);
            for ticket in tickets {
                script.arg(&ticket.id);
            }
            let mut redis = self.redis();
            matches!(script.invoke_async::<i64>(&mut redis).await, Ok(1))
        })
    }

    fn settle<'a>(&'a self, tickets: &'a [Ticket]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let fields: Vec<String> =
                tickets.iter().map(|t| format!("{}\0{}", t.queue, t.id)).collect();
            let mut redis = self.redis();
            let settled: redis::RedisResult<i64> =
                redis.hdel(self.key(&format!("taken:{}", self.node.id)), fields).await;
            if let Err(err) = settled {
                debug!(%err, "cannot forget delivered tickets");
            }
        })
    }

    fn tell<'a>(&'a self, ticket: &'a Ticket, frame: Bytes) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(node) = &ticket.node else { return };
            let message = NodeMessage::Ticket { ticket: ticket.id.clone(), frame: frame.to_vec() };
            if let Err(err) = self.node.registry.publish(node, messages::encode(&message)).await {
                debug!(%err, %node, "cannot tell a ticket's node");
            }
        })
    }

    fn node(&self) -> Option<&str> {
        Some(&self.node.id)
    }

    fn address(&self) -> Option<(String, Option<String>)> {
        let config = &self.node.config;
        Some((config.advertise_address.clone(), config.advertise_ws_address.clone()))
    }
}
