//! OGC API – Features, Part 1 (Core, GeoJSON), under `/ogc`, so QGIS, ArcGIS and GDAL load the
//! layers natively. Collections are the layers; items are paged with `limit` (at most the
//! server's cap: a larger value is lowered to it, as the standard asks, not refused), `bbox`
//! (CRS84), `datetime` (the `available_from` date of plots and buildings; other layers have no
//! time and ignore it) and any property filter of the filter grammar; `next` links follow
//! cursors bound to the data generation.

use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value as Json, json};

use crate::api::extract::{ApiPath, Caller, Params};
use crate::api::geojson::{
    GEOJSON, base_url, feature_collection, link, respond, with_cursor, write_feature,
};
use crate::api::handlers::run;
use crate::api::search_params as sp;
use crate::api::{ApiError, AppState};
use crate::index::{Filter, LayerData, Visibility};
use crate::model::{Access, FeatureId, Layer};
use crate::query::{self, LayerQuery, PageRequest, Scope};

const JSON: &str = "application/json";
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
];

/// Parameters of the items request; any other is a property filter.
const ITEMS_PARAMS: &[&str] = &["bbox", "bbox-crs", "limit", "datetime", "cursor", "f"];

fn json_response(v: Json) -> Response {
    respond(v.to_string(), JSON)
}

/// `GET /ogc`: the landing page.
pub async fn landing(headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    json_response(json!({
        "title": "terriens",
        "description": "Industrial land, ready buildings, waste streams, workforce catchments and territories (OGC API – Features)",
        "links": [
            link("self", &format!("{base}/ogc"), JSON),
            link("service-desc", &format!("{base}/ogc/api"), "application/vnd.oai.openapi;version=3.1"),
            link("conformance", &format!("{base}/ogc/conformance"), JSON),
            link("data", &format!("{base}/ogc/collections"), JSON),
        ],
    }))
}

/// `GET /ogc/api`: the OpenAPI definition of the whole server (OpenAPI 3.1, YAML).
pub async fn api_definition() -> Response {
    respond(
        include_str!("../../../openapi.yaml").to_string(),
        "application/vnd.oai.openapi;version=3.1",
    )
}

/// `GET /ogc/conformance`: the conformance classes implemented.
pub async fn conformance() -> Response {
    json_response(json!({ "conformsTo": CONFORMANCE }))
}

/// A collection: its extent and feature count are those of the features `access` may see.
fn collection_json(base: &str, data: &LayerData, access: &Access) -> Json {
    let layer = data.layer();
    let extent = data.extent(access);
    let bbox = extent.bbox().unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    let href = format!("{base}/ogc/collections/{}", layer.id());
    json!({
        "id": layer.id(),
        "title": layer.title(),
        "description": format!("{} ({} features; geometry: {})", layer.title(), extent.count, layer.geometry_kind().describe()),
        "itemType": "feature",
        "crs": [CRS84],
        "extent": { "spatial": { "bbox": [bbox], "crs": CRS84 } },
        "links": [
            link("self", &href, JSON),
            link("items", &format!("{href}/items"), GEOJSON),
        ],
    })
}

/// `GET /ogc/collections`: every layer.
pub async fn collections(
    State(state): State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&headers);
    let snap = state.snapshot.load();
    let list: Vec<Json> = snap
        .layers()
        .map(|d| collection_json(&base, d, &access))
        .collect();
    json_response(json!({
        "links": [link("self", &format!("{base}/ogc/collections"), JSON)],
        "collections": list,
    }))
}

/// `GET /ogc/collections/{layer}`: one layer.
pub async fn collection(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(layer): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    let snap = state.snapshot.load();
    Ok(json_response(collection_json(
        &base_url(&headers),
        snap.layer(layer),
        &access,
    )))
}

