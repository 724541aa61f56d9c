//! Counters for `GET /metrics`, rendered in the Prometheus text format by hand: a few
//! atomics and one histogram do not justify a metrics framework.

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

use crate::state::AppState;

/// Upper bounds (seconds) of the HTTP latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Registry counters.
#[derive(Default)]
pub struct Metrics {
    /// Offers, answers and candidates relayed to their target.
    pub signals_relayed: AtomicU64,
    /// Application messages carried by the registry tier (`mesh_message`, ADR 0010): a
    /// rising count means pairs that cannot open a channel.
    pub mesh_messages_relayed: AtomicU64,
    /// Frames refused with an `error` reply.
    pub signal_errors: AtomicU64,
    /// Devices waiting in `POST /api/pairing/{id}/claim` now.
    pub claims_waiting: AtomicU64,
    /// Latency per (method, route template).
    http: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Metrics {
    /// Counts one relayed frame.
    pub fn relayed(&self) {
        self.signals_relayed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one application message carried by the registry tier.
    pub fn mesh_message_relayed(&self) {
        self.mesh_messages_relayed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one refused frame.
    pub fn signal_error(&self) {
        self.signal_errors.fetch_add(1, Ordering::Relaxed);
    }

    fn observe(&self, method: &str, route: &str, seconds: f64) {
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        let h = http
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
    }

    /// Renders every metric; gauges read from the caller.
    pub fn render(&self, connected_peers: usize, tasks: &[(&str, u64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP meshwork_connected_peers Peers holding a signaling connection."
        );
        let _ = writeln!(out, "# TYPE meshwork_connected_peers gauge");
        let _ = writeln!(out, "meshwork_connected_peers {connected_peers}");
        let _ = writeln!(
            out,
            "# HELP meshwork_signals_relayed_total Signaling frames relayed to a target."
        );
        let _ = writeln!(out, "# TYPE meshwork_signals_relayed_total counter");
        let _ = writeln!(
            out,
            "meshwork_signals_relayed_total {}",
            self.signals_relayed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meshwork_mesh_messages_relayed_total Application messages the registry \
             carried because a pair had no open channel."
        );
        let _ = writeln!(out, "# TYPE meshwork_mesh_messages_relayed_total counter");
        let _ = writeln!(
            out,
            "meshwork_mesh_messages_relayed_total {}",
            self.mesh_messages_relayed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meshwork_signal_errors_total Signaling frames refused."
        );
        let _ = writeln!(out, "# TYPE meshwork_signal_errors_total counter");
        let _ = writeln!(
            out,
            "meshwork_signal_errors_total {}",
            self.signal_errors.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP meshwork_pairing_claims_waiting Devices waiting for an approval decision."
        );
        let _ = writeln!(out, "# TYPE meshwork_pairing_claims_waiting gauge");
        let _ = writeln!(
            out,
            "meshwork_pairing_claims_waiting {}",
            self.claims_waiting.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP meshwork_tasks Tasks in the queue by state.");
        let _ = writeln!(out, "# TYPE meshwork_tasks gauge");
        for (state, n) in tasks {
            let _ = writeln!(out, "meshwork_tasks{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP meshwork_http_request_duration_seconds HTTP latency."
        );
        let _ = writeln!(
            out,
            "# TYPE meshwork_http_request_duration_seconds histogram"
        );
        let http = self.http.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for ((method, route), h) in &http {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bound, n) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "meshwork_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "meshwork_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "meshwork_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "meshwork_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
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
