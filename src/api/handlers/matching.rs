//! `POST /match`: the sites of the territory that fit a project's needs, ranked, with reasons.

use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};

use crate::api::extract::{ApiJson, Caller, Params};
use crate::api::geojson::{GEOJSON, respond, write_feature};
use crate::api::limits::spawn_blocking;
use crate::api::{ApiError, AppState};
use crate::matching::{self, Engines, Lang, MAX_MATCHES, Needs, SiteMatch};
use axum::extract::State;

/// Matches listed when `limit` is not given.
const DEFAULT_LIMIT: usize = 20;

/// `POST /match?limit=20&explain=all` with the needs in the body (nothing stored).
pub async fn match_needs(
    State(state): State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
    params: Params,
    ApiJson(body): ApiJson<Json>,
) -> Result<Response, ApiError> {
    if let Some((k, _)) = params
        .0
        .iter()
        .find(|(k, _)| k != "limit" && k != "explain")
    {
        return Err(ApiError::bad_param(
            k.clone(),
            "unknown parameter; /match takes limit and explain (the needs go in the body)",
        ));
    }
    let limit = params
        .parse_as::<usize>("limit", "a whole number")?
        .unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_MATCHES).contains(&limit) {
        return Err(ApiError::bad_param(
            "limit",
            format!("{limit}: from 1 to {MAX_MATCHES}"),
        ));
    }
    let explain = match params.get("explain")? {
        None => false,
        Some("all") => true,
        Some(o) => {
            return Err(ApiError::bad_param(
                "explain",
                format!("`{o}`: the only value is all (list the sites failing a constraint)"),
            ));
        }
    };
    let lang = Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let Json::Object(body) = body else {
        return Err(ApiError::bad_param(
            "body",
            "a JSON object of needs, e.g. {\"land_min_ha\": 5, \"materials\": [...]}",
        ));
    };
    let snap = state.snapshot.load();
    let catchments = snap.layer(crate::model::Layer::Catchments);
    let known = |code: &str| matching::occupation_known(&state.occupations, catchments, code);
    let needs = Needs::read(&body, &known).map_err(|e| ApiError::bad_param(e.field, e.detail))?;
    let engines = Engines::for_needs(state.routing.as_deref(), &needs)?;
    let factors = state.factors.clone();
    let out = spawn_blocking("matching", move || {
        let view = snap.view(&access);
        let m = matching::match_sites(&view, &needs, &engines, &factors, lang, limit, explain);
        let mut body = String::with_capacity(4096);
        body.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
        let deposits = view.layer(crate::model::Layer::WasteDeposits).shared().clone();
        for (i, s) in m.sites.iter().chain(&m.failed).enumerate() {
            if i > 0 {
                body.push(',');
            }
            let data = view.layer(s.layer).shared().clone();
            write_feature(
                &mut body,
                &data,
                s.row,
                |p| match_props(p, s, &deposits, &factors, lang),
                None,
            );
        }
        body.push_str("],");
        let tail = json!({
            "numberMatched": m.matched,
            "numberReturned": m.sites.len(),
            "numberFailed": if explain { Some(m.failed.len()) } else { None },
            "lang": lang.code(),
            "weighting": "total = sum(weight x score) / sum(weight); a material's (an occupation's) weight is the materials' (workforce's) weight shared by the entries",
        });
        let tail = tail.to_string();
        body.push_str(&tail[1..]);
        Ok(body)
    })
    .await?;
    let mut resp = respond(out, GEOJSON);
    resp.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        header::HeaderValue::from_static(lang.code()),
    );
    Ok(resp)
}

/// The match members of a site's properties.
fn match_props(
    p: &mut crate::api::geojson::Props,
    s: &SiteMatch,
    deposits: &crate::index::LayerData,
    factors: &matching::Factors,
    lang: Lang,
) {
    p.text("site_layer", s.layer.id());
    p.json("passes", &Json::Bool(s.passes()));
    if s.passes() {
        p.json("score", &json!(round(s.total, 4)));
    }
    let checks: Vec<Json> = s
        .checks
        .iter()
        .map(|c| json!({"constraint": c.name, "passed": c.passed, "reason": c.reason}))
        .collect();
    p.json("constraints", &Json::Array(checks));
    if !s.passes() {
        let failed: Vec<Json> = s
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| Json::String(c.name.to_string()))
            .collect();
        p.json("failed", &Json::Array(failed));
        return;
    }
    let criteria: Vec<Json> = s.criteria.iter().map(criterion_json).collect();
    p.json("criteria", &Json::Array(criteria));
    let reasons: Vec<Json> = s
        .checks
        .iter()
        .map(|c| c.reason.clone())
        .chain(s.criteria.iter().map(|c| c.reason.clone()))
        .chain(s.impact.iter().map(|m| matching::impact_reason(m, lang)))
        .map(Json::String)
        .collect();
    p.json("reasons", &Json::Array(reasons));
    if !s.impact.is_empty() {
        p.json("impact", &impact_json(s, deposits, factors));
    }
}

