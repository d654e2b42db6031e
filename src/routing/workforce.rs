//! Workforce within reach: candidates, job seekers, hiring projects and population of the
//! catchments, each weighted by the share of the catchment within a drive time of a site.
//!
//! **Weighting: reachable street length.** People live along streets, not evenly over a
//! catchment's area (most of a rural commune is fields). So the share of a catchment is the
//! length of its residential-type streets (primary, secondary, tertiary, unclassified,
//! residential, living street; not motorways, trunks, links or service roads) reachable
//! within the time, divided by the length of all of them; a street segment belongs to the
//! catchment holding its midpoint, and a segment partly reachable counts for the part
//! reachable (interpolated along it, as the isochrones are). A catchment without such
//! streets counts wholly if its interior point is reachable and not at all otherwise. The
//! assignment of segments to catchments is computed once per catchments snapshot.
//!
//! **Unknown is not zero.** A figure a catchment lacks (no job seekers file, a masked BMO
//! value) is `None` in its [`Figures`]; a total is `None` when no catchment counted has it,
//! and names it in `incomplete` when only some have it (then it is a lower bound). Masked
//! occupations are listed per figure.
//!
//! **Coverage.** Every catchment counted carries its road coverage, and the answer the
//! coverage of them all ([`super::coverage`]): where the graph covers a catchment only in part,
//! its share is over the streets the graph holds, and the answer says it is partial.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::catchment_roads::CatchmentRoads;
use super::coverage::AnswerCoverage;
use super::direction::Direction;
use super::engine::{RoutingEngine, SearchTimes};
use super::error::RoutingError;
use super::graph::{NO_EDGE, RoadGraph};
use super::snap::Snap;
use crate::index::{LayerData, ValueRef};
use crate::model::FeatureId;

/// How a catchment's share was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareBasis {
    /// Reachable street length over street length.
    Streets,
    /// No residential street inside: 1 if its interior point is reachable, else 0.
    InteriorPoint,
    /// Counted whole (the communes of a territory, not a drive time).
    Whole,
}

impl ShareBasis {
    pub fn id(self) -> &'static str {
        match self {
            ShareBasis::Streets => "street_length",
            ShareBasis::InteriorPoint => "interior_point",
            ShareBasis::Whole => "whole",
        }
    }
}

/// Catchment figures (weighted or not). `None` is unknown: the catchment (or every catchment
/// counted) lacks the field; never read as 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub population: Option<f64>,
    pub job_seekers: Option<f64>,
    /// Occupation code → count.
    pub candidates: Option<BTreeMap<String, f64>>,
    /// Occupation code → hiring projects (BMO `met`).
    pub hiring_projects: Option<BTreeMap<String, f64>>,
    /// Occupation code → projects judged difficult (BMO `xmet`).
    pub difficult_projects: Option<BTreeMap<String, f64>>,
    /// Occupation code → seasonal projects (BMO `smet`).
    pub seasonal_projects: Option<BTreeMap<String, f64>>,
    /// Occupation codes whose hiring, difficult, seasonal figure is masked in the survey for a
    /// catchment counted (so the count of that occupation is unknown, or a lower bound).
    pub masked: [BTreeSet<String>; 3],
    /// Totals only: the figures that some catchments counted lack while others have them (the
    /// total is then over those that have them: a lower bound).
    pub incomplete: BTreeSet<&'static str>,
}

/// The names of the optional figures, in [`Figures::present`] order.
pub const FIGURE_NAMES: [&str; 6] = [
    "population",
    "job_seekers",
    "candidates",
    "hiring_projects",
    "difficult_projects",
    "seasonal_projects",
];

fn add_opt(total: &mut Option<f64>, v: Option<f64>, k: f64) {
    if let Some(v) = v {
        *total.get_or_insert(0.0) += v * k;
    }
}

