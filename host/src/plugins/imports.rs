//! The host imports (module `vampire`, names in `vampire_abi::imports`):
//! what a guest may do to its room. Each is a thin wrapper over a
//! [`crate::rooms::RoomState`] method, so a plugin room follows exactly the
//! rules of the generic room, budgets included.
//!
//! Pointers and lengths are `i32` offsets into the guest's memory. A
//! budget or range the host refuses is a return code (`REFUSED`); a range
//! outside the guest's memory or a buffer that is not MessagePack traps
//! the call (a bug in the guest, reported as `plugin_error` naming the
//! import).

use std::time::Duration;

use bytes::Bytes;
use vampire_abi::AbiField;
use vampire_abi::IMPORT_MODULE;
use vampire_abi::imports::{self as names, NOT_FOUND, REFUSED, send_flags, variable_flags};
use vampire_abi::input::{Member, RoomView};
use vampire_protocol::error::one_line;
use vampire_protocol::msgpack::{MAX_NESTING, Writer};
use vampire_protocol::{Payload, SessionId};
use wasmtime::error::Context;
use wasmtime::{Caller, Engine, Linker, Result, bail, format_err};

use crate::logging::MAX_LOGGED_TEXT_BYTES;
use crate::plugins::state::PluginState;
use crate::rooms::{Rules, WriteAccess};

type Ctx<'a> = Caller<'a, PluginState>;

/// Most random bytes one `random` call gives.
const MAX_RANDOM_BYTES: u32 = 65_536;

/// A linker with every host import defined.
///
/// # Errors
/// Only if wasmtime refuses a definition (a bug here).
pub fn linker(engine: &Engine) -> Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(IMPORT_MODULE, names::VARIABLE_GET, variable_get)?;
    linker.func_wrap(IMPORT_MODULE, names::VARIABLE_SET, variable_set)?;
    linker.func_wrap(IMPORT_MODULE, names::BROADCAST, broadcast)?;
    linker.func_wrap(IMPORT_MODULE, names::SEND, send)?;
    linker.func_wrap(IMPORT_MODULE, names::KICK, kick)?;
    linker.func_wrap(IMPORT_MODULE, names::MEMBERS, members)?;
    linker.func_wrap(IMPORT_MODULE, names::MEMBER, member)?;
    linker.func_wrap(IMPORT_MODULE, names::ROOM, room)?;
    linker.func_wrap(IMPORT_MODULE, names::ROOM_LOCK, room_lock)?;
    linker.func_wrap(IMPORT_MODULE, names::ROOM_SET_METADATA, room_set_metadata)?;
    linker.func_wrap(IMPORT_MODULE, names::ROOM_SET_MAX_CLIENTS, room_set_max_clients)?;
    linker.func_wrap(IMPORT_MODULE, names::TICK_RATE, tick_rate)?;
    linker.func_wrap(IMPORT_MODULE, names::TIMER_SET, timer_set)?;
    linker.func_wrap(IMPORT_MODULE, names::TIMER_CANCEL, timer_cancel)?;
    linker.func_wrap(IMPORT_MODULE, names::LOG, log)?;
    linker.func_wrap(IMPORT_MODULE, names::NOW_MS, now_ms)?;
    linker.func_wrap(IMPORT_MODULE, names::RANDOM, random)?;
    Ok(linker)
}

/// `variable_get(name_ptr, name_len, out_ptr, out_cap) -> i32`: writes the
/// variable's MessagePack value at `out_ptr` if it fits in `out_cap`, and
/// returns its length either way; `NOT_FOUND` if the variable is not set.
/// The room reads every variable, hidden ones included.
fn variable_get(
    mut caller: Ctx<'_>,
    name_ptr: u32,
    name_len: u32,
    out_ptr: u32,
    out_cap: u32,
) -> Result<i32> {
    let name = read_str(&caller, name_ptr, name_len)?;
    let Some(variable) = caller.data().room.variables().get(&name) else {
        return Ok(NOT_FOUND);
    };
    let value = variable.value.clone();
    write_if_fits(&mut caller, out_ptr, out_cap, value.as_bytes())
}

