//! The Prometheus text exposition: one [`Scrape`] of [`Metrics`] and the
//! [`Gauges`] read for it, written through prometheus-client's encoder.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use vampire_abi::Hook;
use vampire_protocol::{ErrorCode, Request};

use super::{AuthFailure, FAMILIES, Gauges, Metrics, PluginFailure, Refusal, histogram};
use crate::lock::lock;

impl Metrics {
    /// The Prometheus text exposition of every family, with `gauges` read
    /// from their owners.
    pub fn render(self: &Arc<Self>, gauges: Gauges) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Scrape { metrics: self.clone(), gauges }));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &registry);
        text
    }
}

/// One scrape: the counters and the levels read for it.
#[derive(Debug)]
struct Scrape {
    metrics: Arc<Metrics>,
    gauges: Gauges,
}

type Labels<'l> = Vec<(&'static str, &'l str)>;

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut out = Exposition { encoder: &mut encoder };
        self.server(&mut out)?;
        self.traffic(&mut out)?;
        self.rooms(&mut out)?;
        self.udp_and_cluster(&mut out)
    }
}

impl Scrape {
    fn server(&self, out: &mut Exposition<'_, '_>) -> std::fmt::Result {
        let (metrics, gauges) = (&self.metrics, &self.gauges);
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        out.gauge("vampire_up_seconds", metrics.started.elapsed().as_secs_f64())?;
        out.gauge("vampire_draining", f64::from(u8::from(gauges.draining)))?;
        let open = metrics.connections_open.load(Ordering::Relaxed).max(0);
        out.gauge("vampire_connections_open", open as f64)?;
        out.counter("vampire_connections_accepted_total", load(&metrics.connections_accepted))?;
        out.counters(
            "vampire_connections_refused_total",
            Refusal::ALL.map(|why| {
                (vec![("reason", why.label())], load(&metrics.connections_refused[why as usize]))
            }),
        )?;
        out.counter("vampire_tls_handshakes_failed_total", load(&metrics.tls_handshakes_failed))?;
        let authenticated = load(&metrics.sessions_authenticated);
        out.counter("vampire_sessions_authenticated_total", authenticated)?;
        out.counters(
            "vampire_sessions_auth_failed_total",
            AuthFailure::ALL.map(|why| {
                (vec![("reason", why.label())], load(&metrics.auth_failures[why as usize]))
            }),
        )
    }

    fn traffic(&self, out: &mut Exposition<'_, '_>) -> std::fmt::Result {
        let metrics = &self.metrics;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let ops: Vec<&str> = Request::ops().chain(["(unreadable)"]).collect();
        let mut requests = Vec::new();
        for (op, outcomes) in metrics.requests.iter().enumerate() {
            for (outcome, count) in outcomes.iter().enumerate() {
                let count = load(count);
                if count > 0 {
                    let outcome = match outcome {
                        0 => "ok",
                        n => ErrorCode::ALL.get(n - 1).map_or("unknown", |code| code.as_str()),
                    };
                    requests.push((vec![("op", ops[op]), ("outcome", outcome)], count));
                }
            }
        }
        out.counters("vampire_requests_total", requests)?;
        out.counter("vampire_rate_limited_total", load(&metrics.rate_limited))?;
        out.counter("vampire_messages_total", load(&metrics.messages))?;
        out.counter("vampire_deliveries_total", load(&metrics.deliveries))?;
        out.counter("vampire_bytes_received_total", load(&metrics.bytes_received))?;
        out.counter("vampire_bytes_sent_total", load(&metrics.bytes_sent))?;
        out.counter("vampire_slow_consumers_total", load(&metrics.slow_consumers))?;
        out.counter("vampire_unreliable_dropped_total", load(&metrics.unreliable_dropped))
    }

    fn rooms(&self, out: &mut Exposition<'_, '_>) -> std::fmt::Result {
        let (metrics, gauges) = (&self.metrics, &self.gauges);
        let types = lock(&metrics.types).clone();
        let mut names: Vec<&String> = types.keys().chain(gauges.rooms.keys()).collect();
        names.sort();
        names.dedup();
        let level = |name: &str| gauges.rooms.get(name).copied().unwrap_or((0, 0));
        let by_type = |value: fn((u64, u64)) -> u64| {
            names.iter().map(move |name| (vec![("room_type", name.as_str())], value(level(name))))
        };
        out.gauges("vampire_rooms", by_type(|(rooms, _)| rooms))?;
        out.gauges("vampire_members", by_type(|(_, members)| members))?;
        out.counters(
            "vampire_rooms_created_total",
            types.iter().map(|(name, t)| {
                (vec![("room_type", name.as_str())], t.rooms_created.load(Ordering::Relaxed))
            }),
        )?;
        let mut calls = Vec::new();
        let mut failures = Vec::new();
        for (name, metrics) in &types {
            for hook in Hook::ALL {
                let snapshot = metrics.calls[hook.index()].snapshot();
                if snapshot.count > 0 {
                    let hook = hook.export().trim_start_matches("vampire_");
                    calls.push((vec![("room_type", name.as_str()), ("hook", hook)], snapshot));
                }
            }
            for kind in PluginFailure::ALL {
                let value = metrics.failures[kind as usize].load(Ordering::Relaxed);
                failures.push((vec![("room_type", name.as_str()), ("kind", kind.label())], value));
            }
        }
        out.histograms("vampire_plugin_call_seconds", calls)?;
        out.counters("vampire_plugin_failures_total", failures)?;
        let (used, budget) = gauges.plugin_memory;
        out.gauge("vampire_plugin_memory_bytes", used as f64)?;
        out.gauge("vampire_plugin_memory_budget_bytes", budget as f64)?;
        out.counters(
            "vampire_plugin_reloads_total",
            ["ok", "failed"].into_iter().enumerate().map(|(outcome, label)| {
                (vec![("outcome", label)], metrics.reloads[outcome].load(Ordering::Relaxed))
            }),
        )?;
        let reloads = metrics.reload_seconds.snapshot();
        out.histograms("vampire_plugin_reload_seconds", [(Labels::new(), reloads)])
    }