fn add_counts(
    total: &mut Option<BTreeMap<String, f64>>,
    v: &Option<BTreeMap<String, f64>>,
    k: f64,
) {
    if let Some(m) = v {
        let t = total.get_or_insert_with(BTreeMap::new);
        for (code, n) in m {
            *t.entry(code.clone()).or_insert(0.0) += n * k;
        }
    }
}

impl Figures {
    fn add_scaled(&mut self, other: &Figures, k: f64) {
        add_opt(&mut self.population, other.population, k);
        add_opt(&mut self.job_seekers, other.job_seekers, k);
        add_counts(&mut self.candidates, &other.candidates, k);
        add_counts(&mut self.hiring_projects, &other.hiring_projects, k);
        add_counts(&mut self.difficult_projects, &other.difficult_projects, k);
        add_counts(&mut self.seasonal_projects, &other.seasonal_projects, k);
        for (mine, theirs) in self.masked.iter_mut().zip(&other.masked) {
            mine.extend(theirs.iter().cloned());
        }
    }

    /// Which of [`FIGURE_NAMES`] are known.
    pub fn present(&self) -> [bool; 6] {
        [
            self.population.is_some(),
            self.job_seekers.is_some(),
            self.candidates.is_some(),
            self.hiring_projects.is_some(),
            self.difficult_projects.is_some(),
            self.seasonal_projects.is_some(),
        ]
    }

