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

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::catchment_roads::CatchmentRoads;
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
}

impl ShareBasis {
    pub fn id(self) -> &'static str {
        match self {
            ShareBasis::Streets => "street_length",
            ShareBasis::InteriorPoint => "interior_point",
        }
    }
}

/// Catchment figures (weighted or not).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub population: f64,
    pub job_seekers: f64,
    /// Occupation code → count.
    pub candidates: BTreeMap<String, f64>,
    /// Occupation code → count.
    pub hiring_projects: BTreeMap<String, f64>,
}

impl Figures {
    fn add_scaled(&mut self, other: &Figures, k: f64) {
        self.population += other.population * k;
        self.job_seekers += other.job_seekers * k;
        for (code, n) in &other.candidates {
            *self.candidates.entry(code.clone()).or_insert(0.0) += n * k;
        }
        for (code, n) in &other.hiring_projects {
            *self.hiring_projects.entry(code.clone()).or_insert(0.0) += n * k;
        }
    }

    fn of_row(layer: &LayerData, row: u32) -> Figures {
        let num = |name| {
            layer
                .value_by_name(row, name)
                .and_then(ValueRef::as_f64)
                .unwrap_or(0.0)
        };
        let counts = |name| match layer.value_by_name(row, name) {
            Some(ValueRef::Counts(m)) => m.clone(),
            _ => BTreeMap::new(),
        };
        Figures {
            population: num("population"),
            job_seekers: num("job_seekers"),
            candidates: counts("candidates"),
            hiring_projects: counts("hiring_projects"),
        }
    }
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
        let limit_s = minutes * 60.0;
        let site = self.snap(lon, lat)?;
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
        let (out, totals) = shares(catchments, &roads, &reachable_m, interior_reached);
        Ok(Workforce {
            minutes,
            direction,
            site,
            catchments: out,
            totals,
        })
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
    let mut totals = Figures::default();
    for row in 0..catchments.len() as u32 {
        let (street_m, reached_m) = (roads.street_m(row), reachable_m[row as usize]);
        let (share, basis) = share_of(street_m, reached_m, || interior_reached(row));
        if share <= 0.0 {
            continue;
        }
        let c = catchment_share(catchments, row, share, basis, street_m, reached_m);
        totals.add_scaled(&c.weighted, 1.0);
        out.push(c);
    }
    out.sort_by(|a, b| {
        b.weighted
            .population
            .total_cmp(&a.weighted.population)
            .then(a.row.cmp(&b.row))
    });
    (out, totals)
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
        weighted,
    }
}
