//! WebAssembly room plugins: the runtime (engine, epoch deadlines, memory
//! budgets, plugin threads), fair scheduling of long calls
//! ([`scheduling`]), the host's side of the ABI (`docs/ABI.md`),
//! the host imports, the loader, the [`Catalog`] of what loaded, the
//! reloader and the watcher (hot reload), and the plugin-backed room.
//!
//! A plugin is a core wasm module (no WASI) built for
//! `wasm32-unknown-unknown`, usually with the `room-sdk` crate. Its file
//! stem is its room type: `plugins/chat.wasm` serves `room_type: "chat"`.

pub mod abi;
pub mod cache;
pub mod catalog;
pub mod imports;
pub mod loader;
pub mod memory;
pub mod module;
pub mod reload;
pub mod room;
pub mod runtime;
pub mod scheduling;
pub mod state;
pub mod watcher;

pub use catalog::Catalog;
pub use loader::load_folder;
pub use module::PluginModule;
pub use reload::Reloader;
pub use room::PluginRoomType;
pub use runtime::PluginRuntime;
pub use watcher::PluginWatcher;
