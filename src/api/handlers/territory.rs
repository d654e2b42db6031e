//! The pre-diagnostic of a territory: `GET /territories/{siren}/diagnostic` (JSON, or CSV with
//! `f=csv` or `Accept: text/csv`) and the printable page `GET /territories/{siren}`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use crate::api::extract::{ApiPath, Caller};
use crate::api::geojson::base_url;
use crate::api::{ApiError, AppState};
use crate::index::{ValueRef, View};
use crate::model::Layer;
use crate::query::{Diagnostic, Group, diagnostic, territory_known};
use crate::request::Params;

const PAGE: &str = include_str!("../assets/territory.html");

/// The two forms of the diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Json,
    Csv,
}

/// `f` (json, csv) wins over `Accept`; no other parameter is known.
fn form(params: &Params, headers: &HeaderMap) -> Result<Form, ApiError> {
    if let Some((name, _)) = params.0.iter().find(|(k, _)| k != "f") {
        return Err(ApiError::bad_param(
            name.clone(),
            format!("unknown parameter `{name}`: the diagnostic takes only `f` (json or csv)"),
        ));
    }
    match params.get("f")? {
        Some("json") => Ok(Form::Json),
        Some("csv") => Ok(Form::Csv),
        Some(other) => Err(ApiError::bad_param(
            "f",
            format!("`f={other}`: the diagnostic is given as `json` or `csv`"),
        )),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            Ok(
                if accept.contains("text/csv") && !accept.contains("application/json") {
                    Form::Csv
                } else {
                    Form::Json
                },
            )
        }
    }
}

/// A SIREN has nine digits.
fn check_siren(siren: &str) -> Result<(), ApiError> {
    if siren.len() == 9 && siren.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ApiError::bad_param(
            "siren",
            format!("`{siren}` is not a SIREN (nine digits, e.g. 200084952)"),
        ))
    }
}

/// The territory's identity: the manifest when it is this territory's, else its feature of the
/// territories layer.
fn identity(state: &AppState, view: &View<'_>, siren: &str) -> Json {
    use geo::BoundingRect;
    let lv = view.layer(Layer::Territories);
    let data = lv.data();
    let row = lv
        .rows()
        .find(|&r| matches!(data.value_by_name(r, "siren"), Some(ValueRef::Text(t)) if t == siren));
    let bbox = row
        .and_then(|r| data.geometry(r).bounding_rect())
        .map(|b| json!([b.min().x, b.min().y, b.max().x, b.max().y]));
    if let Some(m) = state
        .manifest
        .as_deref()
        .filter(|m| m.siren.as_deref() == Some(siren))
    {
        return json!({
            "siren": siren,
            "name": m.name,
            "epci_type": m.epci_type,
            "population": m.population,
            "communes": m.communes.len(),
            "bbox": bbox,
            "boundary_source": m.boundary_source,
            "buffer_km": m.buffer_km,
            "built_at": m.built_at,
        });
    }
    let get = |name| {
        row.and_then(|r| data.value_by_name(r, name))
            .map(|v| v.to_value().to_json())
    };
    json!({
        "siren": siren,
        "name": get("name"),
        "epci_type": get("epci_type"),
        "population": get("population"),
        "communes": get("communes_count"),
        "bbox": bbox,
    })
}

