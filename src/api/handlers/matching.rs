//! `POST /match`: the sites of the territory that fit a project's needs, ranked, with reasons.

use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};

use crate::api::extract::{ApiJson, Caller, Params};
use crate::api::geojson::{GEOJSON, respond, write_feature};
use crate::api::limits::spawn_blocking;
use crate::api::{ApiError, AppState};
use crate::matching::{self, Engines, Lang, MAX_MATCHES, Needs, SiteMatch};
use crate::model::Access;
use axum::extract::State;
use std::sync::Arc;

/// Matches listed when `limit` is not given.
pub(super) const DEFAULT_LIMIT: usize = 20;

/// `POST /match?limit=20&explain=all` with the needs in the body (nothing stored).
pub async fn match_needs(
    State(state): State<AppState>,
    Caller(access): Caller,
    headers: HeaderMap,
    params: Params,
    ApiJson(body): ApiJson<Json>,
) -> Result<Response, ApiError> {
    let (limit, explain) =
        match_options(&params, "/match", "the needs go in the body", DEFAULT_LIMIT)?;
    let lang = lang_of(&headers);
    let Json::Object(body) = body else {
        return Err(ApiError::bad_param(
            "body",
            "a JSON object of needs, e.g. {\"land_min_ha\": 5, \"materials\": [...]}",
        ));
    };
    let snap = state.snapshot.load();
    let needs = Needs::read(&body, &known_occupations(&state, &snap)).map_err(ApiError::from)?;
    answer_matches(state, access, snap, needs, limit, explain, lang).await
}

/// `limit` (1 to [`MAX_MATCHES`], `default` when absent) and `explain` (`all`); any other
/// parameter is a 400 (`what` names the endpoint, `hint` says where the rest goes).
pub(super) fn match_options(
    params: &Params,
    what: &str,
    hint: &str,
    default: usize,
) -> Result<(usize, bool), ApiError> {
    if let Some((k, _)) = params
        .0
        .iter()
        .find(|(k, _)| k != "limit" && k != "explain")
    {
        return Err(ApiError::bad_param(
            k.clone(),
            format!("unknown parameter; {what} takes limit and explain ({hint})"),
        ));
    }
    let limit = params
        .parse_as::<usize>("limit", "a whole number")?
        .unwrap_or(default);
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
                format!("`{o}`: the only value is all (list what fails a constraint too)"),
            ));
        }
    };
    Ok((limit, explain))
}

/// The language of the reasons, from `Accept-Language`.
pub(super) fn lang_of(headers: &HeaderMap) -> Lang {
    Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Whether an occupation code is known, for reading needs against this snapshot.
pub(super) fn known_occupations<'a>(
    state: &'a AppState,
    snap: &'a crate::index::Snapshot,
) -> impl Fn(&str) -> bool + 'a {
    let catchments = snap.layer(crate::model::Layer::Catchments);
    move |code: &str| matching::occupation_known(&state.occupations, catchments, code)
}

/// Runs the matching of `needs` for `access` and answers the GeoJSON of the sites.
pub(super) async fn answer_matches(
    state: AppState,
    access: Access,
    snap: Arc<crate::index::Snapshot>,
    needs: Needs,
    limit: usize,
    explain: bool,
    lang: Lang,
) -> Result<Response, ApiError> {
    let engines = Engines::for_needs(state.routing.as_deref(), &needs)?;
    let factors = state.factors.clone();
    let out = spawn_blocking("matching", move || {
        let view = snap.view(&access);
        let m = matching::match_sites(&view, &needs, &engines, &factors, lang, limit, explain);
        let mut body = String::with_capacity(4096);
        body.push_str("{\"type\":\"FeatureCollection\",\"features\":[");
        let deposits = view
            .layer(crate::model::Layer::WasteDeposits)
            .shared()
            .clone();
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
            "weighting": WEIGHTING,
        });
        let tail = tail.to_string();
        body.push_str(&tail[1..]);
        Ok(body)
    })
    .await?;
    Ok(with_language(respond(out, GEOJSON), lang))
}

/// How totals are made, said in every answer.
pub(super) const WEIGHTING: &str = "total = sum(weight x score) / sum(weight); a material's (an occupation's) weight is the materials' (workforce's) weight shared by the entries";

/// `Content-Language` of the reasons.
pub(super) fn with_language(mut resp: Response, lang: Lang) -> Response {
    resp.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        header::HeaderValue::from_static(lang.code()),
    );
    resp
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
    for (k, v) in fit_json(s, deposits, factors, lang) {
        p.json(&k, &v);
    }
}

/// How a site fits a project: `passes`, `score`, `constraints`, and either `failed` or
/// `criteria`, `reasons` and `impact`. The same members in `/match` (per site) and in
/// `/sites/{layer}/{id}/projects` (per project).
pub(super) fn fit_json(
    s: &SiteMatch,
    deposits: &crate::index::LayerData,
    factors: &matching::Factors,
    lang: Lang,
) -> Map<String, Json> {
    let mut p = Map::new();
    p.insert("passes".into(), Json::Bool(s.passes()));
    if s.passes() {
        p.insert("score".into(), json!(round(s.total, 4)));
    }
    let checks: Vec<Json> = s
        .checks
        .iter()
        .map(|c| json!({"constraint": c.name, "passed": c.passed, "reason": c.reason}))
        .collect();
    p.insert("constraints".into(), Json::Array(checks));
    if !s.passes() {
        let failed: Vec<Json> = s
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| Json::String(c.name.to_string()))
            .collect();
        p.insert("failed".into(), Json::Array(failed));
        return p;
    }
    let criteria: Vec<Json> = s.criteria.iter().map(criterion_json).collect();
    p.insert("criteria".into(), Json::Array(criteria));
    let reasons: Vec<Json> = s
        .checks
        .iter()
        .map(|c| c.reason.clone())
        .chain(s.criteria.iter().map(|c| c.reason.clone()))
        .chain(s.impact.iter().map(|m| matching::impact_reason(m, lang)))
        .map(Json::String)
        .collect();
    p.insert("reasons".into(), Json::Array(reasons));
    if !s.impact.is_empty() {
        p.insert("impact".into(), impact_json(s, deposits, factors));
    }
    p
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
