//! Work done once per data generation, not per request: projection of every geometry to
//! world (web-mercator) coordinates, per-zoom simplification to one tile unit, the decision of
//! which polygons are under a pixel at which zoom, the cluster levels, priorities, and the zoom
//! from which each layer is complete.
//!
//! Steps, per layer: project → priorities and anchors → per zoom `0..=generalise_max_zoom`:
//! keep the polygons of a pixel or more (simplified), send the smaller ones (and points) to the
//! clusters (plots, buildings, waste deposits) or drop them (catchments, territories) →
//! cluster bottom-up → completeness.

use std::collections::HashMap;
use std::sync::Arc;

use geo::{Area, BoundingRect, Centroid, Simplify};
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Polygon};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

use super::TileConfig;
use super::cluster::{ClusterLevel, ClusterSpec, cluster};
use super::tile_coord::{lonlat_to_world, tile_unit};
use crate::index::{LayerData, LayerView, Snapshot};
use crate::model::{Audience, BUILDING_STATUS, Layer, MATERIALS, PLOT_STATUS, schema};

/// A geometry in world coordinates (unit square, y down).
#[derive(Debug, Clone)]
pub enum WorldGeom {
    Point([f64; 2]),
    Polygons(MultiPolygon<f64>),
    /// A geometry kind tiles do not draw.
    Empty,
}

/// Polygons drawn as polygons at one zoom.
#[derive(Debug, Default)]
pub struct ShapeLevel {
    /// World envelopes; payload = index in `geoms`.
    pub tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    /// (row, simplified geometry; `None` when simplification removed nothing).
    pub geoms: Vec<(u32, Option<MultiPolygon<f64>>)>,
}

/// One layer ready to be tiled.
#[derive(Debug)]
pub struct PreparedLayer {
    pub data: Arc<LayerData>,
    pub world: Vec<WorldGeom>,
    /// Where a feature sits as a point: the point, or the polygon's centroid.
    pub anchor: Vec<[f64; 2]>,
    /// Larger first: world area of polygons, the cluster measure (quantity, area) of points.
    pub priority: Vec<f64>,
    /// Per zoom `0..=generalise_max_zoom`.
    pub shapes: Vec<ShapeLevel>,
    /// Per zoom `0..=generalise_max_zoom`; empty for layers that are not clustered.
    pub clusters: Vec<ClusterLevel>,
    pub cluster_spec: Option<ClusterSpec>,
    /// Whether any row is hidden from the public audience (confidential): then public
    /// readers use each cluster cell's public aggregate.
    pub has_confidential: bool,
    /// First zoom at which every feature is in the tiles, unmerged and within the budget
    /// (estimated); `None` if no zoom up to 22 is.
    pub complete_from: Option<u8>,
    /// The same for readers without the partners right (confidential rows left out).
    pub complete_from_public: Option<u8>,
}

/// Every layer of one data generation, ready to be tiled.
#[derive(Debug)]
pub struct Prepared {
    pub generation: u64,
    pub layers: [Arc<PreparedLayer>; 5],
}

impl PreparedLayer {
    /// The first zoom at which every feature an audience may see is in its tiles.
    pub fn complete_from_for(&self, audience: Audience) -> Option<u8> {
        match audience {
            Audience::Full => self.complete_from,
            Audience::Public => self.complete_from_public,
        }
    }

    /// The layer as `audience` sees it: every row test, count and extent of tiles goes
    /// through here.
    pub fn view(&self, audience: Audience) -> LayerView<'_> {
        LayerView::new(&self.data, audience)
    }
}

impl Prepared {
    pub fn layer(&self, layer: Layer) -> &PreparedLayer {
        &self.layers[layer.index()]
    }
}

/// Which field classifies cluster members and which is summed, for the clustered layers.
pub fn cluster_spec(layer: Layer) -> Option<ClusterSpec> {
    let s = schema(layer);
    match layer {
        Layer::Plots => Some(ClusterSpec {
            class_field: s.index_of("status"),
            classes: PLOT_STATUS,
            measure_field: s.index_of("area_ha"),
            measure_name: "area_ha",
            sum_total: true,
        }),
        Layer::Buildings => Some(ClusterSpec {
            class_field: s.index_of("status"),
            classes: BUILDING_STATUS,
            measure_field: s.index_of("floor_area_m2"),
            measure_name: "floor_area_m2",
            sum_total: true,
        }),
        Layer::WasteDeposits => Some(ClusterSpec {
            class_field: s.index_of("material"),
            classes: MATERIALS,
            measure_field: s.index_of("quantity"),
            measure_name: "quantity",
            sum_total: false,
        }),
        Layer::Catchments | Layer::Territories => None,
    }
}

