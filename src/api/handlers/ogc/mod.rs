//! OGC API – Features under `/ogc`, so QGIS, ArcGIS and GDAL load the layers natively:
//! Part 1 (Core, GeoJSON, OpenAPI 3 as JSON), Part 2 (CRS by reference: `crs`, `bbox-crs`,
//! `Content-Crs`, see [`crs`]) and Part 3 (queryables and CQL2 `filter`, see [`queryables`] and
//! `index::cql2`) and Part 4 (create, replace, update, delete through the editing API, see
//! [`edit`]). Collections are the layers; items are paged with `limit` (at most the
//! server's cap: a larger value is lowered to it, as the standard asks, not refused), `bbox`
//! (CRS84 unless `bbox-crs`; a box crossing the antimeridian, `minx > maxx`, is two boxes),
//! `datetime` (the `available_from` date of plots and buildings; other layers have no time and
//! ignore it), any property filter of the filter grammar and a CQL2 `filter`, sorted by
//! `sortby` (typed fields, `+`/`-`, ties by id), trimmed to `properties`; `next` links follow
//! cursors bound to the data generation and the query, its sort included.

pub mod api_doc;
pub mod crs;
pub mod edit;
pub mod queryables;

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use geo_types::{Geometry, MultiPolygon};
use serde_json::{Value as Json, json};

use self::crs::{CRS84, OgcCrs, Transform};
use crate::api::extract::{ApiPath, Caller, Params};
use crate::api::geojson::{
    GEOJSON, base_url, feature_collection, link, page_links, respond, write_feature,
};
use crate::api::handlers::{run, visible_row};
use crate::api::{ApiError, AppState};
use crate::index::cql2::{Cql2Filter, FilterCrsError, FilterLang, bbox_geometry};
use crate::index::{Filter, LayerData, LayerView};
use crate::model::{Layer, geometry_to_json};
use crate::query::{self, Hit, LayerQuery, Relation, Scope};
use crate::request::{self, Endpoint, search as sp};

pub use api_doc::api_definition;
pub use queryables::{feature_schema, queryables, sortables};

const JSON: &str = "application/json";
/// The OGC link relation of queryables.
const REL_QUERYABLES: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";
/// The OGC link relation of sortables.
const REL_SORTABLES: &str = "http://www.opengis.net/def/rel/ogc/1.0/sortables";
const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    // The names of the draft some clients (QGIS) still look for.
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-operators",
];

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
            link("service-desc", &format!("{base}/ogc/api"), "application/vnd.oai.openapi+json;version=3.1"),
            link("conformance", &format!("{base}/ogc/conformance"), JSON),
            link("http://www.opengis.net/def/rel/ogc/1.0/conformance", &format!("{base}/ogc/conformance"), JSON),
            link("data", &format!("{base}/ogc/collections"), JSON),
            link("http://www.opengis.net/def/rel/ogc/1.0/data", &format!("{base}/ogc/collections"), JSON),
        ],
    }))
}

/// `GET /ogc/conformance`: the conformance classes implemented.
pub async fn conformance() -> Response {
    json_response(json!({ "conformsTo": CONFORMANCE }))
}

