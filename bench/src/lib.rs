//! Shared pieces of the benchmarks.
//!
//! # Layout
//! - `src/bin/plugin-bench.rs`: in-process plugin costs (invoke round
//!   trip, room creation rate, memory per room).
//! - `src/bin/relay.rs`: the baseline server (a bare tokio relay).
//! - `src/bin/compare.rs`: the one command: runs every server under the same
//!   load and prints the comparison table.
//! - [`load`]: the load generator's scenarios (chat fan-out, invoke round
//!   trips, idle connections, room creation).
//! - [`stats`]: latency histograms and process CPU/RSS readings.
//! - `colyseus/`: the Colyseus peer (server and load script).

pub mod load;
pub mod stats;