/// `variable_set(name_ptr, name_len, value_ptr, value_len, flags) -> i32`:
/// see `vampire_abi::imports::variable_flags`. Returns 1 if members were
/// sent `variable_changed`, 0 if not, `REFUSED` if the room's budgets
/// refused the change.
fn variable_set(
    mut caller: Ctx<'_>,
    name_ptr: u32,
    name_len: u32,
    value_ptr: u32,
    value_len: u32,
    flags: i32,
) -> Result<i32> {
    let name = read_str(&caller, name_ptr, name_len)?;
    let value = read_payload(&caller, value_ptr, value_len)?;
    let broadcast = match flags & variable_flags::BROADCAST_MASK {
        variable_flags::BROADCAST_OFF => Some(false),
        variable_flags::BROADCAST_ON => Some(true),
        variable_flags::BROADCAST_KEEP => None,
        other => bail!("variable_set: broadcast bits must be 0, 1 or 2, not {other}"),
    };
    let keep = flags & variable_flags::KEEP_RULES != 0;
    let exists = caller.data().room.variables().get(&name).is_some();
    let rules = Rules {
        broadcast,
        write_access: (!(keep && exists)).then_some(
            if flags & variable_flags::CLIENTS_WRITE != 0 {
                WriteAccess::Clients
            } else {
                WriteAccess::Room
            },
        ),
        hidden: (!(keep && exists)).then_some(flags & variable_flags::HIDDEN != 0),
        unreliable: Some(flags & variable_flags::UNRELIABLE != 0),
    };
    match caller.data_mut().room.set_variable(&name, value, rules, None) {
        Ok(broadcast) => Ok(broadcast.into()),
        Err(_) => Ok(REFUSED),
    }
}

/// `broadcast(from, data_ptr, data_len, flags) -> i32`: a `room_message` to
/// every member, from session `from` (negative: from the room); with
/// `send_flags::UNRELIABLE`, over UDP where bound and on the droppable
/// lane otherwise. Returns 0, or `REFUSED` when the event would pass the
/// largest frame.
fn broadcast(
    mut caller: Ctx<'_>,
    from: i64,
    data_ptr: u32,
    data_len: u32,
    flags: i32,
) -> Result<i32> {
    let data = read_bytes(&caller, data_ptr, data_len)?;
    check_value(&data)?;
    let room = &mut caller.data_mut().room;
    let from = session_or_room(from);
    let sent = if flags & send_flags::UNRELIABLE != 0 {
        room.broadcast_message_unreliable(from, &data)
    } else {
        room.broadcast_message(from, &data)
    };
    Ok(match sent {
        Ok(()) => 0,
        Err(_) => REFUSED,
    })
}

