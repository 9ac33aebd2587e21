//! Rooms: the manager and its index, the per-room actor, room state and
//! variables, the room clock, and the behaviours (the built-in generic room; plugin rooms
//! live in [`crate::plugins`]).

mod actor;
pub mod admission;
pub mod behaviour;
pub mod clock;
pub mod generic;
pub mod invites;
pub mod manager;
pub mod seats;
pub mod state;
pub mod variables;

pub use behaviour::{RoomBehaviour, RoomType};
pub use generic::{GENERIC_ROOM_TYPE, GenericRoom};
pub use manager::{Admission, RoomHandle, RoomManager};
pub use state::{RoomLimits, RoomSettings, RoomState};
pub use variables::{Rules, Writer};
