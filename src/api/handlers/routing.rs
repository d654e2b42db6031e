//! `/isochrone` (GET and POST) and `/workforce`: parse and check the request against the
//! limits, run the routing engine on a blocking thread, serialise.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geo_types::{Coord, Geometry, MultiPolygon};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use crate::api::extract::{ApiJson, Params, non_null};
use crate::api::limits::spawn_blocking;
use crate::api::{ApiError, AppState, Limits};
use crate::index::{LayerData, ValueRef};
use crate::ingest::bmo::OccupationTable;
use crate::model::{Layer, geometry_to_json};
use crate::request::search::parse_profile;
use crate::routing::workforce::family_figures;
use crate::routing::{
    AnswerCoverage, Direction, Figures, Isochrone, IsochroneCoverage, IsochroneOptions,
    OccupationFigures, ProfileId, RoutingEngine, RoutingError, TENSION_SHARE, Workforce,
};

/// What the workforce weighting is, said in every response.
/// How road coverage is measured, said in every drive-time answer.
pub(crate) const COVERAGE_METHOD: &str = "road_coverage is the share of a catchment's area inside the road graph's extent (the convex hull of its nodes), geodesic areas; the answer's share is the area-weighted mean over the catchments counted, partial when one of them is covered less than 0.99.";

const WORKFORCE_WEIGHTING: &str = "Each catchment counts for the share of its residential street length (primary to residential roads, motorways, trunks, links and service roads excluded) reachable within the time; a catchment without such streets counts wholly if its interior point is reachable, not at all otherwise.";

/// A checked isochrone request.
struct IsochroneRequest {
    locations: Vec<[f64; 2]>,
    profile: ProfileId,
    direction: Direction,
    opts: IsochroneOptions,
}

/// `GET /isochrone?lon=&lat=&contours_min=10,20&direction=from&profile=car&denoise=&generalize=`
/// (or `locations=lon,lat;lon,lat` for several points).
pub async fn isochrone_get(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let locations = query_locations(&params)?;
    let contours_min = query_contours(&params)?;
    let req = check_isochrone(
        &state.limits,
        locations,
        contours_min,
        params.get("direction")?,
        params.get("profile")?,
        params.parse_as::<f64>("denoise", "a number from 0 to 1")?,
        params.parse_as::<f64>("generalize", "a tolerance in metres")?,
    )?;
    run_isochrone(&state, req).await
}

/// The origins of a GET isochrone: `locations=lon,lat;lon,lat` or `lon` and `lat`, not both.
fn query_locations(params: &Params) -> Result<Vec<[f64; 2]>, ApiError> {
    match (
        params.get("locations")?,
        params.has("lon") || params.has("lat"),
    ) {
        (Some(_), true) => Err(ApiError::bad_param(
            "locations",
            "give either `locations` or `lon` and `lat`, not both",
        )),
        (Some(list), false) => parse_locations(list),
        (None, _) => Ok(vec![lon_lat(params)?]),
    }
}

/// `contours_min=10,20,30`: the contour minutes of a GET isochrone (required).
fn query_contours(params: &Params) -> Result<Vec<f64>, ApiError> {
    let Some(list) = params.get("contours_min")? else {
        return Err(missing("contours_min", "e.g. contours_min=10,20,30"));
    };
    list.split(',')
        .map(|v| {
            v.trim().parse::<f64>().map_err(|_| {
                ApiError::bad_param(
                    "contours_min",
                    format!("`contours_min` must be minutes separated by commas, e.g. 10,20,30; got `{list}`"),
                )
            })
        })
        .collect()
}

/// One location in a JSON body: `[lon, lat]` or `{"lon": .., "lat": ..}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonLocation {
    Pair([f64; 2]),
    Object { lon: f64, lat: f64 },
}

/// The body of `POST /isochrone`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsochroneBody {
    locations: Vec<JsonLocation>,
    contours_min: Vec<f64>,
    #[serde(default, deserialize_with = "non_null")]
    direction: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    profile: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    denoise: Option<f64>,
    #[serde(default, deserialize_with = "non_null")]
    generalize: Option<f64>,
}

