//! A version of the room the hot-reload tests swap whose `restore` traps
//! (`../reload-v1/src/room.rs`): the rooms must keep their old version.

const VERSION: u32 = 3;
const RESTORE_FAILS: bool = true;

include!("../../reload-v1/src/room.rs");
