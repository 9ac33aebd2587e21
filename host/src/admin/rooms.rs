//! The admin API's rooms: a page of every room (cluster-wide when
//! clustered), one room's inspection, and the operators' actions on a
//! room: dispose, kick, message. An action on another node's room is run
//! there (the cluster forwards it); every action is logged with who asked.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tracing::info;
use vampire_protocol::error::quote;
use vampire_protocol::json::{from_json, to_json};
use vampire_protocol::{Payload, SessionId};

use crate::admin::access::Operator;
use crate::admin::context::AdminContext;
use crate::admin::context::Context;
use crate::admin::error::AdminError;
use crate::rooms::AdminOp;
use crate::rooms::manager::RoomSummary;

/// Rooms in one page when `limit` is not given.
pub const DEFAULT_PAGE: usize = 100;

/// The most rooms in one page.
pub const MAX_PAGE: usize = 1000;

/// The farthest page start: a list reads every room up to it.
pub const MAX_OFFSET: usize = 100_000;

/// Longest reason an operator may give, in bytes (what members are told).
pub const MAX_REASON_BYTES: usize = 200;

/// The query of `GET /admin/rooms`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only rooms of this type.
    #[serde(rename = "type")]
    room_type: Option<String>,
    /// Rooms skipped, newest first. Default 0.
    #[serde(default)]
    offset: usize,
    /// Rooms in the page. Default [`DEFAULT_PAGE`], at most [`MAX_PAGE`].
    limit: Option<usize>,
}

/// `GET /admin/rooms`: a page of every room, newest first.
pub async fn list(
    State(context): Context,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Value>, AdminError> {
    let Query(query) = query.map_err(|err| AdminError::bad_request(one_line(&err.body_text())))?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AdminError::bad_request(format!("limit is 1 to {MAX_PAGE}")));
    }
    if query.offset > MAX_OFFSET {
        return Err(AdminError::bad_request(format!("offset is at most {MAX_OFFSET}")));
    }
    let (rooms, total, unreachable) = match &context.cluster {
        Some(cluster) => {
            let page = cluster.list_all_rooms(query.room_type, query.offset, limit).await;
            (page.rooms, page.total, page.unreachable)
        }
        None => {
            let all = context.rooms.summaries(query.room_type.as_deref());
            let total = all.len();
            (all.into_iter().skip(query.offset).take(limit).collect(), total, Vec::new())
        }
    };
    let now = crate::admin::history::unix_ms(std::time::SystemTime::now());
    let rooms: Vec<Value> = rooms.iter().map(|room| summary_json(room, now)).collect();
    Ok(axum::Json(json!({
        "rooms": rooms,
        "total": total,
        "offset": query.offset,
        "limit": limit,
        "unreachable_nodes": unreachable,
    })))
}

/// One room of a list, as JSON.
fn summary_json(room: &RoomSummary, now_unix_ms: u64) -> Value {
    json!({
        "id": room.id,
        "type": room.room_type,
        "name": room.name,
        "public": room.public,
        "locked": room.locked,
        "password_protected": room.password_protected,
        "members": room.members,
        "max_clients": room.max_clients,
        "metadata": to_json(&room.metadata.to_value()),
        "created_unix_ms": room.created_unix_ms,
        "age_secs": now_unix_ms.saturating_sub(room.created_unix_ms) / 1000,
        "node": crate::cluster::keys::node_of(&room.id),
    })
}

/// `GET /admin/rooms/{id}`: the room's settings, members, variables,
/// clock and plugin.
pub async fn inspect(
    State(context): Context,
    axum::Extension(operator): axum::Extension<Operator>,
    Path(room): Path<String>,
) -> Result<axum::Json<Value>, AdminError> {
    Ok(axum::Json(inspection(&context, &room, &operator).await?))
}

/// The inspection of `room`, for `operator`, as JSON.
///
/// # Errors
/// 404 when there is no such room; 503 when its node cannot be asked.
pub async fn inspection(
    context: &AdminContext,
    room: &str,
    operator: &Operator,
) -> Result<Value, AdminError> {
    let answer = run(context, room, AdminOp::Inspect, operator).await?;
    Ok(to_json(&answer.to_value()))
}

