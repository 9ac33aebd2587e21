//! The host imports (module `vampire`): what a guest may do to its room.
//! Each is a thin wrapper over a [`crate::rooms::RoomState`] method, so a
//! plugin room follows exactly the rules of the generic room, budgets
//! included.
//!
//! Pointers and lengths are `i32` offsets into the guest's memory. An
//! out-of-bounds range, a buffer that is not MessagePack, or an event
//! larger than the server sends traps the call (a bug in the guest,
//! reported as `plugin_error` naming the import).

use bytes::Bytes;
use vampire_protocol::error::one_line;
use vampire_protocol::msgpack::{MAX_NESTING, Writer};
use vampire_protocol::{Payload, SessionId};
use wasmtime::error::Context;
use wasmtime::{Caller, Engine, Linker, Result, bail, format_err};

use crate::logging::MAX_LOGGED_TEXT_BYTES;
use crate::plugins::abi::IMPORT_MODULE;
use crate::plugins::state::PluginState;

type Ctx<'a> = Caller<'a, PluginState>;

/// A linker with every host import defined.
///
/// # Errors
/// Only if wasmtime refuses a definition (a bug here).
pub fn linker(engine: &Engine) -> Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(IMPORT_MODULE, "variable_get", variable_get)?;
    linker.func_wrap(IMPORT_MODULE, "variable_set", variable_set)?;
    linker.func_wrap(IMPORT_MODULE, "broadcast", broadcast)?;
    linker.func_wrap(IMPORT_MODULE, "send", send)?;
    linker.func_wrap(IMPORT_MODULE, "kick", kick)?;
    linker.func_wrap(IMPORT_MODULE, "members", members)?;
    linker.func_wrap(IMPORT_MODULE, "log", log)?;
    linker.func_wrap(IMPORT_MODULE, "now_ms", now_ms)?;
    Ok(linker)
}

/// `variable_get(name_ptr, name_len, out_ptr, out_cap) -> i32`: writes the
/// variable's MessagePack value at `out_ptr` if it fits in `out_cap`, and
/// returns its length either way; `-1` if the variable is not set.
fn variable_get(
    mut caller: Ctx<'_>,
    name_ptr: u32,
    name_len: u32,
    out_ptr: u32,
    out_cap: u32,
) -> Result<i32> {
    let name = read_str(&caller, name_ptr, name_len)?;
    let Some(variable) = caller.data().room.variables().get(&name) else {
        return Ok(-1);
    };
    let value = variable.value.clone();
    write_if_fits(&mut caller, out_ptr, out_cap, value.as_bytes())
}

/// `variable_set(name_ptr, name_len, value_ptr, value_len, broadcast) -> i32`:
/// `broadcast` is 0 (off), 1 (on) or 2 (keep the flag / room default).
/// Returns 1 if members were sent `variable_changed`, 0 if not, and -1 if
/// the room's variable budgets refused the change (nothing changed).
fn variable_set(
    mut caller: Ctx<'_>,
    name_ptr: u32,
    name_len: u32,
    value_ptr: u32,
    value_len: u32,
    broadcast: i32,
) -> Result<i32> {
    let name = read_str(&caller, name_ptr, name_len)?;
    let value = read_payload(&caller, value_ptr, value_len)?;
    let broadcast = match broadcast {
        0 => Some(false),
        1 => Some(true),
        2 => None,
        other => bail!("variable_set: broadcast must be 0, 1 or 2, not {other}"),
    };
    match caller.data_mut().room.set_variable(&name, value, broadcast, None) {
        Ok(broadcast) => Ok(broadcast.into()),
        Err(_) => Ok(-1),
    }
}

/// `broadcast(from, data_ptr, data_len)`: a `room_message` to every member,
/// from session `from` (negative: from the room).
fn broadcast(mut caller: Ctx<'_>, from: i64, data_ptr: u32, data_len: u32) -> Result<()> {
    let data = read_bytes(&caller, data_ptr, data_len)?;
    check_value(&data)?;
    let room = &mut caller.data_mut().room;
    room.broadcast_message(session_or_room(from), &data)
        .map_err(|err| format_err!("broadcast: {}", err.message))
}

/// `send(to, data_ptr, data_len) -> i32`: a `room_message` from the room to
/// one member. Returns 1 if `to` is a member, else 0.
fn send(mut caller: Ctx<'_>, to: i64, data_ptr: u32, data_len: u32) -> Result<i32> {
    let data = read_bytes(&caller, data_ptr, data_len)?;
    check_value(&data)?;
    let sent = caller
        .data_mut()
        .room
        .send_message(to as SessionId, &data)
        .map_err(|err| format_err!("send: {}", err.message))?;
    Ok(sent.into())
}

