//! OGC API – Features Part 4 (create, replace, update, delete) on `/ogc/collections/{id}/items`,
//! so QGIS can edit the layers: each route is the editing API's own handler
//! (`handlers::edit`: the single writer, the importer's validation, keys and roles, versions as
//! ETags with `If-Match`, confidentiality), with the `Location` of a created feature pointing at
//! its OGC item.
//! `OPTIONS` on the items and on an item (QGIS probes it to enable editing) answers 204 with
//! the methods this caller may use there in `Allow`; a CORS preflight (an `OPTIONS` with
//! `Access-Control-Request-Method`) is still answered by the CORS layer (see `api::router`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::extract::{ApiBody, ApiPath, Caller};
use crate::api::geojson::base_url;
use crate::api::handlers::{edit, visible_row};
use crate::api::{ApiError, AppState};
use crate::model::{Access, Layer, Role};

/// Whether `access` may write: a key of role editor or above, on a server with a writer.
fn writes(state: &AppState, access: &Access) -> bool {
    state.writer.is_some() && access.role().is_some_and(|r| r >= Role::Editor)
}

/// 204 with `Allow: methods`.
fn allow(methods: &[&str]) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

/// `OPTIONS /ogc/collections/{layer}/items`: reads for everyone, `POST` for a key that writes.
pub async fn items_options(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(layer): ApiPath<String>,
) -> Result<Response, ApiError> {
    let _: Layer = layer.parse()?;
    Ok(if writes(&state, &access) {
        allow(&["GET", "HEAD", "POST", "OPTIONS"])
    } else {
        allow(&["GET", "HEAD", "OPTIONS"])
    })
}

/// `OPTIONS /ogc/collections/{layer}/items/{id}`: on a feature the caller sees, reads, and
/// `PUT`, `PATCH`, `DELETE` for a key that writes; on an absent id, `PUT` (create under this
/// id) where the key writes and may choose ids (`edit::chooses_ids`), else the 404 of `GET`
/// (a hidden feature does not exist for the caller).
pub async fn item_options(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath((layer, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    let snap = state.snapshot.load();
    let writes = writes(&state, &access);
    match visible_row(&snap, &access, layer, &id) {
        Ok(_) if writes => Ok(allow(&["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"])),
        Ok(_) => Ok(allow(&["GET", "HEAD", "OPTIONS"])),
        Err(ApiError::FeatureNotFound { .. })
            if writes
                && crate::edit::chooses_ids(access, layer)
                && crate::edit::parse::path_id(&id).is_some() =>
        {
            Ok(allow(&["PUT", "OPTIONS"]))
        }
        Err(e) => Err(e),
    }
}

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
