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

pub mod impact;
mod needs;
mod project;
mod words;

use std::sync::Arc;

use chrono::NaiveDate;

pub use impact::{Balance, Factors, MaterialImpact, Supplier};
pub use needs::{
    BadNeed, DEFAULT_NEED_MINUTES, MAX_NEED_MINUTES, MAX_NEEDS, MaterialNeed, NEED_FIELDS, Needs,
    OccupationNeed, SiteType, Weights, is_naf_code, is_occupation_code,
};
pub use project::{PROJECT_FIELDS, read_project};
pub use words::Lang;

use crate::index::{Filter, LayerData, LayerView, ValueRef, View};
use crate::model::{FeatureId, Layer, Project};
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
    /// The supply of each material need (in the needs' order): suppliers, road kilometres,
    /// emissions and disposal avoided.
    pub impact: Vec<MaterialImpact>,
    /// `Σ weight·score / Σ weight`; 0 for a site failing a constraint.
    pub total: f64,
}

impl SiteMatch {
    /// A site with its constraints checked, not yet scored.
    fn checked(layer: Layer, row: u32, id: FeatureId, checks: Vec<Check>) -> SiteMatch {
        SiteMatch {
            layer,
            row,
            id,
            checks,
            criteria: Vec::new(),
            impact: Vec::new(),
            total: 0.0,
        }
    }

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

/// Whether an occupation code is known to this server: in the BMO survey's list when one is
/// loaded (`bmo_occupations.json`), else among the codes the catchments count (job seekers or
/// hiring projects). A well-formed code known to neither is a bad need, not a silent zero.
pub fn occupation_known(
    survey: &crate::ingest::bmo::OccupationTable,
    catchments: &LayerData,
    code: &str,
) -> bool {
    if !survey.occupations.is_empty() {
        return survey.occupations.contains_key(code);
    }
    let schema = catchments.schema();
    let fields = ["candidates", "hiring_projects"].map(|f| schema.index_of(f));
    (0..catchments.len() as u32).any(|row| {
        fields.iter().any(|&f| {
            matches!(catchments.value(row, f), Some(ValueRef::Counts(m)) if m.contains_key(code))
        })
    })
}

/// Ranks the sites the caller may see against the needs.
pub fn match_sites(
    view: &View,
    needs: &Needs,
    engines: &Engines,
    factors: &Factors,
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
            let checks = constraints(data, row, needs, None);
            let m = SiteMatch::checked(layer, row, data.id(row), checks);
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
    let material_slices: Vec<&[(u32, f64)]> = material_rows.iter().map(Vec::as_slice).collect();
    // Best first by an upper bound of the total (the land score, and every material and
    // occupation taken as fully met), so that the road searches run for the sites that can
    // still enter the list: once `limit` sites are scored, a site whose bound is below the
    // last of them, or equal with a later layer and id, cannot displace it. The answer is the
    // same as scoring every candidate.
    let mut bounded: Vec<(f64, SiteMatch)> = candidates
        .into_iter()
        .map(|m| (upper_bound(view.layer(m.layer).shared(), m.row, needs), m))
        .collect();
    bounded.sort_by(|(a, x), (b, y)| b.total_cmp(a).then(rank(x, y)));
    let matched = bounded.len();
    let mut best: Vec<SiteMatch> = Vec::with_capacity(limit + 1);
    for (bound, mut m) in bounded {
        if crate::cancel::cancelled() {
            break;
        }
        // Sorted by bound, then rank: once a site's bound is below the last listed total, or
        // equal to it with a rank after it, no later site can enter either.
        if best.len() == limit {
            let last = &best[limit - 1];
            if bound < last.total
                || (bound == last.total && (m.layer, m.id) > (last.layer, last.id))
            {
                break;
            }
        }
        (m.criteria, m.impact) = criteria(
            view.layer(m.layer).shared(),
            m.row,
            needs,
            engines,
            factors,
            deposits.shared(),
            &material_slices,
            &catchments,
            &mut SiteSearches::for_needs([needs]),
            lang,
        );
        m.total = total(&m.criteria);
        let at = best.partition_point(|b| rank(b, &m).is_lt());
        if at < limit {
            best.insert(at, m);
            best.truncate(limit);
        }
    }
    let mut candidates = best;
    // The reasons of the sites listed (passing, or failing with explain), in words.
    for m in candidates.iter_mut().chain(&mut failed) {
        m.checks = constraints(view.layer(m.layer).shared(), m.row, needs, Some(lang));
    }
    Matches {
        sites: candidates,
        matched,
        failed,
    }
}

/// A stored project, read for matching: its needs and the road networks they call for.
pub struct ReadProject {
    pub project: Arc<Project>,
    pub needs: Needs,
    pub engines: Engines,
}

/// How one site fits a stored project.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectFit {
    pub project: Arc<Project>,
    pub fit: SiteMatch,
}

