//! Isochrone polygons from the travel times of one search, as Valhalla makes them: rasterise
//! the times on a grid, then contour the grid by marching squares (crate `contour`), so
//! polygons have holes where nothing is reachable and the contours of one request nest.
//!
//! Steps ([`isochrone`]):
//! 1. **Extent and cell size**: the box of everything reached within the search limit; cells
//!    of about 1/[`CELLS_ACROSS`] of its larger side (at least [`MIN_CELL_M`]), with a margin.
//! 2. **Rasterise**: every edge leaving a settled node is sampled every half cell from its
//!    tail, with the time interpolated along it (tail time + fraction × edge weight), up to the
//!    point where the search limit is reached — so edges at the limit are cut where the time
//!    runs out, not at a node. Each cell keeps its smallest time. The origins' own segments
//!    are painted from the snapped point.
//! 3. **Spread** into the cells that hold no graph node (cells with a node keep the times of
//!    their own roads, so the slow carriageway next to a fast one, or a street reached only
//!    by a long detour, stays outside): such a cell takes the smallest time of its 3 × 3
//!    neighbourhood (so a node reached within T lies in a grid square whose corners are within
//!    T, unless a slower road's node shares that square), then times spread on at walking
//!    pace ([`OFFROAD_KMH`]) for at most [`OFFROAD_MAX_M`] (a two-pass chamfer distance
//!    transform), which fills town blocks without bridging open country. Island nodes do not
//!    count, so they leave no pinholes.
//! 4. **Contour** each requested time (cells never reached hold the search limit), in lon/lat
//!    directly: the grid is regular in degrees.
//! 5. **Denoise** (drop polygons smaller than `denoise` × the largest one of their contour;
//!    a polygon of an inner contour is also dropped when the outer contour lost the polygon
//!    around it, so contours still nest), **generalize** (Douglas–Peucker with a tolerance in
//!    metres; it may break strict nesting by up to the tolerance), **make valid**: round to
//!    the 1e-6° output grid and rebuild the polygons there with an exact integer overlay
//!    (`geo_util::grid_valid`), so no ring touches or crosses itself or another as written,
//!    exteriors counter-clockwise as RFC 7946 asks; measure `area_ha` on the ellipsoid.
//!
//! **Off-road spread.** The walk of step 3 paints past the last road into whatever is there —
//! a park, a field, the sea at a seafront: the graph has no land polygons to clip it to. It is
//! bounded instead: no polygon point lies farther than [`offroad_bound_m`] (about
//! [`OFFROAD_MAX_M`] plus three cell diagonals) from a road point reached within its contour's
//! time; each isochrone reports the bound as `offroad_bound_m`.

use geo::{Contains, InteriorPoint, Simplify};
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Polygon};

use super::direction::Direction;
use super::engine::{RoutingEngine, SearchTimes};
use super::error::RoutingError;
use super::graph::{NO_EDGE, RoadGraph};
use super::snap::Snap;
use crate::geo_util::grid_valid::{GridPolygon, GridRing, make_valid};
use crate::geo_util::{area_ha, metres_per_degree};

/// Cells across the larger side of the reached area.
pub const CELLS_ACROSS: f64 = 200.0;
/// Smallest cell, metres.
pub const MIN_CELL_M: f64 = 15.0;
/// Largest grid, cells.
const MAX_CELLS: f64 = 400_000.0;
/// Walking pace off the road, km/h.
pub const OFFROAD_KMH: f64 = 5.0;
/// Farthest walk off the road, metres: enough to fill town blocks of up to 300 m across from
/// their streets, and the most a polygon spreads past its roads into open land or the sea
/// (see [`offroad_bound_m`]); the graph holds no coastline to clip to.
pub const OFFROAD_MAX_M: f64 = 150.0;
/// Grid of the output coordinates, degrees (about 10 cm): the precision the API writes, and the
/// grid the polygons are made valid on.
pub const OUTPUT_GRID_DEG: f64 = 1e-6;

