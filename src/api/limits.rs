//! Limits that protect the server: the request timeout, and the concurrency gate of heavy
//! endpoints (isochrones, large joins). Caps on parameters are in [`super::Limits`]; the body
//! limit is applied by the body extractor.
//!
//! Heavy work runs on the blocking pool through [`spawn_blocking`], under the request's
//! [`CancelToken`] (set when the request future is dropped: timeout, closed connection) and
//! holding the request's heavy permit until the work has returned, so a timed-out request
//! cannot leave its computation running outside the gate.
//!
//! Status codes: a gate that stays full, a timeout, a full write queue answer **503** with
//! `Retry-After` (the server is overloaded, not the client misbehaving: 429 is kept for
//! per-client rate limits, which terriens does not apply); a body too large, or a geometry
//! above `max_vertices`, answers 413; a body that does not arrive in `body_read_timeout_ms`
//! answers 408; a parameter above its cap answers 400 (`over-limit`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ApiError, AppState, Limits};
use crate::cancel::{self, CancelToken};

impl Limits {
    /// [`Limits::cap`] as an API error: a 400 (`over-limit`, naming the parameter) when
    /// `value` is above `max`.
    pub fn check<T: PartialOrd + std::fmt::Display>(
        param: &str,
        value: T,
        max: T,
    ) -> Result<(), ApiError> {
        Ok(Limits::cap(param, value, max)?)
    }
}

/// At most N heavy requests at a time. Cheap to clone.
///
/// In a handler: `let _permit = state.heavy.acquire().await?;` before the work. Or on a
/// route in `routes()`: `get(handler).route_layer(axum::middleware::from_fn(api::heavy))`.
#[derive(Debug, Clone)]
pub struct HeavyGate {
    permits: Arc<Semaphore>,
    limit: usize,
    wait: Duration,
    retry_after_s: u64,
    /// Heavy computations running on the blocking pool now (the `terriens_heavy_running` gauge).
    running: Arc<AtomicUsize>,
}

impl HeavyGate {
    pub fn new(limits: &Limits) -> HeavyGate {
        let limit = limits.heavy_concurrency.max(1);
        HeavyGate {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            wait: Duration::from_millis(limits.heavy_wait_ms),
            retry_after_s: limits.retry_after_s.max(1),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A permit, waiting at most the configured time; else 503 with Retry-After.
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let overloaded = || ApiError::Overloaded {
            limit: self.limit,
            retry_after_s: self.retry_after_s,
        };
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(overloaded()),
        }
    }

    /// Permits free now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Heavy computations running now on the blocking pool.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }
}

/// A heavy request's permit, shared by the request and the blocking work it starts: the
/// permit goes back to the gate when both are done.
#[derive(Debug)]
struct HeavySlot {
    _permit: OwnedSemaphorePermit,
    running: Arc<AtomicUsize>,
}

/// Counts one computation as running while alive.
struct Running(Arc<AtomicUsize>);

impl Running {
    fn start(counter: &Arc<AtomicUsize>) -> Running {
        counter.fetch_add(1, Ordering::Relaxed);
        Running(counter.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the blocking work of a request carries: its cancellation token and, on heavy routes,
/// its share of the heavy permit.
#[derive(Debug, Clone, Default)]
struct Work {
    cancel: CancelToken,
    slot: Arc<std::sync::Mutex<Option<Arc<HeavySlot>>>>,
}

tokio::task_local! {
    /// The work context of the request being served by this task.
    static WORK: Work;
}

/// Runs CPU-heavy work of the current request on the blocking pool, under its cancellation
/// token, holding its heavy permit (if any) until `f` returns. A cancelled request's result
/// is dropped and the answer is the timeout's. Outside a request (tests), a fresh token.
pub async fn spawn_blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let work = WORK.try_with(Work::clone).unwrap_or_default();
    let slot = work.slot.lock().ok().and_then(|s| s.clone());
    let token = work.cancel;
    tokio::task::spawn_blocking(move || {
        let running = slot.as_ref().map(|s| Running::start(&s.running));
        let out = cancel::run_with(&token, f);
        // A cancelled request's result is dropped here, while the work still counts as
        // running and still holds the permit: the gauge never shows more computations than
        // the cap (dropping a large result after the permit went back let a third one start).
        let out = if token.is_cancelled() {
            drop(out);
            Err(ApiError::Cancelled)
        } else {
            out
        };
        drop(running);
        drop(slot);
        out
    })
    .await
    .map_err(|e| ApiError::Internal(format!("{what} task failed: {e}")))?
}

/// Middleware for heavy routes: holds a permit of the [`HeavyGate`] for the whole request, and
/// lends it to the request's blocking work ([`spawn_blocking`]), which keeps it until it stops.
pub async fn heavy(req: Request, next: Next) -> Response {
    let Some(gate) = req.extensions().get::<HeavyGate>().cloned() else {
        return ApiError::Internal("heavy gate missing from the router".into()).into_response();
    };
    let permit = match gate.acquire().await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let slot = Arc::new(HeavySlot {
        _permit: permit,
        running: gate.running.clone(),
    });
    let set = WORK.try_with(|w| {
        if let Ok(mut s) = w.slot.lock() {
            *s = Some(slot.clone());
        }
    });
    if set.is_err() {
        // Not under the timeout middleware: the slot lives as long as this request.
        return WORK
            .scope(Work::default(), async move {
                let _slot = slot;
                next.run(req).await
            })
            .await;
    }
    drop(slot);
    next.run(req).await
}

/// Middleware stopping requests that run past `request_timeout_ms` (503 with Retry-After). A
/// write already queued goes on and may be applied: clients that retry should send If-Match.
/// Dropping the request (timeout, closed connection) cancels its blocking work.
/// A replica too far behind its database (`[source] max_lag_s`) answers reads 503, so a load
/// balancer sends them elsewhere; `/health` and `/metrics` still answer, and writes go through
/// (they wait for the replica to apply them anyway).
pub async fn lagging(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(feed) = &state.feed
        && feed.too_far_behind()
        && matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        )
        && !matches!(req.uri().path(), "/health" | "/metrics")
    {
        return ApiError::Lagging {
            lag_s: feed.lag().as_secs_f64(),
            max_s: feed.max_lag().as_secs_f64(),
        }
        .into_response();
    }
    next.run(req).await
}

pub async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ms = state.limits.request_timeout_ms;
    let work = Work::default();
    let guard = work.cancel.cancel_on_drop();
    let run = WORK.scope(work.clone(), next.run(req));
    let resp = match tokio::time::timeout(Duration::from_millis(ms), run).await {
        Ok(resp) => resp,
        Err(_) => {
            work.cancel.cancel();
            ApiError::Timeout { timeout_ms: ms }.into_response()
        }
    };
    // The request's own share of the permit ends with it; its work keeps its own share.
    if let Ok(mut s) = work.slot.lock() {
        s.take();
    }
    if work.cancel.is_cancelled() {
        drop(guard);
    } else {
        guard.disarm();
    }
    resp
}