/// `POST /isochrone` with a JSON body (same members as the query parameters).
pub async fn isochrone_post(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<IsochroneBody>,
) -> Result<Response, ApiError> {
    let locations = body
        .locations
        .iter()
        .map(|l| match *l {
            JsonLocation::Pair(p) => p,
            JsonLocation::Object { lon, lat } => [lon, lat],
        })
        .collect();
    let req = check_isochrone(
        &state.limits,
        locations,
        body.contours_min,
        body.direction.as_deref(),
        body.profile.as_deref(),
        body.denoise,
        body.generalize,
    )?;
    run_isochrone(&state, req).await
}

/// `GET /workforce?lon=&lat=&minutes=30&direction=to&profile=car`.
pub async fn workforce(
    State(state): State<AppState>,
    params: Params,
) -> Result<Response, ApiError> {
    let [lon, lat] = lon_lat(&params)?;
    let minutes = params
        .parse_as::<f64>("minutes", "a drive time in minutes")?
        .ok_or_else(|| missing("minutes", "e.g. minutes=30"))?;
    check_minutes(&state.limits, "minutes", minutes)?;
    let direction = parse_direction(params.get("direction")?, Direction::To)?;
    let profile = parse_profile(params.get("profile")?)?;
    let engine = engine(&state, profile)?;
    let catchments = state.snapshot.load().layer(Layer::Catchments).clone();
    let wf = spawn_blocking("routing", move || {
        engine
            .workforce(&catchments, lon, lat, minutes, direction)
            .map_err(ApiError::routing("lon"))
    })
    .await?;
    Ok(axum::Json(workforce_json(&wf, [lon, lat], profile, &state.occupations)).into_response())
}

fn missing(param: &str, example: &str) -> ApiError {
    ApiError::bad_param(param, format!("`{param}` is required ({example})"))
}

fn lon_lat(params: &Params) -> Result<[f64; 2], ApiError> {
    let lon = params.parse_as::<f64>("lon", "a longitude in degrees")?;
    let lat = params.parse_as::<f64>("lat", "a latitude in degrees")?;
    match (lon, lat) {
        (Some(lon), Some(lat)) => Ok([lon, lat]),
        (None, _) => Err(missing("lon", "lon and lat in WGS84 degrees")),
        (_, None) => Err(missing("lat", "lon and lat in WGS84 degrees")),
    }
}

/// `lon,lat;lon,lat`.
fn parse_locations(list: &str) -> Result<Vec<[f64; 2]>, ApiError> {
    list.split(';')
        .map(|pair| {
            let mut it = pair.split(',').map(|v| v.trim().parse::<f64>());
            match (it.next(), it.next(), it.next()) {
                (Some(Ok(lon)), Some(Ok(lat)), None) => Ok([lon, lat]),
                _ => Err(ApiError::bad_param(
                    "locations",
                    format!("`locations` must be lon,lat pairs separated by `;`, e.g. 1.0,49.52;1.1,49.5; got `{pair}`"),
                )),
            }
        })
        .collect()
}

fn parse_direction(v: Option<&str>, default: Direction) -> Result<Direction, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<Direction>()
            .map_err(|e| ApiError::bad_param("direction", e.to_string())),
    }
}

pub(crate) fn engine(state: &AppState, profile: ProfileId) -> Result<Arc<RoutingEngine>, ApiError> {
    let routing = state
        .routing
        .as_ref()
        .ok_or(RoutingError::ProfileNotLoaded(profile))?;
    Ok(routing.engine(profile)?.clone())
}

fn check_minutes(limits: &Limits, param: &str, m: f64) -> Result<(), ApiError> {
    if m.is_finite() && m > 0.0 && m <= limits.max_contour_min {
        Ok(())
    } else {
        Err(ApiError::bad_param(
            param,
            format!(
                "`{param}` must be more than 0 and at most {} minutes, got {m}",
                limits.max_contour_min
            ),
        ))
    }
}