/// How far at most a polygon point lies from a road point reached within its contour's time,
/// metres, for a grid of `cell_m` (generalisation adds its tolerance): a road point is
/// painted in the cell whose corner is at most a cell diagonal away, the 3 × 3 dilation adds a
/// diagonal, the walk off the road [`OFFROAD_MAX_M`], and marching squares draws the line
/// within the squares whose corners are inside, a diagonal more; rounding to the output grid
/// adds under a metre.
pub fn offroad_bound_m(cell_m: f64) -> f64 {
    OFFROAD_MAX_M + 3.0 * std::f64::consts::SQRT_2 * cell_m + 1.0
}

/// What to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct IsochroneOptions {
    /// Contour times, minutes, increasing.
    pub contours_min: Vec<f64>,
    /// 0 keeps every polygon; d in (0, 1] drops those smaller than d × the largest polygon of
    /// their contour (1 keeps only the largest).
    pub denoise: f64,
    /// Douglas–Peucker tolerance, metres (0: none).
    pub generalize_m: f64,
}

impl Default for IsochroneOptions {
    fn default() -> Self {
        IsochroneOptions {
            contours_min: vec![10.0],
            denoise: 0.0,
            generalize_m: 0.0,
        }
    }
}

/// One contour: the area reachable within `minutes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Contour {
    pub minutes: f64,
    pub geometry: MultiPolygon<f64>,
    pub area_ha: f64,
}

/// The contours of one request.
#[derive(Debug, Clone)]
pub struct Isochrone {
    /// In the order of `contours_min`.
    pub contours: Vec<Contour>,
    pub origins: Vec<Snap>,
    pub direction: Direction,
    pub cell_size_m: f64,
    /// At most how far a polygon point lies from a reached road, metres ([`offroad_bound_m`],
    /// plus the generalisation tolerance).
    pub offroad_bound_m: f64,
    pub search_limit_s: f64,
    pub reached_nodes: usize,
}

/// How far past the largest contour the search runs, so that cells just beyond it hold real
/// times and the contour line is interpolated between known values.
pub fn search_limit_s(max_contour_s: f64) -> f64 {
    max_contour_s * 1.05 + 20.0
}

impl RoutingEngine {
    /// Isochrones around (or, for [`Direction::To`], towards) one or several points.
    pub fn isochrone(
        &self,
        locations: &[[f64; 2]],
        direction: Direction,
        opts: &IsochroneOptions,
    ) -> Result<Isochrone, RoutingError> {
        let max_s = opts.contours_min.iter().fold(0.0f64, |a, &b| a.max(b)) * 60.0;
        let times = self.travel_times(locations, direction, search_limit_s(max_s))?;
        isochrone(&times, opts)
    }
}

/// The grid: regular in degrees, values in seconds.
struct Grid {
    nx: usize,
    ny: usize,
    x0: f64,
    y0: f64,
    /// Cell size, degrees of longitude and latitude.
    dx: f64,
    dy: f64,
    cell_m: f64,
    /// Metres per degree of longitude and latitude at the middle of the extent.
    m_lon: f64,
    m_lat: f64,
    /// Grid coordinates of a position in 1e-7°: `x = lon_e7 × kx − ox` (multiplications only,
    /// in the loop over millions of edges).
    kx: f64,
    ky: f64,
    ox: f64,
    oy: f64,
    v: Vec<f64>,
    /// Cells holding a graph node: they keep their own roads' times.
    node: Vec<bool>,
}