/// The workforce of the territory: its communes' catchments (`territory` = SIREN) counted
/// whole, by the `/workforce` rules (unknown figures `null`, masked occupations flagged).
fn workforce_json(state: &AppState, view: &View<'_>, siren: &str) -> Json {
    use crate::api::handlers::routing::{families_json, occupations_json};
    let lv = view.layer(Layer::Catchments);
    let data = lv.data();
    let rows: Vec<u32> = lv
        .rows()
        .filter(|&r| matches!(data.value_by_name(r, "territory"), Some(ValueRef::Text(t)) if t == siren))
        .collect();
    let (list, totals, occupations) = crate::routing::whole_catchments(data, rows);
    let sum = |m: &Option<std::collections::BTreeMap<String, f64>>| {
        m.as_ref()
            .map(|m| (m.values().sum::<f64>() * 10.0).round() / 10.0)
    };
    let (met, xmet) = occupations.iter().fold((0.0, 0.0), |(m, x), o| {
        (m + o.known_pair.0, x + o.known_pair.1)
    });
    let fams = families_json(&occupations, &state.occupations);
    let in_tension: Vec<Json> = fams
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["in_tension"] == true)
        .cloned()
        .collect();
    let masked = occupations
        .iter()
        .filter(|o| o.hiring_masked || o.difficult_masked || o.seasonal_masked)
        .count();
    json!({
        "catchments": list.len(),
        "population": totals.population,
        "job_seekers": totals.job_seekers,
        "candidates": totals.candidates.as_ref().map(|_| sum(&totals.candidates)),
        "hiring_projects": sum(&totals.hiring_projects),
        "difficult_projects": sum(&totals.difficult_projects),
        "seasonal_projects": sum(&totals.seasonal_projects),
        "difficult_share": (met > 0.0).then(|| ((xmet / met) * 10_000.0).round() / 10_000.0),
        "incomplete": totals.incomplete,
        "occupations_count": occupations.len(),
        "masked_occupations": masked,
        "occupations": occupations_json(&occupations, &state.occupations, usize::MAX),
        "families": fams,
        "families_in_tension": in_tension,
        "bassins": state.manifest.as_deref().map(|m| json!(m.bassins)),
        "year": state.occupations.year,
        "spread_rule": crate::model::BMO_SPREAD,
        "tension_rule": format!(
            "A family is in tension when at least {:.0} % of its hiring projects (over the occupations where both met and xmet are known) are judged difficult.",
            crate::routing::TENSION_SHARE * 100.0
        ),
    })
}

fn groups_json(groups: &[Group], unit: &str) -> Json {
    Json::Array(
        groups
            .iter()
            .map(|g| json!({ "key": g.key, "count": g.count, unit: g.total }))
            .collect(),
    )
}

fn diagnostic_json(
    d: &Diagnostic,
    identity: Json,
    workforce: Json,
    state: &AppState,
    audience: &str,
    base: &str,
) -> Json {
    let l = &d.land;
    let b = &d.buildings;
    let w = &d.waste;
    let mut waste = json!({
        "deposits": w.deposits,
        "holders": w.holders,
        "tonnes_per_year": w.tonnes_per_year,
        "by_material": groups_json(&w.by_material, "tonnes_per_year"),
        "hazardous": { "count": w.hazardous.count, "tonnes_per_year": w.hazardous.total },
        "non_hazardous": { "count": w.non_hazardous.count, "tonnes_per_year": w.non_hazardous.total },
        "not_characterised": w.not_characterised,
        "other_units": groups_json(&w.other_units, "quantity"),
    });
    if let Some(p) = w.partners_only {
        waste["partners_only"] = json!({ "count": p.count, "tonnes_per_year": p.total });
    }
    let by_source: serde_json::Map<String, Json> = l
        .by_source_attribute
        .iter()
        .map(|(k, g)| (k.clone(), groups_json(g, "area_ha")))
        .collect();
    let (sources, missing) = match state.manifest.as_deref() {
        Some(m) => (json!(m.sources), json!(m.missing)),
        None => (json!([]), json!([])),
    };
    let self_url = format!("{base}/territories/{}/diagnostic", d.siren);
    json!({
        "territory": identity,
        "audience": audience,
        "land": {
            "count": l.count,
            "area_ha": l.area_ha,
            "by_status": groups_json(&l.by_status, "area_ha"),
            "by_size_class": groups_json(&l.by_size_class, "area_ha"),
            "turnkey": groups_json(&l.turnkey, "area_ha"),
            "brownfield": groups_json(&l.brownfield, "area_ha"),
            "constraints": groups_json(&l.constraints, "area_ha"),
            "by_source_attribute": by_source,
        },
        "buildings": {
            "count": b.count,
            "floor_area_m2": b.floor_area_m2,
            "by_status": groups_json(&b.by_status, "floor_area_m2"),
            "by_tenure": groups_json(&b.by_tenure, "floor_area_m2"),
        },
        "waste": waste,
        "workforce": workforce,
        "sources": sources,
        "missing": missing,
        "links": [
            { "rel": "self", "type": "application/json", "href": self_url },
            { "rel": "alternate", "type": "text/csv", "href": format!("{self_url}?f=csv") },
            { "rel": "alternate", "type": "text/html", "href": format!("{base}/territories/{}", d.siren) },
        ],
    })
}

