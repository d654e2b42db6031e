//! `/tiles/{layers}/{z}/{x}/{y}` (vector tiles) and `/tiles/{layers}.json` (TileJSON).
//!
//! HTTP behaviour map clients expect: 204 for an empty tile, strong ETags and 304 on
//! `If-None-Match`, `Cache-Control` (long and immutable when the URL names the current data
//! version with `?v=`), gzip or brotli by `Accept-Encoding` (`Vary` says so), HEAD (axum
//! answers it from GET without the body).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;

use crate::api::extract::{ApiPath, Caller, Params, if_none_match};
use crate::api::geojson::base_url;
use crate::api::limits::spawn_blocking;
use crate::api::{ApiError, AppState};
use crate::request::Endpoint;
use crate::tiles::{
    CachedTile, Encoding, Prepared, TileCoord, TileEngine, TileSet, negotiate, parse_layers,
    tilejson as make_tilejson,
};

const MVT: &str = "application/vnd.mapbox-vector-tile";

/// The prepared tile data for the current snapshot; prepared off the async threads if the
/// data changed.
async fn prepared(state: &AppState) -> Result<Arc<Prepared>, ApiError> {
    let snap = state.snapshot.load();
    if let Some(p) = state.tiles.prepared_if_ready(&snap) {
        return Ok(p);
    }
    let engine = Arc::clone(&state.tiles);
    spawn_blocking("tile preparation", move || Ok(engine.prepared(&snap))).await
}

/// `Cache-Control`: a URL that names the data version (`?v=<generation>`, the generation
/// TileJSON was made from) never changes. The server's own cache no longer keys on it: a write
/// drops only the tiles it touches, and ETags hash the bytes.
fn cache_control(params: &Params, generation: u64) -> HeaderValue {
    let versioned = params
        .0
        .iter()
        .any(|(k, v)| k == "v" && v.parse::<u64>().ok() == Some(generation));
    HeaderValue::from_static(if versioned {
        "public, max-age=86400, immutable"
    } else {
        "public, max-age=60, stale-while-revalidate=60"
    })
}

/// `GET /tiles/{layers}/{z}/{x}/{y}[.mvt|.pbf]`: one vector tile of a layer, a comma-separated
/// list of layers or `all`, filtered by the search filter grammar.
pub async fn tile(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath((layers, z, x, y)): ApiPath<(String, String, String, String)>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    parse_layers(&layers)?;
    let coord = TileCoord::parse(&z, &x, &y)?;
    params.parse_as::<u64>(
        "v",
        "a data version (a whole number, as TileJSON's URLs give)",
    )?;
    let set = TileSet::parse_in(
        &layers,
        &params.0,
        &Endpoint::Tiles.reserved(),
        &state.snapshot.load().view(&access),
    )?;
    let prepared = prepared(&state).await?;
    let generation = prepared.generation;
    let enc = accepted_encoding(&headers);
    let tile = cached_or_rendered(&state, prepared, set, coord, enc).await?;
    let etag = TileEngine::etag(&tile, enc);
    let mut common = common_headers(&params, generation, &etag);
    if if_none_match(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    if tile.body.is_empty() {
        return Ok((StatusCode::NO_CONTENT, common).into_response());
    }
    add_body_headers(&mut common, &tile, enc);
    Ok((StatusCode::OK, common, tile.body.clone()).into_response())
}

/// The encoding to answer in, from `Accept-Encoding` (identity without one).
fn accepted_encoding(headers: &HeaderMap) -> Encoding {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map_or(Encoding::Identity, negotiate)
}

/// The headers of every tile answer (200, 204 or 304): caching, `Vary` and the ETag.
fn common_headers(params: &Params, generation: u64, etag: &str) -> HeaderMap {
    let mut common = HeaderMap::new();
    common.insert(header::CACHE_CONTROL, cache_control(params, generation));
    common.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        common.insert(header::ETAG, v);
    }
    common
}

/// The tile from the cache, or rendered on the blocking pool (counted as a hit or a miss).
async fn cached_or_rendered(
    state: &AppState,
    prepared: Arc<Prepared>,
    set: TileSet,
    coord: TileCoord,
    enc: Encoding,
) -> Result<Arc<CachedTile>, ApiError> {
    if let Some(t) = state.tiles.cached(&set, coord, enc) {
        state.metrics.tile_cache_hit();
        return Ok(t);
    }
    state.metrics.tile_cache_miss();
    let engine = Arc::clone(&state.tiles);
    spawn_blocking("tile rendering", move || {
        Ok(engine.tile(&prepared, &set, coord, enc)?)
    })
    .await
}

/// The headers of a tile with a body: media type, encoding, length and feature counts.
fn add_body_headers(h: &mut HeaderMap, tile: &CachedTile, enc: Encoding) {
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    if let Some(token) = enc.token() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(token));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(tile.body.len()));
    h.insert("x-tile-features", HeaderValue::from(tile.features));
    if tile.left_out > 0 {
        h.insert("x-tile-left-out", HeaderValue::from(tile.left_out));
    }
}

/// `GET /tiles/{layers}.json`: the TileJSON 3.0.0 of a layer, a composite or `all`.
pub async fn tilejson(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(name): ApiPath<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(layers) = name.strip_suffix(".json") else {
        return Err(ApiError::NoRoute(format!("/tiles/{name}")));
    };
    let set = TileSet::parse_in(
        layers,
        &params.0,
        &Endpoint::Tiles.reserved(),
        &state.snapshot.load().view(&access),
    )?;
    let prepared = prepared(&state).await?;
    let url = tile_url(&base_url(&headers), layers, prepared.generation, &params);
    let doc: Json = make_tilejson(&prepared, &set, &url, state.tiles.config());
    let mut resp = axum::Json(doc).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=30"),
    );
    Ok(resp)
}

/// The tile URL template of a TileJSON: the data version `v`, then the request's filters.
fn tile_url(base: &str, layers: &str, generation: u64, params: &Params) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("v", &generation.to_string());
    for (k, v) in params
        .0
        .iter()
        .filter(|(k, _)| !Endpoint::Tiles.reserves(k))
    {
        query.append_pair(k, v);
    }
    format!(
        "{base}/tiles/{layers}/{{z}}/{{x}}/{{y}}.mvt?{}",
        query.finish()
    )
}