impl Grid {
    /// Step 1, cell size: a grid over `bbox` with cells of about 1/[`CELLS_ACROSS`] of its
    /// larger side (at least [`MIN_CELL_M`], coarser while the grid would pass
    /// `MAX_CELLS`), and a margin for the walk off the road; every cell unreached.
    fn covering(bbox: [f64; 4]) -> Grid {
        let lat0 = (bbox[1] + bbox[3]) / 2.0;
        let (m_lat, m_lon) = metres_per_degree(lat0);
        let (w_m, h_m) = ((bbox[2] - bbox[0]) * m_lon, (bbox[3] - bbox[1]) * m_lat);
        let mut cell_m = (w_m.max(h_m) / CELLS_ACROSS).max(MIN_CELL_M);
        let margin = |cell_m: f64| 2.0 + (OFFROAD_MAX_M / cell_m).ceil();
        let cells = |cell_m: f64| {
            (w_m / cell_m + 2.0 * margin(cell_m) + 1.0)
                * (h_m / cell_m + 2.0 * margin(cell_m) + 1.0)
        };
        while cells(cell_m) > MAX_CELLS {
            cell_m *= 1.25;
        }
        let mg = margin(cell_m);
        let (dx, dy) = (cell_m / m_lon, cell_m / m_lat);
        let nx = (w_m / cell_m + 2.0 * mg + 1.0).ceil() as usize;
        let ny = (h_m / cell_m + 2.0 * mg + 1.0).ceil() as usize;
        Grid {
            nx,
            ny,
            x0: bbox[0] - mg * dx,
            y0: bbox[1] - mg * dy,
            dx,
            dy,
            cell_m,
            m_lon,
            m_lat,
            kx: 1e-7 / dx,
            ky: 1e-7 / dy,
            ox: (bbox[0] - mg * dx) / dx,
            oy: (bbox[1] - mg * dy) / dy,
            v: vec![f64::INFINITY; nx * ny],
            node: vec![false; nx * ny],
        }
    }

    /// Step 3: cells without a node take the smallest time around them, then times spread
    /// on at walking pace ([`OFFROAD_KMH`], at most [`OFFROAD_MAX_M`]).
    fn spread(&mut self, graph: &RoadGraph) {
        self.mark_nodes(graph);
        self.dilate();
        self.spread_offroad(OFFROAD_KMH, OFFROAD_MAX_M);
    }

    /// Flags the cells holding a node that is not on an island, reached or not.
    fn mark_nodes(&mut self, graph: &RoadGraph) {
        let (lons, lats) = graph.positions_e7();
        let (nx, ny) = (self.nx as f64, self.ny as f64);
        for (v, (&x, &y)) in lons.iter().zip(lats).enumerate() {
            let (gx, gy) = self.to_grid([x, y]);
            if gx < 0.0 || gy < 0.0 || gx >= nx || gy >= ny || graph.is_island(v as u32) {
                continue;
            }
            self.node[gy as usize * self.nx + gx as usize] = true;
        }
    }

    #[inline]
    fn set_min(&mut self, gx: f64, gy: f64, t: f64) {
        if gx < 0.0 || gy < 0.0 {
            return;
        }
        let (ix, iy) = (gx as usize, gy as usize);
        if ix >= self.nx || iy >= self.ny {
            return;
        }
        let c = &mut self.v[iy * self.nx + ix];
        if t < *c {
            *c = t;
        }
    }

    /// Grid coordinates (cells, fractional) of a position in 1e-7 degrees.
    #[inline]
    fn to_grid(&self, p: [i32; 2]) -> (f64, f64) {
        (
            f64::from(p[0]) * self.kx - self.ox,
            f64::from(p[1]) * self.ky - self.oy,
        )
    }

