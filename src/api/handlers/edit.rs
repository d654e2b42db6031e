//! The editing API: create (one feature or a batch), replace, patch, delete; and compaction.
//! Every write needs an editor key; it is answered once durable (fsynced) and visible (the
//! `generation` of the answer is the first snapshot that shows it).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::extract::{ApiBody, ApiPath, Caller, check_vertices, etag, if_match};
use crate::api::limits::spawn_blocking;
use crate::api::{ApiError, AppState, Limits};
use crate::edit::{self, Edit, Written, parse_features, parse_patch, parse_replacement};
use crate::model::{FeatureId, Layer, Role};

fn target(layer: &str, id: &str) -> Result<(Layer, FeatureId), ApiError> {
    let layer: Layer = layer.parse()?;
    let id = edit::parse::path_id(id).ok_or_else(|| ApiError::FeatureNotFound {
        layer,
        id: id.to_string(),
    })?;
    Ok((layer, id))
}

/// 413 `too-many-vertices` when a geometry of a write body is above the cap. A position takes
/// at least 6 bytes (`[0,0],`), so only a body that could hold that many is parsed for it.
fn vertex_cap(body: &[u8], limits: &Limits) -> Result<(), ApiError> {
    if body.len() < limits.max_vertices.saturating_add(1).saturating_mul(6) {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(doc) => check_vertices(&doc, limits),
        // Not JSON: the parser of the write says precisely what is wrong.
        Err(_) => Ok(()),
    }
}

fn location(layer: Layer, id: FeatureId) -> HeaderValue {
    HeaderValue::try_from(format!("/layers/{layer}/features/{id}"))
        .unwrap_or_else(|_| HeaderValue::from_static("/"))
}

/// The answer for one feature: status, ETag, Location for a creation.
fn one(layer: Layer, w: Written, ok: StatusCode) -> Response {
    let Some(f) = w.features.first().copied() else {
        return ApiError::Internal("a write answered no feature".into()).into_response();
    };
    let status = if f.created { StatusCode::CREATED } else { ok };
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag(f.version));
    if f.created {
        headers.insert(header::LOCATION, location(layer, f.id));
    }
    let body = json!({
        "layer": layer,
        "id": f.id,
        "version": f.version,
        "generation": w.generation,
    });
    (status, headers, Json(body)).into_response()
}

/// A write body checked against the vertex cap and parsed on the blocking pool (the
/// "validation" work of a write).
async fn validated<T, E>(
    state: &AppState,
    body: Bytes,
    parse: impl FnOnce(&[u8]) -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    ApiError: From<E>,
{
    let limits = state.limits.clone();
    spawn_blocking("validation", move || {
        vertex_cap(&body, &limits)?;
        parse(&body).map_err(ApiError::from)
    })
    .await
}

/// `POST /layers/{layer}/features`: one Feature or a FeatureCollection, all or nothing.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(layer): ApiPath<String>,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let access = caller.require(Role::Editor)?;
    let writer = state.writer()?.clone();
    let layer: Layer = layer.parse()?;
    let max_batch = state.limits.max_batch;
    let features = validated(&state, body, move |b| parse_features(layer, b, max_batch)).await?;
    let w = writer
        .submit(Edit::Create { layer, features }, access)
        .await?;
    Ok(created(layer, &w))
}

/// 201 with the ids and versions written; a single feature's `Location` and ETag.
fn created(layer: Layer, w: &Written) -> Response {
    let mut headers = HeaderMap::new();
    if let [f] = w.features.as_slice() {
        headers.insert(header::LOCATION, location(layer, f.id));
        headers.insert(header::ETAG, etag(f.version));
    }
    let features: Vec<_> = w
        .features
        .iter()
        .map(|f| json!({"id": f.id, "version": f.version}))
        .collect();
    let body = json!({"layer": layer, "generation": w.generation, "features": features});
    (StatusCode::CREATED, headers, Json(body)).into_response()
}

/// `PUT /layers/{layer}/features/{id}`: replace (or create under this id).
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let access = caller.require(Role::Editor)?;
    let writer = state.writer()?.clone();
    let (layer, id) = target(&layer, &id)?;
    let precondition = if_match(&headers)?;
    let feature = validated(&state, body, move |b| parse_replacement(layer, id, b)).await?;
    let edit = Edit::Replace {
        layer,
        id,
        feature,
        precondition,
    };
    Ok(one(
        layer,
        writer.submit(edit, access).await?,
        StatusCode::OK,
    ))
}

/// `PATCH /layers/{layer}/features/{id}`: merge properties, replace the geometry.
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let access = caller.require(Role::Editor)?;
    let writer = state.writer()?.clone();
    let (layer, id) = target(&layer, &id)?;
    let precondition = if_match(&headers)?;
    let patch = validated(&state, body, parse_patch).await?;
    let edit = Edit::Patch {
        layer,
        id,
        patch,
        precondition,
    };
    Ok(one(
        layer,
        writer.submit(edit, access).await?,
        StatusCode::OK,
    ))
}

/// `DELETE /layers/{layer}/features/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let access = caller.require(Role::Editor)?;
    let writer = state.writer()?.clone();
    let (layer, id) = target(&layer, &id)?;
    let precondition = if_match(&headers)?;
    let edit = Edit::Delete {
        layer,
        id,
        precondition,
    };
    let w = writer.submit(edit, access).await?;
    let body = json!({"layer": layer, "id": id, "deleted": true, "generation": w.generation});
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// `POST /admin/compact`: save the changed layers and empty the write log now.
pub async fn compact(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(Role::Admin)?;
    let writer = state.writer()?.clone();
    writer.compact().await?;
    let generation = state.snapshot.load().generation;
    Ok(Json(json!({"compacted": true, "generation": generation})).into_response())
}