/// Prepares every layer of a snapshot, reusing the layers of `previous` whose data did not
/// change.
pub fn prepare(snap: &Snapshot, previous: Option<&Prepared>, cfg: &TileConfig) -> Prepared {
    let layers = Layer::ALL.map(|layer| {
        let data = snap.layer(layer);
        if let Some(prev) = previous {
            let p = &prev.layers[layer.index()];
            if Arc::ptr_eq(&p.data, data) {
                return Arc::clone(p);
            }
        }
        Arc::new(prepare_layer(Arc::clone(data), cfg))
    });
    Prepared {
        generation: snap.generation,
        layers,
    }
}

fn ring_to_world(l: &LineString<f64>) -> LineString<f64> {
    LineString(
        l.0.iter()
            .map(|c| {
                let [x, y] = lonlat_to_world(c.x, c.y);
                Coord { x, y }
            })
            .collect(),
    )
}

fn polygon_to_world(p: &Polygon<f64>) -> Polygon<f64> {
    Polygon::new(
        ring_to_world(p.exterior()),
        p.interiors().iter().map(ring_to_world).collect(),
    )
}

/// Projects a WGS84 geometry to world coordinates.
pub fn to_world(g: &Geometry<f64>) -> WorldGeom {
    match g {
        Geometry::Point(p) => WorldGeom::Point(lonlat_to_world(p.x(), p.y())),
        Geometry::Polygon(p) => WorldGeom::Polygons(MultiPolygon(vec![polygon_to_world(p)])),
        Geometry::MultiPolygon(mp) => {
            WorldGeom::Polygons(MultiPolygon(mp.0.iter().map(polygon_to_world).collect()))
        }
        Geometry::Rect(r) => {
            WorldGeom::Polygons(MultiPolygon(vec![polygon_to_world(&r.to_polygon())]))
        }
        _ => WorldGeom::Empty,
    }
}

fn vertex_count(mp: &MultiPolygon<f64>) -> usize {
    mp.0.iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum()
}

/// Projected geometries and what is derived from them per row.
struct Projected {
    world: Vec<WorldGeom>,
    anchor: Vec<[f64; 2]>,
    priority: Vec<f64>,
    /// World bounding boxes (`None` for empty geometries).
    envelopes: Vec<Option<[f64; 4]>>,
}

/// Per row, the highest zoom at which it is point-like (`joins_at`, for clustering) and, for
/// polygons, under one pixel (`subpixel_until`).
struct Thresholds {
    joins_at: Vec<Option<u8>>,
    subpixel_until: Vec<Option<u8>>,
}

/// Prepares one layer: project → priorities and anchors → zoom thresholds → shape levels →
/// clusters → completeness (for every reader, and for the public audience without the rows
/// it may not see).
pub fn prepare_layer(data: Arc<LayerData>, cfg: &TileConfig) -> PreparedLayer {
    let gmax = cfg.generalise_max_zoom;
    let spec = cluster_spec(data.layer());
    let p = project(&data, spec.as_ref());
    let th = thresholds(&p, spec.is_some(), gmax);
    let shapes = shape_levels(&p, &th.subpixel_until, cfg);
    let public = LayerView::new(&data, Audience::Public);
    let hidden: Vec<bool> = (0..data.len() as u32).map(|r| !public.visible(r)).collect();
    let has_confidential = hidden.iter().any(|h| *h);
    let clusters = match &spec {
        Some(s) => cluster(
            &data,
            s,
            &p.anchor,
            &th.joins_at,
            gmax,
            cfg.cluster_cells_per_tile,
            |row| hidden[row as usize],
        ),
        None => Vec::new(),
    };
    let complete = |hidden: Option<&[bool]>| {
        completeness(&data, &p, &th.subpixel_until, &clusters, hidden, cfg)
    };
    let complete_from = complete(None);
    // Public readers' tiles lack the confidential rows: their completeness is computed without
    // them, so that it says nothing of where those rows are.
    let complete_from_public = if has_confidential {
        complete(Some(&hidden))
    } else {
        complete_from
    };
    PreparedLayer {
        data,
        world: p.world,
        anchor: p.anchor,
        priority: p.priority,
        shapes,
        clusters,
        cluster_spec: spec,
        has_confidential,
        complete_from,
        complete_from_public,
    }
}

