//! Projects matched to sites: which plots and buildings fit an industrial project's needs, how
//! well, and why.
//!
//! Steps, for one project's [`Needs`] and what the caller may see (a [`View`]):
//! 1. **hard constraints**, row by row over the visible plots and buildings ([`constraints`]):
//!    a site failing one is not a candidate (with `explain`, it is listed with the failures);
//! 2. **criteria** of every candidate, each a value measured, the need, a 0–1 score and a weight:
//!    - `land`: 1 when the site's area is within the range, `max / area` above it (an oversized
//!      site wastes land; below the minimum is a hard failure);
//!    - one per material: the tonnes a year of the visible deposits of that material from
//!      which the site is reached within the longest acceptable drive (real road times, the
//!      need's profile; one bounded road search to the site), score `min(1, reachable / needed)`;
//!    - one per occupation: the job seekers of that occupation within the commute (by car, to
//!      the site), by the `/workforce` rules (catchments weighted by the share of their streets
//!      reached), score `min(1, job seekers / headcount)`; the hiring projects judged difficult
//!      in the same reach are stated beside (competition for the same people);
//! 3. **total** `Σ weight·score / Σ weight` (the weight of materials and of the workforce is
//!    shared equally by their entries), candidates ranked by total, then layer and id.
//!
//! Confidential deposits count only for callers who may see them: the deposits read are those
//! of the view.

mod needs;
mod words;

use std::sync::Arc;

use chrono::NaiveDate;

pub use needs::{
    BadNeed, DEFAULT_NEED_MINUTES, MAX_NEED_MINUTES, MAX_NEEDS, MaterialNeed, NEED_FIELDS, Needs,
    OccupationNeed, SiteType, Weights, is_naf_code, is_occupation_code,
};
pub use words::Lang;

use crate::index::{Filter, LayerData, LayerView, ValueRef, View};
use crate::model::{FeatureId, Layer};
use crate::query::{CONSTRAINTS, SITE_LAYERS};
use crate::routing::workforce::Workforce;
use crate::routing::{
    Direction, FeatureSnaps, ProfileId, Routing, RoutingEngine, RoutingError, SearchTimes,
};

/// The profile commutes are measured with.
pub const COMMUTE_PROFILE: ProfileId = ProfileId::Car;

/// Most matches one answer lists.
pub const MAX_MATCHES: usize = 200;

/// One hard constraint checked on a site.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Name of the constraint (the need's field, e.g. `power_min_mva`).
    pub name: &'static str,
    pub passed: bool,
    /// Why, in words.
    pub reason: String,
}

/// One criterion of a candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    /// `land`, `material` or `workforce`.
    pub kind: &'static str,
    /// The material or the occupation code; `None` for land.
    pub key: Option<String>,
    /// The value measured (hectares; tonnes a year; job seekers).
    pub value: Option<f64>,
    /// The need (hectares asked, as `[min, max]` in `need_range`; tonnes a year; headcount).
    pub need: Option<f64>,
    pub need_range: Option<[Option<f64>; 2]>,
    /// Minutes to the nearest deposit (materials).
    pub nearest_min: Option<f64>,
    /// Deposits counted (materials).
    pub sources: Option<usize>,
    /// Hiring projects judged difficult in the same reach (workforce).
    pub difficult_projects: Option<f64>,
    /// Longest drive or commute, minutes (materials, workforce).
    pub within_min: Option<f64>,
    pub profile: Option<ProfileId>,
    pub score: f64,
    pub weight: f64,
    pub reason: String,
}

/// A site and how it fits.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteMatch {
    pub layer: Layer,
    pub row: u32,
    pub id: FeatureId,
    /// Every hard constraint checked, passed or failed.
    pub checks: Vec<Check>,
    pub criteria: Vec<Criterion>,
    /// `Σ weight·score / Σ weight`; 0 for a site failing a constraint.
    pub total: f64,
}

