//! Sites near waste streams: plots and buildings that have, within a distance, deposits of
//! given materials whose yearly quantities add up to a threshold. A spatial join, through
//! R-trees on both sides rather than a loop over all pairs.
//!
//! Steps:
//! 1. candidate sites: the site filter in the scope (as in site search);
//! 2. candidate deposits: those of the layer's R-tree inside the sites' envelopes grown by the
//!    distance, admitted by the deposit filter (materials and any `deposit.` condition), put
//!    in a small R-tree of their own (a filter-then-join: rare materials make it tiny);
//! 3. for each site, the deposits of that tree inside its grown envelope, kept within the
//!    distance (deposit point → site geometry, 0 inside a plot): a local flat metric decides
//!    those clearly in or out (1 % margin), the ellipsoid the ones near the limit;
//! 4. keep sites whose total reaches the threshold, sort by total or by nearest deposit, cut
//!    one page; only the sites of that page list their deposits and per-material totals.

use std::cmp::Ordering;
use std::collections::HashMap;

use geo_types::Point;
use rstar::primitives::GeomWithData;
use rstar::{AABB, RTree};

use super::QueryError;
use super::distance::distance_to_geometry_m;
use super::drive::{DriveFrom, DriveGate};
use super::hit::Hit;
use super::page::{Page, PageRequest, cut, fnv1a};
use super::radius::split_at_antimeridian;
use super::scope::Scope;
use super::site_search::SiteFilter;
use geo::CoordsIter;
use geo_types::Geometry;

use crate::geo_util::{
    ANDOYER_MAX_REL_ERROR, andoyer_distance_m, geodesic_distance_m, metres_per_degree,
    radius_envelope,
};
use crate::index::{Filter, LayerData, ValueRef, View};
use crate::model::{FeatureId, Layer, material_unit};

/// How to order sites near waste.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasteSort {
    /// Largest total quantity first.
    Total,
    /// Nearest matching deposit first.
    Distance,
}

impl WasteSort {
    /// Parses `total` (largest first; also `-total`) or `distance` (nearest first).
    pub fn parse(s: &str) -> Result<WasteSort, QueryError> {
        match s.trim() {
            "total" | "-total" => Ok(WasteSort::Total),
            "distance" => Ok(WasteSort::Distance),
            other => Err(QueryError::UnknownValue {
                param: "sort",
                value: other.to_string(),
                valid: "total (largest first), distance (nearest deposit first)".into(),
            }),
        }
    }
}

/// A sites-near-waste query.
#[derive(Debug, Clone, PartialEq)]
pub struct NearWasteQuery {
    pub sites: SiteFilter,
    /// Where sites are looked for.
    pub scope: Scope,
    /// Which deposits count: a filter of the waste_deposits layer that includes the materials.
    pub deposits: Filter,
    /// The materials asked for (all counted in `unit`).
    pub materials: Vec<&'static str>,
    /// Unit of the quantities: t, m3 or MWh.
    pub unit: &'static str,
    /// Largest distance from a site to a deposit, metres.
    pub within_m: f64,
    /// Least total yearly quantity, in `unit`.
    pub min_total: f64,
    pub sort: WasteSort,
    /// Most deposits listed per site (all are counted).
    pub deposits_limit: usize,
    pub page: PageRequest,
}