/// Step 1–2: every geometry in world coordinates, its anchor, priority and envelope.
fn project(data: &LayerData, spec: Option<&ClusterSpec>) -> Projected {
    let n = data.len();
    let world: Vec<WorldGeom> = data.geometries().iter().map(to_world).collect();
    let mut anchor = Vec::with_capacity(n);
    let mut priority = Vec::with_capacity(n);
    let mut envelopes: Vec<Option<[f64; 4]>> = Vec::with_capacity(n);
    for (row, g) in world.iter().enumerate() {
        match g {
            WorldGeom::Point(p) => {
                anchor.push(*p);
                envelopes.push(Some([p[0], p[1], p[0], p[1]]));
                let measure = spec
                    .and_then(|s| data.value(row as u32, s.measure_field))
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0);
                priority.push(measure);
            }
            WorldGeom::Polygons(mp) => {
                let r = mp.bounding_rect();
                let c = mp
                    .centroid()
                    .map(|c| [c.x(), c.y()])
                    .or_else(|| r.map(|r| [r.center().x, r.center().y]))
                    .unwrap_or([0.0, 0.0]);
                anchor.push(c);
                envelopes.push(r.map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]));
                priority.push(mp.unsigned_area());
            }
            WorldGeom::Empty => {
                anchor.push([0.0, 0.0]);
                envelopes.push(None);
                priority.push(0.0);
            }
        }
    }
    Projected {
        world,
        anchor,
        priority,
        envelopes,
    }
}

/// Step 3: the highest zoom at which each row is point-like (for clustering) or, for polygons
/// of unclustered layers, dropped: under one pixel (1/256 of a tile) in both directions.
fn thresholds(p: &Projected, clustered: bool, gmax: u8) -> Thresholds {
    let n = p.world.len();
    let px = |z: u8| tile_unit(z, 256.0);
    let mut joins_at: Vec<Option<u8>> = vec![None; n];
    let mut subpixel_until: Vec<Option<u8>> = vec![None; n];
    for row in 0..n {
        match &p.world[row] {
            WorldGeom::Point(_) => joins_at[row] = Some(gmax),
            WorldGeom::Polygons(_) => {
                if let Some(e) = p.envelopes[row] {
                    let size = (e[2] - e[0]).max(e[3] - e[1]);
                    let z = (0..=gmax).rev().find(|z| size < px(*z));
                    subpixel_until[row] = z;
                    if clustered {
                        joins_at[row] = z;
                    }
                }
            }
            WorldGeom::Empty => {}
        }
    }
    Thresholds {
        joins_at,
        subpixel_until,
    }
}

/// Step 4: per zoom `0..=generalise_max_zoom`, the polygons of a pixel or more, simplified to
/// one tile unit.
fn shape_levels(p: &Projected, subpixel_until: &[Option<u8>], cfg: &TileConfig) -> Vec<ShapeLevel> {
    let gmax = cfg.generalise_max_zoom;
    let mut shapes = Vec::with_capacity(usize::from(gmax) + 1);
    for z in 0..=gmax {
        let eps = tile_unit(z, f64::from(cfg.extent));
        let mut geoms = Vec::new();
        let mut entries = Vec::new();
        for (row, g) in p.world.iter().enumerate() {
            let WorldGeom::Polygons(mp) = g else {
                continue;
            };
            if subpixel_until[row].is_some_and(|s| z <= s) {
                continue;
            }
            let Some(e) = p.envelopes[row] else { continue };
            let simplified = mp.simplify(eps);
            let keep = if vertex_count(&simplified) < vertex_count(mp)
                && simplified.0.iter().all(|p| p.exterior().0.len() >= 4)
            {
                Some(simplified)
            } else {
                None
            };
            entries.push(GeomWithData::new(
                Rectangle::from_corners([e[0], e[1]], [e[2], e[3]]),
                geoms.len() as u32,
            ));
            geoms.push((row as u32, keep));
        }
        shapes.push(ShapeLevel {
            tree: RTree::bulk_load(entries),
            geoms,
        });
    }
    shapes
}

