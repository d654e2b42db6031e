//! `/metrics` in the Prometheus text format (version 0.0.4): requests and latency by route and
//! status, tile cache hits, features per layer, the write log. Hand-written: a few counters
//! and one histogram do not need a metrics framework.
//!
//! Other modules count through [`Metrics`] (e.g. tiles: `state.metrics.tile_cache_hit()`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::edit::{FeedStatus, WriterStats};
use crate::index::Snapshot;
use crate::model::Access;

/// Upper bounds of the latency histogram, seconds.
const BUCKETS_S: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum_s: f64,
    /// Per bucket (not cumulative); the +Inf bucket is `count`.
    buckets: [u64; BUCKETS_S.len()],
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (method, route template, status) → series.
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    tile_cache_hits: AtomicU64,
    tile_cache_misses: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut map) = self.requests.lock() else {
            return;
        };
        let s = map
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        s.count += 1;
        s.sum_s += seconds;
        if let Some(i) = BUCKETS_S.iter().position(|b| seconds <= *b) {
            s.buckets[i] += 1;
        }
    }

    /// A tile served from the cache.
    pub fn tile_cache_hit(&self) {
        self.tile_cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// A tile that had to be built.
    pub fn tile_cache_miss(&self) {
        self.tile_cache_misses.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text. Features per layer are those `access` may see: confidential
    /// deposits are counted only for callers with the `partners` right (and admins).
    pub fn render(
        &self,
        snapshot: &Snapshot,
        access: &Access,
        writer: Option<&WriterStats>,
        heavy_available: usize,
        heavy_running: usize,
    ) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().map(|m| m.clone()).unwrap_or_default();
        render_request_counts(&mut out, &requests);
        render_latency(&mut out, &requests);
        self.render_gauges(&mut out, snapshot, heavy_available, heavy_running);
        if let Some(w) = writer {
            render_writer(&mut out, w);
        }
        render_layer_features(&mut out, snapshot, access);
        out
    }

    /// The tile cache counters, the data generation and the heavy gate.
    fn render_gauges(
        &self,
        out: &mut String,
        snapshot: &Snapshot,
        heavy_available: usize,
        heavy_running: usize,
    ) {
        let families = [
            (
                "terriens_tile_cache_hits_total",
                "counter",
                "Tiles served from the cache.",
                self.tile_cache_hits.load(Ordering::Relaxed),
            ),
            (
                "terriens_tile_cache_misses_total",
                "counter",
                "Tiles built because the cache did not hold them.",
                self.tile_cache_misses.load(Ordering::Relaxed),
            ),
            (
                "terriens_data_generation",
                "gauge",
                "Generation of the published data snapshot.",
                snapshot.generation,
            ),
            (
                "terriens_heavy_permits_available",
                "gauge",
                "Heavy requests that could start now.",
                heavy_available as u64,
            ),
            (
                "terriens_heavy_running",
                "gauge",
                "Heavy computations running now (a timed-out request's work counts until it stops).",
                heavy_running as u64,
            ),
        ];
        for (name, ty, help, v) in families {
            simple(out, name, ty, help, v);
        }
    }
}

/// Requests answered, by (method, route template, status).
type RequestSeries = BTreeMap<(String, String, u16), Series>;

/// `terriens_http_requests_total`.
fn render_request_counts(out: &mut String, requests: &RequestSeries) {
    header(
        out,
        "terriens_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route template and status.",
    );
    for ((method, route, status), s) in requests {
        let _ = writeln!(
            out,
            "terriens_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {}",
            esc(method),
            esc(route),
            s.count
        );
    }
}

/// `terriens_http_request_duration_seconds`: the latency histogram.
fn render_latency(out: &mut String, requests: &RequestSeries) {
    header(
        out,
        "terriens_http_request_duration_seconds",
        "histogram",
        "Time to answer, by method, route template and status.",
    );
    for ((method, route, status), s) in requests {
        let labels = format!(
            "method=\"{}\",route=\"{}\",status=\"{status}\"",
            esc(method),
            esc(route)
        );
        let mut cumulative = 0;
        for (b, n) in BUCKETS_S.iter().zip(s.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "terriens_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "terriens_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            s.count
        );
        let _ = writeln!(
            out,
            "terriens_http_request_duration_seconds_sum{{{labels}}} {}",
            s.sum_s
        );
        let _ = writeln!(
            out,
            "terriens_http_request_duration_seconds_count{{{labels}}} {}",
            s.count
        );
    }
}

