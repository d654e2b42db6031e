//! The server before its data is ready: the listener is bound at once, and until the full
//! router is published every request is answered `503` (problem+json, `Retry-After: 1`), and
//! `GET /health` `503 {"status":"loading","progress":{...}}` with the step under way (layers,
//! roads, snaps) and its counts.
//!
//! [`AppSwitch`] is the service the accept loop serves: it reads the router of the moment from
//! an `ArcSwap` (one atomic load per request), the loading one until [`AppSwitch::ready`]
//! publishes the full one.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::ApiError;

/// What the loading server reports: the step under way and its counts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// `starting`, `layers`, `roads`, `snaps`, then `ready`.
    pub step: &'static str,
    /// Units of the step done (layers, graphs, profile × layer snap sets).
    pub done: u64,
    /// Units of the step in all, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// The progress of a start-up, shared between the loader and the loading router.
#[derive(Debug)]
pub struct Loading {
    progress: Mutex<Progress>,
}

impl Default for Loading {
    fn default() -> Self {
        Loading {
            progress: Mutex::new(Progress {
                step: "starting",
                done: 0,
                total: None,
            }),
        }
    }
}

impl Loading {
    /// Starts a step.
    pub fn step(&self, step: &'static str, total: Option<u64>) {
        tracing::info!(step, total, "loading");
        *self.lock() = Progress {
            step,
            done: 0,
            total,
        };
    }

    /// One more unit of the current step is done.
    pub fn advance(&self) {
        let mut p = self.lock();
        p.done += 1;
        tracing::debug!(step = p.step, done = p.done, total = p.total, "loading");
    }

    pub fn progress(&self) -> Progress {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `GET /health` while loading: 503 with the progress.
async fn loading_health(State(loading): State<Arc<Loading>>) -> Response {
    let body = json!({
        "status": "loading",
        "version": env!("CARGO_PKG_VERSION"),
        "progress": loading.progress(),
    });
    let mut resp = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
    resp
}

/// Every other request while loading: 503 problem+json with `Retry-After`.
async fn loading_any(State(loading): State<Arc<Loading>>) -> ApiError {
    ApiError::Loading {
        step: loading.progress().step,
    }
}

/// The router served until the data is ready.
pub fn loading_router(loading: Arc<Loading>) -> Router {
    Router::new()
        .route("/health", get(loading_health))
        .fallback(loading_any)
        .with_state(loading)
}

/// The service the accept loop serves: the loading router, then the full one.
#[derive(Clone)]
pub struct AppSwitch {
    current: Arc<ArcSwap<Router>>,
}

impl AppSwitch {
    /// Serves the loading router of `loading` until [`AppSwitch::ready`].
    pub fn new(loading: Arc<Loading>) -> AppSwitch {
        AppSwitch {
            current: Arc::new(ArcSwap::from_pointee(loading_router(loading))),
        }
    }

    /// Serves `app` from the start.
    pub fn ready_with(app: Router) -> AppSwitch {
        AppSwitch {
            current: Arc::new(ArcSwap::from_pointee(app)),
        }
    }

    /// Publishes the full router: every request from now on is served by it.
    pub fn ready(&self, app: Router) {
        self.current.store(Arc::new(app));
        tracing::info!("ready: serving every route");
    }

    /// The router of the moment.
    pub fn router(&self) -> Router {
        (**self.current.load()).clone()
    }
}

impl<B> tower::Service<Request<B>> for AppSwitch
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut app = self.router();
        let req = req.map(Body::new);
        Box::pin(async move { tower::Service::call(&mut app, req).await })
    }
}
