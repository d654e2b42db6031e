//! `GET /metrics`: the Prometheus exposition of [`crate::api::Metrics`], public or for admins
//! only (`[auth] public_metrics`).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::api::extract::Caller;
use crate::api::{ApiError, AppState};
use crate::model::Role;

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if !state.auth.public_metrics {
        caller.require(Role::Admin)?;
    }
    let snap = state.snapshot.load();
    let mut text = state.metrics.render(
        &snap,
        &caller.0,
        state.writer.as_ref().map(|w| w.stats().as_ref()),
        state.heavy.available(),
        state.heavy.running(),
    );
    if let Some(feed) = &state.feed {
        crate::api::metrics::render_feed(&mut text, feed);
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}