    fn udp_and_cluster(&self, out: &mut Exposition<'_, '_>) -> std::fmt::Result {
        let (metrics, gauges) = (&self.metrics, &self.gauges);
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let udp = gauges.udp.clone().unwrap_or_default();
        out.counter("vampire_udp_datagrams_received_total", udp.received)?;
        out.counter("vampire_udp_datagrams_sent_total", udp.sent)?;
        out.counters(
            "vampire_udp_datagrams_dropped_total",
            udp.dropped.into_iter().map(|(reason, value)| (vec![("reason", reason)], value)),
        )?;
        let up = gauges.cluster_up.map_or(0.0, |up| f64::from(u8::from(up)));
        out.gauge("vampire_cluster_node_up", up)?;
        let redis = metrics.redis_seconds.snapshot();
        out.histograms("vampire_cluster_redis_seconds", [(Labels::new(), redis)])?;
        out.counter("vampire_cluster_redirects_total", load(&metrics.redirects))?;
        out.counter("vampire_cluster_reservations_total", load(&metrics.reservations))?;
        out.counter("vampire_cluster_forwarded_total", load(&metrics.forwarded))?;
        let failures = load(&metrics.placement_failures);
        out.counter("vampire_cluster_placement_failures_total", failures)?;
        let created = load(&metrics.matched_rooms_created);
        out.counter("vampire_join_or_create_rooms_created_total", created)?;
        out.counter("vampire_matchmaker_matches_total", load(&metrics.matches))?;
        out.counter("vampire_matchmaker_timeouts_total", load(&metrics.ticket_timeouts))
    }
}

/// Writes families through prometheus-client's text encoder: each family's
/// `# HELP` (from [`FAMILIES`]) and `# TYPE` once, then its samples.
struct Exposition<'e, 'a> {
    encoder: &'e mut DescriptorEncoder<'a>,
}

impl Exposition<'_, '_> {
    fn open(
        &mut self,
        name: &'static str,
        kind: MetricType,
    ) -> Result<MetricEncoder<'_>, std::fmt::Error> {
        let help =
            FAMILIES.iter().find(|(family, _)| *family == name).map_or("", |(_, help)| *help);
        // The encoder names a counter's samples `_total` itself.
        let name = match kind {
            MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        self.encoder.encode_descriptor(name, help, None, kind)
    }

    fn counter(&mut self, name: &'static str, value: u64) -> std::fmt::Result {
        self.open(name, MetricType::Counter)?.encode_counter::<NoLabelSet, _, u64>(&value, None)
    }

    fn gauge(&mut self, name: &'static str, value: f64) -> std::fmt::Result {
        self.open(name, MetricType::Gauge)?.encode_gauge(&value)
    }

    fn counters<'l>(
        &mut self,
        name: &'static str,
        samples: impl IntoIterator<Item = (Labels<'l>, u64)>,
    ) -> std::fmt::Result {
        let mut family = self.open(name, MetricType::Counter)?;
        for (labels, value) in samples {
            family.encode_family(&labels)?.encode_counter::<NoLabelSet, _, u64>(&value, None)?;
        }
        Ok(())
    }

    fn gauges<'l>(
        &mut self,
        name: &'static str,
        samples: impl IntoIterator<Item = (Labels<'l>, u64)>,
    ) -> std::fmt::Result {
        let mut family = self.open(name, MetricType::Gauge)?;
        for (labels, value) in samples {
            family.encode_family(&labels)?.encode_gauge(&value)?;
        }
        Ok(())
    }

    fn histograms<'l>(
        &mut self,
        name: &'static str,
        samples: impl IntoIterator<Item = (Labels<'l>, histogram::Snapshot)>,
    ) -> std::fmt::Result {
        let mut family = self.open(name, MetricType::Histogram)?;
        for (labels, snapshot) in samples {
            let buckets = snapshot.per_bucket();
            let mut encoder = family.encode_family(&labels)?;
            encoder.encode_histogram::<NoLabelSet>(snapshot.sum, snapshot.count, &buckets, None)?;
        }
        Ok(())
    }
}