/// The write log and compaction counters.
fn render_writer(out: &mut String, w: &WriterStats) {
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let families = [
        (
            "terriens_write_log_bytes",
            "gauge",
            "Size of the live write log.",
            g(&w.log_bytes),
        ),
        (
            "terriens_writes_total",
            "counter",
            "Acknowledged write requests.",
            g(&w.writes),
        ),
        (
            "terriens_written_features_total",
            "counter",
            "Features put or deleted by acknowledged writes.",
            g(&w.features),
        ),
        (
            "terriens_write_groups_total",
            "counter",
            "Group commits (one fsync each).",
            g(&w.groups),
        ),
        (
            "terriens_writes_refused_total",
            "counter",
            "Writes refused against current data (versions, ids).",
            g(&w.refused),
        ),
        (
            "terriens_compactions_total",
            "counter",
            "Compactions of the write log into layer files.",
            g(&w.compactions),
        ),
        (
            "terriens_compaction_failures_total",
            "counter",
            "Failed compactions.",
            g(&w.compaction_failures),
        ),
        (
            "terriens_writer_stopped",
            "gauge",
            "1 after a write log I/O error: writes are refused until restart.",
            u64::from(w.poisoned.load(Ordering::Relaxed)),
        ),
    ];
    for (name, ty, help, v) in families {
        simple(out, name, ty, help, v);
    }
}

/// A replica's change feed (`serve --source`): lag, changes applied, reconnects.
pub fn render_feed(out: &mut String, feed: &FeedStatus) {
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    header(
        out,
        "terriens_source_lag_seconds",
        "gauge",
        "Age of the oldest committed change of the database not yet applied (0 when caught up).",
    );
    let _ = writeln!(
        out,
        "terriens_source_lag_seconds {}",
        feed.lag().as_secs_f64()
    );
    let families = [
        (
            "terriens_source_applied_changes_total",
            "counter",
            "Row changes of the database applied to this replica.",
            g(&feed.applied),
        ),
        (
            "terriens_source_reconnects_total",
            "counter",
            "Connections to the database re-established after a loss.",
            g(&feed.reconnects),
        ),
        (
            "terriens_source_rejected_rows_total",
            "counter",
            "Rows refused by validation (written by another tool); the replica kept what it held.",
            g(&feed.rejected_rows),
        ),
        (
            "terriens_source_reloads_total",
            "counter",
            "Full reloads after a cut-off longer than the change table keeps changes.",
            g(&feed.reloads),
        ),
        (
            "terriens_source_connected",
            "gauge",
            "1 while the change feed's connection is up.",
            u64::from(feed.connected.load(Ordering::Relaxed)),
        ),
    ];
    for (name, ty, help, v) in families {
        simple(out, name, ty, help, v);
    }
}

/// `terriens_layer_features`: features per layer that `access` may see.
fn render_layer_features(out: &mut String, snapshot: &Snapshot, access: &Access) {
    header(
        out,
        "terriens_layer_features",
        "gauge",
        "Features per layer that the caller may see (confidential deposits only for partners and admins).",
    );
    for layer in snapshot.view(access).layers() {
        let _ = writeln!(
            out,
            "terriens_layer_features{{layer=\"{}\"}} {}",
            layer.layer(),
            layer.extent().count
        );
    }
}

/// A family of one unlabelled sample.
fn simple(out: &mut String, name: &str, ty: &str, help: &str, v: u64) {
    header(out, name, ty, help);
    let _ = writeln!(out, "{name} {v}");
}

fn header(out: &mut String, name: &str, ty: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {ty}");
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware counting every request by its route template (not its URL, which would make one
/// series per feature id).
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    state.metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}