    /// Paints (x0, y0)→(x1, y1), grid coordinates, where the time runs from t0 to t1, up to
    /// `limit`: samples every half cell, the start excluded (its own cell is painted apart).
    #[allow(clippy::too_many_arguments)]
    fn paint_grid(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, t0: f64, t1: f64, limit: f64) {
        if t0 > limit {
            return;
        }
        let s_max = if t1 > limit {
            (limit - t0) / (t1 - t0)
        } else {
            1.0
        };
        let (ex, ey) = (x0 + s_max * (x1 - x0), y0 + s_max * (y1 - y0));
        let te = t0 + s_max * (t1 - t0);
        let steps = ((ex - x0).abs().max((ey - y0).abs()) * 2.0).ceil().max(1.0) as usize;
        let inv = 1.0 / steps as f64;
        for k in 0..=steps {
            let s = k as f64 * inv;
            self.set_min(x0 + s * (ex - x0), y0 + s * (ey - y0), t0 + s * (te - t0));
        }
    }

    /// Each cell without a node takes the minimum of its 3 × 3 neighbourhood.
    fn dilate(&mut self) {
        let (nx, ny) = (self.nx, self.ny);
        let mut tmp = self.v.clone();
        for y in 0..ny {
            for x in 0..nx {
                let row = &self.v[y * nx..(y + 1) * nx];
                let lo = x.saturating_sub(1);
                let hi = (x + 1).min(nx - 1);
                tmp[y * nx + x] = row[lo..=hi].iter().fold(f64::INFINITY, |a, &b| a.min(b));
            }
        }
        for y in 0..ny {
            for x in 0..nx {
                if self.node[y * nx + x] {
                    continue;
                }
                let lo = y.saturating_sub(1);
                let hi = (y + 1).min(ny - 1);
                self.v[y * nx + x] = (lo..=hi).fold(f64::INFINITY, |a, yy| a.min(tmp[yy * nx + x]));
            }
        }
    }

    /// Spreads times off the road at walking pace, up to `max_m` (chamfer 3-4 style, two
    /// passes; the distance cap makes it approximate, which is all a walk needs).
    fn spread_offroad(&mut self, kmh: f64, max_m: f64) {
        let (nx, ny) = (self.nx as isize, self.ny as isize);
        let step_m = self.cell_m;
        let diag_m = self.cell_m * std::f64::consts::SQRT_2;
        let mps = kmh / 3.6;
        let mut dist: Vec<f64> = self
            .v
            .iter()
            .map(|t| if t.is_finite() { 0.0 } else { f64::INFINITY })
            .collect();
        let passes: [[(isize, isize, f64); 4]; 2] = [
            [
                (-1, 0, step_m),
                (-1, -1, diag_m),
                (0, -1, step_m),
                (1, -1, diag_m),
            ],
            [
                (1, 0, step_m),
                (1, 1, diag_m),
                (0, 1, step_m),
                (-1, 1, diag_m),
            ],
        ];
        for (p, nbs) in passes.iter().enumerate() {
            for yy in 0..ny {
                let y = if p == 0 { yy } else { ny - 1 - yy };
                for xx in 0..nx {
                    let x = if p == 0 { xx } else { nx - 1 - xx };
                    let i = (y * nx + x) as usize;
                    if self.node[i] {
                        continue;
                    }
                    for &(ddx, ddy, m) in nbs {
                        let (sx, sy) = (x + ddx, y + ddy);
                        if sx < 0 || sy < 0 || sx >= nx || sy >= ny {
                            continue;
                        }
                        let j = (sy * nx + sx) as usize;
                        let d = dist[j] + m;
                        if d > max_m {
                            continue;
                        }
                        let t = self.v[j] + m / mps;
                        if t < self.v[i] {
                            self.v[i] = t;
                            dist[i] = d;
                        }
                    }
                }
            }
        }
    }
}

