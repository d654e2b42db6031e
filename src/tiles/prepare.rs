//! Work done once per data generation, not per request: projection of every geometry to
//! world (web-mercator) coordinates, per-zoom simplification to one tile unit, the decision of
//! which polygons are under a pixel at which zoom, the cluster levels, priorities, and the zoom
//! from which each layer is complete.
//!
//! Steps, per layer: project → priorities and anchors → per zoom `0..=generalise_max_zoom`:
//! keep the polygons of a pixel or more (simplified), send the smaller ones (and points) to the
//! clusters (plots, buildings, waste deposits) or drop them (catchments, territories) →
//! cluster bottom-up → completeness.
//!
//! Living data: every per-row array is an `index::Chunked`, every tree an `index::Forest`,
//! cells and tile loads persistent maps, and a layer remembers the `LayerData::serial` it was
//! made from. When the new data descends from it (`LayerData::changes_since`), the layer is
//! updated from the changed rows only ([`update_layer`]): their old contributions are taken
//! out of every structure (from the layer's own per-row arrays), the arrays resized, and the
//! new rows put in. Layer-wide values (confidentiality, completeness) come from counts kept
//! alongside, so they are exactly what a from-scratch [`prepare_layer`] computes.

use std::sync::Arc;

use geo::{Area, BoundingRect, Centroid, Simplify};
use geo_types::{Coord, Geometry, LineString, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};

use super::TileConfig;
use super::cluster::{
    ClusterLevel, ClusterSpec, Member, Moved, class_and_measure, cluster, update_clusters,
};
use super::tile_coord::{lonlat_to_world, tile_unit};
use super::tile_load::{TileLoad, Weight};
use crate::index::{Chunked, Forest, LayerData, LayerView, RowChanges, Snapshot};
use crate::model::{Audience, BUILDING_STATUS, Layer, MATERIALS, PLOT_STATUS, schema};

/// A geometry in world coordinates (unit square, y down).
#[derive(Debug, Clone)]
pub enum WorldGeom {
    Point([f64; 2]),
    /// Shared, so that copying a chunk of rows copies pointers.
    Polygons(Arc<MultiPolygon<f64>>),
    /// A geometry kind tiles do not draw.
    Empty,
}

/// A polygon's world envelope in a shape level's tree; payload = row.
pub type ShapeEntry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// Polygons drawn as polygons at one zoom.
#[derive(Debug, Clone, Default)]
pub struct ShapeLevel {
    /// World envelopes of the rows drawn at this zoom; payload = row. Their simplified
    /// forms are the layer's ([`PreparedLayer::simplified_at`]).
    pub tree: Forest<ShapeEntry>,
}

/// What preparation derives from one row besides its geometry, anchor and priority.
#[derive(Debug, Clone, Copy, Default)]
struct RowFacts {
    /// World bounding box (`None` for empty geometries).
    envelope: Option<[f64; 4]>,
    /// The highest zoom at which the row is point-like (for clustering).
    joins_at: Option<u8>,
    /// For polygons: the highest zoom at which they are under one pixel.
    subpixel_until: Option<u8>,
    /// Hidden from the public audience (confidential).
    hidden: bool,
    /// Estimated encoded size, bytes (completeness).
    weight: u64,
}

/// One layer ready to be tiled.
#[derive(Debug, Clone)]
pub struct PreparedLayer {
    pub data: Arc<LayerData>,
    /// `data.serial()` when this was prepared.
    pub serial: u64,
    pub world: Chunked<WorldGeom>,
    /// Where a feature sits as a point: the point, or the polygon's centroid.
    pub anchor: Chunked<[f64; 2]>,
    /// Larger first: world area of polygons, the cluster measure (quantity, area) of points.
    pub priority: Chunked<f64>,
    facts: Chunked<RowFacts>,
    /// Per row: its simplified forms per zoom.
    simplified: Chunked<Simplified>,
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
    /// Rows hidden from the public audience.
    hidden_rows: usize,
    /// Polygons per `subpixel_until + 1` (0: never under a pixel), for completeness.
    subpixel: Vec<usize>,
    /// Tile loads of every row, and of the rows public readers see.
    load: [TileLoad; 2],
}

