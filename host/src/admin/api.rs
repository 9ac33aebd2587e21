//! The admin listener's router: which path is which endpoint, who may
//! call it, and the bounds every request has (its body at most
//! `admin.maxBodyBytes`, its answer within `admin.requestTimeoutSecs`).
//! Also the endpoints about the server as a whole: health, metrics,
//! server info, drain and the chart's history.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::admin::access::Operator;
use crate::admin::context::{AdminContext, Context};
use crate::admin::error::AdminError;
use crate::admin::history::unix_ms;
use crate::admin::{events, page, rooms, types};

/// Every endpoint (see docs/OPERATIONS.md).
pub fn router(context: Arc<AdminContext>) -> Router {
    let admin = context.admin_config();
    let timeout = admin.request_timeout();
    let body_limit = admin.max_body_bytes;
    let api = Router::new()
        .route("/admin/server", get(server_info))
        .route("/admin/rooms", get(rooms::list))
        .route("/admin/rooms/{id}", get(rooms::inspect))
        .route("/admin/rooms/{id}/events", get(events::stream))
        .route("/admin/rooms/{id}/dispose", post(rooms::dispose))
        .route("/admin/rooms/{id}/kick", post(rooms::kick))
        .route("/admin/rooms/{id}/message", post(rooms::message))
        .route("/admin/room-types", get(types::list))
        .route("/admin/room-types/{name}/reload", post(types::reload))
        .route("/admin/drain", post(drain))
        .route("/admin/history", get(history))
        .route_layer(middleware::from_fn_with_state(context.clone(), require_operator));
    Router::new()
        .route("/", get(page::index))
        .route("/monitor.js", get(page::script))
        .route("/monitor.css", get(page::style))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(move |request: Request, next: Next| async move {
            match tokio::time::timeout(timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => AdminError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the request took longer than admin.requestTimeoutSecs",
                )
                .into_response(),
            }
        }))
        .with_state(context)
}

/// Refuses a request without an operator's credentials; hands the
/// operator to the handler.
async fn require_operator(
    State(context): Context,
    mut request: Request,
    next: Next,
) -> Result<Response, AdminError> {
    let operator = context.access.check(request.headers())?;
    request.extensions_mut().insert(operator);
    Ok(next.run(request).await)
}

/// Whether `headers` may read `/metrics`.
fn may_scrape(context: &AdminContext, headers: &HeaderMap) -> Result<(), AdminError> {
    if context.admin_config().metrics_public {
        return Ok(());
    }
    context.access.check(headers).map(drop)
}

async fn not_found() -> AdminError {
    AdminError::not_found("no such endpoint (see docs/OPERATIONS.md)")
}

async fn method_not_allowed() -> AdminError {
    AdminError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// `GET /healthz`: the process answers.
async fn healthz() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: whether the node takes new players: 503 while it
/// drains, so a load balancer sends them elsewhere.
async fn readyz(State(context): Context) -> Response {
    match context.drain.state() {
        None => axum::Json(json!({ "ready": true })).into_response(),
        Some(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "ready": false, "reason": "draining" })),
        )
            .into_response(),
    }
}

/// `GET /metrics`: the Prometheus text exposition.
async fn metrics(State(context): Context, headers: HeaderMap) -> Result<Response, AdminError> {
    may_scrape(&context, &headers)?;
    let text = context.metrics.render(context.gauges());
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], text).into_response())
}

/// `GET /admin/server`: version, node, uptime, drain and the
/// configuration with its secrets replaced by `"(redacted)"`.
async fn server_info(State(context): Context) -> axum::Json<Value> {
    let mut config = serde_json::to_value(&*context.config).unwrap_or(Value::Null);
    redact(&mut config);
    let draining = context
        .drain
        .state()
        .map(|drain| json!({ "since_unix_ms": unix_ms(drain.since), "by": drain.by }));
    axum::Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "node": context.node(),
        "uptime_secs": context.started.elapsed().as_secs(),
        "draining": draining,
        "rooms": context.rooms.room_load(),
        "members": context.rooms.member_total(),
        "config": config,
    }))
}

/// Replaces every secret of a configuration: the HS256 secret and a
/// password in the Redis address.
fn redact(config: &mut Value) {
    if let Some(secret) = config.pointer_mut("/auth/secret")
        && !secret.is_null()
    {
        *secret = json!("(redacted)");
    }
    if let Some(Value::String(url)) = config.pointer_mut("/cluster/redisUrl") {
        *url = redact_url(url);
    }
}

/// `redis://user:password@host` without its password.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let Some((credentials, host)) = authority.rsplit_once('@') else { return url.to_owned() };
    let user = credentials.split_once(':').map_or(credentials, |(user, _)| user);
    let path = path.map(|p| format!("/{p}")).unwrap_or_default();
    format!("{scheme}://{user}:(redacted)@{host}{path}")
}

/// `POST /admin/drain`: starts draining (see [`crate::drain`]); 202, and
/// 200 when a drain had already started.
async fn drain(
    State(context): Context,
    axum::Extension(operator): axum::Extension<Operator>,
) -> Response {
    let started = context.drain.start(&operator.to_string());
    let status = if started { StatusCode::ACCEPTED } else { StatusCode::OK };
    let members = context.rooms.member_total();
    (status, axum::Json(json!({ "draining": true, "started_now": started, "members": members })))
        .into_response()
}

/// `GET /admin/history`: the chart's samples, oldest first.
async fn history(State(context): Context) -> axum::Json<Value> {
    axum::Json(json!({
        "every_secs": crate::admin::history::SAMPLE_EVERY.as_secs(),
        "samples": context.history.samples(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_password_is_redacted() {
        assert_eq!(redact_url("redis://:pw@host:6379/0"), "redis://:(redacted)@host:6379/0");
        assert_eq!(redact_url("redis://u:p@h"), "redis://u:(redacted)@h");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        let mut config = json!({"auth": {"secret": "s"}, "cluster": {"redisUrl": "redis://:x@h"}});
        redact(&mut config);
        assert_eq!(config["auth"]["secret"], "(redacted)");
        assert_eq!(config["cluster"]["redisUrl"], "redis://:(redacted)@h");
    }
}
