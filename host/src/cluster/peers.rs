//! [`Peers`]: this node's requests to other nodes: each gets a number,
//! goes to the other node's inbox, and waits (at most
//! `cluster.requestTimeoutMs`) for the reply that repeats the number.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;
use vampire_protocol::ErrorCode;
use vampire_protocol::error::quote;

use crate::cluster::messages::{self, NodeMessage};
use crate::cluster::registry::Registry;
use crate::error::ApiError;
use crate::lock::lock;

/// Requests out to other nodes, waiting for their replies.
pub(crate) struct Peers {
    pending: Mutex<HashMap<u64, oneshot::Sender<NodeMessage>>>,
    next_request: AtomicU64,
    /// How long a reply is waited for.
    timeout: Duration,
}

impl Peers {
    /// No request out yet; the first gets number `first` (random per run
    /// of the node: numbers name placement keys, which outlive a
    /// restart), and each waits `timeout` for its reply.
    pub(crate) fn new(first: u64, timeout: Duration) -> Peers {
        Peers { pending: Mutex::default(), next_request: AtomicU64::new(first), timeout }
    }

    /// How long a reply is waited for.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A new request number, and where its reply will arrive.
    pub(crate) fn open(&self) -> (u64, oneshot::Receiver<NodeMessage>) {
        let number = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        lock(&self.pending).insert(number, sender);
        (number, receiver)
    }

    /// Stops waiting for the reply to `number`.
    pub(crate) fn forget(&self, number: u64) {
        lock(&self.pending).remove(&number);
    }

    /// Hands a reply that arrived to the request waiting for it (a late
    /// one, whose request gave up, is dropped).
    pub(crate) fn deliver(&self, number: u64, reply: NodeMessage) {
        if let Some(waiting) = lock(&self.pending).remove(&number) {
            let _ = waiting.send(reply);
        }
    }

    /// Sends `node` the request `message` makes of a fresh request number
    /// and waits for its reply.
    ///
    /// # Errors
    /// `room_not_found` for `room` when the node is not listening and the
    /// registry no longer holds the room (the node was reaped);
    /// `server_busy` when it does not answer in time, or cannot be asked.
    pub(crate) async fn ask(
        &self,
        registry: &Registry,
        node: &str,
        room: &str,
        message: impl FnOnce(u64) -> NodeMessage,
    ) -> Result<NodeMessage, ApiError> {
        let (number, reply) = self.open();
        let message = messages::encode(&message(number));
        let published = registry.publish(node, message).await;
        let answer = match published {
            Ok(listeners) if listeners > 0 => {
                tokio::time::timeout(self.timeout, reply).await.ok().and_then(Result::ok)
            }
            _ => None,
        };
        self.forget(number);
        match (answer, published) {
            (Some(answer), _) => Ok(answer),
            (None, Ok(listeners)) if listeners > 0 => Err(late(node)),
            // Nobody listens on the node's inbox: the room is gone only
            // when the registry says so (the node was reaped); a node
            // reconnecting, or a registry that cannot be asked, is worth
            // a retry.
            (None, Ok(_)) => match registry.room_registered(room).await {
                Ok(false) => Err(ApiError::room_not_found(room)),
                _ => Err(unreachable(node)),
            },
            (None, Err(_)) => Err(unreachable(node)),
        }
    }
}

/// `server_busy` for a node that cannot be reached now (retryable).
pub(crate) fn unreachable(node: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ServerBusy,
        format!("node {} cannot be reached now; try again", quote(node)),
    )
}

/// `server_busy`: `node` did not answer in time.
pub(crate) fn late(node: &str) -> ApiError {
    ApiError::new(ErrorCode::ServerBusy, format!("node {} did not answer in time", quote(node)))
}
