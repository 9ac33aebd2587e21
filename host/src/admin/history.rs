//! [`History`]: what the monitor page charts: connections, deliveries per
//! second and the p99 of plugin calls, sampled every [`SAMPLE_EVERY`] for
//! the last [`KEPT`] samples (ten minutes), in a ring of fixed size.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::lock::lock;
use crate::metrics::Metrics;
use crate::metrics::histogram::Snapshot;

/// How often a sample is taken.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Samples kept: ten minutes' worth.
pub const KEPT: usize = 120;

/// One sample.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Sample {
    /// When, in Unix milliseconds.
    pub unix_ms: u64,
    /// Connections open.
    pub connections: i64,
    /// Deliveries per second since the sample before.
    pub deliveries_per_sec: f64,
    /// The 99th percentile of plugin calls since the sample before, in
    /// milliseconds; `None` without calls.
    pub plugin_p99_ms: Option<f64>,
}

/// The last [`KEPT`] samples.
#[derive(Debug, Default)]
pub struct History {
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    /// The samples, oldest first.
    pub fn samples(&self) -> Vec<Sample> {
        lock(&self.samples).iter().cloned().collect()
    }

    fn push(&self, sample: Sample) {
        let mut samples = lock(&self.samples);
        if samples.len() == KEPT {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// Samples `metrics` every [`SAMPLE_EVERY`] until `shutdown`.
    pub async fn run(self: Arc<Self>, metrics: Arc<Metrics>, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(SAMPLE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut before: Option<(tokio::time::Instant, u64, Snapshot)> = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                now = ticks.tick() => {
                    let (connections, deliveries) = metrics.totals();
                    let calls = metrics.plugin_calls().snapshot();
                    if let Some((then, delivered, earlier)) = &before {
                        let seconds = now.duration_since(*then).as_secs_f64().max(1e-3);
                        let p99 = calls.since(earlier).quantile(0.99);
                        self.push(Sample {
                            unix_ms: unix_ms(SystemTime::now()),
                            connections,
                            deliveries_per_sec: deliveries.saturating_sub(*delivered) as f64 / seconds,
                            plugin_p99_ms: p99.map(|seconds| seconds * 1e3),
                        });
                    }
                    before = Some((now, deliveries, calls));
                }
            }
        }
    }
}

/// `at` in Unix milliseconds.
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}
