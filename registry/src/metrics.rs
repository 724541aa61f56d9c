//! Counters for `GET /metrics`, exposed with the official `prometheus-client` crate
//! (OpenMetrics text): the registry only updates them; encoding is the crate's.

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use std::{sync::Arc, time::Instant};

use crate::state::AppState;

/// Upper bounds (seconds) of the HTTP latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Labels of one HTTP latency series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
}

/// Labels of the task gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    state: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Registry counters.
pub struct Metrics {
    registry: Registry,
    /// Offers, answers and candidates relayed to their target.
    signals_relayed: Counter,
    /// Application messages carried by the registry tier (`mesh_message`, ADR 0010): a
    /// rising count means pairs that cannot open a channel.
    mesh_messages_relayed: Counter,
    /// Frames refused with an `error` reply.
    signal_errors: Counter,
    /// Devices waiting in `POST /api/pairing/{id}/claim` now.
    pub claims_waiting: Gauge,
    /// Peers holding a signaling connection (set when rendered).
    connected_peers: Gauge,
    /// Tasks by state (set when rendered).
    tasks: Family<TaskLabels, Gauge>,
    /// Events in the registry's memory replica (ADR 0016).
    pub memory_events: Gauge,
    /// Latency per (method, route template).
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("meshwork");
        let metrics = Self {
            signals_relayed: Counter::default(),
            mesh_messages_relayed: Counter::default(),
            signal_errors: Counter::default(),
            claims_waiting: Gauge::default(),
            connected_peers: Gauge::default(),
            tasks: Family::default(),
            memory_events: Gauge::default(),
            http: Family::new_with_constructor(latency_histogram),
            registry: Registry::default(),
        };
        registry.register(
            "connected_peers",
            "Peers holding a signaling connection",
            metrics.connected_peers.clone(),
        );
        registry.register(
            "signals_relayed",
            "Signaling frames relayed to a target",
            metrics.signals_relayed.clone(),
        );
        registry.register(
            "mesh_messages_relayed",
            "Application messages the registry carried because a pair had no open channel",
            metrics.mesh_messages_relayed.clone(),
        );
        registry.register(
            "signal_errors",
            "Signaling frames refused",
            metrics.signal_errors.clone(),
        );
        registry.register(
            "pairing_claims_waiting",
            "Devices waiting for an approval decision",
            metrics.claims_waiting.clone(),
        );
        registry.register(
            "tasks",
            "Tasks in the queue by state",
            metrics.tasks.clone(),
        );
        registry.register(
            "memory_events",
            "Events held by the registry's replica of the shared memory",
            metrics.memory_events.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP latency",
            metrics.http.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// Counts one relayed frame.
    pub fn relayed(&self) {
        self.signals_relayed.inc();
    }

    /// Counts one application message carried by the registry tier.
    pub fn mesh_message_relayed(&self) {
        self.mesh_messages_relayed.inc();
    }

    /// Counts one refused frame.
    pub fn signal_error(&self) {
        self.signal_errors.inc();
    }

    fn observe(&self, method: &str, route: &str, seconds: f64) {
        let labels = HttpLabels {
            method: method.to_owned(),
            route: route.to_owned(),
        };
        self.http.get_or_create(&labels).observe(seconds);
    }

    /// Renders every metric (OpenMetrics text); gauges read from the caller are set first.
    pub fn render(&self, connected_peers: usize, tasks: &[(&str, u64)]) -> String {
        self.connected_peers
            .set(i64::try_from(connected_peers).unwrap_or(i64::MAX));
        for (state, n) in tasks {
            let labels = TaskLabels {
                state: (*state).to_owned(),
            };
            self.tasks
                .get_or_create(&labels)
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Middleware recording the latency of every routed request.
pub async fn track_http(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let start = Instant::now();
    let response = next.run(req).await;
    state
        .metrics
        .observe(&method, &route, start.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms_in_openmetrics_text() {
        let m = Metrics::default();
        m.relayed();
        m.relayed();
        m.signal_error();
        m.claims_waiting.inc();
        m.observe("GET", "/api/config", 0.002);
        let text = m.render(3, &[("pending", 4)]);
        for line in [
            "meshwork_signals_relayed_total 2",
            "meshwork_signal_errors_total 1",
            "meshwork_pairing_claims_waiting 1",
            "meshwork_connected_peers 3",
            "meshwork_tasks{state=\"pending\"} 4",
            "meshwork_http_request_duration_seconds_count{method=\"GET\",route=\"/api/config\"} 1",
            "# EOF",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