/// `kick(session, reason_ptr, reason_len) -> i32`: removes a member.
/// Returns 1 if it was a member, else 0.
fn kick(mut caller: Ctx<'_>, session: i64, reason_ptr: u32, reason_len: u32) -> Result<i32> {
    let reason = read_str(&caller, reason_ptr, reason_len)?;
    let reason = one_line(&reason, MAX_LOGGED_TEXT_BYTES);
    Ok(caller.data_mut().room.kick(session as SessionId, &reason).into())
}

/// `members(out_ptr, out_cap) -> i32`: a MessagePack array of member session
/// ids, written if it fits; returns its length either way.
fn members(mut caller: Ctx<'_>, out_ptr: u32, out_cap: u32) -> Result<i32> {
    let ids = caller.data().room.member_ids();
    let mut bytes = Vec::with_capacity(5 + 9 * ids.len());
    let mut w = Writer::new(&mut bytes);
    w.array(ids.len());
    for id in ids {
        w.uint(id);
    }
    write_if_fits(&mut caller, out_ptr, out_cap, &bytes)
}

/// `log(level, ptr, len)`: 1 error, 2 warn, 3 info, 4 or more debug. Lines
/// are made one line and cut to [`MAX_LOGGED_TEXT_BYTES`]; past the room's
/// `limits.pluginLogLinesPerSecond` they are counted, not written.
fn log(mut caller: Ctx<'_>, level: i32, ptr: u32, len: u32) -> Result<()> {
    let allowed = caller.data().log_throttle.allow();
    // A line that is neither written nor kept costs nothing more: a flood
    // of them is cheap for the host.
    if allowed.is_none() && level > 1 {
        return Ok(());
    }
    let text = read_bytes(&caller, ptr, len.min(MAX_LOGGED_TEXT_BYTES as u32 + 4))?;
    let state = caller.data_mut();
    if let Some(suppressed) = allowed {
        let message = one_line(&String::from_utf8_lossy(&text), MAX_LOGGED_TEXT_BYTES);
        let (room, plugin) = (state.room.id(), state.plugin.as_str());
        match level {
            ..=1 => tracing::error!(%room, plugin, suppressed, "plugin: {message}"),
            2 => tracing::warn!(%room, plugin, suppressed, "plugin: {message}"),
            3 => tracing::info!(%room, plugin, suppressed, "plugin: {message}"),
            _ => tracing::debug!(%room, plugin, suppressed, "plugin: {message}"),
        }
    }
    if level <= 1 {
        // Made readable only if a trap reports it.
        state.last_error = Some(text);
    }
    Ok(())
}

/// `now_ms() -> i64`: milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn session_or_room(from: i64) -> Option<SessionId> {
    (from >= 0).then_some(from as SessionId)
}

/// Copies `len` bytes at `ptr` out of the guest's memory.
fn read_bytes(caller: &Ctx<'_>, ptr: u32, len: u32) -> Result<Vec<u8>> {
    let memory = caller.data().memory.context("the guest has no memory")?;
    let data = memory.data(caller);
    let range = ptr as usize..ptr as usize + len as usize;
    data.get(range)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format_err!("buffer {ptr}+{len} is outside the guest's memory"))
}

fn read_str(caller: &Ctx<'_>, ptr: u32, len: u32) -> Result<String> {
    String::from_utf8(read_bytes(caller, ptr, len)?).context("string is not UTF-8")
}

fn check_value(bytes: &[u8]) -> Result<()> {
    vampire_protocol::msgpack::validate(bytes, MAX_NESTING)
        .map_err(|err| format_err!("the value is {err}"))
}

fn read_payload(caller: &Ctx<'_>, ptr: u32, len: u32) -> Result<Payload> {
    Payload::from_bytes(Bytes::from(read_bytes(caller, ptr, len)?))
        .map_err(|err| format_err!("the value is {err}"))
}

/// Writes `bytes` at `ptr` when they fit in `cap`; returns their length.
fn write_if_fits(caller: &mut Ctx<'_>, ptr: u32, cap: u32, bytes: &[u8]) -> Result<i32> {
    if bytes.len() <= cap as usize {
        let memory = caller.data().memory.context("the guest has no memory")?;
        memory
            .write(&mut *caller, ptr as usize, bytes)
            .map_err(|_| format_err!("buffer {ptr}+{cap} is outside the guest's memory"))?;
    }
    Ok(bytes.len() as i32)
}
