//! `echo`: the benchmarks' plugin. `echo` returns its arguments after one
//! host call (it stores them in a room variable), so a call measures the
//! whole path host → guest → host import → back. Messages are relayed to
//! every member, as in the generic room.

use room_sdk::{Broadcast, Methods, Room, RoomError, Session, Value, host};

#[derive(Default)]
struct Echo;

impl Echo {
    fn echo(&mut self, _caller: Session, args: Value) -> Result<Value, RoomError> {
        host::set_variable("last", &args, Broadcast::No);
        Ok(args)
    }
}

impl Room for Echo {
    fn methods(methods: &mut Methods<Self>) {
        methods.add("echo", Self::echo);
    }
}

room_sdk::export_room!(Echo);
