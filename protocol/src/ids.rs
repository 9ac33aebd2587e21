//! The ids the protocol names sessions and rooms by.

/// Identifies one connection (a "session") for its whole life.
pub type SessionId = u64;

/// Identifies a room; assigned by the server, never reused while it runs.
pub type RoomId = String;
