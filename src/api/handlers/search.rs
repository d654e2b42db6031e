//! Search endpoints: one layer (radius, nearest, box, polygon), investor sites over plots and
//! buildings, sites near waste streams, and the sites around one deposit.

use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value as Json, json};

use crate::api::extract::{ApiJson, ApiPath, Params};
use crate::api::geojson::{
    GEOJSON, Props, base_url, feature_collection, link, respond, with_cursor, write_feature,
};
use crate::api::handlers::run;
use crate::api::search_params::{self as sp, SPATIAL_PARAMS};
use crate::api::{ApiError, AppState};
use crate::index::{Filter, Snapshot};
use crate::model::{FeatureId, Layer, MATERIALS};
use crate::query::{
    self, Hit, LayerQuery, NearWasteQuery, Page, Scope, SiteFilter, SiteHit, SiteQuery, SiteSort,
    WasteSite, WasteSort,
};

/// `GET /layers/{layer}/search`: radius, nearest, box or whole-layer search with filters.
pub async fn layer_search(
    State(state): State<AppState>,
    ApiPath(layer): ApiPath<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    layer_search_impl(state, &layer, &uri, &headers, params, None).await
}

/// `POST /layers/{layer}/search`: features intersecting or within a GeoJSON polygon.
pub async fn layer_search_polygon(
    State(state): State<AppState>,
    ApiPath(layer): ApiPath<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
    ApiJson(body): ApiJson<Json>,
) -> Result<Response, ApiError> {
    layer_search_impl(state, &layer, &uri, &headers, params, Some(body)).await
}

async fn layer_search_impl(
    state: AppState,
    layer: &str,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    params: Params,
    body: Option<Json>,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    sp::refuse_drive(&params.0)?;
    let polygon = body.map(|b| sp::polygon_body(&b, &params.0)).transpose()?;
    let snap = state.snapshot.load();
    let (scope, origin) = sp::scope(&params.0, &state.limits, &snap, polygon)?;
    let page = sp::page(&params.0, &state.limits)?;
    let filter = Filter::parse(layer, &params.0, SPATIAL_PARAMS)?;
    let q = LayerQuery {
        layer,
        scope,
        filter,
        origin,
        page,
    };
    let cheap = is_cheap(&q.scope);
    let (snap, result) = run(cheap, snap, move |s| query::search(s, &q, None)).await?;
    let links = page_links(headers, uri.path(), &params.0, &result);
    let body = feature_collection(
        &result,
        |out, hit| write_hit(out, &snap, hit, |_| {}),
        &links,
        &[],
    );
    Ok(respond(body, GEOJSON))
}

/// `GET /sites/search`: plots and buildings together.
pub async fn site_search(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    site_search_impl(state, &uri, &headers, params, None).await
}

/// `POST /sites/search`: plots and buildings inside or touching a GeoJSON polygon.
pub async fn site_search_polygon(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
    ApiJson(body): ApiJson<Json>,
) -> Result<Response, ApiError> {
    site_search_impl(state, &uri, &headers, params, Some(body)).await
}

async fn site_search_impl(
    state: AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    params: Params,
    body: Option<Json>,
) -> Result<Response, ApiError> {
    sp::refuse_drive(&params.0)?;
    let polygon = body.map(|b| sp::polygon_body(&b, &params.0)).transpose()?;
    let snap = state.snapshot.load();
    let (scope, origin) = sp::scope(&params.0, &state.limits, &snap, polygon)?;
    let page = sp::page(&params.0, &state.limits)?;
    let has_point = scope.centre().or(origin).is_some();
    let sort = match params.get("sort")? {
        Some(s) => SiteSort::parse(s, has_point)?,
        None => SiteSort::default_for(has_point),
    };
    let mut reserved: Vec<&str> = SPATIAL_PARAMS.to_vec();
    reserved.push("sort");
    let sites = SiteFilter::parse(&params.0, &reserved)?;
    let q = SiteQuery {
        sites,
        scope,
        origin,
        sort,
        page,
    };
    let cheap = is_cheap(&q.scope);
    let (snap, result) = run(cheap, snap, move |s| query::site_search(s, &q, None)).await?;
    let links = page_links(headers, uri.path(), &params.0, &result);
    let body = feature_collection(&result, |out, s| write_site(out, &snap, s), &links, &[]);
    Ok(respond(body, GEOJSON))
}

/// Parameters of `/sites/near-waste` besides the spatial ones and site filters.
const WASTE_PARAMS: &[&str] = &["materials", "within_km", "min_total", "deposits_limit"];