/// Draws the contours of `opts` from the travel times of a search (which must have run at
/// least as far as the largest contour; [`search_limit_s`] says how far is good), in the five
/// steps of the module documentation.
pub fn isochrone(
    times: &SearchTimes<'_>,
    opts: &IsochroneOptions,
) -> Result<Isochrone, RoutingError> {
    let pieces = origin_pieces(times);
    let order = settled_in_index_order(times);
    // 1. Extent and cell size.
    let Some(bbox) = reached_extent(times, &order, &pieces) else {
        return Ok(unreached(times, opts));
    };
    let mut grid = Grid::covering(bbox);
    // 2. Rasterise.
    rasterise(&mut grid, times, &order, &pieces);
    // 3. Spread.
    grid.spread(times.graph());
    // 4. Contour.
    let mut polys = contour_polygons(&grid, &opts.contours_min, times.limit_s())?;
    // 5. Denoise from the outermost contour in, generalize, make valid, measure.
    if opts.denoise > 0.0 {
        denoise(&mut polys, opts);
    }
    Ok(Isochrone {
        contours: finish_contours(polys, opts, grid.m_lon, grid.m_lat),
        origins: times.origins().to_vec(),
        direction: times.direction(),
        cell_size_m: grid.cell_m,
        offroad_bound_m: offroad_bound_m(grid.cell_m) + opts.generalize_m,
        search_limit_s: times.limit_s(),
        reached_nodes: times.settled_nodes().len(),
    })
}

/// A straight piece of an origin's own segment, painted from the snapped point: (from, to,
/// time at from, time at to), lon/lat and seconds.
type OriginPiece = ([f64; 2], [f64; 2], f64, f64);

/// The polygons of one contour, each with its area in hectares.
type Measured = Vec<(Polygon<f64>, f64)>;

/// The pieces of the origins' own segments, towards either end the profile may drive.
fn origin_pieces(times: &SearchTimes<'_>) -> Vec<OriginPiece> {
    let graph = times.graph();
    let mut pieces: Vec<OriginPiece> = Vec::new();
    for o in times.origins() {
        let seg = graph.segment(o.seg);
        let (pa, pb) = (graph.lonlat(seg.nodes[0]), graph.lonlat(seg.nodes[1]));
        let [w_ab, w_ba] = seg.weight_ms;
        // Towards b the trip runs a→b for `from`, b→a for `to`; towards a the other way.
        let (to_b, to_a) = match times.direction() {
            Direction::From => (w_ab, w_ba),
            Direction::To => (w_ba, w_ab),
        };
        if to_b != NO_EDGE {
            pieces.push((o.lonlat, pb, 0.0, (1.0 - o.frac) * f64::from(to_b) / 1000.0));
        }
        if to_a != NO_EDGE {
            pieces.push((o.lonlat, pa, 0.0, o.frac * f64::from(to_a) / 1000.0));
        }
    }
    pieces
}

/// Settled nodes in index order: nodes are numbered along a Hilbert curve, so this walks
/// memory (positions, edges, labels) nearly sequentially, where the settling order would
/// jump about. A large search scans every node rather than sorting its list.
fn settled_in_index_order(times: &SearchTimes<'_>) -> Vec<u32> {
    let graph = times.graph();
    let settled = times.settled_nodes();
    if settled.len() > graph.node_count() / 8 {
        (0..graph.node_count() as u32)
            .filter(|&v| times.node_time_ms(v).is_some())
            .collect()
    } else {
        let mut v = settled.to_vec();
        v.sort_unstable();
        v
    }
}

/// Step 1, extent: the box of the origins, the settled nodes, and where the edges leaving
/// them towards unsettled nodes (and the origin pieces) run out of time; `None` when nothing
/// is reached.
fn reached_extent(
    times: &SearchTimes<'_>,
    order: &[u32],
    pieces: &[OriginPiece],
) -> Option<[f64; 4]> {
    let graph = times.graph();
    let limit = times.limit_s();
    let limit_ms = f64::from(times.limit_ms());
    let mut bbox = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    let mut grow = |p: [f64; 2]| {
        bbox = [
            bbox[0].min(p[0]),
            bbox[1].min(p[1]),
            bbox[2].max(p[0]),
            bbox[3].max(p[1]),
        ];
    };
    for o in times.origins() {
        grow(o.lonlat);
    }
    for &(p, q, t0, t1) in pieces {
        let s = if t1 > limit {
            (limit - t0) / (t1 - t0)
        } else {
            1.0
        };
        grow([p[0] + s * (q[0] - p[0]), p[1] + s * (q[1] - p[1])]);
    }
    for &u in order {
        let Some(tu) = times.node_time_ms(u) else {
            continue;
        };
        let pu = graph.lonlat(u);
        grow(pu);
        for e in graph.edges(u, times.direction()) {
            if times.node_time_ms(e.head).is_some() {
                continue;
            }
            let s = ((limit_ms - f64::from(tu)) / f64::from(e.weight_ms.max(1))).min(1.0);
            let q = graph.lonlat(e.head);
            grow([pu[0] + s * (q[0] - pu[0]), pu[1] + s * (q[1] - pu[1])]);
        }
    }
    bbox[0].is_finite().then_some(bbox)
}

