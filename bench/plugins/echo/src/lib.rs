//! `echo`: the benchmarks' plugin. `echo` returns its arguments after one
//! host call (it stores them in a room variable), so a call measures the
//! whole path host → guest → host import → back. Messages are relayed to
//! every member, as in the generic room.

use room_sdk::prelude::*;

#[derive(Default)]
struct Echo;

/// The argument of `echo`, decoded straight from the client's bytes.
#[derive(Serialize, Deserialize)]
#[serde(crate = "room_sdk::serde")]
struct Argument {
    x: i64,
    name: String,
}

#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
enum Call {
    /// Stores its argument and returns it.
    Echo(Argument),
}

impl Room for Echo {
    type Call = Call;

    fn call(&mut self, _caller: &Member, call: Call) -> Result<Reply, RoomError> {
        let Call::Echo(argument) = call;
        host::variable("last").broadcast(false).set(&argument)?;
        reply(&argument)
    }
}

room_sdk::export_room!(Echo);