/// Every layer of one data generation, ready to be tiled.
#[derive(Debug)]
pub struct Prepared {
    pub generation: u64,
    pub layers: [Arc<PreparedLayer>; 5],
}

/// How a layer's preparation changed from the previous one (what the tile cache must drop).
#[derive(Debug, Clone, PartialEq)]
pub enum LayerChange {
    /// The same preparation.
    Same,
    /// Prepared from scratch, or changed in a layer-wide way: every tile may differ.
    Everything,
    /// Updated from changed rows: their old and new world envelopes (points: zero-size);
    /// no other tile's content differs.
    Rows(Vec<[f64; 4]>),
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
/// change and updating those whose data descends from it.
pub fn prepare(snap: &Snapshot, previous: Option<&Prepared>, cfg: &TileConfig) -> Prepared {
    prepare_with_changes(snap, previous, cfg).0
}

/// [`prepare`], and per layer (`Layer::index`) how it changed from `previous`.
pub fn prepare_with_changes(
    snap: &Snapshot,
    previous: Option<&Prepared>,
    cfg: &TileConfig,
) -> (Prepared, [LayerChange; 5]) {
    let mut changes: [LayerChange; 5] = std::array::from_fn(|_| LayerChange::Everything);
    let layers = Layer::ALL.map(|layer| {
        let data = snap.layer(layer);
        let change = &mut changes[layer.index()];
        if let Some(prev) = previous {
            let p = &prev.layers[layer.index()];
            if Arc::ptr_eq(&p.data, data) || p.serial == data.serial() {
                *change = LayerChange::Same;
                return Arc::clone(p);
            }
            if let Some(ch) = data.changes_since(p.serial)
                && ch.rows.len() <= ch.new_len / 2 + 64
            {
                let (next, c) = update_layer(p, Arc::clone(data), &ch, cfg);
                *change = c;
                return Arc::new(next);
            }
        }
        Arc::new(prepare_layer(Arc::clone(data), cfg))
    });
    let prepared = Prepared {
        generation: snap.generation,
        layers,
    };
    (prepared, changes)
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
        Geometry::Polygon(p) => {
            WorldGeom::Polygons(Arc::new(MultiPolygon(vec![polygon_to_world(p)])))
        }
        Geometry::MultiPolygon(mp) => WorldGeom::Polygons(Arc::new(MultiPolygon(
            mp.0.iter().map(polygon_to_world).collect(),
        ))),
        Geometry::Rect(r) => WorldGeom::Polygons(Arc::new(MultiPolygon(vec![polygon_to_world(
            &r.to_polygon(),
        )]))),
        _ => WorldGeom::Empty,
    }
}

fn vertex_count(mp: &MultiPolygon<f64>) -> usize {
    mp.0.iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum()
}

/// One row as preparation sees it.
struct PreparedRow {
    world: WorldGeom,
    anchor: [f64; 2],
    priority: f64,
    facts: RowFacts,
    simplified: Simplified,
}

/// A polygon's simplified forms: (zoom, geometry) for each zoom at which it is drawn and
/// simplification removed something, ascending zoom.
pub type Simplified = Option<Arc<[(u8, MultiPolygon<f64>)]>>;