impl SiteMatch {
    pub fn passes(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// The matches of one project.
#[derive(Debug, Clone, PartialEq)]
pub struct Matches {
    /// Candidates passing every constraint, best first (at most `limit`).
    pub sites: Vec<SiteMatch>,
    /// How many sites pass every constraint.
    pub matched: usize,
    /// With `explain`: the sites failing a constraint (by layer, id).
    pub failed: Vec<SiteMatch>,
}

/// What the matcher needs of the road networks.
pub struct Engines {
    materials: Vec<Arc<RoutingEngine>>,
    commute: Option<Arc<RoutingEngine>>,
}

impl Engines {
    /// The engines the needs call for; an error names a profile the server has not loaded.
    pub fn for_needs(routing: Option<&Routing>, needs: &Needs) -> Result<Engines, RoutingError> {
        let get = |p: ProfileId| -> Result<Arc<RoutingEngine>, RoutingError> {
            routing
                .ok_or(RoutingError::ProfileNotLoaded(p))?
                .engine(p)
                .cloned()
        };
        Ok(Engines {
            materials: needs
                .materials
                .iter()
                .map(|m| get(m.profile))
                .collect::<Result<_, _>>()?,
            commute: if needs.occupations.is_empty() {
                None
            } else {
                Some(get(COMMUTE_PROFILE)?)
            },
        })
    }
}

/// Ranks the sites the caller may see against the needs.
pub fn match_sites(
    view: &View,
    needs: &Needs,
    engines: &Engines,
    lang: Lang,
    limit: usize,
    explain: bool,
) -> Matches {
    let mut candidates = Vec::new();
    let mut failed = Vec::new();
    for layer in SITE_LAYERS {
        let lv = view.layer(layer);
        let data = lv.shared();
        for row in lv.rows() {
            let checks = constraints(data, row, needs, lang);
            let m = SiteMatch {
                layer,
                row,
                id: data.id(row),
                checks,
                criteria: Vec::new(),
                total: 0.0,
            };
            if m.passes() {
                candidates.push(m);
            } else if explain {
                failed.push(m);
            }
        }
    }
    let deposits = view.layer(Layer::WasteDeposits);
    let catchments = view.layer(Layer::Catchments).shared().clone();
    let material_rows: Vec<Vec<(u32, f64)>> = needs
        .materials
        .iter()
        .map(|m| deposits_of(deposits, m.material))
        .collect();
    for m in &mut candidates {
        if crate::cancel::cancelled() {
            break;
        }
        m.criteria = criteria(
            view.layer(m.layer).shared(),
            m.row,
            needs,
            engines,
            deposits.shared(),
            &material_rows,
            &catchments,
            lang,
        );
        m.total = total(&m.criteria);
    }
    candidates.sort_by(|a, b| {
        b.total
            .total_cmp(&a.total)
            .then(a.layer.cmp(&b.layer))
            .then(a.id.cmp(&b.id))
    });
    let matched = candidates.len();
    candidates.truncate(limit);
    Matches {
        sites: candidates,
        matched,
        failed,
    }
}

/// `Σ weight·score / Σ weight` (0 without weight).
fn total(criteria: &[Criterion]) -> f64 {
    let w: f64 = criteria.iter().map(|c| c.weight).sum();
    if w <= 0.0 {
        return 0.0;
    }
    criteria.iter().map(|c| c.weight * c.score).sum::<f64>() / w
}

/// The visible deposits of a material: `(row, quantity a year)`, in tonnes (the needs admit
/// only materials counted in tonnes, and ingest makes a deposit's unit its material's).
fn deposits_of(deposits: LayerView, material: &str) -> Vec<(u32, f64)> {
    let params = [("material".to_string(), material.to_string())];
    let filter = Filter::parse(Layer::WasteDeposits, &params, &[])
        .expect("a material of the taxonomy is a valid filter");
    let data = deposits.data();
    let quantity = data.schema().index_of("quantity");
    deposits
        .filter(&filter)
        .rows_in(0..data.len() as u32)
        .filter_map(|r| Some((r, data.value(r, quantity)?.as_f64()?)))
        .collect()
}

fn num(data: &LayerData, row: u32, field: &str) -> Option<f64> {
    data.value_by_name(row, field).and_then(ValueRef::as_f64)
}

fn flag(data: &LayerData, row: u32, field: &str) -> Option<bool> {
    match data.value_by_name(row, field) {
        Some(ValueRef::Bool(b)) => Some(b),
        _ => None,
    }
}

fn text<'a>(data: &'a LayerData, row: u32, field: &str) -> Option<&'a str> {
    match data.value_by_name(row, field) {
        Some(ValueRef::Text(t)) => Some(t),
        _ => None,
    }
}

/// The site's area in hectares: a plot's area, a building's land.
pub fn site_area_ha(data: &LayerData, row: u32) -> Option<f64> {
    match data.layer() {
        Layer::Buildings => num(data, row, "land_area_ha"),
        _ => num(data, row, "area_ha"),
    }
}

