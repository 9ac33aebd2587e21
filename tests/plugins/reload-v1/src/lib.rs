//! Version 1 of the room the hot-reload tests swap (`room.rs`).

const VERSION: u32 = 1;
const RESTORE_FAILS: bool = false;

include!("room.rs");