/// A collection: its extent and feature count are those of the features the view shows.
fn collection_json(base: &str, view: &LayerView) -> Json {
    let layer = view.layer();
    let extent = view.extent();
    let bbox = extent.bbox().unwrap_or([-180.0, -90.0, 180.0, 90.0]);
    let href = format!("{base}/ogc/collections/{}", layer.id());
    let schema = queryables::SCHEMA_JSON;
    json!({
        "id": layer.id(),
        "title": layer.title(),
        "description": format!("{} ({} features; geometry: {})", layer.title(), extent.count, layer.geometry_kind().describe()),
        "itemType": "feature",
        "crs": crs::supported_uris(),
        "storageCrs": CRS84,
        "extent": { "spatial": { "bbox": [bbox], "crs": CRS84 } },
        "geometryType": queryables::geometry_schema(layer)["format"],
        "links": [
            link("self", &href, JSON),
            link("items", &format!("{href}/items"), GEOJSON),
            link(REL_QUERYABLES, &format!("{href}/queryables"), schema),
            link("queryables", &format!("{href}/queryables"), schema),
            link(REL_SORTABLES, &format!("{href}/sortables"), schema),
            link("describedby", &format!("{href}/schema"), schema),
            link("describedBy", &format!("{href}/schema"), schema),
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
        .view(&access)
        .layers()
        .map(|l| collection_json(&base, &l))
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
        &snap.view(&access).layer(layer),
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
    let out_crs = OgcCrs::param(&params, "crs")?;
    let scope = bbox_scope(&params)?;
    // OGC: a limit above the maximum is lowered to it, not refused.
    let page = request::ogc::page(&params, &state.limits)?;
    let snap = state.snapshot.load();
    let view = snap.view(&access);
    let properties = request::ogc::properties(&view.layer(layer), &params)?;
    let q = LayerQuery {
        layer,
        scope,
        filter: items_filter(&view.layer(layer), &params)?,
        origin: None,
        sort: request::ogc::sortby(layer, &params)?,
        page,
    };
    drop(snap);
    let (snap, page) = run(false, state.snapshot.load(), move |s| {
        query::search(&s.view(&access), &q, None)
    })
    .await?;
    let links = items_links(&headers, uri.path(), &params, &page, layer);
    let writer = FeatureWriter::new(out_crs, properties)?;
    let body = items_body(&page, snap.layer(layer), &writer, &links)?;
    Ok(with_content_crs(respond(body, GEOJSON), out_crs))
}

/// The links of a page of items: the page links with the collection's second.
fn items_links(
    headers: &HeaderMap,
    path: &str,
    params: &Params,
    page: &query::Page<Hit>,
    layer: Layer,
) -> Vec<Json> {
    let base = base_url(headers);
    let mut links = page_links(&base, path, &params.0, page);
    let collection = format!("{base}/ogc/collections/{}", layer.id());
    links.insert(1, link("collection", &collection, JSON));
    links
}

/// The FeatureCollection of a page of items as `writer` writes them, stamped with the time of the answer.
fn items_body(
    page: &query::Page<Hit>,
    data: &LayerData,
    writer: &FeatureWriter,
    links: &[Json],
) -> Result<String, ApiError> {
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut failed = None;
    let body = feature_collection(
        page,
        |out, hit: &Hit| {
            if let Err(e) = writer.write(out, data, hit.row, None) {
                failed.get_or_insert(e);
            }
        },
        links,
        &[("timeStamp", json!(stamp))],
    );
    match failed {
        Some(e) => Err(e),
        None => Ok(body),
    }
}

/// The attribute filter of an items request: property parameters, `datetime`, and a CQL2
/// `filter` (in `filter-lang`, its geometries in `filter-crs`); the search applies the
/// caller's view.
fn items_filter(view: &LayerView, params: &Params) -> Result<Filter, ApiError> {
    let layer = view.layer();
    let filter_params = request::ogc::filter_pairs(layer, params)?;
    let mut filter = request::filter(view, &filter_params, Endpoint::OgcItems)?;
    let lang = match params.get("filter-lang")? {
        None => FilterLang::Text,
        Some(l) => FilterLang::parse(l).ok_or_else(|| {
            ApiError::bad_param(
                "filter-lang",
                format!("unknown filter language `{l}`; this server reads cql2-text and cql2-json"),
            )
        })?,
    };
    let filter_crs = OgcCrs::param(params, "filter-crs")?;
    if let Some(text) = params.get("filter")? {
        let to_crs84 = filter_crs.to_crs84()?;
        let apply = |g: &mut Geometry<f64>| {
            to_crs84
                .apply(g)
                .map_err(|e| FilterCrsError::new(e.to_string()))
        };
        let cql2 = Cql2Filter::parse(layer, text, lang, &apply)
            .map_err(|e| ApiError::bad_param("filter", e.to_string()))?;
        filter = filter.with_cql2(cql2);
    }
    Ok(filter)
}

/// The spatial scope of `bbox` (in `bbox-crs`): a box, or two when it crosses the
/// antimeridian.
fn bbox_scope(params: &Params) -> Result<Scope, ApiError> {
    let bbox_crs = OgcCrs::param(params, "bbox-crs")?;
    let Some(text) = params.get("bbox")? else {
        return Ok(Scope::All);
    };
    if bbox_crs == OgcCrs::Crs84 {
        return crs84_bbox_scope(text);
    }
    let b = bbox_numbers(text)?;
    if b[0] > b[2] || b[1] > b[3] {
        // An order between the numbers: within the schema, not answerable (a 422).
        return Err(ApiError::Unprocessable {
            param: "bbox".into(),
            detail: format!(
                "`bbox` in {}: the minimum exceeds the maximum",
                bbox_crs.uri()
            ),
        });
    }
    let shape = bbox_crs
        .to_crs84()?
        .box_to_crs84(b)
        .map_err(|e| ApiError::bad_param("bbox", e.to_string()))?;
    Ok(intersecting(MultiPolygon(vec![shape])))
}

/// A CRS84 `bbox`: a box, or, when it crosses the antimeridian (west edge east of the east
/// edge), the two boxes either side of it.
fn crs84_bbox_scope(text: &str) -> Result<Scope, ApiError> {
    let b = bbox_numbers(text)?;
    if b[0] > b[2] && b[1] <= b[3] && b[0] <= 180.0 && b[2] >= -180.0 {
        let Geometry::MultiPolygon(shape) = bbox_geometry(b) else {
            return Err(ApiError::Internal("antimeridian box".into()));
        };
        return Ok(intersecting(shape));
    }
    // The numbers were read above; what is left is their ranges and order, which depend on
    // `bbox-crs` (a schema cannot tie them to it): a 422.
    let b = sp::parse_bbox(text).map_err(|e| ApiError::Unprocessable {
        param: "bbox".into(),
        detail: e.to_string(),
    })?;
    Ok(Scope::BBox(b))
}

/// The features intersecting `shape`.
fn intersecting(shape: MultiPolygon<f64>) -> Scope {
    Scope::Polygon {
        shape,
        relation: Relation::Intersects,
    }
}

/// Four numbers (or six, the heights dropped) of a `bbox`.
fn bbox_numbers(v: &str) -> Result<[f64; 4], ApiError> {
    let bad = || {
        ApiError::bad_param(
            "bbox",
            format!("`bbox` must be four numbers minx,miny,maxx,maxy, got `{v}`"),
        )
    };
    let nums: Vec<f64> = v
        .split(',')
        .map(|t| t.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    match nums.as_slice() {
        [a, b, c, d] => Ok([*a, *b, *c, *d]),
        [a, b, _, d, e, _] => Ok([*a, *b, *d, *e]),
        _ => Err(bad()),
    }
}

/// Writes features in the requested CRS with the requested properties: the cached GeoJSON
/// text in CRS84 with every property, a transformed or trimmed copy otherwise.
struct FeatureWriter {
    transform: Option<Transform>,
    /// The properties kept (`properties=`); `None`: all.
    properties: Option<Vec<String>>,
}

impl FeatureWriter {
    fn new(crs: OgcCrs, properties: Option<Vec<String>>) -> Result<FeatureWriter, ApiError> {
        let t = crs.from_crs84()?;
        Ok(FeatureWriter {
            transform: (!t.is_identity()).then_some(t),
            properties,
        })
    }

    fn write(
        &self,
        out: &mut String,
        data: &LayerData,
        row: u32,
        members: Option<&str>,
    ) -> Result<(), ApiError> {
        if self.transform.is_none() && self.properties.is_none() {
            write_feature(out, data, row, |_| {}, members);
            return Ok(());
        }
        let mut f = data.feature_json(row);
        if let Some(t) = &self.transform {
            let mut g = data.geometry(row).clone();
            t.apply(&mut g)
                .map_err(|e| ApiError::bad_param("crs", e.to_string()))?;
            f["geometry"] = geometry_to_json(&g);
        }
        if let (Some(keep), Some(Json::Object(props))) = (&self.properties, f.get_mut("properties"))
        {
            props.retain(|k, _| keep.contains(k));
        }
        let text = f.to_string();
        match members {
            None => out.push_str(&text),
            Some(m) => {
                out.push_str(&text[..text.len().saturating_sub(1)]);
                out.push(',');
                out.push_str(m);
                out.push('}');
            }
        }
        Ok(())
    }
}

/// Adds the `Content-Crs` header (Part 2).
fn with_content_crs(mut r: Response, crs: OgcCrs) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        r.headers_mut().insert("content-crs", v);
    }
    r
}

/// `GET /ogc/collections/{layer}/items/{id}`: one feature.
pub async fn item(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    check_format(&params)?;
    let out_crs = OgcCrs::param(&params, "crs")?;
    let snap = state.snapshot.load();
    let (id, row) = visible_row(&snap, &access, layer, &id)?;
    let properties = request::ogc::properties(&snap.view(&access).layer(layer), &params)?;
    let data = snap.layer(layer);
    let base = base_url(&headers);
    let collection = format!("{base}/ogc/collections/{}", layer.id());
    let links = json!([
        link("self", &format!("{collection}/items/{id}"), GEOJSON),
        link("collection", &collection, JSON),
    ]);
    let mut out = String::new();
    FeatureWriter::new(out_crs, properties)?.write(
        &mut out,
        data,
        row,
        Some(&format!("\"links\":{links}")),
    )?;
    Ok(with_content_crs(respond(out, GEOJSON), out_crs))
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
