//! Search endpoints: one layer (radius, nearest, box, polygon), investor sites over plots and
//! buildings, sites near waste streams, and the sites around one deposit.

use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value as Json, json};

use std::sync::Arc;

use crate::api::extract::{ApiJson, ApiPath, Caller, Params, check_vertices};
use crate::api::geojson::{
    GEOJSON, Props, base_url, feature_collection, link, respond, with_cursor, write_feature,
};
use crate::api::handlers::routing::engine as routing_engine;
use crate::api::handlers::run;
use crate::api::limits::spawn_blocking;
use crate::api::search_params::{self as sp, DRIVE_PARAMS, DriveSpec, SPATIAL_PARAMS};
use crate::api::{ApiError, AppState};
use crate::index::{Filter, Snapshot};
use crate::model::{Access, FeatureId, Layer, MATERIALS};
use crate::query::Relation;
use crate::query::{
    self, DepositDriveTimes, DriveGate, Hit, LayerQuery, NearWasteQuery, Page, RowTimes, Scope,
    SiteFilter, SiteHit, SiteQuery, SiteSort, WasteSite, WasteSort,
};
use crate::routing::Direction;
use geo_types::MultiPolygon;

/// `GET /layers/{layer}/search`: radius, nearest, box or whole-layer search with filters.
pub async fn layer_search(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(layer): ApiPath<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    layer_search_impl(state, access, &layer, &uri, &headers, params, None).await
}

/// `POST /layers/{layer}/search`: features intersecting or within a GeoJSON polygon.
pub async fn layer_search_polygon(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(layer): ApiPath<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
    ApiJson(body): ApiJson<Json>,
) -> Result<Response, ApiError> {
    layer_search_impl(state, access, &layer, &uri, &headers, params, Some(body)).await
}

async fn layer_search_impl(
    state: AppState,
    access: Access,
    layer: &str,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    params: Params,
    body: Option<Json>,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    let drive = sp::drive(&params.0, &state.limits)?;
    let polygon = polygon_of(&state, body, &params).await?;
    let snap = state.snapshot.load();
    let (scope, origin) = sp::scope(&params.0, &state.limits, &snap.view(&access), polygon)?;
    let page = sp::page(&params.0, &state.limits)?;
    let reserved = [SPATIAL_PARAMS, DRIVE_PARAMS].concat();
    let filter = Filter::parse(layer, &params.0, &reserved)?;
    let times = drive_times(&state, drive, &snap, &[layer]).await?;
    let q = LayerQuery {
        layer,
        scope,
        filter,
        origin,
        page,
    };
    let cheap = is_cheap(&q.scope);
    let (snap, result) = run(cheap, snap, move |s| {
        query::search(&s.view(&access), &q, gate(&times))
    })
    .await?;
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
    let drive = sp::drive(&params.0, &state.limits)?;
    let polygon = polygon_of(&state, body, &params).await?;
    let snap = state.snapshot.load();
    // Sites are public data: the search reads the public view, whoever asks.
    let access = Access::ANONYMOUS;
    let (scope, origin) = sp::scope(&params.0, &state.limits, &snap.view(&access), polygon)?;
    let page = sp::page(&params.0, &state.limits)?;
    let has_point = scope.centre().or(origin).is_some();
    let sort = match params.get("sort")? {
        Some(s) => SiteSort::parse(s, has_point)?,
        None => SiteSort::default_for(has_point),
    };
    let mut reserved: Vec<&str> = [SPATIAL_PARAMS, DRIVE_PARAMS].concat();
    reserved.push("sort");
    let sites = SiteFilter::parse(&params.0, &reserved)?;
    let times = drive_times(&state, drive, &snap, &[Layer::Plots, Layer::Buildings]).await?;
    let q = SiteQuery {
        sites,
        scope,
        origin,
        sort,
        page,
    };
    let cheap = is_cheap(&q.scope);
    let (snap, result) = run(cheap, snap, move |s| {
        query::site_search(&s.view(&access), &q, gate(&times))
    })
    .await?;
    let links = page_links(headers, uri.path(), &params.0, &result);
    let body = feature_collection(&result, |out, s| write_site(out, &snap, s), &links, &[]);
    Ok(respond(body, GEOJSON))
}