/// Checks every member against the limits before any work starts.
fn check_isochrone(
    limits: &Limits,
    locations: Vec<[f64; 2]>,
    mut contours_min: Vec<f64>,
    direction: Option<&str>,
    profile: Option<&str>,
    denoise: Option<f64>,
    generalize: Option<f64>,
) -> Result<IsochroneRequest, ApiError> {
    if locations.is_empty() || locations.len() > limits.max_locations {
        return Err(ApiError::bad_param(
            "locations",
            format!(
                "give 1 to {} locations, got {}",
                limits.max_locations,
                locations.len()
            ),
        ));
    }
    for &[lon, lat] in &locations {
        if !(lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 90.0) {
            return Err(ApiError::bad_param(
                "locations",
                format!("({lon}, {lat}) is not a WGS84 longitude, latitude"),
            ));
        }
    }
    if contours_min.is_empty() || contours_min.len() > limits.max_contours {
        return Err(ApiError::bad_param(
            "contours_min",
            format!(
                "give 1 to {} contours, got {}",
                limits.max_contours,
                contours_min.len()
            ),
        ));
    }
    for &m in &contours_min {
        check_minutes(limits, "contours_min", m)?;
    }
    contours_min.sort_by(f64::total_cmp);
    if contours_min.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApiError::bad_param(
            "contours_min",
            "`contours_min` lists a time twice",
        ));
    }
    let denoise = denoise.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&denoise) {
        return Err(ApiError::bad_param(
            "denoise",
            format!("`denoise` must be from 0 to 1, got {denoise}"),
        ));
    }
    let generalize_m = generalize.unwrap_or(0.0);
    if !(0.0..=limits.max_generalize_m).contains(&generalize_m) {
        return Err(ApiError::bad_param(
            "generalize",
            format!(
                "`generalize` must be from 0 to {} metres, got {generalize_m}",
                limits.max_generalize_m
            ),
        ));
    }
    Ok(IsochroneRequest {
        locations,
        profile: parse_profile(profile)?,
        direction: parse_direction(direction, Direction::From)?,
        opts: IsochroneOptions {
            contours_min,
            denoise,
            generalize_m,
        },
    })
}

async fn run_isochrone(state: &AppState, req: IsochroneRequest) -> Result<Response, ApiError> {
    let engine = engine(state, req.profile)?;
    let IsochroneRequest {
        locations,
        profile,
        direction,
        opts,
    } = req;
    let inputs = locations.clone();
    let catchments = state.snapshot.load().layer(Layer::Catchments).clone();
    let (iso, coverage, body_catchments) = spawn_blocking("routing", move || {
        let iso = engine
            .isochrone(&locations, direction, &opts)
            .map_err(ApiError::routing("locations"))?;
        let coverage = engine.isochrone_coverage(&iso, &catchments);
        Ok((iso, coverage, catchments))
    })
    .await?;
    let mut body = isochrone_geojson(&iso, &inputs, profile);
    body["coverage"] = isochrone_coverage_json(&coverage, &body_catchments);
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    Ok(resp)
}

fn round(v: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (v * k).round() / k
}

/// A polygonal geometry with coordinates rounded to 1e-6° (about 10 cm): Polygon when there is
/// one part, MultiPolygon otherwise.
fn polygon_json(mp: &MultiPolygon<f64>) -> Json {
    let rounded = MultiPolygon(
        mp.0.iter()
            .map(|p| {
                let r = |l: &geo_types::LineString<f64>| {
                    geo_types::LineString(
                        l.0.iter()
                            .map(|c| Coord {
                                x: round(c.x, 6),
                                y: round(c.y, 6),
                            })
                            .collect(),
                    )
                };
                geo_types::Polygon::new(r(p.exterior()), p.interiors().iter().map(r).collect())
            })
            .collect(),
    );
    if rounded.0.len() == 1 {
        geometry_to_json(&Geometry::Polygon(rounded.0[0].clone()))
    } else {
        geometry_to_json(&Geometry::MultiPolygon(rounded))
    }
}

