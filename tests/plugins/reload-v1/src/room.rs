// The room every `reload-*` test plugin builds, each with its own
// `VERSION` (and `RESTORE_FAILS`): hot reload swaps one for another under
// live rooms.

use room_sdk::prelude::*;

/// State kept inside the instance, carried across a reload by snapshot
/// and restore.
#[derive(Default, Serialize, Deserialize)]
#[serde(crate = "room_sdk::serde")]
struct Reloadable {
    /// Calls to `count`, since the room was created.
    count: u64,
}

#[derive(Deserialize)]
#[serde(crate = "room_sdk::serde", tag = "method", content = "args", rename_all = "snake_case")]
enum Call {
    /// Which version answers.
    Version,
    /// Counts a call; answers the count.
    Count,
}

impl Room for Reloadable {
    type Call = Call;

    fn create(&mut self, _room: &RoomInfo, start: Start, _options: &Data) -> Result<(), RoomError> {
        host::variable("started_as").broadcast(false).set(&format!("{start:?} v{VERSION}"))?;
        Ok(())
    }

    fn call(&mut self, _caller: &Member, call: Call) -> Result<Reply, RoomError> {
        match call {
            Call::Version => reply(&VERSION),
            Call::Count => {
                self.count += 1;
                reply(&self.count)
            }
        }
    }

    fn snapshot(&self) -> Option<Vec<u8>> {
        save_state(self)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), RoomError> {
        if RESTORE_FAILS {
            panic!("this version cannot restore");
        }
        *self = load_state(state)?;
        Ok(())
    }
}

room_sdk::export_room!(Reloadable);
