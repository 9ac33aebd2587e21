//! [`Histogram`]: a distribution of durations kept in atomic buckets, so
//! recording one costs two atomic additions and no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: from 10 µs (a short plugin
/// call) to 10 s (a slow compile), about three per decade.
pub const BUCKETS: [f64; 16] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 1.0, 10.0,
];

/// Observations by bucket, their count and their sum.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations at most each bound (not cumulative; the last slot
    /// holds those above every bound).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of the observations, in nanoseconds.
    sum_nanos: AtomicU64,
}

/// What [`Histogram::snapshot`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Sum in seconds.
    pub sum: f64,
    /// How many observations.
    pub count: u64,
    /// Cumulative counts at each bound of [`BUCKETS`], and `+Inf`.
    pub cumulative: Vec<(f64, u64)>,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Adds `other`'s observations to these.
    pub fn add(&self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter().zip(&other.buckets) {
            mine.fetch_add(theirs.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(other.sum_nanos.load(Ordering::Relaxed), Ordering::Relaxed);
    }

    /// The counts as they are now.
    pub fn snapshot(&self) -> Snapshot {
        let mut total = 0;
        let mut cumulative = Vec::with_capacity(BUCKETS.len() + 1);
        for (slot, count) in self.buckets.iter().enumerate() {
            total += count.load(Ordering::Relaxed);
            cumulative.push((BUCKETS.get(slot).copied().unwrap_or(f64::INFINITY), total));
        }
        Snapshot {
            sum: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count: total,
            cumulative,
        }
    }
}

impl Snapshot {
    /// The observations made after `earlier` (a snapshot of the same
    /// histogram, taken before this one).
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let cumulative = self
            .cumulative
            .iter()
            .zip(&earlier.cumulative)
            .map(|(&(bound, now), &(_, then))| (bound, now.saturating_sub(then)))
            .collect();
        Snapshot {
            sum: (self.sum - earlier.sum).max(0.0),
            count: self.count.saturating_sub(earlier.count),
            cumulative,
        }
    }

    /// The counts of each bucket alone (not cumulative), by upper bound.
    pub fn per_bucket(&self) -> Vec<(f64, u64)> {
        let mut below = 0;
        self.cumulative
            .iter()
            .map(|&(bound, count)| {
                let alone = count - below;
                below = count;
                (bound, alone)
            })
            .collect()
    }

    /// The bound below which a share `quantile` (0 to 1) of the
    /// observations fall, linearly within its bucket; `None` without
    /// observations.
    pub fn quantile(&self, quantile: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let wanted = quantile * self.count as f64;
        let mut below = (0.0, 0u64);
        for &(bound, count) in &self.cumulative {
            if count as f64 >= wanted {
                if bound.is_infinite() {
                    return Some(below.0);
                }
                let (low, low_count) = below;
                let share = (wanted - low_count as f64) / (count - low_count).max(1) as f64;
                return Some(low + (bound - low) * share);
            }
            below = (bound, count);
        }
        Some(below.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_fall_in_their_buckets_and_add_up() {
        let histogram = Histogram::default();
        for micros in [5, 30, 30, 2_000] {
            histogram.observe(Duration::from_micros(micros));
        }
        histogram.observe(Duration::from_secs(60));
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 5);
        assert_eq!(snapshot.cumulative[0], (0.000_01, 1));
        assert_eq!(snapshot.cumulative[2], (0.000_05, 3));
        assert_eq!(snapshot.cumulative.last().unwrap().1, 5);
        assert!((snapshot.sum - 60.002_065).abs() < 1e-9, "{}", snapshot.sum);
        let p50 = snapshot.quantile(0.5).unwrap();
        assert!((0.000_025..=0.000_05).contains(&p50), "{p50}");
        assert_eq!(Histogram::default().snapshot().quantile(0.99), None);
    }
}
