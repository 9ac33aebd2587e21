//! Glue behind [`crate::export_room!`]: each hook's input decoded, the
//! room's method called, its result written as the reply. Not a public
//! API.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use vampire_abi::input;
use vampire_abi::reply;

use crate::{Data, Member, Reply, Room, RoomError, RoomInfo, SeatHold, Session, sys};

/// A room value and the members it knows.
pub struct Plugin<R: Room> {
    room: R,
    /// Members by session, filled by `create` and `join`, so that hooks
    /// naming a session can give the room the whole member.
    members: HashMap<Session, Member>,
}

/// The one plugin value of this instance.
pub type Slot<R> = RefCell<Option<Plugin<R>>>;

fn output(result: Result<Reply, RoomError>) -> i64 {
    let mut bytes = Vec::new();
    match result {
        Ok(reply) => match reply.into_bytes() {
            None => return 0,
            Some(value) => reply::write_ok(&mut bytes, &value),
        },
        Err(error) => reply::write_error(&mut bytes, error.code, &error.message),
    }
    sys::leak_output(bytes)
}

fn bad_input(err: vampire_abi::AbiError) -> RoomError {
    RoomError::new(format!("bad hook input: {err}"))
}

fn with<R: Room>(
    slot: &Slot<R>,
    f: impl FnOnce(&mut Plugin<R>) -> Result<Reply, RoomError>,
) -> i64 {
    let mut slot = slot.borrow_mut();
    let result = match slot.as_mut() {
        Some(plugin) => f(plugin),
        None => Err(RoomError::new("the room was not created")),
    };
    output(result)
}

impl<R: Room> Plugin<R> {
    fn member(&self, session: Session) -> Member {
        self.members
            .get(&session)
            .cloned()
            .or_else(|| crate::host::member(session))
            .unwrap_or(Member { session, ..Member::default() })
    }
}

/// `vampire_create`.
pub fn create<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    std::panic::set_hook(Box::new(|info| crate::host::log_error(&info.to_string())));
    let result = input::Create::decode(bytes).map_err(bad_input).and_then(|create| {
        let info = RoomInfo::from_view(&create.room);
        let members = create.members.iter().map(|m| (m.session, Member::from_raw(m))).collect();
        let mut room = R::default();
        room.create(&info, create.start, &Data::from_slice(create.options))?;
        *slot.borrow_mut() = Some(Plugin { room, members });
        Ok(Reply::none())
    });
    output(result)
}

/// `vampire_join`.
pub fn join<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let join = input::Join::decode(bytes).map_err(bad_input)?;
        let member = Member::from_raw(&join.member);
        let answer = p.room.join(&member, &Data::from_slice(join.options));
        if answer.is_ok() {
            p.members.insert(member.session, member);
        }
        answer
    })
}

/// `vampire_leave`.
pub fn leave<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let leave = input::Leave::decode(bytes).map_err(bad_input)?;
        let member = p
            .members
            .remove(&leave.session)
            .unwrap_or(Member { session: leave.session, ..Member::default() });
        p.room.leave(&member, leave.reason);
        Ok(Reply::none())
    })
}

/// `vampire_invoke`: the call map decoded straight into the room's
/// [`Room::Call`], with no intermediate value.
pub fn invoke<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let (invoke, call) = input::Invoke::decode(bytes).map_err(bad_input)?;
        let decoded = decode_call::<R::Call>(call, &invoke)?;
        let caller = p.member(invoke.session);
        p.room.call(&caller, decoded)
    })
}

/// Decodes a call map into the room's method enum. Absent arguments (nil)
/// also call a method whose arguments are all optional, as an empty map.
fn decode_call<C: serde::de::DeserializeOwned>(
    call: &[u8],
    invoke: &input::Invoke<'_>,
) -> Result<C, RoomError> {
    let refusal = |err: rmp_serde::decode::Error| {
        let text = err.to_string();
        if text.contains("unknown variant") {
            RoomError::method_not_found(invoke.method)
        } else {
            RoomError::invalid_args(format!("bad arguments for {:?}: {text}", invoke.method))
        }
    };
    match rmp_serde::from_slice(call) {
        Ok(decoded) => Ok(decoded),
        Err(first) if invoke.args == [0xc0] => {
            let mut empty = Vec::with_capacity(16 + invoke.method.len());
            vampire_msgpack::Writer::new(&mut empty)
                .map(2)
                .str("method")
                .str(invoke.method)
                .str("args")
                .map(0);
            rmp_serde::from_slice(&empty).map_err(|_| refusal(first))
        }
        Err(err) => Err(refusal(err)),
    }
}

/// `vampire_message`.
pub fn message<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let message = input::Message::decode(bytes).map_err(bad_input)?;
        let from = p.member(message.session);
        p.room.message(&from, &Data::from_slice(message.data), message.unreliable)?;
        Ok(Reply::none())
    })
}

/// `vampire_tick`.
pub fn tick<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let tick = input::Tick::decode(bytes).map_err(bad_input)?;
        p.room.tick(Duration::from_millis(tick.dt_ms), tick.count);
        Ok(Reply::none())
    })
}

/// `vampire_timer`.
pub fn timer<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let timer = input::Timer::decode(bytes).map_err(bad_input)?;
        p.room.timer(timer.tag);
        Ok(Reply::none())
    })
}

/// `vampire_dispose`.
pub fn dispose<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let dispose = input::Dispose::decode(bytes).map_err(bad_input)?;
        p.room.dispose(dispose.reason);
        Ok(Reply::none())
    })
}

/// `vampire_can_set_variable`.
pub fn can_set_variable<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let input = input::CanSetVariable::decode(bytes).map_err(bad_input)?;
        let member = p.member(input.session);
        let allowed = p.room.can_set_variable(&member, input.name, &Data::from_slice(input.value));
        crate::reply(&allowed)
    })
}

/// `vampire_disconnect`: the seat's hold, as milliseconds (nil: the
/// server's window).
pub fn disconnect<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let input = input::Presence::decode(bytes).map_err(bad_input)?;
        let member = p.member(input.session);
        match p.room.disconnect(&member) {
            SeatHold::ServerWindow => Ok(Reply::none()),
            SeatHold::For(hold) => {
                crate::reply(&u64::try_from(hold.as_millis()).unwrap_or(u64::MAX))
            }
            SeatHold::Release => crate::reply(&0u64),
        }
    })
}

/// `vampire_reconnect`.
pub fn reconnect<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let input = input::Presence::decode(bytes).map_err(bad_input)?;
        let member = p.member(input.session);
        p.room.reconnect(&member);
        Ok(Reply::none())
    })
}

/// `vampire_snapshot`: the state as binary, or nil.
pub fn snapshot<R: Room>(slot: &Slot<R>, _bytes: &[u8]) -> i64 {
    with(slot, |p| match p.room.snapshot() {
        Some(state) => crate::reply(&serde_bytes_of(&state)),
        None => Ok(Reply::none()),
    })
}

/// `vampire_restore`.
pub fn restore<R: Room>(slot: &Slot<R>, bytes: &[u8]) -> i64 {
    with(slot, |p| {
        let restore = input::Restore::decode(bytes).map_err(bad_input)?;
        p.room.restore(restore.state.0)?;
        Ok(Reply::none())
    })
}

/// Bytes that serde writes as MessagePack binary (not an array).
struct Binary<'a>(&'a [u8]);

impl serde::Serialize for Binary<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

fn serde_bytes_of(state: &[u8]) -> Binary<'_> {
    Binary(state)
}