impl NearWasteQuery {
    /// The unit shared by materials, or an error naming the mix.
    pub fn unit_of(materials: &[&'static str]) -> Result<&'static str, QueryError> {
        let mut unit = None;
        for m in materials {
            let u = material_unit(m).unwrap_or("t");
            match unit {
                None => unit = Some((u, *m)),
                Some((first, first_m)) if first != u => {
                    return Err(QueryError::unprocessable(
                        "materials",
                        format!(
                            "{first_m} is counted in {first} and {m} in {u}: quantities in different units cannot be added; ask for materials of one unit"
                        ),
                    ));
                }
                _ => {}
            }
        }
        unit.map(|(u, _)| u).ok_or_else(|| QueryError::Missing {
            param: "materials",
            hint: "name one or more materials, e.g. materials=wood,plastic".into(),
        })
    }

    /// What a cursor is bound to: everything but the page, and what the caller may see.
    pub fn fingerprint(&self, view: &View) -> u64 {
        let deposits = view.layer(Layer::WasteDeposits).filter(&self.deposits);
        fnv1a(
            format!(
                "near-waste|{}|{}|{}|{}|{}|{:?}",
                self.sites.canonical(),
                self.scope.canonical(),
                deposits.canonical(),
                self.within_m,
                self.min_total,
                self.sort
            )
            .as_bytes(),
        )
    }
}

/// Most deposits the drive-time join runs a road search from (each is one bounded Dijkstra).
pub const MAX_DRIVE_DEPOSITS: usize = 2_000;

/// Drive times from each deposit of the view admitted by `deposits` to the plots and
/// buildings within `max_s`: one bounded road search per deposit on `roads`. Deposits too far from a road are
/// left out (they cannot be driven from); more than [`MAX_DRIVE_DEPOSITS`] is an error naming
/// `max_drive_min`. Stops early when the request is cancelled.
pub fn deposit_drive_times(
    view: &View,
    deposits: &Filter,
    max_s: f64,
    roads: &dyn DriveFrom,
) -> Result<DepositDriveTimes, QueryError> {
    let visible = view.layer(Layer::WasteDeposits);
    let data = visible.data();
    let rows: Vec<u32> = visible
        .filter(deposits)
        .rows_in(0..data.len() as u32)
        .collect();
    if rows.len() > MAX_DRIVE_DEPOSITS {
        return Err(QueryError::TooManyDeposits {
            matched: rows.len(),
            max: MAX_DRIVE_DEPOSITS,
        });
    }
    let sites = [Layer::Plots, Layer::Buildings];
    let site_data: Vec<_> = sites.iter().map(|l| view.layer(*l).shared()).collect();
    let mut out = DepositDriveTimes::new(max_s);
    for row in rows {
        if crate::cancel::cancelled() {
            break;
        }
        let Geometry::Point(p) = data.geometry(row) else {
            continue;
        };
        let Some(reached) = roads.reached_from([p.x(), p.y()], max_s, &site_data) else {
            continue;
        };
        for (layer, times) in sites.iter().zip(reached) {
            for (site, s) in times {
                out.insert(row, *layer, site, s);
            }
        }
    }
    Ok(out)
}

/// A deposit counted for a site.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DepositLink {
    pub row: u32,
    pub id: FeatureId,
    pub material: &'static str,
    pub quantity: f64,
    pub distance_m: f64,
    /// Seconds of driving from the deposit to the site, in the drive-time variant.
    pub drive_s: Option<f64>,
}

/// Drive times from deposits to sites, for the drive-time variant of the join (`max_drive_min`
/// instead of kilometres): computed by the caller (one bounded road search per candidate
/// deposit), read here. The query module knows nothing of roads.
#[derive(Debug, Default, Clone)]
pub struct DepositDriveTimes {
    /// Longest drive from a deposit to a site, seconds.
    pub max_s: f64,
    times: HashMap<(u32, Layer, u32), f32>,
}

impl DepositDriveTimes {
    pub fn new(max_s: f64) -> DepositDriveTimes {
        DepositDriveTimes {
            max_s,
            times: HashMap::new(),
        }
    }

    /// Records the time from a deposit (row) to a site (layer, row).
    pub fn insert(&mut self, deposit: u32, site_layer: Layer, site_row: u32, seconds: f64) {
        if seconds <= self.max_s {
            self.times
                .insert((deposit, site_layer, site_row), seconds as f32);
        }
    }

    /// Seconds from a deposit to a site, when within the limit.
    pub fn seconds(&self, deposit: u32, site_layer: Layer, site_row: u32) -> Option<f64> {
        self.times
            .get(&(deposit, site_layer, site_row))
            .map(|s| f64::from(*s))
    }