/// Parameters of `/sites/near-waste` besides the spatial ones and site filters.
const WASTE_PARAMS: &[&str] = &[
    "materials",
    "within_km",
    "max_drive_min",
    "min_total",
    "deposits_limit",
];

/// Fastest straight-line progress of a car on French roads, km/h (130 km/h motorways at most;
/// a margin for straight roads): a drive of t minutes stays within t × this / 60 km.
const MAX_CROW_KMH: f64 = 150.0;

/// Most deposits the drive-time join runs a road search from (each is one bounded Dijkstra).
const MAX_DRIVE_DEPOSITS: usize = 2_000;

/// `GET /sites/near-waste`: sites with enough waste of given materials within a distance.
pub async fn near_waste(
    State(state): State<AppState>,
    Caller(access): Caller,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let drive = sp::drive(&params.0, &state.limits)?;
    let snap = state.snapshot.load();
    let (scope, _) = sp::scope(&params.0, &state.limits, &snap.view(&access), None)?;
    let page = sp::page(&params.0, &state.limits)?;
    let materials = materials(params.get("materials")?)?;
    let unit = NearWasteQuery::unit_of(&materials)?;
    let max_drive_min = params.parse_as::<f64>("max_drive_min", "a drive time in minutes")?;
    if let Some(m) = max_drive_min {
        if params.get("within_km")?.is_some() {
            return Err(ApiError::bad_param(
                "max_drive_min",
                "give `within_km` or `max_drive_min`, not both",
            ));
        }
        if !(m.is_finite() && m > 0.0) {
            return Err(ApiError::bad_param(
                "max_drive_min",
                format!("`max_drive_min` must be a number of minutes above 0, got {m}"),
            ));
        }
        crate::api::Limits::check("max_drive_min", m, state.limits.max_contour_min)?;
    }
    let within_m = match params.parse_as::<f64>("within_km", "a distance in kilometres")? {
        // The straight-line bound of a drive: its road part, plus the snapping distance at
        // each end (features are snapped to the road, up to the engine's limit).
        _ if max_drive_min.is_some() => {
            let snap_m = state
                .routing
                .as_ref()
                .and_then(|r| r.engine(crate::routing::ProfileId::Car).ok())
                .map_or(1_000.0, |e| e.max_snap_m());
            max_drive_min.unwrap_or_default() / 60.0 * MAX_CROW_KMH * 1000.0 + 2.0 * snap_m
        }
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
                "missing `within_km` (the largest distance from a site to a deposit, in km) or `max_drive_min` (the longest drive from a deposit to a site, in minutes)",
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
    let mut reserved: Vec<&str> = [SPATIAL_PARAMS, DRIVE_PARAMS].concat();
    reserved.extend(WASTE_PARAMS);
    reserved.push("sort");
    let sites = SiteFilter::parse(&site_params, &reserved)?;
    let deposits = Filter::parse(Layer::WasteDeposits, &deposit_params, &[])?;
    let times = drive_times(&state, drive, &snap, &[Layer::Plots, Layer::Buildings]).await?;
    let pairs = match max_drive_min {
        None => None,
        Some(m) => Some(deposit_drive_times(&state, &snap, &access, &deposits, m * 60.0).await?),
    };
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
    let (snap, result) = run(false, snap, move |s| {
        query::near_waste(&s.view(&access), &q, gate(&times), pairs.as_deref())
    })
    .await?;
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
    Caller(access): Caller,
    ApiPath(id): ApiPath<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let drive = sp::drive(&params.0, &state.limits)?;
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
    let reserved = [&["within_km", "limit", "cursor", "sort"], DRIVE_PARAMS].concat();
    let sites = SiteFilter::parse(&params.0, &reserved)?;
    let snap = state.snapshot.load();
    // A deposit the caller may not see does not exist for them.
    if snap
        .view(&access)
        .layer(Layer::WasteDeposits)
        .get(id)
        .is_none()
    {
        return Err(ApiError::not_found(Layer::WasteDeposits, id));
    }
    let times = drive_times(&state, drive, &snap, &[Layer::Plots, Layer::Buildings]).await?;
    let (snap, (row, result)) = run(within_m <= 20_000.0, snap, move |s| {
        query::near_deposit(
            &s.view(&access),
            id,
            within_m,
            sites,
            sort,
            page,
            gate(&times),
        )
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
                p.num("travel_time_min", round2(s / 60.0));
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
                let mut j = json!({
                    "id": d.id,
                    "material": d.material,
                    "quantity": round2(d.quantity),
                    "distance_m": round2(d.distance_m),
                });
                if let Some(s) = d.drive_s {
                    j["travel_time_min"] = json!(round2(s / 60.0));
                }
                j
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

/// The query polygon of a POST body and its relation: the vertex cap, then parsing and
/// validation on the blocking pool, under the request's timeout and cancellation.
async fn polygon_of(
    state: &AppState,
    body: Option<Json>,
    params: &Params,
) -> Result<Option<(MultiPolygon<f64>, Relation)>, ApiError> {
    let Some(body) = body else {
        return Ok(None);
    };
    let limits = state.limits.clone();
    let pairs = params.0.clone();
    spawn_blocking("polygon validation", move || {
        check_vertices(&body, &limits)?;
        sp::polygon_body(&body, &pairs).map(Some)
    })
    .await
}

/// Travel times of a drive-time search, and its budget.
type Times = Option<(Arc<RowTimes>, f64)>;

/// The gate of a query from the travel times computed for it.
fn gate(times: &Times) -> Option<DriveGate<'_>> {
    times.as_ref().map(|(t, max_s)| DriveGate {
        times: t.as_ref(),
        max_s: *max_s,
    })
}

/// Travel times from (or to) the drive-time point to the rows of `layers`: one bounded
/// Dijkstra on the road graph, on the blocking pool; features are snapped to the roads once
/// per layer snapshot. A point too far from any road is a 400 naming `drive_from`/`drive_to`.
async fn drive_times(
    state: &AppState,
    spec: Option<DriveSpec>,
    snap: &Arc<Snapshot>,
    layers: &[Layer],
) -> Result<Times, ApiError> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let engine = routing_engine(state, spec.profile)?;
    let snap = Arc::clone(snap);
    let layers = layers.to_vec();
    let times = spawn_blocking("drive-time", move || -> Result<RowTimes, ApiError> {
        let tt = engine
            .travel_times(&[spec.origin], spec.direction, spec.max_s)
            .map_err(ApiError::routing(spec.param))?;
        let mut out = RowTimes::default();
        for layer in layers {
            let data = snap.layer(layer);
            out.insert(layer, data.len(), tt.to_features(data));
        }
        Ok(out)
    })
    .await?;
    Ok(Some((Arc::new(times), spec.max_s)))
}

/// Drive times from each deposit `access` may see and `deposits` admits to the plots and buildings within
/// `max_s`: one bounded Dijkstra per deposit (by car), on the blocking pool. Deposits farther
/// than the snapping limit from a road are left out (they cannot be driven from).
async fn deposit_drive_times(
    state: &AppState,
    snap: &Arc<Snapshot>,
    access: &Access,
    deposits: &Filter,
    max_s: f64,
) -> Result<Arc<DepositDriveTimes>, ApiError> {
    let engine = routing_engine(state, crate::routing::ProfileId::Car)?;
    let visible = snap.view(access).layer(Layer::WasteDeposits);
    let rows: Vec<u32> = visible
        .filter(deposits)
        .rows_in(0..visible.data().len() as u32)
        .collect();
    if rows.len() > MAX_DRIVE_DEPOSITS {
        return Err(ApiError::bad_param(
            "max_drive_min",
            format!(
                "{} deposits match: the drive-time join runs one road search per deposit and takes at most {MAX_DRIVE_DEPOSITS}; narrow it (materials, deposit.quantity_min=...) or use within_km",
                rows.len()
            ),
        ));
    }
    let snap = Arc::clone(snap);
    let out = spawn_blocking("drive-time", move || {
        let data = snap.layer(Layer::WasteDeposits);
        let mut out = DepositDriveTimes::new(max_s);
        for row in rows {
            if crate::cancel::cancelled() {
                break;
            }
            let geo_types::Geometry::Point(p) = data.geometry(row) else {
                continue;
            };
            let Ok(tt) = engine.travel_times(&[[p.x(), p.y()]], Direction::From, max_s) else {
                continue;
            };
            for layer in [Layer::Plots, Layer::Buildings] {
                for (site, s) in tt.to_features(snap.layer(layer)) {
                    out.insert(row, layer, site, s);
                }
            }
        }
        Ok(out)
    })
    .await?;
    Ok(Arc::new(out))
}