/// The projects one site would suit, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectFits {
    /// Projects whose every constraint the site passes, by total, then id.
    pub suited: Vec<ProjectFit>,
    /// With `explain`: the projects the site fails, with the constraints failed.
    pub failed: Vec<ProjectFit>,
}

/// The reverse of [`match_sites`]: how one site (a visible row of a site layer) fits each of
/// the projects, with the same constraints, criteria, totals and impact as the project's own
/// matches give that site. The road searches from the site are made once for all the projects
/// ([`SiteSearches`]), and the deposits of a material read once.
pub fn rank_projects(
    view: &View,
    layer: Layer,
    row: u32,
    projects: &[ReadProject],
    factors: &Factors,
    lang: Lang,
    explain: bool,
) -> ProjectFits {
    let data = view.layer(layer).shared().clone();
    let deposits = view.layer(Layer::WasteDeposits);
    let catchments = view.layer(Layer::Catchments).shared().clone();
    let mut out = ProjectFits {
        suited: Vec::new(),
        failed: Vec::new(),
    };
    // The hard constraints first: only the projects the site passes are scored.
    let mut passing = Vec::new();
    for p in projects {
        let checks = constraints(&data, row, &p.needs, Some(lang));
        let fit = SiteMatch::checked(layer, row, data.id(row), checks);
        if fit.passes() {
            passing.push((p, fit));
        } else if explain {
            out.failed.push(ProjectFit {
                project: p.project.clone(),
                fit,
            });
        }
    }
    // One road search per profile for the projects passing, and the deposits of each
    // material they need, read once for all of them.
    let mut searches = SiteSearches::for_needs(passing.iter().map(|(p, _)| &p.needs));
    let mut by_material: Vec<(&'static str, Vec<(u32, f64)>)> = Vec::new();
    for (p, _) in &passing {
        for m in &p.needs.materials {
            if !by_material.iter().any(|(k, _)| *k == m.material) {
                by_material.push((m.material, deposits_of(deposits, m.material)));
            }
        }
    }
    for (p, mut fit) in passing {
        if crate::cancel::cancelled() {
            break;
        }
        let material_rows: Vec<&[(u32, f64)]> = p
            .needs
            .materials
            .iter()
            .map(|m| {
                by_material
                    .iter()
                    .find(|(k, _)| *k == m.material)
                    .map_or(&[][..], |(_, rows)| rows.as_slice())
            })
            .collect();
        (fit.criteria, fit.impact) = criteria(
            &data,
            row,
            &p.needs,
            &p.engines,
            factors,
            deposits.shared(),
            &material_rows,
            &catchments,
            &mut searches,
            lang,
        );
        fit.total = total(&fit.criteria);
        out.suited.push(ProjectFit {
            project: p.project.clone(),
            fit,
        });
    }
    out.suited.sort_by(|a, b| {
        b.fit
            .total
            .total_cmp(&a.fit.total)
            .then(a.project.id.cmp(&b.project.id))
    });
    out
}

/// Ranking order: higher total first, then layer, then id.
fn rank(a: &SiteMatch, b: &SiteMatch) -> std::cmp::Ordering {
    b.total
        .total_cmp(&a.total)
        .then(a.layer.cmp(&b.layer))
        .then(a.id.cmp(&b.id))
}

/// The highest total a site can reach: its land score, with every material and occupation
/// met in full. The same terms, weights and order as [`total`], so that for a site meeting
/// everything the bound equals its total to the last bit.
fn upper_bound(data: &LayerData, row: u32, needs: &Needs) -> f64 {
    let land = needs.has_land().then(|| {
        (
            needs.weights.land,
            land_score(site_area_ha(data, row), needs),
        )
    });
    let m = share(needs.weights.materials, needs.materials.len());
    let o = share(needs.weights.workforce, needs.occupations.len());
    weighted(
        land.into_iter()
            .chain(needs.materials.iter().map(|_| (m, 1.0)))
            .chain(needs.occupations.iter().map(|_| (o, 1.0))),
    )
}

/// A criterion's part of a shared weight.
fn share(total: f64, n: usize) -> f64 {
    if n == 0 { 0.0 } else { total / n as f64 }
}

/// `Σ weight·score / Σ weight` of `(weight, score)` terms (0 without weight).
fn weighted(terms: impl Iterator<Item = (f64, f64)> + Clone) -> f64 {
    let w: f64 = terms.clone().map(|(w, _)| w).sum();
    if w <= 0.0 {
        return 0.0;
    }
    terms.map(|(w, s)| w * s).sum::<f64>() / w
}

/// 1 within the range, `max / area` above it, 0 when the area is unknown.
fn land_score(area: Option<f64>, needs: &Needs) -> f64 {
    match (area, needs.land_max_ha) {
        (Some(a), Some(max)) if a > max && a > 0.0 => max / a,
        (Some(_), _) => 1.0,
        (None, _) => 0.0,
    }
}

/// The supply of one material in words.
pub fn impact_reason(m: &MaterialImpact, lang: Lang) -> String {
    words::Words(lang).impact(m)
}

/// `Σ weight·score / Σ weight` of the criteria (0 without weight).
fn total(criteria: &[Criterion]) -> f64 {
    weighted(criteria.iter().map(|c| (c.weight, c.score)))
}

/// The visible deposits of a material, in row order: `(row, quantity a year)`, in tonnes (the needs admit
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

/// Every hard constraint of the needs, checked on one site, with its reason in `lang` (`None`:
/// verdicts only, reasons left empty). Fields a constraint needs known
/// (areas, power, water, utilities, territory) fail when unknown; a zone fails only when the
/// site is known to lie in it; status and availability fail only when known and wrong.
pub fn constraints(data: &LayerData, row: u32, needs: &Needs, lang: Option<Lang>) -> Vec<Check> {
    let layer = data.layer();
    // Reasons are written only when asked for: a scan over every site needs the verdicts
    // alone, and formatting the words was a fifth of a national match (perf).
    let w = words::Words(lang.unwrap_or_default());
    let mut out = Vec::new();
    let mut check = |name: &'static str, passed: bool, reason: &dyn Fn() -> String| {
        out.push(Check {
            name,
            passed,
            reason: if lang.is_some() {
                reason()
            } else {
                String::new()
            },
        })
    };
    match needs.site_type {
        SiteType::Plot => check("site_type", layer == Layer::Plots, &|| {
            w.site_type(layer, "plot")
        }),
        SiteType::Building => check("site_type", layer == Layer::Buildings, &|| {
            w.site_type(layer, "building")
        }),
        SiteType::Any => {}
    }
    let status = text(data, row, "status");
    check("status", status.is_none_or(|s| s == "available"), &|| {
        w.status(status)
    });
    if let Some(by) = needs.needed_by {
        let from = match data.value_by_name(row, "available_from") {
            Some(ValueRef::Date(d)) => Some(d),
            _ => None,
        };
        check(
            "needed_by",
            from.is_none_or(|d: NaiveDate| d <= by),
            &|| w.available(from, by),
        );
    }
    if let Some(min) = needs.land_min_ha {
        let a = site_area_ha(data, row);
        check("land_min_ha", a.is_some_and(|a| a >= min), &|| {
            w.at_least("land", a, min, "ha")
        });
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
            check(name, v.is_some_and(|v| v >= min), &|| {
                w.at_least(field, v, min, unit)
            });
        }
    }
    for (name, wanted) in [
        ("gas", needs.gas),
        ("fibre", needs.fibre),
        ("rail_siding", needs.rail_siding),
    ] {
        if wanted {
            let v = flag(data, row, name);
            check(name, v == Some(true), &|| w.utility(name, v));
        }
    }
    for zone in CONSTRAINTS {
        if !needs.accepts.contains(zone) {
            let v = flag(data, row, zone);
            if v == Some(true) {
                check(zone_name(zone), false, &|| w.zone(zone));
            }
        }
    }
    if let Some(t) = needs.tenure {
        let offered = text(data, row, "tenure");
        let ok = offered.is_none_or(|o| t == "sale_or_lease" || o == "sale_or_lease" || o == t);
        check("tenure", ok, &|| w.tenure(offered, t));
    }
    if let Some(siren) = &needs.territory {
        let v = text(data, row, "territory");
        check("territory", v == Some(siren.as_str()), &|| {
            w.territory(v, siren)
        });
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

/// The road searches from one site, made once and shared by the criteria of every need of a
/// project (and, in the reverse lookup, of every project): per profile, one search as far as
/// the longest drive asked of that profile; per commute length, one workforce count. A search
/// reaching further gives the same times and routes within a shorter limit (every node closer
/// than the limit is settled in both), so sharing changes no answer.
pub struct SiteSearches<'e> {
    longest: Vec<(ProfileId, f64)>,
    times: Vec<(ProfileId, Option<SearchTimes<'e>>)>,
    workforce: Vec<(f64, Option<Workforce>)>,
    /// Per search and material, the deposits reached within the whole search: a need of a
    /// shorter drive keeps those within its own. Reading every deposit of a material through
    /// the search was 86 % of a reverse lookup at scale 500 (perf: `best_end` and the closure
    /// around it), paid once per project before this.
    reached: Vec<(usize, &'static str, Vec<impact::Reachable>)>,
    /// Per search, the deposit rows on the roads it reached.
    candidates: Vec<(usize, Vec<u32>)>,
}

impl<'e> SiteSearches<'e> {
    /// Searches long enough for every material need of these needs.
    pub fn for_needs<'n>(all: impl IntoIterator<Item = &'n Needs>) -> SiteSearches<'e> {
        let mut longest: Vec<(ProfileId, f64)> = Vec::new();
        for m in all.into_iter().flat_map(|n| &n.materials) {
            let s = m.max_drive_min * 60.0;
            match longest.iter_mut().find(|(p, _)| *p == m.profile) {
                Some((_, l)) => *l = l.max(s),
                None => longest.push((m.profile, s)),
            }
        }
        SiteSearches {
            longest,
            times: Vec::new(),
            workforce: Vec::new(),
            reached: Vec::new(),
            candidates: Vec::new(),
        }
    }

    /// The index of the search of `profile` to the site (made on first use).
    fn search(
        &mut self,
        engine: &'e RoutingEngine,
        profile: ProfileId,
        data: &LayerData,
        row: u32,
    ) -> usize {
        if let Some(i) = self.times.iter().position(|(p, _)| *p == profile) {
            return i;
        }
        let longest = self
            .longest
            .iter()
            .find(|(p, _)| *p == profile)
            .map_or(0.0, |(_, l)| *l);
        let times = engine.feature_snaps(data)[row as usize]
            .map(|site| engine.travel_times_from(vec![site], Direction::To, longest));
        self.times.push((profile, times));
        self.times.len() - 1
    }

    fn times(&self, i: usize) -> Option<&SearchTimes<'e>> {
        self.times[i].1.as_ref()
    }

    /// The deposits `rows` (in row order) of `material` reached within the whole search `i`
    /// (`None`: the site is off the roads), made on first use. Only the deposits on the roads
    /// the search reached are read (`SearchTimes::candidate_rows`): within a 30-minute drive
    /// at scale 500 that is about one deposit in 40.
    fn reachable(
        &mut self,
        i: usize,
        material: &'static str,
        engine: &RoutingEngine,
        deposits: &Arc<LayerData>,
        rows: &[(u32, f64)],
    ) -> Option<&[impact::Reachable]> {
        let times = self.times[i].1.as_ref()?;
        let k = match self
            .reached
            .iter()
            .position(|(j, m, _)| *j == i && *m == material)
        {
            Some(k) => k,
            None => {
                let c = match self.candidates.iter().position(|(j, _)| *j == i) {
                    Some(c) => c,
                    None => {
                        let index = engine.segment_rows(deposits);
                        self.candidates.push((i, times.candidate_rows(&index)));
                        self.candidates.len() - 1
                    }
                };
                let candidates = &self.candidates[c].1;
                let snaps = engine.feature_snaps(deposits);
                let on_roads: Vec<(u32, f64)> = candidates
                    .iter()
                    .filter_map(|r| {
                        let at = rows.binary_search_by_key(r, |&(row, _)| row).ok()?;
                        Some(rows[at])
                    })
                    .collect();
                let limit_s = f64::from(times.limit_ms()) / 1000.0;
                let all = material_reach(times, deposits, &snaps, &on_roads, limit_s);
                self.reached.push((i, material, all));
                self.reached.len() - 1
            }
        };
        Some(&self.reached[k].2)
    }

    /// The workforce within `minutes` of commute to the site (`None`: the site is off the
    /// roads).
    fn workforce(
        &mut self,
        engine: &RoutingEngine,
        data: &LayerData,
        row: u32,
        catchments: &Arc<LayerData>,
        minutes: f64,
    ) -> Option<&Workforce> {
        let i = match self.workforce.iter().position(|(m, _)| *m == minutes) {
            Some(i) => i,
            None => {
                let w = engine.feature_snaps(data)[row as usize]
                    .map(|s| engine.workforce_at(catchments, s, minutes, Direction::To));
                self.workforce.push((minutes, w));
                self.workforce.len() - 1
            }
        };
        self.workforce[i].1.as_ref()
    }
}

