//! Shared pieces of the benchmarks.
//!
//! # Layout
//! - `src/bin/plugin-bench.rs`: in-process plugin costs (invoke round
//!   trip, room creation rate, memory per room).
//! - [`stats`]: latency histograms and process CPU/RSS readings.

pub mod stats;