/// `GET /ogc/collections/{layer}/items`: a page of features.
pub async fn items(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(layer): ApiPath<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    check_format(&params)?;
    if let Some(crs) = params.get("bbox-crs")?
        && crs != CRS84
    {
        return Err(ApiError::bad_param(
            "bbox-crs",
            format!("only {CRS84} is supported, got `{crs}`"),
        ));
    }
    let scope = match params.get("bbox")? {
        Some(b) => Scope::BBox(sp::parse_bbox(b)?),
        None => Scope::All,
    };
    // OGC: a limit above the maximum is lowered to it, not refused.
    let limit = match params.parse_as::<usize>("limit", "a whole number ≥ 1")? {
        None => state.limits.default_limit,
        Some(0) => {
            return Err(ApiError::bad_param("limit", "`limit` must be at least 1"));
        }
        Some(l) => l.min(state.limits.max_limit),
    };
    let cursor = params
        .get("cursor")?
        .map(query::Cursor::decode)
        .transpose()?;
    let mut filter_params: Vec<(String, String)> = params.0.clone();
    if let Some(dt) = params.get("datetime")?
        && has_time(layer)
    {
        filter_params.push(("available_from".into(), datetime_range(dt)?));
    }
    let filter = Filter::parse(layer, &filter_params, ITEMS_PARAMS)?.for_access(&access);
    let q = LayerQuery {
        layer,
        scope,
        filter,
        origin: None,
        page: PageRequest { limit, cursor },
    };
    let page_request = q.page;
    let (snap, page) = run(false, state.snapshot.load(), move |s| {
        query::search(s, &q, None)
    })
    .await?;
    let base = base_url(&headers);
    let path = uri.path();
    let mut links = vec![
        link(
            "self",
            &with_cursor(&base, path, &params.0, page_request.cursor),
            GEOJSON,
        ),
        link(
            "collection",
            &format!("{base}/ogc/collections/{}", layer.id()),
            JSON,
        ),
    ];
    if let Some(c) = page.next {
        links.push(link(
            "next",
            &with_cursor(&base, path, &params.0, Some(c)),
            GEOJSON,
        ));
    }
    if let Some(c) = page.prev {
        links.push(link(
            "prev",
            &with_cursor(&base, path, &params.0, (c.offset > 0).then_some(c)),
            GEOJSON,
        ));
    }
    let data = snap.layer(layer);
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = feature_collection(
        &page,
        |out, hit| write_feature(out, data, hit.row, |_| {}, None),
        &links,
        &[("timeStamp", json!(stamp))],
    );
    Ok(respond(body, GEOJSON))
}

/// `GET /ogc/collections/{layer}/items/{id}`: one feature.
pub async fn item(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    let id: FeatureId = id.parse().map_err(|_| ApiError::FeatureNotFound {
        layer,
        id: id.clone(),
    })?;
    let snap = state.snapshot.load();
    let data = snap.layer(layer);
    // A feature the caller may not see does not exist for them.
    let visible = Visibility::new(&access, data);
    let row = data
        .row_of(id)
        .filter(|&row| visible.row_visible(row))
        .ok_or(ApiError::not_found(layer, id))?;
    let base = base_url(&headers);
    let collection = format!("{base}/ogc/collections/{}", layer.id());
    let links = json!([
        link("self", &format!("{collection}/items/{id}"), GEOJSON),
        link("collection", &collection, JSON),
    ]);
    let mut out = String::new();
    write_feature(
        &mut out,
        data,
        row,
        |_| {},
        Some(&format!("\"links\":{links}")),
    );
    Ok(respond(out, GEOJSON))
}

/// `f=json` or `f=geojson` are the only encodings.
fn check_format(params: &Params) -> Result<(), ApiError> {
    match params.get("f")? {
        None | Some("json" | "geojson") => Ok(()),
        Some(other) => Err(ApiError::bad_param(
            "f",
            format!("unknown format `{other}`; this server answers json (GeoJSON)"),
        )),
    }
}

/// Layers with a temporal property (`available_from`).
fn has_time(layer: Layer) -> bool {
    matches!(layer, Layer::Plots | Layer::Buildings)
}

/// An OGC `datetime` (instant, or interval `start/end` with `..` or empty for an open end) as
/// a date range of the filter grammar. Times of day are dropped: the property is a date.
fn datetime_range(dt: &str) -> Result<String, ApiError> {
    let bad = || {
        ApiError::bad_param(
            "datetime",
            format!(
                "`datetime` must be a date or date-time (RFC 3339) or an interval start/end with `..` for an open end, got `{dt}`"
            ),
        )
    };
    let date = |t: &str| -> Result<String, ApiError> {
        let t = t.trim();
        if t.is_empty() || t == ".." {
            return Ok(String::new());
        }
        let d = t.get(..10).ok_or_else(bad)?;
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| bad())?;
        if t.len() > 10 && !matches!(t.as_bytes()[10], b'T' | b't' | b' ') {
            return Err(bad());
        }
        Ok(d.to_string())
    };
    match dt.split_once('/') {
        None => {
            let d = date(dt)?;
            if d.is_empty() {
                return Err(bad());
            }
            Ok(format!("{d}..{d}"))
        }
        Some((a, b)) => {
            let (a, b) = (date(a)?, date(b)?);
            if a.is_empty() && b.is_empty() {
                return Err(bad());
            }
            if !a.is_empty() && !b.is_empty() && a > b {
                return Err(ApiError::bad_param(
                    "datetime",
                    format!("`datetime` interval {dt} ends before it starts"),
                ));
            }
            Ok(format!("{a}..{b}"))
        }
    }
}