/// The isochrone as a GeoJSON FeatureCollection: one feature per contour, largest first (so
/// that drawn in order the smaller ones stay visible), then one Point per snapped location.
fn isochrone_geojson(iso: &Isochrone, inputs: &[[f64; 2]], profile: ProfileId) -> Json {
    let mut features: Vec<Json> = iso
        .contours
        .iter()
        .rev()
        .map(|c| {
            json!({
                "type": "Feature",
                "properties": {
                    "contour_min": c.minutes,
                    "area_ha": round(c.area_ha, 2),
                    "direction": iso.direction.id(),
                    "profile": profile.id(),
                },
                "geometry": polygon_json(&c.geometry),
            })
        })
        .collect();
    for (i, (o, input)) in iso.origins.iter().zip(inputs).enumerate() {
        features.push(json!({
            "type": "Feature",
            "properties": {
                "kind": "snapped_location",
                "location_index": i,
                "input": input,
                "snap_distance_m": round(o.distance_m, 1),
            },
            "geometry": {"type": "Point", "coordinates": [round(o.lonlat[0], 7), round(o.lonlat[1], 7)]},
        }));
    }
    json!({
        "type": "FeatureCollection",
        "features": features,
        "cell_size_m": round(iso.cell_size_m, 1),
        "offroad_bound_m": round(iso.offroad_bound_m, 1),
        "search_limit_min": round(iso.search_limit_s / 60.0, 3),
        "reached_nodes": iso.reached_nodes,
    })
}

/// How many occupations `/workforce` lists (largest known hiring projects first).
const TOP_OCCUPATIONS: usize = 20;

fn counts_json(m: &Option<BTreeMap<String, f64>>) -> Json {
    match m {
        None => Json::Null,
        Some(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), json!(round(*v, 1))))
                .collect(),
        ),
    }
}

fn opt_json(v: Option<f64>, digits: i32) -> Json {
    v.map_or(Json::Null, |v| json!(round(v, digits)))
}

/// The figures of a catchment or of the totals: `null` where unknown, never 0.
/// The coverage member of an isochrone answer: the answer's coverage, the share of the
/// largest contour inside the graph's extent, and the catchments it touches.
fn isochrone_coverage_json(c: &IsochroneCoverage, catchments: &LayerData) -> Json {
    let mut out = coverage_json(&c.answer);
    out["isochrone_share"] = json!(round(c.isochrone_share, 4));
    let text = |row: u32, name: &str| match catchments.value_by_name(row, name) {
        Some(ValueRef::Text(s)) => Some(s.to_string()),
        _ => None,
    };
    out["catchments_touched"] = Json::Array(
        c.catchments
            .iter()
            .map(|&(row, share)| {
                json!({
                    "id": catchments.id(row),
                    "zone_code": text(row, "zone_code"),
                    "zone_name": text(row, "zone_name"),
                    "road_coverage": round(share, 4),
                })
            })
            .collect(),
    );
    out
}

pub(crate) fn figures_json(f: &Figures) -> Map<String, Json> {
    let mut out = Map::new();
    out.insert("population".into(), opt_json(f.population, 1));
    out.insert("job_seekers".into(), opt_json(f.job_seekers, 1));
    out.insert("candidates".into(), counts_json(&f.candidates));
    out.insert("hiring_projects".into(), counts_json(&f.hiring_projects));
    out.insert(
        "difficult_projects".into(),
        counts_json(&f.difficult_projects),
    );
    out.insert(
        "seasonal_projects".into(),
        counts_json(&f.seasonal_projects),
    );
    out.insert(
        "masked".into(),
        json!({
            "hiring_projects": f.masked[0],
            "difficult_projects": f.masked[1],
            "seasonal_projects": f.masked[2],
        }),
    );
    out
}