/// The answer when nothing is reached: every contour empty.
fn unreached(times: &SearchTimes<'_>, opts: &IsochroneOptions) -> Isochrone {
    Isochrone {
        contours: opts
            .contours_min
            .iter()
            .map(|&m| Contour {
                minutes: m,
                geometry: MultiPolygon(vec![]),
                area_ha: 0.0,
            })
            .collect(),
        origins: times.origins().to_vec(),
        direction: times.direction(),
        cell_size_m: 0.0,
        offroad_bound_m: 0.0,
        search_limit_s: times.limit_s(),
        reached_nodes: 0,
    }
}

/// Step 2, rasterise: each settled node its own cell; the edges leaving it sampled along,
/// except an edge to a settled node within the next cell, whose end cells cover it (with the
/// dilation of step 3); then the origin pieces.
fn rasterise(grid: &mut Grid, times: &SearchTimes<'_>, order: &[u32], pieces: &[OriginPiece]) {
    let graph = times.graph();
    let limit = times.limit_s();
    for (k, &u) in order.iter().enumerate() {
        if k.is_multiple_of(4096) && crate::cancel::cancelled() {
            break;
        }
        let Some(tu) = times.node_time_ms(u) else {
            continue;
        };
        let tu = f64::from(tu) / 1000.0;
        let (gx, gy) = grid.to_grid(graph.lon_lat_e7(u));
        grid.set_min(gx, gy, tu);
        for e in graph.edges(u, times.direction()) {
            let (hx, hy) = grid.to_grid(graph.lon_lat_e7(e.head));
            if (hx - gx).abs() < 1.0
                && (hy - gy).abs() < 1.0
                && times.node_time_ms(e.head).is_some()
            {
                continue;
            }
            let th = tu + f64::from(e.weight_ms) / 1000.0;
            grid.paint_grid(gx, gy, hx, hy, tu, th, limit);
        }
    }
    for &(p, q, t0, t1) in pieces {
        let (gx, gy) = grid.to_grid(e7(p));
        let (hx, hy) = grid.to_grid(e7(q));
        grid.paint_grid(gx, gy, hx, hy, t0, t1, limit);
    }
}

/// Step 4, contour: marching squares at each requested time over the grid (cells never
/// reached hold the search limit), in lon/lat; each polygon with its area.
fn contour_polygons(
    grid: &Grid,
    contours_min: &[f64],
    limit: f64,
) -> Result<Vec<Measured>, RoutingError> {
    let values: Vec<f64> = grid.v.iter().map(|&t| -t.min(limit)).collect();
    let thresholds: Vec<f64> = contours_min.iter().map(|m| -m * 60.0).collect();
    let raw = contour::ContourBuilder::new(grid.nx, grid.ny, true)
        .x_origin(grid.x0)
        .y_origin(grid.y0)
        .x_step(grid.dx)
        .y_step(grid.dy)
        .contours(&values, &thresholds)
        .map_err(|e| RoutingError::Contour(format!("{e:?}")))?;
    // Marching squares with smoothing can close a ring on itself (no area): such a ring is no
    // boundary, and a geodesic area would read it as the rest of the Earth.
    let min_ring = 1e-3 * grid.dx * grid.dy;
    Ok(raw
        .into_iter()
        .map(|c| measured_without_flat_rings(c.into_inner().0, min_ring))
        .collect())
}