    /// Number of (deposit, site) pairs within the limit.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// A site with the waste around it.
#[derive(Debug, Clone, PartialEq)]
pub struct WasteSite {
    /// The site; `distance_m` is the distance to its nearest counted deposit.
    pub site: Hit,
    /// Sum of the yearly quantities of the counted deposits, in the query's unit.
    pub total: f64,
    /// How many deposits count.
    pub deposit_count: usize,
    /// Per material, in the query's material order (materials with no deposit left out).
    pub per_material: Vec<(&'static str, f64)>,
    /// The nearest counted deposits, nearest first, at most `deposits_limit`.
    pub deposits: Vec<DepositLink>,
}

type DepositEntry = GeomWithData<[f64; 2], u32>;

/// The deposits a join may count, in a tree of their own, with the columns it reads.
struct Deposits<'a> {
    data: &'a LayerData,
    tree: RTree<DepositEntry>,
    quantity: usize,
    material: usize,
}

/// What one request of the join shares between its steps.
struct Join<'q, 'v> {
    view: &'q View<'v>,
    q: &'q NearWasteQuery,
    pairs: Option<&'q DepositDriveTimes>,
    deposits: Deposits<'v>,
}

/// Runs the join. A cursor is checked before any work. Its steps: 1. the candidate sites;
/// 2. the visible matching deposits near any of them, in a tree of their own
/// ([`candidate_deposits`]); 3. each site measured against the deposits around it, kept when
/// they reach the total ([`Join::measure`]); 4. the page cut, each of its sites described with
/// its nearest deposits and per-material sums ([`Join::describe`]).
///
/// With `pairs`, a deposit counts for a site only when the drive from the deposit to the site
/// is within `pairs.max_s` (and `q.within_m` is only the straight-line bound that finds the
/// candidates).
pub fn near_waste(
    view: &View,
    q: &NearWasteQuery,
    drive: Option<DriveGate>,
    pairs: Option<&DepositDriveTimes>,
) -> Result<Page<WasteSite>, QueryError> {
    let fingerprint = q.fingerprint(view) ^ pairs.map_or(0, |p| p.max_s.to_bits().rotate_left(17));
    let offset = q.page.offset(view.generation(), fingerprint)?;
    let sites = q.sites.collect(view, &q.scope, None, drive);
    let join = Join {
        view,
        q,
        pairs,
        deposits: candidate_deposits(view, q, &sites),
    };
    let found = join.measure(sites);
    let matched = found.len();
    let page = cut(found, offset, q.page.limit, waste_order(q.sort));
    let items = page
        .into_iter()
        .map(|(site, total, _)| join.describe(site, total))
        .collect();
    Ok(Page::new(
        items,
        matched,
        offset,
        q.page.limit,
        view.generation(),
        fingerprint,
    ))
}

/// The bounding box of every site's envelope grown by `within_m`, or `None` without sites.
fn sites_envelope(view: &View, sites: &[Hit], within_m: f64) -> Option<[f64; 4]> {
    sites
        .iter()
        .filter_map(|s| grown_envelope(view.layer(s.layer).data(), s.row, within_m))
        .reduce(|e, b| {
            [
                e[0].min(b[0]),
                e[1].min(b[1]),
                e[2].max(b[2]),
                e[3].max(b[3]),
            ]
        })
}

/// Step 2: the visible deposits matching the query's filter, with a quantity, inside the
/// grown envelope of the sites (split at the antimeridian), each once.
fn candidate_deposits<'v>(view: &View<'v>, q: &NearWasteQuery, sites: &[Hit]) -> Deposits<'v> {
    let data = view.layer(Layer::WasteDeposits).data();
    let visible = view.layer(Layer::WasteDeposits).filter(&q.deposits);
    let quantity = data.schema().index_of("quantity");
    let mut candidates: Vec<DepositEntry> = Vec::new();
    if let Some(env) = sites_envelope(view, sites, q.within_m) {
        for b in split_at_antimeridian(env) {
            let aabb = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
            for e in data.entries_in_envelope(aabb) {
                let row = e.data;
                if visible.matches(row) && data.value(row, quantity).is_some() {
                    candidates.push(GeomWithData::new(e.geom().lower(), row));
                }
            }
        }
    }
    // The two halves of a box split at the antimeridian may both hold a deposit at ±180°.
    candidates.sort_unstable_by_key(|c| c.data);
    candidates.dedup_by_key(|c| c.data);
    Deposits {
        data,
        tree: RTree::bulk_load(candidates),
        quantity,
        material: data.schema().index_of("material"),
    }
}

impl Join<'_, '_> {
    fn quantity(&self, row: u32) -> f64 {
        quantity_of(self.deposits.data, row, self.deposits.quantity)
    }

    /// Calls `f(row, distance, drive seconds)` for each deposit within reach of `site`.
    fn each(&self, site: Hit, exact: bool, f: impl FnMut(u32, Option<f64>, Option<f64>)) {
        let (q, tree) = (self.q, &self.deposits.tree);
        each_deposit(self.view, tree, site, q.within_m, exact, self.pairs, f);
    }

