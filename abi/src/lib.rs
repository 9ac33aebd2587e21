//! The contract between the VampireTCP server and its room plugins
//! (`docs/ABI.md`), in one crate both sides build against: the host
//! (`vampiretcp`) and the guest SDK (`room-sdk`). A name, a flag or a hook
//! input defined here cannot drift between them.
//!
//! # Layout
//! - The version and its policy: [`ABI_VERSION`].
//! - [`exports`]: what a module exports, and [`Hook`], its entry points.
//! - [`imports`]: the host functions a module may import, their return
//!   codes and flags.
//! - [`input`]: each hook's input map, with the writer the host uses and
//!   the reader a guest uses, declared from one table each
//!   ([`fields`]).
//! - [`reply`]: a hook's reply, written by the guest and read by the host,
//!   and the error codes a guest may give ([`reply::GuestCode`]).
//! - [`error`]: [`AbiError`], why an input or reply could not be read.
//!
//! Everything that crosses the boundary is MessagePack
//! ([`vampire_msgpack`]), as maps keyed by field name. Values a room does
//! not interpret (message data, method arguments, variable values) are
//! carried as their sender's bytes.

pub mod error;
pub mod exports;
pub mod fields;
pub mod imports;
pub mod input;
pub mod matched;
pub mod reply;

pub use error::AbiError;
pub use exports::{Hook, pack, unpack};
pub use fields::AbiField;

/// The ABI version this crate describes. A module exports it from
/// [`exports::ABI_VERSION`]; the host refuses a module of another version,
/// naming both.
///
/// **Policy.** Within a version, the host may add imports, optional hooks
/// and keys in hook inputs; guests ignore keys they do not know, and a
/// module that does not export an optional hook gets its default. Anything
/// else (a removed or renamed import, export or key; a changed signature,
/// meaning or encoding) takes a new version.
pub const ABI_VERSION: i32 = 2;

/// Module name of every host import.
pub const IMPORT_MODULE: &str = "vampire";