/// Every hard constraint of the needs, checked on one site. Fields a constraint needs known
/// (areas, power, water, utilities, territory) fail when unknown; a zone fails only when the
/// site is known to lie in it; status and availability fail only when known and wrong.
pub fn constraints(data: &LayerData, row: u32, needs: &Needs, lang: Lang) -> Vec<Check> {
    let layer = data.layer();
    let w = words::Words(lang);
    let mut out = Vec::new();
    let mut check = |name: &'static str, passed: bool, reason: String| {
        out.push(Check {
            name,
            passed,
            reason,
        })
    };
    match needs.site_type {
        SiteType::Plot => check(
            "site_type",
            layer == Layer::Plots,
            w.site_type(layer, "plot"),
        ),
        SiteType::Building => check(
            "site_type",
            layer == Layer::Buildings,
            w.site_type(layer, "building"),
        ),
        SiteType::Any => {}
    }
    let status = text(data, row, "status");
    check(
        "status",
        status.is_none_or(|s| s == "available"),
        w.status(status),
    );
    if let Some(by) = needs.needed_by {
        let from = match data.value_by_name(row, "available_from") {
            Some(ValueRef::Date(d)) => Some(d),
            _ => None,
        };
        check(
            "needed_by",
            from.is_none_or(|d: NaiveDate| d <= by),
            w.available(from, by),
        );
    }
    if let Some(min) = needs.land_min_ha {
        let a = site_area_ha(data, row);
        check(
            "land_min_ha",
            a.is_some_and(|a| a >= min),
            w.at_least("land", a, min, "ha"),
        );
    }
    let building_mins = [
        ("floor_min_m2", "floor_area_m2", needs.floor_min_m2, "m²"),
        (
            "clear_height_min_m",
            "clear_height_m",
            needs.clear_height_min_m,
            "m",
        ),
        ("dock_doors_min", "dock_doors", needs.dock_doors_min, ""),
        ("power_min_mva", "power_mva", needs.power_min_mva, "MVA"),
        (
            "water_min_m3_day",
            "water_m3_day",
            needs.water_min_m3_day,
            "m³/j",
        ),
    ];
    for (name, field, need, unit) in building_mins {
        if let Some(min) = need {
            let v = num(data, row, field);
            check(
                name,
                v.is_some_and(|v| v >= min),
                w.at_least(field, v, min, unit),
            );
        }
    }
    for (name, wanted) in [
        ("gas", needs.gas),
        ("fibre", needs.fibre),
        ("rail_siding", needs.rail_siding),
    ] {
        if wanted {
            let v = flag(data, row, name);
            check(name, v == Some(true), w.utility(name, v));
        }
    }
    for zone in CONSTRAINTS {
        if !needs.accepts.contains(zone) {
            let v = flag(data, row, zone);
            if v == Some(true) {
                check(zone_name(zone), false, w.zone(zone));
            }
        }
    }
    if let Some(t) = needs.tenure {
        let offered = text(data, row, "tenure");
        let ok = offered.is_none_or(|o| t == "sale_or_lease" || o == "sale_or_lease" || o == t);
        check("tenure", ok, w.tenure(offered, t));
    }
    if let Some(siren) = &needs.territory {
        let v = text(data, row, "territory");
        check(
            "territory",
            v == Some(siren.as_str()),
            w.territory(v, siren),
        );
    }
    out
}

/// The constraint name of a zone not accepted.
fn zone_name(zone: &str) -> &'static str {
    match zone {
        "flood_zone" => "accepts.flood_zone",
        "seveso" => "accepts.seveso",
        "natura2000" => "accepts.natura2000",
        _ => "accepts.soil_pollution",
    }
}