    /// Step 3: the sites whose deposits in reach reach the total, with the total and the
    /// nearest distance (exact only when sorting by it).
    fn measure(&self, sites: Vec<Hit>) -> Vec<(Hit, f64, f64)> {
        let exact = self.q.sort == WasteSort::Distance;
        let mut found = Vec::new();
        for (k, s) in sites.into_iter().enumerate() {
            // An abandoned request stops here (the caller discards the partial result).
            if k.is_multiple_of(1024) && crate::cancel::cancelled() {
                break;
            }
            let (mut total, mut nearest, mut any) = (0.0, f64::INFINITY, false);
            self.each(s, exact, |row, d, _| {
                any = true;
                total += self.quantity(row);
                nearest = nearest.min(d.unwrap_or(f64::INFINITY));
            });
            if any && total >= self.q.min_total {
                found.push((s, total, nearest));
            }
        }
        found
    }

    /// The deposits in reach of a site, measured exactly, nearest first (then by id).
    fn links(&self, site: Hit) -> Vec<DepositLink> {
        let deposits = self.deposits.data;
        let mut links = Vec::new();
        self.each(site, true, |row, d, drive_s| {
            let material = match deposits.value(row, self.deposits.material) {
                Some(ValueRef::Text(m)) => static_material(m),
                _ => "other",
            };
            links.push(DepositLink {
                row,
                id: deposits.id(row),
                material,
                quantity: self.quantity(row),
                distance_m: d.unwrap_or(0.0),
                drive_s,
            });
        });
        links.sort_unstable_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then(a.id.cmp(&b.id)));
        links
    }

    /// Step 4: one site of the page with its nearest deposits and per-material sums.
    fn describe(&self, mut site: Hit, total: f64) -> WasteSite {
        let mut links = self.links(site);
        let per_material = per_material(&self.q.materials, &links);
        let deposit_count = links.len();
        site.distance_m = links.first().map(|l| l.distance_m);
        links.truncate(self.q.deposits_limit);
        WasteSite {
            site,
            total,
            deposit_count,
            per_material,
            deposits: links,
        }
    }
}

/// The summed quantity per material, in the query's material order; materials without a
/// deposit are left out.
fn per_material(materials: &[&'static str], links: &[DepositLink]) -> Vec<(&'static str, f64)> {
    materials
        .iter()
        .filter_map(|m| {
            let mut of_m = links.iter().filter(|l| l.material == *m).peekable();
            of_m.peek()?;
            Some((*m, of_m.map(|l| l.quantity).sum::<f64>()))
        })
        .collect()
}

/// Calls `f(deposit row, distance)` for each candidate deposit within `within_m` of a site.
/// With `exact` false, the distance may be `None` for deposits that are surely in reach (the
/// first pass only sums quantities; the page's sites are measured exactly afterwards).
fn each_deposit(
    view: &View,
    tree: &RTree<DepositEntry>,
    site: Hit,
    within_m: f64,
    exact: bool,
    pairs: Option<&DepositDriveTimes>,
    mut f: impl FnMut(u32, Option<f64>, Option<f64>),
) {
    let data = view.layer(site.layer).data();
    let Some(env) = grown_envelope(data, site.row, within_m) else {
        return;
    };
    let reach = Reach::new(data.geometry(site.row), within_m);
    for b in split_at_antimeridian(env) {
        let aabb = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
        for e in tree.locate_in_envelope(&aabb) {
            let p = Point::new(e.geom()[0], e.geom()[1]);
            let drive_s = match pairs {
                None => None,
                Some(pairs) => match pairs.seconds(e.data, site.layer, site.row) {
                    Some(s) => Some(s),
                    None => continue,
                },
            };
            if let Some(d) = reach.classify(p, exact) {
                f(e.data, d, drive_s);
            }
        }
    }
}

/// Whether deposits are within reach of one site, deciding most of them with a local flat
/// metric and measuring on the ellipsoid only those near the limit.
struct Reach<'a> {
    geometry: &'a Geometry<f64>,
    within_m: f64,
    /// `[min_lon, min_lat, max_lon, max_lat]` of the site.
    bbox: [f64; 4],
    /// Metres per degree of longitude and latitude at the site.
    kx: f64,
    ky: f64,
    /// The flat metric is trusted (with a 1 % margin) for short reaches away from the poles:
    /// below 20 km it is off by less than 0.4 % at 70° of latitude.
    flat: bool,
}

