//! Search endpoints: one layer (radius, nearest, box, polygon), investor sites over plots and
//! buildings, sites near waste streams, and the sites around one deposit.

use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value as Json, json};

use std::sync::Arc;

use crate::api::extract::{ApiJson, ApiPath, Caller, Params, check_vertices};
use crate::api::geojson::{
    GEOJSON, Props, base_url, feature_collection, page_links, respond, write_feature,
};
use crate::api::handlers::routing::{coverage_json, engine as routing_engine};
use crate::api::handlers::{run, visible_row};
use crate::api::limits::spawn_blocking;
use crate::api::{ApiError, AppState};
use crate::index::{Filter, Snapshot};
use crate::model::{Access, Layer};
use crate::query::Relation;
use crate::query::{
    self, DepositDriveTimes, DepositLink, DriveGate, Hit, Page, RowTimes, Scope, SiteHit, WasteSite,
};
use crate::request::{self, DriveSpec, search as sp};
use crate::routing::AnswerCoverage;
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
    let view = snap.view(&access);
    let area = sp::area(&params.0, &state.limits, &view, polygon)?;
    let q = sp::layer_query(&view, layer, &params.0, area)?;
    let times = drive_times(&state, drive, &snap, &[layer]).await?;
    let coverage = coverage_member(&times);
    let cheap = is_cheap(&q.scope);
    let (snap, result) = run(cheap, snap, move |s| {
        query::search(&s.view(&access), &q, gate(&times))
    })
    .await?;
    let links = page_links(&base_url(headers), uri.path(), &params.0, &result);
    let body = feature_collection(
        &result,
        |out, hit| write_hit(out, &snap, hit, |_| {}),
        &links,
        &coverage,
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
    let area = sp::area(&params.0, &state.limits, &snap.view(&access), polygon)?;
    let q = request::site_search::plan(&params, area)?;
    let times = drive_times(&state, drive, &snap, &[Layer::Plots, Layer::Buildings]).await?;
    let coverage = coverage_member(&times);
    let cheap = is_cheap(&q.scope);
    let (snap, result) = run(cheap, snap, move |s| {
        query::site_search(&s.view(&access), &q, gate(&times))
    })
    .await?;
    let links = page_links(&base_url(headers), uri.path(), &params.0, &result);
    let body = feature_collection(
        &result,
        |out, s| write_site(out, &snap, s),
        &links,
        &coverage,
    );
    Ok(respond(body, GEOJSON))
}

/// `GET /sites/near-waste`: sites with enough waste of given materials within a distance.
pub async fn near_waste(
    State(state): State<AppState>,
    Caller(access): Caller,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let snap = state.snapshot.load();
    let view = snap.view(&access);
    let plan = request::near_waste::plan(&params, &state.limits, &view, snap_m(&state))?;
    let times = drive_times(&state, plan.drive, &snap, &[Layer::Plots, Layer::Buildings]).await?;
    let mut members = coverage_member(&times);
    let deposits = &plan.query.deposits;
    let pairs = match plan.max_drive_s {
        None => None,
        Some(s) => Some(deposit_drive_times(&state, &snap, &access, deposits, s).await?),
    };
    let (unit, q) = (plan.query.unit, plan.query);
    let (snap, result) = run(false, snap, move |s| {
        query::near_waste(&s.view(&access), &q, gate(&times), pairs.as_deref())
    })
    .await?;
    let links = page_links(&base_url(&headers), uri.path(), &params.0, &result);
    let body = feature_collection(
        &result,
        |out, w| write_waste_site(out, &snap, w, unit),
        &links,
        &{
            members.insert(0, ("unit", json!(unit)));
            members
        },
    );
    Ok(respond(body, GEOJSON))
}