/// The body of `POST /admin/rooms/{id}/dispose`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisposeBody {
    /// What members are told. Default "closed by an operator".
    reason: Option<String>,
}

/// `POST /admin/rooms/{id}/dispose`: closes the room; members get
/// `room_closed` with the reason.
pub async fn dispose(
    State(context): Context,
    axum::Extension(operator): axum::Extension<Operator>,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, AdminError> {
    let body: DisposeBody = read_json(body, true)?;
    let reason = reason(body.reason, "closed by an operator")?;
    run(&context, &room, AdminOp::Dispose { reason }, &operator).await?;
    Ok(axum::Json(json!({ "disposed": room })))
}

/// The body of `POST /admin/rooms/{id}/kick`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KickBody {
    /// The member's session.
    session: SessionId,
    /// What it is told. Default "removed by an operator".
    reason: Option<String>,
}

/// `POST /admin/rooms/{id}/kick`: removes a member; it gets `kicked`.
pub async fn kick(
    State(context): Context,
    axum::Extension(operator): axum::Extension<Operator>,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, AdminError> {
    let body: KickBody = read_json(body, false)?;
    let reason = reason(body.reason, "removed by an operator")?;
    let session = body.session;
    run(&context, &room, AdminOp::Kick { session, reason }, &operator).await?;
    Ok(axum::Json(json!({ "kicked": session, "room": room })))
}

/// The body of `POST /admin/rooms/{id}/message`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// One member's session; every member when absent.
    to: Option<SessionId>,
    /// The message, as JSON (with the `$` markers of binary and the
    /// like); members get it as MessagePack.
    data: Value,
}

/// `POST /admin/rooms/{id}/message`: a `room_message` from the room (no
/// sender) to every member or one.
pub async fn message(
    State(context): Context,
    axum::Extension(operator): axum::Extension<Operator>,
    Path(room): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<axum::Json<Value>, AdminError> {
    let body: MessageBody = read_json(body, false)?;
    let data = Payload::from_value(&from_json(&body.data));
    let to = body.to;
    let answer = run(&context, &room, AdminOp::Message { to, data }, &operator).await?;
    Ok(axum::Json(json!({ "sent": to_json(&answer.to_value()), "room": room })))
}

/// Runs `op` on `room` wherever it lives, logging who asked.
async fn run(
    context: &AdminContext,
    room: &str,
    op: AdminOp,
    operator: &Operator,
) -> Result<Payload, AdminError> {
    if room.len() > 128 {
        return Err(AdminError::not_found(format!("no room {}", quote(room))));
    }
    let action = op.name();
    if !matches!(op, AdminOp::Inspect) {
        info!(room, by = %operator, action, "admin action");
    }
    let answer = match &context.cluster {
        Some(cluster) => cluster.admin(room.to_owned(), op, operator.to_string()).await,
        None => context.rooms.admin(room, op).await,
    };
    answer.map_err(AdminError::from)
}

/// An operator's reason, or `default`.
fn reason(given: Option<String>, default: &str) -> Result<String, AdminError> {
    let reason = given.unwrap_or_else(|| default.to_owned());
    if reason.len() > MAX_REASON_BYTES || reason.contains(['\n', '\r']) {
        return Err(AdminError::bad_request(format!(
            "a reason is one line of at most {MAX_REASON_BYTES} bytes"
        )));
    }
    Ok(reason)
}

/// Reads a JSON body as `T`: 413 over `admin.maxBodyBytes`, 400 when it
/// is not JSON or not `T`; an empty body reads as `{}` when
/// `empty_is_default`.
pub fn read_json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    empty_is_default: bool,
) -> Result<T, AdminError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AdminError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the body is longer than admin.maxBodyBytes",
            )
        } else {
            AdminError::bad_request("the body could not be read")
        }
    })?;
    let body: &[u8] = if body.is_empty() && empty_is_default { b"{}" } else { &body };
    serde_json::from_slice(body).map_err(|err| {
        AdminError::bad_request(one_line(&format!("the body is not what this takes: {err}")))
    })
}

/// The first line of `text`, cut to a short length.
fn one_line(text: &str) -> String {
    vampire_protocol::error::one_line(text, 160)
}
