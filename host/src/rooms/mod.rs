//! Rooms: the manager and its index, the per-room actor, room state and
//! variables, the room clock, and the behaviours (the built-in generic room; plugin rooms
//! live in [`crate::plugins`]).

mod actor;
pub mod admission;
pub mod behaviour;
pub mod clock;
pub mod command;
pub mod generic;
pub mod index;
pub mod invites;
pub mod listing;
pub mod manager;
pub mod matching;
pub(crate) mod members;
pub mod seats;
pub mod settings;
pub mod state;
pub mod turns;
pub mod variables;

pub use behaviour::{PluginView, RoomBehaviour, RoomType};
pub use command::{AdminOp, Admission, Caller, MAX_ADMIN_ANSWER_BYTES, Presence, Swap};
pub use generic::{GENERIC_ROOM_TYPE, GenericRoom};
pub use index::RoomHandle;
pub use manager::RoomManager;
pub use settings::{RoomLimits, RoomSettings};
pub use state::RoomState;
pub use variables::{Rules, WriteAccess};