/// How far the car network snaps a feature to its roads (1 km without a network).
fn snap_m(state: &AppState) -> f64 {
    state
        .routing
        .as_ref()
        .and_then(|r| r.engine(crate::routing::ProfileId::Car).ok())
        .map_or(1_000.0, |e| e.max_snap_m())
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
    let plan = request::near_waste::deposit_sites(&params, &state.limits)?;
    let snap = state.snapshot.load();
    let (id, _) = visible_row(&snap, &access, Layer::WasteDeposits, &id)?;
    let times = drive_times(&state, plan.drive, &snap, &[Layer::Plots, Layer::Buildings]).await?;
    let coverage = coverage_member(&times);
    let p = plan;
    let (snap, (row, result)) = run(p.within_m <= 20_000.0, snap, move |s| {
        let view = s.view(&access);
        query::near_deposit(&view, id, p.within_m, p.sites, p.sort, p.page, gate(&times))
    })
    .await?;
    let links = page_links(&base_url(&headers), uri.path(), &params.0, &result);
    deposit_sites_body(&snap, row, &result, &links, coverage)
}

/// The sites around a deposit, with the deposit itself as the `deposit` member.
fn deposit_sites_body(
    snap: &Snapshot,
    row: u32,
    result: &Page<SiteHit>,
    links: &[Json],
    mut members: Vec<(&'static str, Json)>,
) -> Result<Response, ApiError> {
    let deposit: Json = serde_json::from_str(snap.layer(Layer::WasteDeposits).feature_text(row))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let body = feature_collection(result, |out, s| write_site(out, snap, s), links, &{
        members.insert(0, ("deposit", deposit));
        members
    });
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
        let list: Vec<Json> = w.deposits.iter().map(deposit_json).collect();
        p.json("waste_deposits", &Json::Array(list));
    });
}

/// One deposit counted for a site, as listed in `waste_deposits`.
fn deposit_json(d: &DepositLink) -> Json {
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
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
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
        Ok(sp::polygon_body(&body, &pairs).map(Some)?)
    })
    .await
}

/// Travel times of a drive-time search, its budget and the road coverage of its reach.
type Times = Option<(Arc<RowTimes>, f64, AnswerCoverage)>;

/// The gate of a query from the travel times computed for it.
fn gate(times: &Times) -> Option<DriveGate<'_>> {
    times.as_ref().map(|(t, max_s, _)| DriveGate {
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
    let (times, coverage) = spawn_blocking("drive-time", move || {
        let tt = engine
            .travel_times(&[spec.origin], spec.direction, spec.max_s)
            .map_err(ApiError::routing(spec.param))?;
        let mut out = RowTimes::default();
        for layer in layers {
            let data = snap.layer(layer);
            out.insert(layer, data.len(), tt.to_features(data));
        }
        let coverage = engine.reach_coverage(&tt, snap.layer(Layer::Catchments));
        Ok((out, coverage))
    })
    .await?;
    Ok(Some((Arc::new(times), spec.max_s, coverage)))
}

/// The `coverage` member of a drive-time search answer (none without a drive time).
fn coverage_member(times: &Times) -> Vec<(&'static str, Json)> {
    times
        .iter()
        .map(|(_, _, c)| ("coverage", coverage_json(c)))
        .collect()
}

/// Drive times from each deposit admitted by `deposits` to the plots and buildings within
/// `max_s` ([`query::deposit_drive_times`] on the car network), on the blocking pool.
async fn deposit_drive_times(
    state: &AppState,
    snap: &Arc<Snapshot>,
    access: &Access,
    deposits: &Filter,
    max_s: f64,
) -> Result<Arc<DepositDriveTimes>, ApiError> {
    let engine = routing_engine(state, crate::routing::ProfileId::Car)?;
    let (snap, access, deposits) = (Arc::clone(snap), *access, deposits.clone());
    let out = spawn_blocking("drive-time", move || {
        Ok(query::deposit_drive_times(
            &snap.view(&access),
            &deposits,
            max_s,
            engine.as_ref(),
        )?)
    })
    .await?;
    Ok(Arc::new(out))
}