/// Top occupations with labels and families (from the occupations table when loaded).
pub(crate) fn occupations_json(
    occupations: &[OccupationFigures],
    table: &OccupationTable,
    limit: usize,
) -> Json {
    let list: Vec<Json> = occupations
        .iter()
        .take(limit)
        .map(|o| {
            let occ = table.occupations.get(&o.code);
            let masked: Vec<&str> = [
                (o.hiring_masked, "hiring_projects"),
                (o.difficult_masked, "difficult_projects"),
                (o.seasonal_masked, "seasonal_projects"),
            ]
            .into_iter()
            .filter_map(|(m, name)| m.then_some(name))
            .collect();
            json!({
                "code": o.code,
                "label": occ.map(|o| o.label.as_str()),
                "family": occ.map(|o| o.family.as_str()),
                "family_label": occ.map(|o| o.family_label.as_str()),
                "hiring_projects": opt_json(o.hiring, 1),
                "difficult_projects": opt_json(o.difficult, 1),
                "seasonal_projects": opt_json(o.seasonal, 1),
                "difficult_share": opt_json(o.difficult_share, 4),
                "masked": masked,
            })
        })
        .collect();
    Json::Array(list)
}

pub(crate) fn families_json(occupations: &[OccupationFigures], table: &OccupationTable) -> Json {
    let fams = family_figures(occupations, |code| {
        table.occupations.get(code).map(|o| o.family.clone())
    });
    let label = |fam: &str| {
        table
            .occupations
            .values()
            .find(|o| o.family == fam)
            .map(|o| o.family_label.clone())
    };
    Json::Array(
        fams.iter()
            .map(|f| {
                json!({
                    "family": f.family,
                    "label": label(&f.family),
                    "hiring_projects": round(f.hiring, 1),
                    "difficult_share": opt_json(f.difficult_share, 4),
                    "in_tension": f.in_tension,
                })
            })
            .collect(),
    )
}

/// The road coverage of an answer, as every drive-time answer states it.
pub(crate) fn coverage_json(c: &AnswerCoverage) -> Json {
    json!({
        "share": round(c.share, 4),
        "partial": c.partial,
        "catchments": c.catchments,
        "method": COVERAGE_METHOD,
        "note": c.note(),
    })
}

fn workforce_json(
    wf: &Workforce,
    input: [f64; 2],
    profile: ProfileId,
    table: &OccupationTable,
) -> Json {
    let catchments: Vec<Json> = wf
        .catchments
        .iter()
        .map(|c| {
            let mut m = Map::new();
            m.insert("id".into(), json!(c.id));
            m.insert("zone_code".into(), json!(c.zone_code));
            m.insert("zone_name".into(), json!(c.zone_name));
            m.insert("share".into(), json!(round(c.share, 4)));
            m.insert("share_basis".into(), json!(c.basis.id()));
            m.insert("street_km".into(), json!(round(c.street_km, 3)));
            m.insert(
                "reachable_street_km".into(),
                json!(round(c.reachable_street_km, 3)),
            );
            m.insert("road_coverage".into(), json!(round(c.road_coverage, 4)));
            m.extend(figures_json(&c.weighted));
            Json::Object(m)
        })
        .collect();
    let mut totals = figures_json(&wf.totals);
    totals.insert("incomplete".into(), json!(wf.totals.incomplete));
    json!({
        "site": {
            "input": input,
            "snapped": [round(wf.site.lonlat[0], 7), round(wf.site.lonlat[1], 7)],
            "snap_distance_m": round(wf.site.distance_m, 1),
        },
        "minutes": wf.minutes,
        "direction": wf.direction.id(),
        "profile": profile.id(),
        "weighting": {
            "method": "reachable_street_length",
            "description": WORKFORCE_WEIGHTING,
        },
        "coverage": coverage_json(&wf.coverage),
        "totals": Json::Object(totals),
        "occupations": occupations_json(&wf.occupations, table, TOP_OCCUPATIONS),
        "occupations_count": wf.occupations.len(),
        "families": families_json(&wf.occupations, table),
        "tension_rule": format!("A family is in tension when at least {:.0} % of its hiring projects (over the occupations and catchments where both met and xmet are known) are judged difficult.", TENSION_SHARE * 100.0),
        "catchments": catchments,
    })
}
