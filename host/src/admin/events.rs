//! `GET /admin/rooms/{id}/events`: a room's inspection as server-sent
//! events, for the monitor page's live view. The room is asked once a
//! second (one command through its mailbox, like any client's); an
//! inspection that did not change is not sent again. Events: `room` (the
//! inspection as JSON), `closed` (the room is gone; the stream ends). A
//! stream ends after [`MAX_STREAM`] (the page opens a new one) and when
//! the server stops.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::stream;
use tokio::time::Instant;

use crate::admin::access::Operator;
use crate::admin::context::AdminContext;
use crate::admin::context::Context;
use crate::admin::error::AdminError;
use crate::admin::rooms::inspection;

/// How often the room is asked.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// The longest one stream lasts.
pub const MAX_STREAM: Duration = Duration::from_secs(30 * 60);

/// Where one stream is.
struct Watch {
    context: Arc<AdminContext>,
    room: String,
    /// Who watches.
    operator: Operator,
    /// The last inspection sent, as text.
    last: Option<String>,
    /// The first inspection, sent at once.
    first: Option<String>,
    ends_at: Instant,
    done: bool,
}

/// Streams room `id`'s inspection (see the module docs).
///
/// # Errors
/// 404 when there is no such room.
pub async fn stream(
    State(context): Context,
    axum::Extension(operator): axum::Extension<Operator>,
    Path(room): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AdminError> {
    let first = inspection(&context, &room, &operator).await?.to_string();
    let watch = Watch {
        context,
        room,
        operator,
        last: None,
        first: Some(first),
        ends_at: Instant::now() + MAX_STREAM,
        done: false,
    };
    let events = stream::unfold(watch, |mut watch| async move {
        let event = next_event(&mut watch).await?;
        Some((Ok(event), watch))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The next event to send, `None` when the stream ends.
async fn next_event(watch: &mut Watch) -> Option<Event> {
    if watch.done {
        return None;
    }
    if let Some(first) = watch.first.take() {
        let event = Event::default().event("room").data(&first);
        watch.last = Some(first);
        return Some(event);
    }
    loop {
        tokio::select! {
            () = watch.context.stopping.cancelled() => return None,
            () = tokio::time::sleep(POLL_EVERY) => {}
        }
        if Instant::now() >= watch.ends_at {
            return None;
        }
        match inspection(&watch.context, &watch.room, &watch.operator).await {
            Ok(now) => {
                let now = now.to_string();
                if watch.last.as_deref() != Some(now.as_str()) {
                    let event = Event::default().event("room").data(&now);
                    watch.last = Some(now);
                    return Some(event);
                }
            }
            Err(err) if err.status == axum::http::StatusCode::NOT_FOUND => {
                watch.done = true;
                return Some(Event::default().event("closed").data(&watch.room));
            }
            // Its node could not be asked this time: try again.
            Err(_) => {}
        }
    }
}