/// `GET /sites/near-waste`: sites with enough waste of given materials within a distance.
pub async fn near_waste(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    sp::refuse_drive(&params.0)?;
    let snap = state.snapshot.load();
    let (scope, _) = sp::scope(&params.0, &state.limits, &snap, None)?;
    let page = sp::page(&params.0, &state.limits)?;
    let materials = materials(params.get("materials")?)?;
    let unit = NearWasteQuery::unit_of(&materials)?;
    let within_m = match params.parse_as::<f64>("within_km", "a distance in kilometres")? {
        Some(km) => query::check_radius("within_km", km * 1000.0, &sp::caps(&state.limits))
            .map_err(|_| {
                ApiError::bad_param(
                    "within_km",
                    format!(
                        "`within_km` must be between 0 and {} km, got {km}",
                        state.limits.max_radius_m / 1000.0
                    ),
                )
            })?,
        None => {
            return Err(ApiError::bad_param(
                "within_km",
                "missing `within_km`: the largest distance from a site to a deposit, in km",
            ));
        }
    };
    let min_total = params
        .parse_as::<f64>("min_total", "a yearly quantity ≥ 0")?
        .unwrap_or(0.0);
    if !(min_total.is_finite() && min_total >= 0.0) {
        return Err(ApiError::bad_param(
            "min_total",
            format!("`min_total` must be a yearly quantity ≥ 0, got {min_total}"),
        ));
    }
    let sort = params
        .get("sort")?
        .map(WasteSort::parse)
        .transpose()?
        .unwrap_or(WasteSort::Total);
    let deposits_limit = params
        .parse_as::<usize>("deposits_limit", "a whole number")?
        .unwrap_or(20)
        .min(state.limits.max_limit);
    let (site_params, deposit_params) = split_deposit_params(&params.0, &materials);
    let mut reserved: Vec<&str> = SPATIAL_PARAMS.to_vec();
    reserved.extend(WASTE_PARAMS);
    reserved.push("sort");
    let sites = SiteFilter::parse(&site_params, &reserved)?;
    let deposits = Filter::parse(Layer::WasteDeposits, &deposit_params, &[])?;
    let q = NearWasteQuery {
        sites,
        scope,
        deposits,
        materials,
        unit,
        within_m,
        min_total,
        sort,
        deposits_limit,
        page,
    };
    let (snap, result) = run(false, snap, move |s| query::near_waste(s, &q, None)).await?;
    let links = page_links(&headers, uri.path(), &params.0, &result);
    let body = feature_collection(
        &result,
        |out, w| write_waste_site(out, &snap, w, unit),
        &links,
        &[("unit", json!(unit))],
    );
    Ok(respond(body, GEOJSON))
}

/// `GET /waste_deposits/{id}/sites`: candidate sites around one deposit.
pub async fn deposit_sites(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    sp::refuse_drive(&params.0)?;
    let id: FeatureId = id.parse().map_err(|_| ApiError::FeatureNotFound {
        layer: Layer::WasteDeposits,
        id: id.clone(),
    })?;
    let within_km = params
        .parse_as::<f64>("within_km", "a distance in kilometres")?
        .ok_or_else(|| {
            ApiError::bad_param(
                "within_km",
                "missing `within_km`: how far around the deposit to look, in km",
            )
        })?;
    let within_m = query::check_radius("within_km", within_km * 1000.0, &sp::caps(&state.limits))
        .map_err(|_| {
        ApiError::bad_param(
            "within_km",
            format!(
                "`within_km` must be between 0 and {} km, got {within_km}",
                state.limits.max_radius_m / 1000.0
            ),
        )
    })?;
    let page = sp::page(&params.0, &state.limits)?;
    let sort = match params.get("sort")? {
        Some(s) => SiteSort::parse(s, true)?,
        None => SiteSort::Distance,
    };
    let sites = SiteFilter::parse(&params.0, &["within_km", "limit", "cursor", "sort"])?;
    let snap = state.snapshot.load();
    let (snap, (row, result)) = run(within_m <= 20_000.0, snap, move |s| {
        query::near_deposit(s, id, within_m, sites, sort, page, None)
    })
    .await?;
    let deposit: Json = serde_json::from_str(snap.layer(Layer::WasteDeposits).feature_text(row))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let links = page_links(&headers, uri.path(), &params.0, &result);
    let body = feature_collection(
        &result,
        |out, s| write_site(out, &snap, s),
        &links,
        &[("deposit", deposit)],
    );
    Ok(respond(body, GEOJSON))
}

