//! Version 2 of the room the hot-reload tests swap (`../reload-v1/src/room.rs`).

const VERSION: u32 = 2;
const RESTORE_FAILS: bool = false;

include!("../../reload-v1/src/room.rs");