impl<'a> Reach<'a> {
    fn new(geometry: &'a Geometry<f64>, within_m: f64) -> Reach<'a> {
        use geo::BoundingRect;
        let bbox = geometry
            .bounding_rect()
            .map_or([0.0; 4], |r| [r.min().x, r.min().y, r.max().x, r.max().y]);
        let lat = (bbox[1] + bbox[3]) / 2.0;
        let (ky, kx) = metres_per_degree(lat);
        Reach {
            geometry,
            within_m,
            bbox,
            kx,
            ky,
            flat: within_m <= 20_000.0 && lat.abs() <= 70.0,
        }
    }

    #[inline]
    fn flat_m(&self, dlon: f64, dlat: f64) -> f64 {
        (dlon * self.kx).hypot(dlat * self.ky)
    }

    /// `None`: out of reach; `Some(d)`: in reach, with its distance when measured.
    #[inline]
    fn classify(&self, p: Point<f64>, exact: bool) -> Option<Option<f64>> {
        let w = self.within_m;
        if self.flat {
            let [x0, y0, x1, y1] = self.bbox;
            let dx = (x0 - p.x()).max(p.x() - x1).max(0.0);
            let dy = (y0 - p.y()).max(p.y() - y1).max(0.0);
            if self.flat_m(dx, dy) > w * 1.01 + 1.0 {
                return None;
            }
            if !exact {
                // Any vertex is at least as far as the site's nearest point.
                let near = match self.geometry {
                    Geometry::Point(q) => self.flat_m(q.x() - p.x(), q.y() - p.y()),
                    g => g
                        .coords_iter()
                        .take(64)
                        .map(|c| self.flat_m(c.x - p.x(), c.y - p.y()))
                        .fold(f64::INFINITY, f64::min),
                };
                if near < w * 0.99 - 1.0 {
                    return Some(None);
                }
            }
        }
        let d = match self.geometry {
            Geometry::Point(s) => {
                let d = andoyer_distance_m(*s, p);
                if (d - w).abs() <= w * ANDOYER_MAX_REL_ERROR + 1e-3 {
                    geodesic_distance_m(*s, p)
                } else {
                    d
                }
            }
            g => distance_to_geometry_m(p, g),
        };
        (d <= w).then_some(Some(d))
    }
}

fn quantity_of(deposits: &LayerData, row: u32, quantity: usize) -> f64 {
    deposits
        .value(row, quantity)
        .and_then(ValueRef::as_f64)
        .unwrap_or(0.0)
}

/// The material name with a static lifetime (enum values come from the static taxonomy).
fn static_material(m: &str) -> &'static str {
    crate::model::MATERIALS
        .iter()
        .find(|x| **x == m)
        .copied()
        .unwrap_or("other")
}

/// A feature's envelope grown by a distance: a box that holds every point within `within_m` of
/// the feature (the union of the radius boxes of its corners). Longitudes may leave ±180.
fn grown_envelope(data: &LayerData, row: u32, within_m: f64) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    let r = data.geometry(row).bounding_rect()?;
    let mut out = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for (x, y) in [
        (r.min().x, r.min().y),
        (r.min().x, r.max().y),
        (r.max().x, r.min().y),
        (r.max().x, r.max().y),
    ] {
        let b = radius_envelope(x, y, within_m);
        out = [
            out[0].min(b[0]),
            out[1].min(b[1]),
            out[2].max(b[2]),
            out[3].max(b[3]),
        ];
    }
    Some(out)
}

fn waste_order(sort: WasteSort) -> impl Fn(&(Hit, f64, f64), &(Hit, f64, f64)) -> Ordering {
    move |a, b| {
        let tie = |a: &(Hit, f64, f64), b: &(Hit, f64, f64)| {
            a.0.layer.cmp(&b.0.layer).then(a.0.id.cmp(&b.0.id))
        };
        match sort {
            WasteSort::Total => b.1.total_cmp(&a.1),
            WasteSort::Distance => a.2.total_cmp(&b.2).then(b.1.total_cmp(&a.1)),
        }
        .then_with(|| tie(a, b))
    }
}
