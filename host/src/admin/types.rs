//! The admin API's room types: each with its plugin (file, hash, ABI
//! version, when it loaded, the last failed reload), its rooms and
//! members; and reloading one plugin on demand.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tracing::info;
use vampire_protocol::error::quote;

use crate::admin::access::Operator;
use crate::admin::context::Context;
use crate::admin::error::AdminError;
use crate::admin::history::unix_ms;
use crate::plugins::reload::Reloaded;

/// Longest room type name the reload endpoint takes.
const MAX_TYPE_NAME_BYTES: usize = 64;

/// `GET /admin/room-types`: every room type, built-in and plugin, and
/// plugins that failed to load.
pub async fn list(State(context): Context) -> axum::Json<Value> {
    let census = context.rooms.census();
    let mut catalog = context.reloader.catalog().all();
    let mut types: Vec<Value> = Vec::new();
    let names: std::collections::BTreeSet<String> =
        census.keys().cloned().chain(catalog.keys().cloned()).collect();
    for name in names {
        let (rooms, members) = census.get(&name).copied().unwrap_or_default();
        let status = catalog.remove(&name).unwrap_or_default();
        let plugin = status.loaded.map(|loaded| {
            json!({
                "file": loaded.file.file_name().map(|f| f.to_string_lossy().into_owned()),
                "sha256": loaded.sha256,
                "abi_version": loaded.abi_version,
                "loaded_unix_ms": unix_ms(loaded.at),
                "code": loaded.code.as_str(),
            })
        });
        let failure = status.failed.map(|failed| {
            json!({ "reason": failed.reason, "sha256": failed.sha256, "at_unix_ms": unix_ms(failed.at) })
        });
        types.push(json!({
            "name": name,
            "serving": context.rooms.has_type(&name),
            "built_in": plugin.is_none() && failure.is_none() && context.rooms.has_type(&name),
            "rooms": rooms,
            "members": members,
            "plugin": plugin,
            "last_failure": failure,
        }));
    }
    axum::Json(json!({ "room_types": types }))
}

/// `POST /admin/room-types/{name}/reload`: loads the plugin file of room
/// type `name` again, even when unchanged, and swaps it into the type's
/// live rooms (a new file adds the type). 422 when it does not load (the
/// old version keeps serving).
pub async fn reload(
    State(context): Context,
    axum::Extension(operator): axum::Extension<Operator>,
    Path(name): Path<String>,
) -> Result<axum::Json<Value>, AdminError> {
    let plain = name.len() <= MAX_TYPE_NAME_BYTES
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let known = context.reloader.catalog().status(&name).is_some()
        || context.reloader.folder().join(format!("{name}.wasm")).is_file();
    if !plain || !known {
        return Err(AdminError::not_found(format!("no plugin {}", quote(&name))));
    }
    info!(plugin = %name, by = %operator, "admin action: reload");
    match context.reloader.reload(&name).await {
        Ok(Reloaded::Swapped(report)) => {
            let kept: Vec<Value> =
                report.kept.iter().map(|(room, why)| json!({ "room": room, "why": why })).collect();
            Ok(axum::Json(json!({ "reloaded": name, "swapped": report.swapped, "kept": kept })))
        }
        Ok(Reloaded::Added) => Ok(axum::Json(json!({ "reloaded": name, "added": true }))),
        Ok(Reloaded::Unchanged) => Ok(axum::Json(json!({ "reloaded": name, "unchanged": true }))),
        Ok(Reloaded::Removed) => Ok(axum::Json(json!({ "reloaded": name, "removed": true }))),
        Err(reason) => {
            Err(AdminError::new(StatusCode::UNPROCESSABLE_ENTITY, "plugin_not_loaded", reason))
        }
    }
}
