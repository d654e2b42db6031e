//! OGC API – Features Part 4 (create, replace, update, delete) on `/ogc/collections/{id}/items`,
//! so QGIS can edit the layers: each route is the editing API's own handler
//! (`handlers::edit`: the single writer, the importer's validation, keys and roles, versions as
//! ETags with `If-Match`, confidentiality), with the `Location` of a created feature pointing at
//! its OGC item.
//! (`OPTIONS` is answered by the CORS layer for every path, so it does not list the methods a
//! key allows.)

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use crate::api::extract::{ApiBody, ApiPath, Caller};
use crate::api::geojson::base_url;
use crate::api::handlers::edit;
use crate::api::{ApiError, AppState};
use crate::model::Layer;

/// `POST /ogc/collections/{layer}/items`: create a feature (or a FeatureCollection).
pub async fn create(
    state: State<AppState>,
    caller: Caller,
    ApiPath(layer): ApiPath<String>,
    headers: HeaderMap,
    body: ApiBody,
) -> Result<Response, ApiError> {
    let parsed: Layer = layer.parse()?;
    let mut r = edit::create(state, caller, ApiPath(layer), body).await?;
    ogc_location(&mut r, &headers, parsed);
    Ok(r)
}

/// `PUT /ogc/collections/{layer}/items/{id}`: replace a feature (or create it under this id).
pub async fn replace(
    state: State<AppState>,
    caller: Caller,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: ApiBody,
) -> Result<Response, ApiError> {
    let parsed: Layer = layer.parse()?;
    let mut r = edit::replace(state, caller, ApiPath((layer, id)), headers.clone(), body).await?;
    ogc_location(&mut r, &headers, parsed);
    Ok(r)
}

/// `PATCH /ogc/collections/{layer}/items/{id}`: merge properties, replace the geometry.
pub async fn update(
    state: State<AppState>,
    caller: Caller,
    path: ApiPath<(String, String)>,
    headers: HeaderMap,
    body: ApiBody,
) -> Result<Response, ApiError> {
    edit::patch(state, caller, path, headers, body).await
}

/// `DELETE /ogc/collections/{layer}/items/{id}`.
pub async fn delete(
    state: State<AppState>,
    caller: Caller,
    path: ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    edit::delete(state, caller, path, headers).await
}

/// Points `Location` (set by the editing API at `/layers/…`) at the OGC item.
fn ogc_location(r: &mut Response, headers: &HeaderMap, layer: Layer) {
    let id = r
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.rsplit('/').next())
        .map(str::to_string);
    if let Some(id) = id {
        let url = format!(
            "{}/ogc/collections/{}/items/{id}",
            base_url(headers),
            layer.id()
        );
        if let Ok(v) = HeaderValue::from_str(&url) {
            r.headers_mut().insert(header::LOCATION, v);
        }
    }
}