/// The polygons of a contour without their rings of (planar) area `min_ring` or less, each
/// with its geodesic area.
fn measured_without_flat_rings(mp: MultiPolygon<f64>, min_ring: f64) -> Measured {
    mp.0.into_iter()
        .filter(|p| ring_area(p.exterior()).abs() > min_ring)
        .map(|p| {
            let (ext, holes) = p.into_inner();
            let holes = holes
                .into_iter()
                .filter(|h| ring_area(h).abs() > min_ring)
                .collect();
            let p = Polygon::new(ext, holes);
            let a = area_ha(&Geometry::Polygon(p.clone()));
            (p, a)
        })
        .collect()
}

/// Step 5, denoise, from the outermost contour in: drop the polygons smaller than `denoise`
/// × the largest of their contour, and those not inside a kept polygon of the next contour
/// out, so contours still nest.
fn denoise(polys: &mut [Measured], opts: &IsochroneOptions) {
    let mut order: Vec<usize> = (0..polys.len()).collect();
    order.sort_by(|&a, &b| opts.contours_min[b].total_cmp(&opts.contours_min[a]));
    let mut outer: Option<usize> = None;
    for &i in &order {
        let largest = polys[i].iter().fold(0.0f64, |a, p| a.max(p.1));
        let keep_outer = outer.map(|o| polys[o].clone());
        polys[i].retain(|(p, a)| {
            *a >= opts.denoise * largest
                && keep_outer.as_ref().is_none_or(|outs| {
                    p.interior_point()
                        .is_some_and(|pt| outs.iter().any(|(op, _)| op.contains(&pt)))
                })
        });
        outer = Some(i);
    }
}

/// Step 5, the rest: generalize each contour (Douglas–Peucker in metres), make it valid on
/// the output grid, measure it.
fn finish_contours(
    polys: Vec<Measured>,
    opts: &IsochroneOptions,
    m_lon: f64,
    m_lat: f64,
) -> Vec<Contour> {
    polys
        .into_iter()
        .zip(&opts.contours_min)
        .map(|(ps, &minutes)| {
            let mut mp = MultiPolygon(ps.into_iter().map(|(p, _)| p).collect());
            if opts.generalize_m > 0.0 {
                mp = generalize(&mp, opts.generalize_m, m_lon, m_lat);
            }
            let geometry = valid_on_output_grid(&mp);
            let area_ha = area_ha(&Geometry::MultiPolygon(geometry.clone()));
            Contour {
                minutes,
                geometry,
                area_ha,
            }
        })
        .collect()
}

/// The polygons of one contour rounded to the [`OUTPUT_GRID_DEG`] grid and made valid there
/// ([`make_valid`]): marching squares and Douglas–Peucker leave rings that touch themselves,
/// spikes that rounding makes exact (A→B→A), and rings of one contour that come to touch. The
/// result is what the API writes, coordinate for coordinate, so it stays valid as written;
/// exterior rings are counter-clockwise, holes clockwise (RFC 7946).
fn valid_on_output_grid(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let k = 1.0 / OUTPUT_GRID_DEG;
    let to_grid = |l: &LineString<f64>| -> GridRing {
        let mut r: GridRing =
            l.0.iter()
                .map(|c| [(c.x * k).round() as i32, (c.y * k).round() as i32])
                .collect();
        r.dedup();
        if r.len() > 1 && r.first() == r.last() {
            r.pop();
        }
        r
    };
    let polys: Vec<GridPolygon> =
        mp.0.iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(to_grid)
                    .collect()
            })
            .collect();
    let to_line = |r: &GridRing| {
        LineString(
            r.iter()
                .map(|q| Coord {
                    x: f64::from(q[0]) / k,
                    y: f64::from(q[1]) / k,
                })
                .collect(),
        )
    };
    MultiPolygon(
        make_valid(&polys)
            .iter()
            .map(|p| Polygon::new(to_line(&p[0]), p[1..].iter().map(to_line).collect()))
            .collect(),
    )
}