/// One CSV row per figure: section, breakdown, key, count, value, unit.
fn diagnostic_csv(doc: &Json) -> String {
    let mut out = csv::Writer::from_writer(Vec::new());
    let _ = out.write_record(["section", "breakdown", "key", "count", "value", "unit"]);
    let sections = [
        ("land", "area_ha", "ha"),
        ("buildings", "floor_area_m2", "m2"),
        ("waste", "tonnes_per_year", "t/yr"),
    ];
    let num = |v: &Json| match v {
        Json::Null => String::new(),
        other => other.to_string(),
    };
    for (section, unit_key, unit) in sections {
        let s = &doc[section];
        let count = s
            .get("count")
            .or_else(|| s.get("deposits"))
            .map(num)
            .unwrap_or_default();
        let _ = out.write_record([section, "total", "", &count, &num(&s[unit_key]), unit]);
        let Some(obj) = s.as_object() else { continue };
        for (breakdown, v) in obj {
            let rows: Vec<(String, &Json)> = match v {
                Json::Array(a) => a.iter().map(|g| (String::new(), g)).collect(),
                Json::Object(o) if breakdown == "by_source_attribute" => o
                    .iter()
                    .flat_map(|(attr, a)| {
                        a.as_array()
                            .into_iter()
                            .flatten()
                            .map(move |g| (attr.clone(), g))
                    })
                    .collect(),
                Json::Object(o) if o.contains_key("count") => vec![(String::new(), v)],
                _ => Vec::new(),
            };
            for (prefix, g) in rows {
                let name = if prefix.is_empty() {
                    breakdown.clone()
                } else {
                    format!("{breakdown}.{prefix}")
                };
                let key = g.get("key").and_then(Json::as_str).unwrap_or("");
                let value = g
                    .get(unit_key)
                    .or_else(|| g.get("quantity"))
                    .map(num)
                    .unwrap_or_default();
                let u = if g.get("quantity").is_some() {
                    ""
                } else {
                    unit
                };
                let _ = out.write_record([section, &name, key, &num(&g["count"]), &value, u]);
            }
        }
    }
    if let Some(wf) = doc.get("workforce") {
        for (k, v) in wf.as_object().into_iter().flatten() {
            if !v.is_array() && !v.is_object() {
                let _ = out.write_record(["workforce", "total", k, "", &num(v), ""]);
            }
        }
        for occ in wf["occupations"].as_array().into_iter().flatten() {
            let code = occ["code"].as_str().unwrap_or("");
            for f in ["hiring_projects", "difficult_projects", "seasonal_projects"] {
                let _ = out.write_record(["workforce", f, code, "", &num(&occ[f]), "projects"]);
            }
        }
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// `GET /territories/{siren}/diagnostic`.
pub async fn diagnostic_handler(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(siren): ApiPath<String>,
    params: Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_siren(&siren)?;
    let form = form(&params, &headers)?;
    let base = base_url(&headers);
    let doc = crate::api::limits::spawn_blocking("search", move || {
        let snap = state.snapshot.load();
        let view = snap.view(&access);
        // Each layer is read once: the territory exists if any of them holds it.
        let d = diagnostic(&view, &siren);
        let workforce = workforce_json(&state, &view, &siren);
        let identity = identity(&state, &view, &siren);
        let known = identity["bbox"].is_array()
            || d.land.count + d.buildings.count + d.waste.deposits > 0
            || workforce["catchments"].as_u64().unwrap_or(0) > 0;
        if !known {
            return Err(ApiError::TerritoryNotFound(siren));
        }
        let audience = if access.partners() {
            "partners"
        } else {
            "public"
        };
        Ok(diagnostic_json(
            &d, identity, workforce, &state, audience, &base,
        ))
    })
    .await?;
    Ok(match form {
        Form::Json => axum::Json(doc).into_response(),
        Form::Csv => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            )],
            diagnostic_csv(&doc),
        )
            .into_response(),
    })
}

/// `GET /territories/{siren}`: the printable diagnostic page (it reads the JSON above).
pub async fn page(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath(siren): ApiPath<String>,
) -> Result<Response, ApiError> {
    check_siren(&siren)?;
    let snap = state.snapshot.load();
    if !territory_known(&snap.view(&access), &siren) {
        return Err(ApiError::TerritoryNotFound(siren));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE.replace("__SIREN__", &siren),
    )
        .into_response())
}
