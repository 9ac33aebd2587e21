//! Shared pieces of the benchmarks.
//!
//! # Layout
//! - `src/bin/plugin-bench.rs`: in-process plugin costs (invoke round
//!   trip, room creation rate, memory per room).
//! - `src/bin/relay.rs`: the baseline server (a bare tokio relay).
//! - `src/bin/compare.rs`: the one command: runs every server under the same
//!   load and prints the comparison table.
//! - `src/bin/soak.rs`: the soak run (healthy and hostile clients and
//!   rooms together for ten minutes or more).
//! - `src/bin/reload.rs`: hot-reload latency and swaps under load.
//! - `src/bin/updates.rs`: frequent small updates over UDP and over TCP.
//! - `src/bin/reconnect.rs`: from a cut connection to the first replayed
//!   event.
//! - [`chat`]: the chat scenario's payload, timestamp and window.
//! - [`load`]: the load generator's scenarios (chat fan-out, invoke round
//!   trips, idle connections, room creation).
//! - [`soak`]: the soak scenario's clients and checks.
//! - [`reload`]: the hot-reload scenarios.
//! - [`updates`]: the frequent-updates scenario (UDP against TCP).
//! - [`websocket`]: the chat scenario's clients over WebSocket.
//! - [`servers`]: building and starting the servers as processes.
//! - [`stats`]: latency histograms and process CPU/RSS readings.
//! - `colyseus/`: the Colyseus peer (server and load script).

pub mod chat;
pub mod load;
pub mod reload;
pub mod servers;
pub mod soak;
pub mod stats;
pub mod updates;
pub mod websocket;