/// Step 1–3 for one row: world geometry, anchor, priority, envelope, zoom thresholds (the
/// highest zoom at which it is point-like or, for polygons of unclustered layers, dropped:
/// under one pixel, 1/256 of a tile, in both directions), and its simplified forms.
fn prepare_row(
    data: &LayerData,
    spec: Option<&ClusterSpec>,
    public: &LayerView<'_>,
    row: u32,
    cfg: &TileConfig,
) -> PreparedRow {
    let gmax = cfg.generalise_max_zoom;
    let world = to_world(data.geometry(row));
    let px = |z: u8| tile_unit(z, 256.0);
    let mut f = RowFacts {
        hidden: !public.visible(row),
        ..RowFacts::default()
    };
    let (anchor, priority, vertices) = match &world {
        WorldGeom::Point(p) => {
            f.envelope = Some([p[0], p[1], p[0], p[1]]);
            f.joins_at = Some(gmax);
            let measure = spec
                .and_then(|s| data.value(row, s.measure_field))
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
            (*p, measure, 1)
        }
        WorldGeom::Polygons(mp) => {
            let r = mp.bounding_rect();
            let c = mp
                .centroid()
                .map(|c| [c.x(), c.y()])
                .or_else(|| r.map(|r| [r.center().x, r.center().y]))
                .unwrap_or([0.0, 0.0]);
            f.envelope = r.map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
            if let Some(e) = f.envelope {
                let size = (e[2] - e[0]).max(e[3] - e[1]);
                f.subpixel_until = (0..=gmax).rev().find(|z| size < px(*z));
                if spec.is_some() {
                    f.joins_at = f.subpixel_until;
                }
            }
            (c, mp.unsigned_area(), vertex_count(mp))
        }
        WorldGeom::Empty => ([0.0, 0.0], 0.0, 0),
    };
    let filled = (0..data.schema().fields.len())
        .filter(|i| data.value(row, *i).is_some())
        .count();
    f.weight = 12 + 3 * vertices as u64 + 3 * filled as u64;
    let simplified = simplify_row(&world, &f, cfg);
    PreparedRow {
        world,
        anchor,
        priority,
        facts: f,
        simplified,
    }
}

/// The row's envelope at zoom `z` if it is drawn as a polygon there (a pixel or more).
fn shape_env(world: &WorldGeom, f: &RowFacts, z: u8) -> Option<[f64; 4]> {
    let WorldGeom::Polygons(_) = world else {
        return None;
    };
    if f.subpixel_until.is_some_and(|s| z <= s) {
        return None;
    }
    f.envelope
}

/// Step 4 for one row: per zoom it is drawn at, the polygon simplified to one tile unit, kept
/// when that removed vertices and left every ring a ring.
fn simplify_row(world: &WorldGeom, f: &RowFacts, cfg: &TileConfig) -> Simplified {
    let WorldGeom::Polygons(mp) = world else {
        return None;
    };
    let mp: &MultiPolygon<f64> = mp;
    let mut out = Vec::new();
    for z in 0..=cfg.generalise_max_zoom {
        if shape_env(world, f, z).is_none() {
            continue;
        }
        let simplified = mp.simplify(tile_unit(z, f64::from(cfg.extent)));
        if vertex_count(&simplified) < vertex_count(mp)
            && simplified.0.iter().all(|p| p.exterior().0.len() >= 4)
        {
            out.push((z, simplified));
        }
    }
    (!out.is_empty()).then(|| out.into())
}

fn shape_entry(e: [f64; 4], row: u32) -> ShapeEntry {
    GeomWithData::new(Rectangle::from_corners([e[0], e[1]], [e[2], e[3]]), row)
}

impl PreparedLayer {
    /// The geometry of `row` at zoom `z` when simplification changed it.
    pub fn simplified_at(&self, row: u32, z: u8) -> Option<&MultiPolygon<f64>> {
        let forms = self.simplified[row as usize].as_deref()?;
        forms.iter().find(|(fz, _)| *fz == z).map(|(_, g)| g)
    }

    fn member(&self, spec: &ClusterSpec, row: u32) -> Member {
        let (class, measure) = class_and_measure(&self.data, spec, row);
        Member {
            class,
            measure,
            pos: self.anchor[row as usize],
            hidden: self.facts[row as usize].hidden,
        }
    }

    /// Calls `f` with the weight of every row (of the rows public readers see if `public`).
    fn weights(&self, public: bool, f: &mut dyn FnMut(Weight)) {
        for (a, facts) in self.anchor.iter().zip(self.facts.iter()) {
            if !(public && facts.hidden) {
                f((*a, facts.weight));
            }
        }
    }