    fn of_row(layer: &LayerData, row: u32) -> Figures {
        let num = |name| layer.value_by_name(row, name).and_then(ValueRef::as_f64);
        let counts = |name| match layer.value_by_name(row, name) {
            Some(ValueRef::Counts(m)) => Some(m.clone()),
            _ => None,
        };
        let codes = |name| match layer.value_by_name(row, name) {
            Some(ValueRef::Text(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            _ => BTreeSet::new(),
        };
        Figures {
            population: num("population"),
            job_seekers: num("job_seekers"),
            candidates: counts("candidates"),
            hiring_projects: counts("hiring_projects"),
            difficult_projects: counts("difficult_projects"),
            seasonal_projects: counts("seasonal_projects"),
            masked: [
                codes("hiring_masked"),
                codes("difficult_masked"),
                codes("seasonal_masked"),
            ],
            incomplete: BTreeSet::new(),
        }
    }
}

/// A family is "in tension" when at least this share of its hiring projects (over the
/// occupations where both counts are known) is judged difficult.
pub const TENSION_SHARE: f64 = 0.5;

/// The figures of one occupation over the catchments within reach.
#[derive(Debug, Clone, PartialEq)]
pub struct OccupationFigures {
    pub code: String,
    /// Σ weighted `met` over the catchments where it is known; `None` when masked in all.
    pub hiring: Option<f64>,
    pub difficult: Option<f64>,
    pub seasonal: Option<f64>,
    /// Masked in at least one catchment counted: the figure is a lower bound (or unknown).
    pub hiring_masked: bool,
    pub difficult_masked: bool,
    pub seasonal_masked: bool,
    /// Σ xmet / Σ met over the catchments where both are known.
    pub difficult_share: Option<f64>,
    /// (Σ met, Σ xmet) over the catchments where both are known.
    pub known_pair: (f64, f64),
}

/// Hiring figures of a family of occupations.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyFigures {
    pub family: String,
    /// Σ known hiring projects of its occupations.
    pub hiring: f64,
    /// Σ xmet / Σ met over its occupations where both are known.
    pub difficult_share: Option<f64>,
    /// `difficult_share >= TENSION_SHARE`.
    pub in_tension: bool,
}

/// Per occupation, over the catchments counted: largest known hiring projects first.
pub fn occupation_figures(catchments: &[CatchmentShare]) -> Vec<OccupationFigures> {
    let mut by_code: BTreeMap<&str, (OccupationFigures, f64, f64)> = BTreeMap::new();
    for c in catchments {
        let w = &c.weighted;
        let codes = [
            &w.hiring_projects,
            &w.difficult_projects,
            &w.seasonal_projects,
        ]
        .into_iter()
        .flatten()
        .flat_map(|m| m.keys())
        .chain(w.masked.iter().flatten())
        .map(String::as_str);
        for code in codes {
            by_code.entry(code).or_insert_with(|| {
                (
                    OccupationFigures {
                        code: code.to_string(),
                        hiring: None,
                        difficult: None,
                        seasonal: None,
                        hiring_masked: false,
                        difficult_masked: false,
                        seasonal_masked: false,
                        difficult_share: None,
                        known_pair: (0.0, 0.0),
                    },
                    0.0,
                    0.0,
                )
            });
        }
    }
    for c in catchments {
        let w = &c.weighted;
        let get = |m: &Option<BTreeMap<String, f64>>, code: &str| {
            m.as_ref().and_then(|m| m.get(code).copied())
        };
        for (code, (o, both_met, both_xmet)) in by_code.iter_mut() {
            let (met, xmet, smet) = (
                get(&w.hiring_projects, code),
                get(&w.difficult_projects, code),
                get(&w.seasonal_projects, code),
            );
            add_opt(&mut o.hiring, met, 1.0);
            add_opt(&mut o.difficult, xmet, 1.0);
            add_opt(&mut o.seasonal, smet, 1.0);
            o.hiring_masked |= w.masked[0].contains(*code);
            o.difficult_masked |= w.masked[1].contains(*code);
            o.seasonal_masked |= w.masked[2].contains(*code);
            if let (Some(m), Some(x)) = (met, xmet) {
                *both_met += m;
                *both_xmet += x;
            }
        }
    }
    let mut out: Vec<OccupationFigures> = by_code
        .into_values()
        .map(|(mut o, m, x)| {
            o.difficult_share = (m > 0.0).then(|| (x / m).min(1.0));
            o.known_pair = (m, x);
            o
        })
        .collect();
    out.sort_by(|a, b| {
        b.hiring
            .unwrap_or(-1.0)
            .total_cmp(&a.hiring.unwrap_or(-1.0))
            .then_with(|| a.code.cmp(&b.code))
    });
    out
}

/// Per family (`family_of` maps an occupation code to its family), largest hiring first.
pub fn family_figures(
    occupations: &[OccupationFigures],
    family_of: impl Fn(&str) -> Option<String>,
) -> Vec<FamilyFigures> {
    let mut fams: BTreeMap<String, (f64, f64, f64)> = BTreeMap::new();
    for o in occupations {
        let Some(fam) = family_of(&o.code) else {
            continue;
        };
        let e = fams.entry(fam).or_insert((0.0, 0.0, 0.0));
        e.0 += o.hiring.unwrap_or(0.0);
        e.1 += o.known_pair.0;
        e.2 += o.known_pair.1;
    }
    let mut out: Vec<FamilyFigures> = fams
        .into_iter()
        .map(|(family, (hiring, m, x))| {
            let difficult_share = (m > 0.0).then(|| (x / m).min(1.0));
            FamilyFigures {
                family,
                hiring,
                difficult_share,
                in_tension: difficult_share.is_some_and(|s| s >= TENSION_SHARE),
            }
        })
        .collect();
    out.sort_by(|a, b| b.hiring.total_cmp(&a.hiring).then(a.family.cmp(&b.family)));
    out
}

/// One catchment within reach.
#[derive(Debug, Clone, PartialEq)]
pub struct CatchmentShare {
    pub row: u32,
    pub id: FeatureId,
    pub zone_code: Option<String>,
    pub zone_name: Option<String>,
    /// Share of the catchment within reach, 0 to 1.
    pub share: f64,
    pub basis: ShareBasis,
    pub street_km: f64,
    pub reachable_street_km: f64,
    /// Share of the catchment's area the road graph covers (see [`super::coverage`]).
    pub road_coverage: f64,
    /// The catchment's figures × share.
    pub weighted: Figures,
}

/// Workforce within reach of a site.
#[derive(Debug, Clone)]
pub struct Workforce {
    pub minutes: f64,
    pub direction: Direction,
    pub site: Snap,
    /// Catchments with a share above 0, largest weighted population first.
    pub catchments: Vec<CatchmentShare>,
    pub totals: Figures,
    /// Per occupation over the catchments counted, largest known hiring projects first.
    pub occupations: Vec<OccupationFigures>,
    /// The road coverage of the catchments counted.
    pub coverage: AnswerCoverage,
}

impl RoutingEngine {
    /// Workforce within `minutes` of a site (see the module documentation for the weighting):
    /// search from the site, measure the reachable street length of each catchment, weight
    /// its figures by the share reached.
    pub fn workforce(
        &self,
        catchments: &Arc<LayerData>,
        lon: f64,
        lat: f64,
        minutes: f64,
        direction: Direction,
    ) -> Result<Workforce, RoutingError> {
        let site = self.snap(lon, lat)?;
        Ok(self.workforce_at(catchments, site, minutes, direction))
    }