/// The figures of a supply, rounded as people read them.
fn balance_json(b: &matching::Balance) -> Json {
    json!({
        "supplied_t": b.supplied_t,
        "tkm": round_opt(b.tkm, 1),
        "transport_kgco2e": round_opt(b.transport_kgco2e, 1),
        "avoided_kgco2e": round_opt(b.avoided_kgco2e, 1),
        "disposal_avoided_t": b.disposal_avoided_t,
        "tax_saved_eur": round_opt(b.tax_saved_eur, 2),
        "net_kgco2e": round_opt(b.net_kgco2e, 1),
    })
}

/// The supply of every material need: suppliers with their road route, and the balance.
fn impact_json(
    s: &SiteMatch,
    deposits: &crate::index::LayerData,
    factors: &matching::Factors,
) -> Json {
    let materials: Vec<Json> = s
        .impact
        .iter()
        .map(|m| {
            let suppliers: Vec<Json> = m
                .suppliers
                .iter()
                .map(|sp| {
                    json!({
                        "id": sp.id,
                        "name": match deposits.value_by_name(sp.row, "name") {
                            Some(crate::index::ValueRef::Text(t)) => Some(t),
                            _ => None,
                        },
                        // Deposits are points; the caller may see this one (it is in the view).
                        "position": match deposits.geometry(sp.row) {
                            geo_types::Geometry::Point(pt) => Some([pt.x(), pt.y()]),
                            _ => None,
                        },
                        "available_t": sp.available_t,
                        "tonnes": sp.tonnes,
                        "drive_min": round(sp.drive_s / 60.0, 2),
                        "road_km": round_opt(sp.road_m.map(|m| m / 1000.0), 3),
                        "tkm": round_opt(sp.tkm(), 1),
                    })
                })
                .collect();
            let mut o = json!({
                "material": m.material,
                "profile": m.profile.id(),
                "need_t": m.need_t,
                "met": m.met(),
                "suppliers": suppliers,
                "factors": m.factors.iter().map(|k| match factors.get(k) {
                    Some(f) => json!(f),
                    None => json!({"key": k, "value": null, "missing": "no sourced factor: the figures that need it are null"}),
                }).collect::<Vec<_>>(),
            });
            if let (Json::Object(o), Json::Object(b)) = (&mut o, balance_json(&m.balance)) {
                o.extend(b);
            }
            o
        })
        .collect();
    json!({
        "materials": materials,
        "totals": balance_json(&matching::impact::totals(&s.impact)),
        "method": "suppliers: the reachable deposits nearest by road first, each giving what it has until the need is met; road_km: length of the fastest route; tkm = tonnes x road km; transport = tkm x transport.<profile>; avoided = tonnes x substitution.<material>; tax saved = tonnes x disposal_tax.landfill (the stream assumed landfilled otherwise); net = avoided - transport",
    })
}

fn round_opt(x: Option<f64>, digits: i32) -> Option<f64> {
    x.map(|x| round(x, digits))
}

fn round(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

fn criterion_json(c: &matching::Criterion) -> Json {
    let mut o = Map::new();
    o.insert("criterion".into(), json!(c.kind));
    let opt = |o: &mut Map<String, Json>, k: &str, v: Option<Json>| {
        if let Some(v) = v {
            o.insert(k.into(), v);
        }
    };
    match c.kind {
        "material" => opt(&mut o, "material", c.key.clone().map(Json::String)),
        "workforce" => opt(&mut o, "occupation", c.key.clone().map(Json::String)),
        _ => {}
    }
    o.insert("value".into(), json!(c.value));
    opt(&mut o, "need", c.need.map(|n| json!(n)));
    opt(&mut o, "need_range", c.need_range.map(|r| json!(r)));
    opt(&mut o, "within_min", c.within_min.map(|n| json!(n)));
    opt(&mut o, "profile", c.profile.map(|p| json!(p.id())));
    opt(
        &mut o,
        "nearest_min",
        c.nearest_min.map(|n| json!(round(n, 2))),
    );
    opt(&mut o, "sources", c.sources.map(|n| json!(n)));
    if c.kind == "workforce" {
        o.insert("difficult_projects".into(), json!(c.difficult_projects));
    }
    o.insert("score".into(), json!(round(c.score, 4)));
    o.insert("weight".into(), json!(c.weight));
    o.insert("reason".into(), json!(c.reason));
    Json::Object(o)
}