/// Searches small enough to answer on the async worker; the rest go to the blocking pool.
fn is_cheap(scope: &Scope) -> bool {
    match scope {
        Scope::Radius { radius_m, .. } => *radius_m <= 20_000.0,
        Scope::Nearest { k, .. } => *k <= 100,
        _ => false,
    }
}

/// `self`, `next` and `prev` links of a page.
fn page_links<T>(
    headers: &HeaderMap,
    path: &str,
    params: &[(String, String)],
    page: &Page<T>,
) -> Vec<Json> {
    let base = base_url(headers);
    let mut links = vec![link(
        "self",
        &with_cursor(
            &base,
            path,
            params,
            params
                .iter()
                .find(|(k, _)| k == "cursor")
                .and_then(|(_, v)| query::Cursor::decode(v).ok()),
        ),
        GEOJSON,
    )];
    if let Some(c) = page.next {
        links.push(link(
            "next",
            &with_cursor(&base, path, params, Some(c)),
            GEOJSON,
        ));
    }
    if let Some(c) = page.prev {
        let c = (c.offset > 0).then_some(c);
        links.push(link("prev", &with_cursor(&base, path, params, c), GEOJSON));
    }
    links
}

fn write_hit(out: &mut String, snap: &Snapshot, hit: &Hit, more: impl FnOnce(&mut Props)) {
    write_feature(
        out,
        snap.layer(hit.layer),
        hit.row,
        |p| {
            if let Some(d) = hit.distance_m {
                p.num("distance_m", d);
            }
            if let Some(s) = hit.drive_s {
                p.num("drive_min", s / 60.0);
            }
            more(p);
        },
        None,
    );
}

fn write_site(out: &mut String, snap: &Snapshot, s: &SiteHit) {
    write_hit(out, snap, &s.hit, |p| {
        p.text("layer", s.hit.layer.id());
        if let Some(a) = s.area_ha {
            p.num("site_area_ha", a);
        }
        if let Some(v) = s.price_eur {
            p.num("site_price_eur", v);
        }
    });
}

fn write_waste_site(out: &mut String, snap: &Snapshot, w: &WasteSite, unit: &str) {
    write_hit(out, snap, &w.site, |p| {
        p.text("layer", w.site.layer.id());
        p.num("waste_total", w.total);
        p.text("waste_unit", unit);
        p.num("waste_deposit_count", w.deposit_count as f64);
        let per: serde_json::Map<String, Json> = w
            .per_material
            .iter()
            .map(|(m, q)| (m.to_string(), json!(round2(*q))))
            .collect();
        p.json("waste_per_material", &Json::Object(per));
        let list: Vec<Json> = w
            .deposits
            .iter()
            .map(|d| {
                json!({
                    "id": d.id,
                    "material": d.material,
                    "quantity": round2(d.quantity),
                    "distance_m": round2(d.distance_m),
                })
            })
            .collect();
        p.json("waste_deposits", &Json::Array(list));
    });
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// `materials=wood,plastic`, each from the taxonomy.
fn materials(v: Option<&str>) -> Result<Vec<&'static str>, ApiError> {
    let v = v.ok_or_else(|| {
        ApiError::bad_param(
            "materials",
            format!(
                "missing `materials`: name one or more of {}",
                MATERIALS.join(", ")
            ),
        )
    })?;
    let mut out = Vec::new();
    for m in v.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let found = crate::model::enum_variant(m, MATERIALS).ok_or_else(|| {
            ApiError::bad_param(
                "materials",
                format!(
                    "unknown material `{m}`; valid materials are: {}",
                    MATERIALS.join(", ")
                ),
            )
        })?;
        if !out.contains(&found) {
            out.push(found);
        }
    }
    Ok(out)
}

type QueryPairs = Vec<(String, String)>;

/// Splits `deposit.<filter>` parameters (conditions on the deposits) from the site parameters,
/// and adds the materials to the deposit conditions.
fn split_deposit_params(
    params: &[(String, String)],
    materials: &[&str],
) -> (QueryPairs, QueryPairs) {
    let mut sites = Vec::new();
    let mut deposits = vec![("material".to_string(), materials.join(","))];
    for (k, v) in params {
        match k.strip_prefix("deposit.") {
            Some(field) => deposits.push((field.to_string(), v.clone())),
            None => sites.push((k.clone(), v.clone())),
        }
    }
    (sites, deposits)
}
