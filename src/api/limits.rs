//! Limits that protect the server: the request timeout, and the concurrency gate of heavy
//! endpoints (isochrones, large joins). Caps on parameters are in [`super::Limits`]; the body
//! limit is applied by the body extractor.
//!
//! Status codes: a gate that stays full, a timeout, a full write queue answer **503** with
//! `Retry-After` (the server is overloaded, not the client misbehaving: 429 is kept for
//! per-client rate limits, which terriens does not apply); a body too large answers 413; a
//! parameter above its cap answers 400 (`over-limit`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ApiError, AppState, Limits};

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
}

impl HeavyGate {
    pub fn new(limits: &Limits) -> HeavyGate {
        let limit = limits.heavy_concurrency.max(1);
        HeavyGate {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            wait: Duration::from_millis(limits.heavy_wait_ms),
            retry_after_s: limits.retry_after_s.max(1),
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
}

/// Middleware for heavy routes: holds a permit of the [`HeavyGate`] for the whole request.
pub async fn heavy(req: Request, next: Next) -> Response {
    let Some(gate) = req.extensions().get::<HeavyGate>().cloned() else {
        return ApiError::Internal("heavy gate missing from the router".into()).into_response();
    };
    match gate.acquire().await {
        Ok(_permit) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Middleware stopping requests that run past `request_timeout_ms` (503 with Retry-After). A
/// write already queued goes on and may be applied: clients that retry should send If-Match.
pub async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ms = state.limits.request_timeout_ms;
    match tokio::time::timeout(Duration::from_millis(ms), next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout { timeout_ms: ms }.into_response(),
    }
}