/// The first zoom from which the layer's tiles hold every feature: no cluster of two or more,
/// no polygon dropped for being under a pixel, and (estimated) no tile over the budget.
/// `hidden`: when given, the rows it marks are left out, as they are from public readers'
/// tiles.
fn completeness(
    data: &LayerData,
    p: &Projected,
    subpixel_until: &[Option<u8>],
    clusters: &[ClusterLevel],
    hidden: Option<&[bool]>,
    cfg: &TileConfig,
) -> Option<u8> {
    let (world, anchor) = (&p.world, &p.anchor);
    let shown = |row: usize| hidden.is_none_or(|h| !h[row]);
    let mut from: u8 = 0;
    for (z, level) in clusters.iter().enumerate() {
        if level
            .cells
            .iter()
            .any(|c| c.view(hidden.is_some()).0.count > 1)
        {
            from = from.max(z as u8 + 1);
        }
    }
    if clusters.is_empty() {
        for s in subpixel_until.iter().flatten() {
            from = from.max(s + 1);
        }
    }
    // Estimated encoded size of each feature: a few bytes per vertex and per property.
    let props = data.schema().fields.len();
    let est: Vec<f64> = world
        .iter()
        .enumerate()
        .map(|(row, g)| {
            let filled = (0..props)
                .filter(|f| data.value(row as u32, *f).is_some())
                .count();
            let vertices = match g {
                WorldGeom::Point(_) => 1,
                WorldGeom::Polygons(mp) => vertex_count(mp),
                WorldGeom::Empty => 0,
            };
            12.0 + 3.0 * vertices as f64 + 3.0 * filled as f64
        })
        .collect();
    for z in from..=super::MAX_ZOOM {
        let n = f64::from(1u32 << z);
        let mut per_tile: HashMap<(u32, u32), f64> = HashMap::new();
        let mut fits = true;
        for (row, a) in anchor.iter().enumerate().filter(|(row, _)| shown(*row)) {
            let key = ((a[0] * n) as u32, (a[1] * n) as u32);
            let t = per_tile.entry(key).or_insert(0.0);
            *t += est[row];
            if *t > cfg.budget_bytes as f64 {
                fits = false;
                break;
            }
        }
        if fits {
            return Some(z);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Feature, Value};
    use geo_types::Point;

    fn deposit(id: u64, lon: f64, lat: f64, confidential: bool) -> Feature {
        let s = schema(Layer::WasteDeposits);
        let mut props = vec![None; s.fields.len()];
        props[s.index_of("material")] = Some(Value::Text("wood".into()));
        props[s.index_of("quantity")] = Some(Value::Float(5.0));
        let c = if confidential { "partners" } else { "public" };
        props[s.index_of("confidentiality")] = Some(Value::Text(c.into()));
        Feature {
            id,
            version: 1,
            geometry: Geometry::Point(Point::new(lon, lat)),
            props,
            extra: Default::default(),
        }
    }

    fn prepared(feats: Vec<Feature>) -> PreparedLayer {
        let data = Arc::new(LayerData::build(Layer::WasteDeposits, feats));
        prepare_layer(data, &TileConfig::default())
    }

    /// A confidential deposit a few metres from a public one makes the layer complete only at
    /// a high zoom for partners; for public readers the completeness is that of the layer
    /// without it (the oracle: the same layer built without its confidential rows).
    #[test]
    fn public_completeness_ignores_confidential_rows() {
        let spread: Vec<Feature> = (0..20)
            .map(|i| deposit(i, 0.5 + 0.05 * i as f64, 49.4 + 0.02 * i as f64, false))
            .collect();
        let mut with = spread.clone();
        with.push(deposit(100, 0.5 + 0.000_01, 49.4 + 0.000_01, true));
        let full = prepared(with);
        let without = prepared(spread);
        assert!(full.has_confidential);
        assert_eq!(full.complete_from_for(Audience::Full), full.complete_from);
        assert_eq!(
            full.complete_from_for(Audience::Public),
            without.complete_from
        );
        assert!(
            full.complete_from > without.complete_from,
            "the close pair needs a deeper zoom: {:?} vs {:?}",
            full.complete_from,
            without.complete_from
        );
        assert_eq!(
            without.complete_from_for(Audience::Public),
            without.complete_from
        );
    }
}
