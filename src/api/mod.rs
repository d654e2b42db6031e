//! HTTP API (axum): the router, thin handlers, extractors and the one error mapping.
//!
//! [`routes`] lists every route once; [`router`] builds the axum router from it and a test
//! checks it against `openapi.yaml`, so the contract cannot drift from the code.

mod error;
pub mod extract;
pub mod geojson;
pub mod handlers;
pub mod limits;
pub mod loading;
pub mod metrics;
mod serve;
mod state;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::routing::{MethodRouter, delete, get, options, patch, post, put};
use axum::{Extension, Router, middleware};
use tower::{Layer, ServiceExt};
use tower_http::compression::CompressionLayer;
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

pub use crate::config::{AuthPolicy, Limits};
pub use error::ApiError;
pub use limits::{HeavyGate, heavy};
pub use loading::{AppSwitch, Loading, Progress};
pub use metrics::Metrics;
pub use serve::{bind, raise_open_files_limit, serve, serve_switch};
pub use state::AppState;

/// One route: method, path (OpenAPI syntax, which axum 0.8 shares) and handler.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub handler: MethodRouter<AppState>,
}

fn route(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        handler,
    }
}

/// A route whose requests hold a permit of the heavy-endpoint gate (isochrones, workforce, the
/// sites–waste joins): when all permits are taken for `heavy_wait_ms`, 503 with Retry-After.
fn heavy_route(method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Route {
    route(method, path, handler.layer(middleware::from_fn(heavy)))
}

/// Every route of the API.
pub fn routes() -> Vec<Route> {
    use handlers::{catalog, edit, map, ogc, projects, routing, search, territory, tiles};
    const FEATURE: &str = "/layers/{layer}/features/{id}";
    const PROJECT: &str = "/projects/{id}";
    const OGC_ITEMS: &str = "/ogc/collections/{layer}/items";
    const OGC_ITEM: &str = "/ogc/collections/{layer}/items/{id}";
    vec![
        route(Method::GET, "/", get(map::index)),
        route(Method::GET, "/style.json", get(map::style)),
        route(Method::GET, "/assets/{file}", get(map::asset)),
        route(Method::GET, "/tiles/{tilejson}", get(tiles::tilejson)),
        route(Method::GET, "/tiles/{layers}/{z}/{x}/{y}", get(tiles::tile)),
        route(Method::GET, "/health", get(catalog::health)),
        route(Method::GET, "/territories/{siren}", get(territory::page)),
        heavy_route(
            Method::GET,
            "/territories/{siren}/diagnostic",
            get(territory::diagnostic_handler),
        ),
        route(Method::GET, "/catalog", get(catalog::catalog)),
        route(Method::GET, FEATURE, get(catalog::feature)),
        route(Method::POST, "/layers/{layer}/features", post(edit::create)),
        route(Method::PUT, FEATURE, put(edit::replace)),
        route(Method::PATCH, FEATURE, patch(edit::patch)),
        route(Method::DELETE, FEATURE, delete(edit::delete)),
        route(Method::POST, "/admin/compact", post(edit::compact)),
        route(Method::GET, "/metrics", get(handlers::metrics::metrics)),
        route(
            Method::GET,
            "/layers/{layer}/search",
            get(search::layer_search),
        ),
        route(
            Method::POST,
            "/layers/{layer}/search",
            post(search::layer_search_polygon),
        ),
        route(Method::GET, "/sites/search", get(search::site_search)),
        route(
            Method::POST,
            "/sites/search",
            post(search::site_search_polygon),
        ),
        heavy_route(Method::GET, "/sites/near-waste", get(search::near_waste)),
        heavy_route(
            Method::POST,
            "/match",
            post(handlers::matching::match_needs),
        ),
        route(Method::GET, "/projects", get(projects::list)),
        route(Method::POST, "/projects", post(projects::create)),
        route(Method::GET, PROJECT, get(projects::read)),
        route(Method::PUT, PROJECT, put(projects::replace)),
        route(Method::PATCH, PROJECT, patch(projects::update)),
        route(Method::DELETE, PROJECT, delete(projects::delete)),
        heavy_route(
            Method::GET,
            "/projects/{id}/matches",
            get(projects::matches),
        ),
        heavy_route(
            Method::GET,
            "/sites/{layer}/{id}/projects",
            get(projects::site_projects),
        ),
        heavy_route(
            Method::GET,
            "/waste_deposits/{id}/sites",
            get(search::deposit_sites),
        ),
        route(Method::GET, "/ogc", get(ogc::landing)),
        route(Method::GET, "/ogc/api", get(ogc::api_definition)),
        route(Method::GET, "/ogc/conformance", get(ogc::conformance)),
        route(Method::GET, "/ogc/collections", get(ogc::collections)),
        route(
            Method::GET,
            "/ogc/collections/{layer}",
            get(ogc::collection),
        ),
        route(
            Method::GET,
            "/ogc/collections/{layer}/items",
            get(ogc::items),
        ),
        route(
            Method::GET,
            "/ogc/collections/{layer}/items/{id}",
            get(ogc::item),
        ),
        route(Method::POST, OGC_ITEMS, post(ogc::edit::create)),
        route(Method::PUT, OGC_ITEM, put(ogc::edit::replace)),
        route(Method::PATCH, OGC_ITEM, patch(ogc::edit::update)),
        route(Method::DELETE, OGC_ITEM, delete(ogc::edit::delete)),
        route(
            Method::OPTIONS,
            OGC_ITEMS,
            options(ogc::edit::items_options),
        ),
        route(Method::OPTIONS, OGC_ITEM, options(ogc::edit::item_options)),
        route(
            Method::GET,
            "/ogc/collections/{layer}/queryables",
            get(ogc::queryables),
        ),
        route(
            Method::GET,
            "/ogc/collections/{layer}/sortables",
            get(ogc::sortables),
        ),
        route(
            Method::GET,
            "/ogc/collections/{layer}/schema",
            get(ogc::feature_schema),
        ),
        heavy_route(Method::GET, "/isochrone", get(routing::isochrone_get)),
        heavy_route(Method::POST, "/isochrone", post(routing::isochrone_post)),
        heavy_route(Method::GET, "/workforce", get(routing::workforce)),
    ]
}

/// The application: routes, metrics, the request timeout, the body limit, CORS, compression,
/// request tracing, problem+json for unknown routes.
///
/// CORS answers preflights (`OPTIONS` with `Access-Control-Request-Method`) and stamps every
/// other answer. A plain `OPTIONS` goes to the routes first, so the paths that answer it
/// (`Allow` per caller, the OGC items) do; elsewhere the CORS layer answers it as before.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    for Route { path, handler, .. } in routes() {
        r = r.route(path, handler);
    }
    let app: Router = r
        .fallback(|uri: Uri| async move { ApiError::NoRoute(uri.path().to_string()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            extract::authenticate,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::lagging,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(Extension(state.heavy.clone()))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .with_state(state);
    let cors = CorsLayer::permissive().layer(app.clone());
    let dispatch = tower::service_fn(move |req: Request| {
        let (app, cors) = (app.clone(), cors.clone());
        async move {
            let plain_options = req.method() == Method::OPTIONS
                && !req
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
            if !plain_options {
                return cors.oneshot(req).await;
            }
            let (parts, body) = req.into_parts();
            let again = Request::from_parts(parts.clone(), axum::body::Body::empty());
            let mut r = app.oneshot(Request::from_parts(parts, body)).await?;
            if r.status() == StatusCode::METHOD_NOT_ALLOWED {
                return cors.oneshot(again).await;
            }
            r.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            Ok(r)
        }
    });
    Router::new()
        .fallback_service(dispatch)
        // gzip or brotli by Accept-Encoding for every answer but images and those that are
        // already encoded (tiles compress and cache their own bodies).
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: draining requests in flight");
}