    /// Counts of a row in or out (hidden rows, sub-pixel polygons).
    fn count_row(&mut self, f: &RowFacts, add: bool) {
        let step = |c: &mut usize| {
            if add { *c += 1 } else { *c -= 1 }
        };
        if f.hidden {
            step(&mut self.hidden_rows);
        }
        if let Some(s) = f.subpixel_until {
            step(&mut self.subpixel[usize::from(s) + 1]);
        }
    }

    /// Layer-wide values from the counts: confidentiality and completeness (step 6).
    fn settle(&mut self) {
        self.has_confidential = self.hidden_rows > 0;
        let complete = |public: bool| -> Option<u8> {
            // No cluster of two or more, no polygon dropped for being under a pixel…
            let from = if self.clusters.is_empty() {
                self.subpixel.iter().rposition(|c| *c > 0).unwrap_or(0)
            } else {
                self.clusters
                    .iter()
                    .rposition(|l| l.has_multi(public))
                    .map_or(0, |z| z + 1)
            };
            // …and (estimated) no tile over the budget.
            let fit = usize::from(self.load[usize::from(public)].first_fit()?);
            let z = u8::try_from(from.max(fit)).ok()?;
            (z <= super::MAX_ZOOM).then_some(z)
        };
        self.complete_from = complete(false);
        // Public readers' tiles lack the confidential rows: their completeness is computed
        // without them, so that it says nothing of where those rows are.
        self.complete_from_public = if self.has_confidential {
            complete(true)
        } else {
            self.complete_from
        };
    }
}

/// Prepares one layer from scratch: per row project, anchor, priority, thresholds and
/// simplified forms → shape levels → clusters → tile loads → completeness (for every reader,
/// and for the public audience without the rows it may not see).
pub fn prepare_layer(data: Arc<LayerData>, cfg: &TileConfig) -> PreparedLayer {
    let gmax = cfg.generalise_max_zoom;
    let spec = cluster_spec(data.layer());
    let n = data.len();
    let (mut world, mut anchor, mut priority) = (Vec::new(), Vec::new(), Vec::new());
    let (mut facts, mut simplified) = (Vec::with_capacity(n), Vec::with_capacity(n));
    {
        let public = LayerView::new(&data, Audience::Public);
        for row in 0..n as u32 {
            let p = prepare_row(&data, spec.as_ref(), &public, row, cfg);
            world.push(p.world);
            anchor.push(p.anchor);
            priority.push(p.priority);
            facts.push(p.facts);
            simplified.push(p.simplified);
        }
    }
    let shapes = (0..=gmax)
        .map(|z| {
            let entries = world
                .iter()
                .zip(&facts)
                .enumerate()
                .filter_map(|(row, (w, f))| Some(shape_entry(shape_env(w, f, z)?, row as u32)))
                .collect();
            ShapeLevel {
                tree: Forest::bulk_load(entries),
            }
        })
        .collect();
    let mut pl = PreparedLayer {
        serial: data.serial(),
        data,
        world: world.into(),
        anchor: anchor.into(),
        priority: priority.into(),
        facts: facts.into(),
        simplified: simplified.into(),
        shapes,
        clusters: Vec::new(),
        cluster_spec: spec,
        has_confidential: false,
        complete_from: None,
        complete_from_public: None,
        hidden_rows: 0,
        subpixel: vec![0; usize::from(gmax) + 2],
        load: Default::default(),
    };
    for i in 0..n {
        let f = pl.facts[i];
        pl.count_row(&f, true);
    }
    if let Some(s) = &spec {
        let joins = |r: u32| pl.facts[r as usize].joins_at;
        let member = |r: u32| pl.member(s, r);
        pl.clusters = cluster(n as u32, &joins, gmax, cfg.cluster_cells_per_tile, &member);
    }
    let budget = cfg.budget_bytes as u64;
    pl.load = [false, true].map(|public| TileLoad::build(&|f| pl.weights(public, f), budget));
    pl.settle();
    pl
}