#[allow(clippy::too_many_arguments)]
fn criteria(
    data: &Arc<LayerData>,
    row: u32,
    needs: &Needs,
    engines: &Engines,
    deposits: &Arc<LayerData>,
    material_rows: &[Vec<(u32, f64)>],
    catchments: &Arc<LayerData>,
    lang: Lang,
) -> Vec<Criterion> {
    let w = words::Words(lang);
    let mut out = Vec::new();
    if needs.has_land() {
        let area = site_area_ha(data, row);
        let score = match (area, needs.land_max_ha) {
            (Some(a), Some(max)) if a > max && a > 0.0 => max / a,
            (Some(_), _) => 1.0,
            (None, _) => 0.0,
        };
        out.push(Criterion {
            kind: "land",
            key: None,
            value: area,
            need: None,
            need_range: Some([needs.land_min_ha, needs.land_max_ha]),
            nearest_min: None,
            sources: None,
            difficult_projects: None,
            within_min: None,
            profile: None,
            score,
            weight: needs.weights.land,
            reason: w.land(area, needs.land_min_ha, needs.land_max_ha),
        });
    }
    let share = |total: f64, n: usize| if n == 0 { 0.0 } else { total / n as f64 };
    // One road search per profile, to the site and as far as the longest drive of that
    // profile's needs: materials hauled by the same vehicle share it.
    let mut searches: Vec<(ProfileId, Option<SearchTimes>)> = Vec::new();
    for ((need, engine), rows) in needs
        .materials
        .iter()
        .zip(&engines.materials)
        .zip(material_rows)
    {
        let i = match searches.iter().position(|(p, _)| *p == need.profile) {
            Some(i) => i,
            None => {
                let longest = needs
                    .materials
                    .iter()
                    .filter(|m| m.profile == need.profile)
                    .map(|m| m.max_drive_min * 60.0)
                    .fold(0.0, f64::max);
                let times = engine.feature_snaps(data)[row as usize]
                    .map(|site| engine.travel_times_from(vec![site], Direction::To, longest));
                searches.push((need.profile, times));
                searches.len() - 1
            }
        };
        let reach = searches[i].1.as_ref().map(|times| {
            material_reach(
                times,
                &engine.feature_snaps(deposits),
                rows,
                need.max_drive_min * 60.0,
            )
        });
        let (tonnes, nearest_s, sources) = reach.unwrap_or((0.0, None, 0));
        out.push(Criterion {
            kind: "material",
            key: Some(need.material.to_string()),
            value: Some(tonnes),
            need: Some(need.tonnes_per_year),
            need_range: None,
            nearest_min: nearest_s.map(|s| s / 60.0),
            sources: Some(sources),
            difficult_projects: None,
            within_min: Some(need.max_drive_min),
            profile: Some(need.profile),
            score: (tonnes / need.tonnes_per_year).min(1.0),
            weight: share(needs.weights.materials, needs.materials.len()),
            reason: w.material(need, tonnes, nearest_s, reach.is_some()),
        });
    }
    if let Some(engine) = &engines.commute {
        let snap = engine.feature_snaps(data)[row as usize];
        // One workforce search per distinct commute.
        let mut reach: Vec<(f64, Workforce)> = Vec::new();
        for need in &needs.occupations {
            let figures = snap.map(|s| {
                let i = match reach.iter().position(|(m, _)| *m == need.max_commute_min) {
                    Some(i) => i,
                    None => {
                        let m = need.max_commute_min;
                        reach.push((m, engine.workforce_at(catchments, s, m, Direction::To)));
                        reach.len() - 1
                    }
                };
                reach[i].1.totals.clone()
            });
            let figures = figures.as_ref();
            let count = |m: Option<&std::collections::BTreeMap<String, f64>>| {
                m.map(|m| m.get(&need.code).copied().unwrap_or(0.0))
            };
            let seekers = figures.and_then(|f| count(f.candidates.as_ref()));
            let difficult = figures.and_then(|f| count(f.difficult_projects.as_ref()));
            out.push(Criterion {
                kind: "workforce",
                key: Some(need.code.clone()),
                value: Some(seekers.unwrap_or(0.0)),
                need: Some(need.headcount),
                need_range: None,
                nearest_min: None,
                sources: None,
                difficult_projects: difficult,
                within_min: Some(need.max_commute_min),
                profile: Some(COMMUTE_PROFILE),
                score: (seekers.unwrap_or(0.0) / need.headcount).min(1.0),
                weight: share(needs.weights.workforce, needs.occupations.len()),
                reason: w.workforce(need, seekers, difficult, snap.is_some()),
            });
        }
    }
    out
}

/// Tonnes a year of the deposits `rows` (snapped as in `snaps`) from which the site of the
/// search `times` is reached within `max_s`, the shortest drive, and how many count. The
/// limit is compared in whole milliseconds, as the search's own.
fn material_reach(
    times: &SearchTimes,
    snaps: &FeatureSnaps,
    rows: &[(u32, f64)],
    max_s: f64,
) -> (f64, Option<f64>, usize) {
    let max_ms = (max_s * 1000.0).round();
    let (mut tonnes, mut nearest, mut n) = (0.0, None::<f64>, 0);
    for (r, t) in rows {
        let s = snaps[*r as usize].as_ref().and_then(|s| times.time_at(s));
        if let Some(s) = s.filter(|s| s * 1000.0 <= max_ms) {
            tonnes += t;
            n += 1;
            nearest = Some(nearest.map_or(s, |x| x.min(s)));
        }
    }
    (tonnes, nearest, n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_zone_has_its_constraint_name() {
        for zone in crate::query::CONSTRAINTS {
            assert_eq!(super::zone_name(zone), format!("accepts.{zone}"));
        }
    }
}