#[allow(clippy::too_many_arguments)]
fn criteria<'e>(
    data: &Arc<LayerData>,
    row: u32,
    needs: &Needs,
    engines: &'e Engines,
    factors: &Factors,
    deposits: &Arc<LayerData>,
    material_rows: &[&[(u32, f64)]],
    catchments: &Arc<LayerData>,
    searches: &mut SiteSearches<'e>,
    lang: Lang,
) -> (Vec<Criterion>, Vec<MaterialImpact>) {
    let w = words::Words(lang);
    let mut out = Vec::new();
    let mut impacts = Vec::new();
    if needs.has_land() {
        let area = site_area_ha(data, row);
        let score = land_score(area, needs);
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
    for ((need, engine), rows) in needs
        .materials
        .iter()
        .zip(&engines.materials)
        .zip(material_rows)
    {
        let i = searches.search(engine, need.profile, data, row);
        let deposit_snaps = engine.feature_snaps(deposits);
        let max_ms = (need.max_drive_min * 60.0 * 1000.0).round();
        let reach = searches
            .reachable(i, need.material, engine, deposits, rows)
            .map(|all| {
                all.iter()
                    .filter(|r| r.drive_s * 1000.0 <= max_ms)
                    .cloned()
                    .collect::<Vec<_>>()
            });
        let reachable = reach.as_deref().unwrap_or(&[]);
        let tonnes: f64 = reachable.iter().map(|r| r.tonnes).sum();
        let nearest_s = reachable.iter().map(|r| r.drive_s).reduce(f64::min);
        let sources = reachable.len();
        let suppliers = impact::choose_suppliers(reachable, need.tonnes_per_year)
            .into_iter()
            .map(|(k, take)| {
                let r = &reachable[k];
                let road_m = searches.times(i).and_then(|times| {
                    let snap = deposit_snaps[r.row as usize].as_ref()?;
                    Some(times.route_at(snap)?.length_m)
                });
                Supplier {
                    row: r.row,
                    id: r.id,
                    available_t: r.tonnes,
                    tonnes: take,
                    drive_s: r.drive_s,
                    road_m,
                }
            })
            .collect();
        impacts.push(impact::material_impact(
            need.material,
            need.profile,
            need.tonnes_per_year,
            suppliers,
            factors,
        ));
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
        for need in &needs.occupations {
            let figures = searches
                .workforce(engine, data, row, catchments, need.max_commute_min)
                .map(|w| w.totals.clone());
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
                reason: w.workforce(need, seekers, difficult, figures.is_some()),
            });
        }
    }
    (out, impacts)
}