/// `send(to, data_ptr, data_len, flags) -> i32`: a `room_message` from the
/// room to one member. Returns 1 if `to` is a member, 0 if not, `REFUSED`
/// when too large.
fn send(mut caller: Ctx<'_>, to: i64, data_ptr: u32, data_len: u32, flags: i32) -> Result<i32> {
    let data = read_bytes(&caller, data_ptr, data_len)?;
    check_value(&data)?;
    let room = &mut caller.data_mut().room;
    let sent = if flags & send_flags::UNRELIABLE != 0 {
        room.send_message_unreliable(to as SessionId, &data)
    } else {
        room.send_message(to as SessionId, &data)
    };
    Ok(match sent {
        Ok(sent) => sent.into(),
        Err(_) => REFUSED,
    })
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

/// `member(session, out_ptr, out_cap) -> i32`: the member's map, or
/// `NOT_FOUND`.
fn member(mut caller: Ctx<'_>, session: i64, out_ptr: u32, out_cap: u32) -> Result<i32> {
    let Some(client) = caller.data().room.member(session as SessionId) else {
        return Ok(NOT_FOUND);
    };
    let identity = client.identity();
    let mut bytes = Vec::with_capacity(64);
    Member {
        session: session as SessionId,
        user_id: identity.user_id.as_deref(),
        name: identity.name.as_deref(),
        claims: identity.claims.as_bytes(),
    }
    .write(&mut Writer::new(&mut bytes));
    write_if_fits(&mut caller, out_ptr, out_cap, &bytes)
}

/// `room(out_ptr, out_cap) -> i32`: the room's map.
fn room(mut caller: Ctx<'_>, out_ptr: u32, out_cap: u32) -> Result<i32> {
    let bytes = room_view(&caller.data().room);
    write_if_fits(&mut caller, out_ptr, out_cap, &bytes)
}

/// The room's map, as `vampire_create` and the `room` import give it.
pub fn room_view(room: &crate::rooms::RoomState) -> Vec<u8> {
    let settings = room.settings();
    let mut bytes = Vec::with_capacity(128 + settings.metadata.len());
    RoomView {
        room: room.id(),
        room_type: &settings.room_type,
        name: &settings.name,
        public: settings.public,
        locked: settings.locked,
        max_clients: settings.max_clients,
        member_count: room.member_count() as u32,
        metadata: settings.metadata.as_bytes(),
        owner: settings.owner.unwrap_or(0),
    }
    .write(&mut Writer::new(&mut bytes));
    bytes
}

/// `room_lock(locked)`.
fn room_lock(mut caller: Ctx<'_>, locked: i32) {
    caller.data_mut().room.set_locked(locked != 0);
}

/// `room_set_metadata(ptr, len) -> i32`: 0, or `REFUSED` when too large.
fn room_set_metadata(mut caller: Ctx<'_>, ptr: u32, len: u32) -> Result<i32> {
    let metadata = read_payload(&caller, ptr, len)?;
    Ok(match caller.data_mut().room.set_metadata(metadata) {
        Ok(()) => 0,
        Err(_) => REFUSED,
    })
}

/// `room_set_max_clients(max_clients) -> i32`: 0, or `REFUSED` out of range.
fn room_set_max_clients(mut caller: Ctx<'_>, max_clients: i32) -> i32 {
    let Ok(max_clients) = u32::try_from(max_clients) else { return REFUSED };
    match caller.data_mut().room.set_max_clients(max_clients) {
        Ok(()) => 0,
        Err(_) => REFUSED,
    }
}

/// `tick_rate(rate_hz) -> i32`: 0, or `REFUSED` out of range.
fn tick_rate(mut caller: Ctx<'_>, rate_hz: i32) -> i32 {
    let Ok(rate_hz) = u32::try_from(rate_hz) else { return REFUSED };
    match caller.data_mut().room.clock_mut().set_tick_rate(rate_hz) {
        Ok(()) => 0,
        Err(_) => REFUSED,
    }
}

/// `timer_set(tag_ptr, tag_len, delay_ms, repeat) -> i32`: 0, or `REFUSED`.
fn timer_set(
    mut caller: Ctx<'_>,
    tag_ptr: u32,
    tag_len: u32,
    delay_ms: i64,
    repeat: i32,
) -> Result<i32> {
    let tag = read_str(&caller, tag_ptr, tag_len)?;
    let delay = Duration::from_millis(delay_ms.max(0) as u64);
    Ok(match caller.data_mut().room.clock_mut().set_timer(&tag, delay, repeat != 0) {
        Ok(()) => 0,
        Err(_) => REFUSED,
    })
}

/// `timer_cancel(tag_ptr, tag_len) -> i32`: 1, or 0 if there was none.
fn timer_cancel(mut caller: Ctx<'_>, tag_ptr: u32, tag_len: u32) -> Result<i32> {
    let tag = read_str(&caller, tag_ptr, tag_len)?;
    Ok(caller.data_mut().room.clock_mut().cancel_timer(&tag).into())
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
    // The whole range must be the guest's, as for every import, though
    // only the start of it is read.
    check_range(&caller, ptr, len)?;
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

/// `random(out_ptr, len)`: `len` random bytes from the operating system's
/// generator (at most [`MAX_RANDOM_BYTES`] a call).
fn random(mut caller: Ctx<'_>, out_ptr: u32, len: u32) -> Result<()> {
    if len > MAX_RANDOM_BYTES {
        bail!("random: at most {MAX_RANDOM_BYTES} bytes a call");
    }
    let mut bytes = vec![0u8; len as usize];
    getrandom::fill(&mut bytes).map_err(|err| format_err!("random: {err}"))?;
    let memory = caller.data().memory.context("the guest has no memory")?;
    memory
        .write(&mut caller, out_ptr as usize, &bytes)
        .map_err(|_| format_err!("buffer {out_ptr}+{len} is outside the guest's memory"))
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

/// Fails (which traps the call) when `ptr + len` is not inside the guest's
/// memory.
fn check_range(caller: &Ctx<'_>, ptr: u32, len: u32) -> Result<()> {
    let memory = caller.data().memory.context("the guest has no memory")?;
    if u64::from(ptr) + u64::from(len) > memory.data_size(caller) as u64 {
        return Err(format_err!("buffer {ptr}+{len} is outside the guest's memory"));
    }
    Ok(())
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