/// A lon/lat position in 1e-7 degrees.
fn e7(p: [f64; 2]) -> [i32; 2] {
    [(p[0] * 1e7).round() as i32, (p[1] * 1e7).round() as i32]
}

/// Planar signed area of a ring, square degrees.
fn ring_area(l: &LineString<f64>) -> f64 {
    l.0.windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum::<f64>()
        / 2.0
}

/// Douglas–Peucker in a local metric frame; rings that collapse are dropped.
fn generalize(mp: &MultiPolygon<f64>, tol_m: f64, m_lon: f64, m_lat: f64) -> MultiPolygon<f64> {
    let to_m = |l: &LineString<f64>| {
        LineString(
            l.0.iter()
                .map(|c| Coord {
                    x: c.x * m_lon,
                    y: c.y * m_lat,
                })
                .collect(),
        )
    };
    let to_deg = |l: LineString<f64>| {
        LineString(
            l.0.into_iter()
                .map(|c| Coord {
                    x: c.x / m_lon,
                    y: c.y / m_lat,
                })
                .collect(),
        )
    };
    let simplify = |l: &LineString<f64>| {
        let s = to_m(l).simplify(tol_m);
        (s.0.len() >= 4).then(|| to_deg(s))
    };
    MultiPolygon(
        mp.0.iter()
            .filter_map(|p| {
                let ext = simplify(p.exterior())?;
                let holes = p.interiors().iter().filter_map(simplify).collect();
                Some(Polygon::new(ext, holes))
            })
            .collect(),
    )
}

/// The road coverage of an isochrone: how much of the largest contour lies in the graph's
/// extent, and the road coverage of the catchments it touches (see [`super::coverage`]).
#[derive(Debug, Clone)]
pub struct IsochroneCoverage {
    /// Share of the largest contour's area inside the graph's extent, 0 to 1.
    pub isochrone_share: f64,
    /// (catchment row, road coverage) of the catchments the largest contour touches.
    pub catchments: Vec<(u32, f64)>,
    pub answer: super::coverage::AnswerCoverage,
}

impl RoutingEngine {
    /// The coverage of an isochrone over a catchments layer.
    pub fn isochrone_coverage(
        &self,
        iso: &Isochrone,
        catchments: &std::sync::Arc<crate::index::LayerData>,
    ) -> IsochroneCoverage {
        use geo::{BoundingRect, Intersects};
        let largest = iso
            .contours
            .iter()
            .max_by(|a, b| a.minutes.total_cmp(&b.minutes));
        let Some(contour) = largest else {
            let cov = self.road_coverage(catchments);
            return IsochroneCoverage {
                isochrone_share: 0.0,
                catchments: Vec::new(),
                answer: cov.answer([]),
            };
        };
        let geom = geo_types::Geometry::MultiPolygon(contour.geometry.clone());
        let isochrone_share = super::coverage::covered_share(&geom, self.hull());
        let cov = self.road_coverage(catchments);
        let rows: Vec<u32> = match contour.geometry.bounding_rect() {
            Some(r) => catchments
                .rows_in_envelope([r.min().x, r.min().y, r.max().x, r.max().y])
                .filter(|&row| catchments.geometry(row).intersects(&contour.geometry))
                .collect(),
            None => Vec::new(),
        };
        IsochroneCoverage {
            isochrone_share,
            answer: cov.answer(rows.iter().copied()),
            catchments: rows.iter().map(|&r| (r, cov.of(r))).collect(),
        }
    }
}
