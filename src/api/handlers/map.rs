//! The map page at `/`: MapLibre GL JS (vendored from the npm package, so the page works
//! offline), a style drawing every layer from the `all` tile set, and the page's own script.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::api::extract::ApiPath;
use crate::api::geojson::base_url;
use crate::api::{ApiError, AppState};

/// Static files under `/assets/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "maplibre-gl.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/maplibre-gl.js"),
    ),
    (
        "maplibre-gl.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/vendor/maplibre-gl.css"),
    ),
    (
        "chart.umd.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/chart.umd.min.js"),
    ),
    (
        "territory.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/territory.js"),
    ),
    (
        "territory.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/territory.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
];

const INDEX: &str = include_str!("../assets/index.html");
const STYLE: &str = include_str!("../assets/style.json");

/// `GET /`: the map page.
pub async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX,
    )
        .into_response()
}

/// `GET /style.json`: the MapLibre style, its source pointing at this server's TileJSON.
pub async fn style(State(_): State<AppState>, headers: HeaderMap) -> Response {
    let body = STYLE.replace("__BASE__", &base_url(&headers));
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /assets/{file}`: the page's script and styles, and MapLibre.
pub async fn asset(ApiPath(file): ApiPath<String>) -> Result<Response, ApiError> {
    let (_, ty, bytes) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| ApiError::NoRoute(format!("/assets/{file}")))?;
    let mut resp = (*bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(resp)
}