    /// [`RoutingEngine::workforce`] from a position already snapped (a site's feature snap).
    pub fn workforce_at(
        &self,
        catchments: &Arc<LayerData>,
        site: Snap,
        minutes: f64,
        direction: Direction,
    ) -> Workforce {
        let limit_s = minutes * 60.0;
        let times = self.travel_times_from(vec![site], direction, limit_s);
        let graph = self.graph();
        let roads = self
            .catchment_roads
            .get_or_compute(catchments, || CatchmentRoads::new(graph, catchments));
        let reachable_m = reachable_street_m(graph, &roads, segment_reach(&times), catchments);
        let snaps = self.feature_snaps(catchments);
        let interior_reached = |row: u32| {
            snaps[row as usize]
                .as_ref()
                .and_then(|s| times.time_at(s))
                .is_some()
        };
        let (mut out, totals) = shares(catchments, &roads, &reachable_m, interior_reached);
        let coverage = self.road_coverage(catchments);
        for c in &mut out {
            c.road_coverage = coverage.of(c.row);
        }
        let occupations = occupation_figures(&out);
        Workforce {
            minutes,
            direction,
            site,
            coverage: coverage.answer(out.iter().map(|c| c.row)),
            occupations,
            catchments: out,
            totals,
        }
    }
}

/// Reachable fraction of each touched segment (may exceed 1 where both ends count; callers
/// cap it): from each end whose time is known, the part of the segment covered before the
/// time runs out; from the site, the parts of its own segment on either side.
fn segment_reach(times: &SearchTimes<'_>) -> HashMap<u32, f64> {
    let graph = times.graph();
    let direction = times.direction();
    let limit_ms = f64::from(times.limit_ms());
    let mut reach: HashMap<u32, f64> = HashMap::new();
    for &u in times.settled_nodes() {
        let Some(tu) = times.node_time_ms(u) else {
            continue;
        };
        let segs = graph.edge_segments(u, direction);
        for (e, &seg) in graph.edges(u, direction).iter().zip(segs) {
            let r = if e.weight_ms == 0 {
                1.0
            } else {
                ((limit_ms - f64::from(tu)) / f64::from(e.weight_ms)).clamp(0.0, 1.0)
            };
            *reach.entry(seg).or_insert(0.0) += r;
        }
    }
    for o in times.origins() {
        let seg = graph.segment(o.seg);
        let [w_ab, w_ba] = seg.weight_ms;
        let (to_b, to_a) = match direction {
            Direction::From => (w_ab, w_ba),
            Direction::To => (w_ba, w_ab),
        };
        let part = |w: u32, span: f64| {
            if w == NO_EDGE {
                0.0
            } else if w == 0 {
                span
            } else {
                (limit_ms / f64::from(w)).min(span)
            }
        };
        *reach.entry(o.seg).or_insert(0.0) += part(to_b, 1.0 - o.frac) + part(to_a, o.frac);
    }
    reach
}

/// Reachable residential street length of each catchment row, metres.
fn reachable_street_m(
    graph: &RoadGraph,
    roads: &CatchmentRoads,
    reach: HashMap<u32, f64>,
    catchments: &LayerData,
) -> Vec<f64> {
    let mut reachable_m = vec![0.0; catchments.len()];
    // Summed in segment order: a hash map's order changes from run to run, and with it the
    // last bits of a float sum, so the same question would get answers differing in the last
    // digit.
    let mut reach: Vec<(u32, f64)> = reach.into_iter().collect();
    reach.sort_unstable_by_key(|&(seg, _)| seg);
    for (seg, r) in reach {
        if let Some(c) = roads.catchment_of(seg) {
            reachable_m[c as usize] += r.min(1.0) * f64::from(graph.segment(seg).length_m);
        }
    }
    reachable_m
}

/// The catchments with a share above 0, largest weighted population first, and their totals.
fn shares(
    catchments: &LayerData,
    roads: &CatchmentRoads,
    reachable_m: &[f64],
    interior_reached: impl Fn(u32) -> bool,
) -> (Vec<CatchmentShare>, Figures) {
    let mut out = Vec::new();
    for row in 0..catchments.len() as u32 {
        let (street_m, reached_m) = (roads.street_m(row), reachable_m[row as usize]);
        let (share, basis) = share_of(street_m, reached_m, || interior_reached(row));
        if share <= 0.0 {
            continue;
        }
        out.push(catchment_share(
            catchments, row, share, basis, street_m, reached_m,
        ));
    }
    sorted_with_totals(out)
}

/// Largest weighted population first, and the totals (a figure some catchments lack while
/// others have it is marked incomplete).
fn sorted_with_totals(mut out: Vec<CatchmentShare>) -> (Vec<CatchmentShare>, Figures) {
    let mut totals = Figures::default();
    let mut lacking = [false; 6];
    for c in &out {
        totals.add_scaled(&c.weighted, 1.0);
        for (l, p) in lacking.iter_mut().zip(c.weighted.present()) {
            *l |= !p;
        }
    }
    for ((name, l), p) in FIGURE_NAMES.iter().zip(lacking).zip(totals.present()) {
        if l && p {
            totals.incomplete.insert(name);
        }
    }
    out.sort_by(|a, b| {
        let pop = |c: &CatchmentShare| c.weighted.population.unwrap_or(-1.0);
        pop(b).total_cmp(&pop(a)).then(a.row.cmp(&b.row))
    });
    (out, totals)
}

/// The workforce of a territory: the given catchments (its communes) counted whole, with
/// the totals and the per-occupation figures by the rules of [`RoutingEngine::workforce`].
pub fn whole_catchments(
    catchments: &LayerData,
    rows: impl IntoIterator<Item = u32>,
) -> (Vec<CatchmentShare>, Figures, Vec<OccupationFigures>) {
    let out = rows
        .into_iter()
        .map(|row| catchment_share(catchments, row, 1.0, ShareBasis::Whole, 0.0, 0.0))
        .collect();
    let (out, totals) = sorted_with_totals(out);
    let occupations = occupation_figures(&out);
    (out, totals, occupations)
}

/// The share of a catchment within reach and how it was measured: reachable over total
/// street length, or, without streets, whether its interior point is reached.
fn share_of(
    street_m: f64,
    reachable_m: f64,
    interior_reached: impl FnOnce() -> bool,
) -> (f64, ShareBasis) {
    if street_m > 0.0 {
        (
            (reachable_m / street_m).clamp(0.0, 1.0),
            ShareBasis::Streets,
        )
    } else {
        let share = if interior_reached() { 1.0 } else { 0.0 };
        (share, ShareBasis::InteriorPoint)
    }
}

/// One catchment's entry: its names and its figures weighted by its share.
fn catchment_share(
    catchments: &LayerData,
    row: u32,
    share: f64,
    basis: ShareBasis,
    street_m: f64,
    reachable_m: f64,
) -> CatchmentShare {
    let mut weighted = Figures::default();
    weighted.add_scaled(&Figures::of_row(catchments, row), share);
    let text = |name| match catchments.value_by_name(row, name) {
        Some(ValueRef::Text(s)) => Some(s.to_string()),
        _ => None,
    };
    CatchmentShare {
        row,
        id: catchments.id(row),
        zone_code: text("zone_code"),
        zone_name: text("zone_name"),
        share,
        basis,
        street_km: street_m / 1000.0,
        reachable_street_km: reachable_m / 1000.0,
        road_coverage: 0.0,
        weighted,
    }
}

impl RoutingEngine {
    /// The road coverage of a drive-time search: the catchments holding a residential street
    /// the search reached (or the origin's street), and their coverage ([`super::coverage`]).
    pub fn reach_coverage(
        &self,
        times: &SearchTimes<'_>,
        catchments: &Arc<LayerData>,
    ) -> AnswerCoverage {
        let graph = self.graph();
        let roads = self
            .catchment_roads
            .get_or_compute(catchments, || CatchmentRoads::new(graph, catchments));
        let direction = times.direction();
        let mut rows = BTreeSet::new();
        for &u in times.settled_nodes() {
            if times.node_time_ms(u).is_none() {
                continue;
            }
            for &seg in graph.edge_segments(u, direction) {
                rows.extend(roads.catchment_of(seg));
            }
        }
        for o in times.origins() {
            rows.extend(roads.catchment_of(o.seg));
        }
        self.road_coverage(catchments).answer(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(row: u32, weighted: Figures) -> CatchmentShare {
        CatchmentShare {
            row,
            id: u64::from(row),
            zone_code: None,
            zone_name: None,
            share: 1.0,
            basis: ShareBasis::Streets,
            street_km: 1.0,
            reachable_street_km: 1.0,
            road_coverage: 1.0,
            weighted,
        }
    }

    fn counts(pairs: &[(&str, f64)]) -> Option<BTreeMap<String, f64>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn unknown_stays_unknown_in_totals() {
        let mut t = Figures::default();
        let a = Figures {
            population: Some(10.0),
            ..Figures::default()
        };
        t.add_scaled(&a, 0.5);
        t.add_scaled(&Figures::default(), 1.0);
        assert_eq!(t.population, Some(5.0));
        assert_eq!(
            t.job_seekers, None,
            "no catchment has job seekers: unknown, not 0"
        );
        assert_eq!(t.candidates, None);
    }

    #[test]
    fn occupations_and_families_keep_masked_apart() {
        let mut masked_b = BTreeSet::new();
        masked_b.insert("B".to_string());
        let a = Figures {
            hiring_projects: counts(&[("A", 10.0), ("B", 4.0)]),
            difficult_projects: counts(&[("A", 6.0)]),
            ..Figures::default()
        };
        let b = Figures {
            hiring_projects: counts(&[("A", 10.0)]),
            difficult_projects: counts(&[("A", 2.0), ("B", 1.0)]),
            masked: [masked_b, BTreeSet::new(), BTreeSet::new()],
            ..Figures::default()
        };
        let occ = occupation_figures(&[share(0, a), share(1, b)]);
        assert_eq!(occ[0].code, "A");
        assert_eq!(occ[0].hiring, Some(20.0));
        assert_eq!(occ[0].difficult_share, Some(0.4));
        assert!(!occ[0].hiring_masked);
        let b = &occ[1];
        assert_eq!(b.hiring, Some(4.0), "a lower bound: masked in the second");
        assert!(b.hiring_masked);
        // Only the first catchment has both met and xmet of B: it has no xmet → no pair.
        assert_eq!(b.difficult_share, None);
        let fams = family_figures(&occ, |c| Some(if c == "A" { "F" } else { "G" }.into()));
        let f = fams.iter().find(|f| f.family == "F").unwrap();
        assert_eq!(f.difficult_share, Some(0.4));
        assert!(!f.in_tension);
        let g = fams.iter().find(|f| f.family == "G").unwrap();
        assert_eq!((g.difficult_share, g.in_tension), (None, false));
    }
}
