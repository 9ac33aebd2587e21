//! The frames a client writes by itself: `ping` to keep a quiet
//! connection open, and `ack` to tell the server what it has handled.
//!
//! Acknowledging matters to the server more than to the client: a session
//! that may be resumed keeps what it was sent until the client says it has
//! it (up to `reconnect.replayBytes`). With an `ack` every [`ACK_EVERY`]
//! the server keeps about that long of the traffic instead, which costs it
//! less memory and less CPU (bench/README.md, scenario 15).

use std::sync::Arc;
use std::time::Duration;

use vampire_protocol::{Request, ServerOp};

use crate::reader::Writer;
use crate::reconnect::Resumption;

/// How often the frames handled are acknowledged while they arrive. Short,
/// because what the server keeps costs it more the longer it keeps it
/// (bench/README.md, scenario 15); it costs the client one small frame per
/// tick only while frames arrive.
pub const ACK_EVERY: Duration = Duration::from_millis(100);

/// Writes a `ping` notification whenever nothing was written for a third
/// of the server's idle timeout (`idle_timeout_ms`, 0 for none) and, with
/// `acks`, an `ack` notification of the frames handled every
/// [`ACK_EVERY`] while new ones arrive. A client that `reconnects` keeps
/// going through a drop (its writer keeps the frames for the resumed
/// connection); another stops at the first failed write.
pub(crate) async fn heartbeat(
    writer: Arc<Writer>,
    acks: Option<Arc<Resumption>>,
    idle_timeout_ms: u64,
    reconnects: bool,
) {
    let ping_every = (idle_timeout_ms > 0).then(|| (idle_timeout_ms / 3).max(1));
    let tick = match (ping_every, &acks) {
        (None, None) => return,
        (Some(ms), None) => Duration::from_millis(ms),
        (Some(ms), Some(_)) => Duration::from_millis(ms).min(ACK_EVERY),
        (None, Some(_)) => ACK_EVERY,
    };
    let ping = Request::from(ServerOp::Ping {}).encode(None);
    let mut acked = 0;
    // A connection that has sent nothing yet lives by the server's
    // handshake timeout (not announced; 10 s by default, as low as 1 s),
    // so the first tick comes within [`ACK_EVERY`] and pings unless
    // something went already.
    let mut first = true;
    loop {
        let wait = if first { tick.min(ACK_EVERY) } else { tick };
        tokio::time::sleep(wait).await;
        let quiet_since_start =
            std::mem::take(&mut first) && writer.idle_ms() >= wait.as_millis() as u64;
        let seq = acks.as_ref().map_or(0, |resumption| resumption.seq());
        let frame = if seq > acked {
            acked = seq;
            Request::from(ServerOp::Ack { seq }).encode(None)
        } else if quiet_since_start || ping_every.is_some_and(|ms| writer.idle_ms() >= ms) {
            // Quiet for a third of the idle timeout: the next tick comes
            // well before the rest of it has passed.
            ping.clone()
        } else {
            continue;
        };
        if writer.write(None, &frame).await.is_err() && !reconnects {
            return;
        }
    }
}