/// Updates a layer's preparation to `data`, which descends from the data `prev` was made from
/// by `ch`: old contributions of the removed or changed rows out (read from `prev`'s arrays),
/// arrays resized, the changed rows put in. Also says which world envelopes changed, or that
/// a layer-wide value did.
pub fn update_layer(
    prev: &PreparedLayer,
    data: Arc<LayerData>,
    ch: &RowChanges,
    cfg: &TileConfig,
) -> (PreparedLayer, LayerChange) {
    let mut next = prev.clone();
    let mut envelopes = Vec::new();
    let (mut gone, mut gone_w) = (Vec::new(), [Vec::new(), Vec::new()]);
    for r in ch.removed_or_changed() {
        let f = prev.facts[r as usize];
        envelopes.extend(f.envelope);
        next.take_row(r, &f);
        let pos = prev.anchor[r as usize];
        gone.push(Moved {
            row: r,
            pos,
            joins_at: f.joins_at,
        });
        gone_w[0].push((pos, f.weight));
        if !f.hidden {
            gone_w[1].push((pos, f.weight));
        }
    }
    next.resize(ch.new_len);
    next.serial = data.serial();
    next.data = Arc::clone(&data);
    let (mut came, mut came_w) = (Vec::new(), [Vec::new(), Vec::new()]);
    let public = LayerView::new(&data, Audience::Public);
    for &r in &ch.rows {
        let p = prepare_row(&data, next.cluster_spec.as_ref(), &public, r, cfg);
        envelopes.extend(p.facts.envelope);
        came.push(Moved {
            row: r,
            pos: p.anchor,
            joins_at: p.facts.joins_at,
        });
        came_w[0].push((p.anchor, p.facts.weight));
        if !p.facts.hidden {
            came_w[1].push((p.anchor, p.facts.weight));
        }
        next.put_row(r, p);
    }
    if let Some(s) = next.cluster_spec {
        let mut levels = std::mem::take(&mut next.clusters);
        update_clusters(&mut levels, &gone, &came, &|r| next.member(&s, r));
        next.clusters = levels;
    }
    for (i, public) in [false, true].into_iter().enumerate() {
        let mut load = std::mem::take(&mut next.load[i]);
        load.update(&gone_w[i], &came_w[i], &|f| next.weights(public, f));
        next.load[i] = load;
    }
    next.settle();
    let global = |p: &PreparedLayer| (p.has_confidential, p.complete_from, p.complete_from_public);
    let change = if global(prev) == global(&next) {
        LayerChange::Rows(envelopes)
    } else {
        LayerChange::Everything
    };
    (next, change)
}

impl PreparedLayer {
    /// Takes an old row's shapes and counts out (before the arrays change).
    fn take_row(&mut self, r: u32, f: &RowFacts) {
        for (z, level) in self.shapes.iter_mut().enumerate() {
            if let Some(e) = shape_env(&self.world[r as usize], f, z as u8) {
                let removed = level.tree.remove(&shape_entry(e, r));
                debug_assert!(removed, "a drawn polygon is in its level's tree");
            }
        }
        self.count_row(f, false);
    }

    fn resize(&mut self, n: usize) {
        self.world.resize(n, WorldGeom::Empty);
        self.anchor.resize(n, [0.0, 0.0]);
        self.priority.resize(n, 0.0);
        self.facts.resize(n, RowFacts::default());
        self.simplified.resize(n, None);
    }

    /// Puts a new row in: arrays, shapes, counts.
    fn put_row(&mut self, r: u32, p: PreparedRow) {
        for (z, level) in self.shapes.iter_mut().enumerate() {
            if let Some(e) = shape_env(&p.world, &p.facts, z as u8) {
                level.tree.insert(shape_entry(e, r));
            }
        }
        self.count_row(&p.facts, true);
        let i = r as usize;
        self.world.set(i, p.world);
        self.anchor.set(i, p.anchor);
        self.priority.set(i, p.priority);
        self.facts.set(i, p.facts);
        self.simplified.set(i, p.simplified);
    }
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