/// The deposits `rows` (snapped as in `snaps`) from which the site of the search `times` is
/// reached within `max_s`. The limit is compared in whole milliseconds, as the search's own.
fn material_reach(
    times: &SearchTimes,
    deposits: &LayerData,
    snaps: &FeatureSnaps,
    rows: &[(u32, f64)],
    max_s: f64,
) -> Vec<impact::Reachable> {
    let max_ms = (max_s * 1000.0).round();
    rows.iter()
        .filter_map(|&(row, tonnes)| {
            let s = snaps[row as usize]
                .as_ref()
                .and_then(|s| times.time_at(s))?;
            (s * 1000.0 <= max_ms).then(|| impact::Reachable {
                row,
                id: deposits.id(row),
                tonnes,
                drive_s: s,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use geo::{Distance, Geodesic};
    use geo_types::{Geometry, Point};

    use super::*;
    use crate::model::{Feature, Value, schema};
    use crate::routing::{BuildOptions, RawNetwork, RoadClass, RoadGraph, WayAttrs};

    /// Metres per degree of longitude at 49°N, near enough to place points 1 km apart.
    const M_PER_DEG_LON: f64 = 73_172.0;

    fn feature(layer: Layer, id: u64, lon: f64, lat: f64, props: &[(&str, Value)]) -> Feature {
        let s = schema(layer);
        let mut slots = vec![None; s.fields.len()];
        for (k, v) in props {
            slots[s.index_of(k)] = Some(v.clone());
        }
        Feature {
            id,
            version: 1,
            geometry: Geometry::Point(Point::new(lon, lat)),
            props: slots,
            extra: Default::default(),
        }
    }

    /// A hand-drawn case: a straight primary road of three 1 km segments running east from a
    /// site; deposit A (200 t of metal a year) beside the road 1 km away, deposit B (500 t)
    /// 3 km away. A need of 300 t takes all of A (nearest by road) and 100 t of B.
    #[test]
    fn impact_of_a_hand_drawn_case() {
        let lon = |km: f64| 1.0 + km * 1000.0 / M_PER_DEG_LON;
        let mut net = RawNetwork::new("hand");
        let nodes: Vec<u32> = (0..4).map(|k| net.push_node(lon(k as f64), 49.0)).collect();
        net.push_way(nodes.clone(), WayAttrs::new(RoadClass::Primary));
        let engine = Arc::new(RoutingEngine::new(
            RoadGraph::build(&net, ProfileId::Hgv, &BuildOptions::default()).unwrap(),
        ));
        let node = |k: usize| Point::new(net.lonlat[nodes[k] as usize][0], 49.0);
        // Road lengths by an independent formula: the geodesic (Karney) between the nodes.
        let km_a = Geodesic.distance(node(0), node(1)) / 1000.0;
        let km_b = km_a + Geodesic.distance(node(1), node(3)) / 1000.0;

        let metal = Value::Text("metal".into());
        let deposits = Arc::new(LayerData::build(
            Layer::WasteDeposits,
            vec![
                feature(
                    Layer::WasteDeposits,
                    1,
                    lon(1.0),
                    49.0001,
                    &[
                        ("material", metal.clone()),
                        ("quantity", Value::Float(200.0)),
                    ],
                ),
                feature(
                    Layer::WasteDeposits,
                    2,
                    lon(3.0),
                    49.0001,
                    &[("material", metal), ("quantity", Value::Float(500.0))],
                ),
            ],
        ));
        let plots = Arc::new(LayerData::build(
            Layer::Plots,
            vec![feature(
                Layer::Plots,
                9,
                1.0,
                49.0001,
                &[("area_ha", Value::Float(6.0))],
            )],
        ));
        let catchments = Arc::new(LayerData::build(Layer::Catchments, Vec::new()));
        let body = serde_json::json!({
            "materials": [{"material": "metal", "tonnes_per_year": 300, "max_drive_min": 30}]
        });
        let needs = Needs::read(body.as_object().unwrap(), &|_| true).unwrap();
        let engines = Engines {
            materials: vec![engine],
            commute: None,
        };
        let factors = Factors::embedded();
        let rows: Vec<&[(u32, f64)]> = vec![&[(0, 200.0), (1, 500.0)]];
        let (criteria, impacts) = criteria(
            &plots,
            0,
            &needs,
            &engines,
            &factors,
            &deposits,
            &rows,
            &catchments,
            &mut SiteSearches::for_needs([&needs]),
            Lang::En,
        );
        assert_eq!(
            criteria[0].value,
            Some(700.0),
            "both deposits reach the site"
        );
        let m = &impacts[0];
        assert_eq!(m.suppliers.len(), 2);
        let (a, b) = (&m.suppliers[0], &m.suppliers[1]);
        assert_eq!((a.id, a.tonnes, b.id, b.tonnes), (1, 200.0, 2, 100.0));
        // Lengths within 0.01 % of the geodesic (the graph measures segments on the
        // ellipsoid's local scale); the products then carry the same relative error.
        let close = |x: Option<f64>, want: f64| {
            let x = x.unwrap();
            assert!(
                (x - want).abs() <= 1e-4 * want.abs().max(1.0),
                "{x} ≠ {want}"
            );
        };
        close(a.road_m.map(|m| m / 1000.0), km_a);
        close(b.road_m.map(|m| m / 1000.0), km_b);
        let tkm = 200.0 * km_a + 100.0 * km_b;
        close(m.balance.tkm, tkm);
        let hgv = factors.get("transport.hgv").unwrap().value;
        let metal = factors.get("substitution.metal").unwrap().value;
        let tax = factors.get(impact::LANDFILL_TAX).unwrap().value;
        close(m.balance.transport_kgco2e, tkm * hgv);
        close(m.balance.avoided_kgco2e, 300.0 * metal);
        close(m.balance.tax_saved_eur, 300.0 * tax);
        close(m.balance.net_kgco2e, 300.0 * metal - tkm * hgv);
        assert_eq!(m.balance.disposal_avoided_t, 300.0);
        assert!(m.met());
        // With the table's values: 1,273 kg CO2e/t avoided, 0.079 kg/t·km, 65 €/t.
        assert!(
            (tkm - 500.0).abs() < 2.0,
            "about 200 t × 1 km + 100 t × 3 km: {tkm}"
        );
        assert_eq!(300.0 * tax, 19_500.0);
    }

    #[test]
    fn every_zone_has_its_constraint_name() {
        for zone in crate::query::CONSTRAINTS {
            assert_eq!(super::zone_name(zone), format!("accepts.{zone}"));
        }
    }
}
