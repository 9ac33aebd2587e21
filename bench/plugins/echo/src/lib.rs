//! `echo`: the benchmarks' plugin. `echo` returns its arguments after one
//! host call (it stores them in a room variable), so a call measures the
//! whole path host → guest → host import → back. Messages are relayed to
//! every member, as in the generic room. With the create options
//! `{"tick_hz": n}` the room ticks, and with `"set_variable": true` each
//! tick sets one variable: the benchmark of the room clock.

use std::time::Duration;

use room_sdk::prelude::*;

#[derive(Default)]
struct Echo {
    /// Whether each tick sets a variable.
    set_on_tick: bool,
}

/// The argument of `echo`, decoded straight from the client's bytes.
#[derive(Serialize, Deserialize)]
#[serde(crate = "room_sdk::serde")]
struct Argument {
    x: i64,
    name: String,
}

/// The create options.
#[derive(Deserialize, Default)]
#[serde(crate = "room_sdk::serde", default)]
struct Options {
    tick_hz: u32,
    set_variable: bool,
}

#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
enum Call {
    /// Stores its argument and returns it.
    Echo(Argument),
}

impl Room for Echo {
    type Call = Call;

    fn create(&mut self, _room: &RoomInfo, _start: Start, options: &Data) -> Result<(), RoomError> {
        if !options.is_nil() {
            let options: Options = options.decode()?;
            self.set_on_tick = options.set_variable;
            host::set_tick_rate(options.tick_hz)?;
        }
        Ok(())
    }

    fn call(&mut self, _caller: &Member, call: Call) -> Result<Reply, RoomError> {
        let Call::Echo(argument) = call;
        host::variable("last").broadcast(false).set(&argument)?;
        reply(&argument)
    }

    fn tick(&mut self, _dt: Duration, count: u64) {
        if self.set_on_tick {
            let _ = host::variable("ticks").broadcast(false).set(&count);
        }
    }
}

room_sdk::export_room!(Echo);
