//! Thin handlers: extract, validate, call one engine function, serialise.

pub mod catalog;
pub mod edit;
pub mod map;
pub mod matching;
pub mod metrics;
pub mod ogc;
pub mod projects;
pub mod routing;
pub mod search;
pub mod territory;
pub mod tiles;

use std::sync::Arc;

use crate::api::ApiError;
use crate::index::Snapshot;
use crate::model::{Access, FeatureId, Layer};
use crate::query::QueryError;

/// The id and row of feature `id` of `layer` as `access` sees it. An id that does not parse,
/// an unknown one and one the caller may not see are the same 404: a hidden feature does not
/// exist for them.
pub(crate) fn visible_row(
    snap: &Snapshot,
    access: &Access,
    layer: Layer,
    id: &str,
) -> Result<(FeatureId, u32), ApiError> {
    let id: FeatureId = id.parse().map_err(|_| ApiError::FeatureNotFound {
        layer,
        id: id.to_string(),
    })?;
    let row = snap.view(access).layer(layer).get(id);
    Ok((id, row.ok_or(ApiError::not_found(layer, id))?))
}

/// Runs a query on the snapshot and gives the snapshot back: inline when `cheap` (a small radius
/// or k costs microseconds, less than a hop to another thread), otherwise on the blocking pool
/// so a large area does not hold up the async workers (and stops when the request is
/// abandoned).
pub(crate) async fn run<T: Send + 'static>(
    cheap: bool,
    snap: Arc<Snapshot>,
    f: impl FnOnce(&Snapshot) -> Result<T, QueryError> + Send + 'static,
) -> Result<(Arc<Snapshot>, T), ApiError> {
    if cheap {
        let out = f(&snap)?;
        return Ok((snap, out));
    }
    crate::api::limits::spawn_blocking("search", move || {
        let out = f(&snap)?;
        Ok((snap, out))
    })
    .await
}
