//! One tile, from prepared layers: query the buffered tile box, filter, pick the generalised
//! form for the zoom (simplified polygons, clusters), clip in floating point, snap, order by
//! priority, keep within the size budget, encode.

use std::borrow::Cow;

use geo::MapCoords;
use geo_types::MultiPolygon;
use geozero::mvt::tile::GeomType;
use rstar::AABB;

use super::cluster::{Aggregate, ClusterLevel, ClusterSpec, filtered_aggregate};
use super::encode::{LayerWriter, Prop, PropValue, point_commands, polygon_commands, varint_bytes};
use super::prepare::{Prepared, PreparedLayer, ShapeLevel, WorldGeom};
use super::{TileConfig, TileCoord, TileSet};
use crate::index::{ValueRef, VisibleFilter};

/// An encoded tile.
#[derive(Debug, Clone, Default)]
pub struct RenderedTile {
    /// The MVT bytes, uncompressed; empty when no feature is in the tile.
    pub bytes: Vec<u8>,
    /// Features (and clusters) in the tile.
    pub features: usize,
    /// Features left out to keep the tile within the budget.
    pub left_out: usize,
}

/// Where a candidate's properties come from.
enum Source<'a> {
    Row(u32),
    Cluster(Cow<'a, Aggregate>),
}

/// A feature about to be encoded. Properties are written only for the features kept.
struct Candidate<'a> {
    id: Option<u64>,
    ty: GeomType,
    geometry: Vec<u32>,
    source: Source<'a>,
    /// 0 polygons, 1 clusters, 2 points: polygons first (drawn below), then by priority.
    rank: u8,
    priority: f64,
    tiebreak: u64,
    size: usize,
}

/// One layer's candidates.
struct LayerCandidates<'a> {
    pl: &'a PreparedLayer,
    name: &'static str,
    cands: Vec<Candidate<'a>>,
}

/// Renders one tile of a tile set.
pub fn render_tile(
    prepared: &Prepared,
    set: &TileSet,
    t: TileCoord,
    cfg: &TileConfig,
) -> RenderedTile {
    let mut per_layer: Vec<LayerCandidates<'_>> = Vec::with_capacity(set.layers.len());
    for (layer, filter) in &set.layers {
        let pl = prepared.layer(*layer);
        let mut c = layer_candidates(pl, pl.view(set.audience).filter(filter), t, cfg);
        c.sort_by(|a, b| {
            a.rank
                .cmp(&b.rank)
                .then(b.priority.total_cmp(&a.priority))
                .then(a.tiebreak.cmp(&b.tiebreak))
        });
        per_layer.push(LayerCandidates {
            pl,
            name: layer.id(),
            cands: c,
        });
    }
    let total: usize = per_layer.iter().map(|l| l.cands.len()).sum();
    let sizes: Vec<usize> = per_layer
        .iter()
        .map(|l| l.cands.iter().map(|f| f.size).sum())
        .collect();
    let mut budget = cfg.budget_bytes;
    // The size estimate leaves out the shared value tables: if the encoded tile is still over
    // the budget, tighten and try again.
    for _ in 0..12 {
        let keep = allocate(&per_layer, &sizes, budget);
        let bytes = encode(&per_layer, &keep, cfg.extent);
        let kept: usize = keep.iter().sum();
        if bytes.len() <= cfg.budget_bytes || kept == 0 {
            return RenderedTile {
                bytes,
                features: kept,
                left_out: total - kept,
            };
        }
        // Shrink in proportion to the overshoot, a little more to converge.
        let ratio = cfg.budget_bytes as f64 / bytes.len() as f64;
        budget = (budget as f64 * ratio * 0.97) as usize;
    }
    RenderedTile {
        bytes: Vec::new(),
        features: 0,
        left_out: total,
    }
}

/// How many of each layer's (sorted) candidates fit: the budget is shared out equally, a layer
/// that needs less than its share passes the rest on (water-filling), so a small layer is never
/// starved by a large one and the outcome depends on the data only.
fn allocate(per_layer: &[LayerCandidates<'_>], sizes: &[usize], budget: usize) -> Vec<usize> {
    if sizes.iter().sum::<usize>() <= budget {
        return per_layer.iter().map(|l| l.cands.len()).collect();
    }
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|i| (sizes[*i], *i));
    let mut alloc = vec![0usize; sizes.len()];
    let mut remaining = budget;
    for (k, &i) in order.iter().enumerate() {
        let share = remaining / (order.len() - k);
        alloc[i] = sizes[i].min(share);
        remaining -= alloc[i];
    }
    per_layer
        .iter()
        .zip(&alloc)
        .map(|(l, a)| {
            let mut used = 0;
            l.cands
                .iter()
                .take_while(|c| {
                    used += c.size;
                    used <= *a
                })
                .count()
        })
        .collect()
}

fn encode(per_layer: &[LayerCandidates<'_>], keep: &[usize], extent: u32) -> Vec<u8> {
    let mut tile = Vec::new();
    let mut props: Vec<Prop<'_>> = Vec::new();
    for (l, k) in per_layer.iter().zip(keep) {
        if *k == 0 {
            continue;
        }
        let mut w = LayerWriter::new(l.name, extent);
        for c in &l.cands[..*k] {
            props.clear();
            match &c.source {
                Source::Row(row) => row_props(l.pl, *row, &mut props),
                Source::Cluster(agg) => cluster_props(l.pl, agg, &mut props),
            }
            w.add(c.id, c.ty, &c.geometry, &props);
        }
        w.finish_into(&mut tile);
    }
    tile
}

/// The tile frame: world → tile units.
struct Frame {
    n: f64,
    x: f64,
    y: f64,
    extent: f64,
    world_box: [f64; 4],
    tile_box: [f64; 4],
}

impl Frame {
    fn new(t: TileCoord, cfg: &TileConfig) -> Frame {
        let extent = f64::from(cfg.extent);
        let b = f64::from(cfg.buffer);
        Frame {
            n: t.tiles_per_side(),
            x: f64::from(t.x),
            y: f64::from(t.y),
            extent,
            world_box: t.world_bounds(b, extent),
            tile_box: [-b, -b, extent + b, extent + b],
        }
    }

    #[inline]
    fn to_tile(&self, p: [f64; 2]) -> [f64; 2] {
        [
            (p[0] * self.n - self.x) * self.extent,
            (p[1] * self.n - self.y) * self.extent,
        ]
    }

    #[inline]
    fn contains_world(&self, p: [f64; 2]) -> bool {
        let b = &self.world_box;
        p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3]
    }

    fn aabb(&self, grow: f64) -> AABB<[f64; 2]> {
        let b = &self.world_box;
        AABB::from_corners([b[0] - grow, b[1] - grow], [b[2] + grow, b[3] + grow])
    }

    fn polygon(&self, mp: &MultiPolygon<f64>) -> Option<Vec<u32>> {
        let local = mp.map_coords(|c| {
            let [x, y] = self.to_tile([c.x, c.y]);
            geo_types::Coord { x, y }
        });
        let clipped = super::clip(&local, self.tile_box);
        polygon_commands(&clipped)
    }
}

/// One layer's candidates in a tile: below `generalise_max_zoom` the generalised shapes and
/// the clusters, above it every row in the buffered tile box. Rows are tested through `filter`
/// (the caller's view and the attribute filter).
fn layer_candidates<'a>(
    pl: &'a PreparedLayer,
    filter: VisibleFilter<'_>,
    t: TileCoord,
    cfg: &TileConfig,
) -> Vec<Candidate<'a>> {
    let frame = Frame::new(t, cfg);
    let z = usize::from(t.z);
    if t.z <= cfg.generalise_max_zoom && z < pl.shapes.len() {
        let mut out = shape_candidates(pl, &pl.shapes[z], t.z, filter, &frame);
        if let (Some(spec), Some(level)) = (&pl.cluster_spec, pl.clusters.get(z)) {
            if filter.no_conditions() {
                precomputed_clusters(pl, level, filter, &frame, &mut out);
            } else {
                filtered_clusters(pl, spec, level, filter, &frame, &mut out);
            }
        }
        return out;
    }
    row_candidates(pl, filter, t, &frame, cfg)
}

/// The generalised polygons of one zoom level that pass the filter.
fn shape_candidates<'a>(
    pl: &'a PreparedLayer,
    level: &'a ShapeLevel,
    z: u8,
    filter: VisibleFilter<'_>,
    frame: &Frame,
) -> Vec<Candidate<'a>> {
    let mut out = Vec::new();
    for e in level.tree.locate_in_envelope_intersecting(&frame.aabb(0.0)) {
        let row = e.data;
        if !filter.matches(row) {
            continue;
        }
        let geom: &MultiPolygon<f64> = match (pl.simplified_at(row, z), &pl.world[row as usize]) {
            (Some(s), _) => s,
            (None, WorldGeom::Polygons(mp)) => mp,
            _ => continue,
        };
        if let Some(c) = polygon_candidate(pl, row, geom, frame) {
            out.push(c);
        }
    }
    out
}

/// Precomputed clusters: usable when no condition filters rows out. Callers who may not see
/// every row read each cell's public aggregate; its mean may sit in a neighbouring tile, so
/// look one cell further and keep the clusters whose position is in this one.
fn precomputed_clusters<'a>(
    pl: &'a PreparedLayer,
    level: &'a ClusterLevel,
    filter: VisibleFilter<'_>,
    frame: &Frame,
    out: &mut Vec<Candidate<'a>>,
) {
    let public_view = !filter.view().sees_all() && pl.has_confidential;
    let grow = if public_view { level.cell_size } else { 0.0 };
    for e in level.tree.locate_in_envelope(&frame.aabb(grow)) {
        let Some(cell) = level.cells.get(&e.data) else {
            continue;
        };
        let (agg, single) = cell.view(public_view);
        if agg.count == 0 {
            continue;
        }
        let pos = agg.position();
        if public_view && !frame.contains_world(pos) {
            continue;
        }
        match single {
            Some(row) => out.push(point_candidate(pl, row, pl.anchor[row as usize], frame)),
            None => out.push(cluster_candidate(pl, Cow::Borrowed(agg), cell.key, frame)),
        }
    }
}

/// Clusters of the members that pass the filter. Those stay inside their cell, so their mean
/// does too: cells up to one cell width outside the box may have theirs inside.
fn filtered_clusters<'a>(
    pl: &'a PreparedLayer,
    spec: &ClusterSpec,
    level: &'a ClusterLevel,
    filter: VisibleFilter<'_>,
    frame: &Frame,
    out: &mut Vec<Candidate<'a>>,
) {
    for e in level.tree.locate_in_envelope(&frame.aabb(level.cell_size)) {
        let Some(cell) = level.cells.get(&e.data) else {
            continue;
        };
        let (agg, last) = filtered_aggregate(spec, cell, filter, |row| pl.anchor[row as usize]);
        let (Some(last), pos) = (last, agg.position()) else {
            continue;
        };
        if !frame.contains_world(pos) {
            continue;
        }
        if agg.count == 1 {
            out.push(point_candidate(pl, last, pos, frame));
        } else {
            out.push(cluster_candidate(pl, Cow::Owned(agg), cell.key, frame));
        }
    }
}

/// Above the generalised zooms: every row in the buffered tile box that passes the filter.
fn row_candidates<'a>(
    pl: &'a PreparedLayer,
    filter: VisibleFilter<'_>,
    t: TileCoord,
    frame: &Frame,
    cfg: &TileConfig,
) -> Vec<Candidate<'a>> {
    let mut out = Vec::new();
    let lonlat = t.lonlat_bounds(f64::from(cfg.buffer), frame.extent);
    for row in pl.data.rows_in_envelope(lonlat) {
        if !filter.matches(row) {
            continue;
        }
        match &pl.world[row as usize] {
            WorldGeom::Point(_) => {
                let p = pl.anchor[row as usize];
                if frame.contains_world(p) {
                    out.push(point_candidate(pl, row, p, frame));
                }
            }
            WorldGeom::Polygons(mp) => {
                if let Some(c) = polygon_candidate(pl, row, mp, frame) {
                    out.push(c);
                }
            }
            WorldGeom::Empty => {}
        }
    }
    out
}

fn polygon_candidate<'a>(
    pl: &'a PreparedLayer,
    row: u32,
    geom: &MultiPolygon<f64>,
    frame: &Frame,
) -> Option<Candidate<'a>> {
    let geometry = frame.polygon(geom)?;
    Some(Candidate {
        id: Some(pl.data.id(row)),
        ty: GeomType::Polygon,
        size: varint_bytes(&geometry) + row_props_bytes(pl, row) + 6,
        geometry,
        source: Source::Row(row),
        rank: 0,
        priority: pl.priority[row as usize],
        tiebreak: pl.data.id(row),
    })
}

fn point_candidate<'a>(
    pl: &'a PreparedLayer,
    row: u32,
    pos: [f64; 2],
    frame: &Frame,
) -> Candidate<'a> {
    let geometry = point_commands(frame.to_tile(pos));
    Candidate {
        id: Some(pl.data.id(row)),
        ty: GeomType::Point,
        size: varint_bytes(&geometry) + row_props_bytes(pl, row) + 6,
        geometry,
        source: Source::Row(row),
        rank: 2,
        priority: pl.priority[row as usize],
        tiebreak: pl.data.id(row),
    }
}

fn cluster_candidate<'a>(
    pl: &'a PreparedLayer,
    agg: Cow<'a, Aggregate>,
    key: u64,
    frame: &Frame,
) -> Candidate<'a> {
    let geometry = point_commands(frame.to_tile(agg.position()));
    let mut props = Vec::new();
    cluster_props(pl, &agg, &mut props);
    Candidate {
        id: None,
        ty: GeomType::Point,
        size: varint_bytes(&geometry) + props_bytes(&props) + 6,
        geometry,
        rank: 1,
        priority: f64::from(agg.count),
        tiebreak: key,
        source: Source::Cluster(agg),
    }
}

/// Properties of a cluster: `cluster`, `point_count`, the dominant class, the total measure
/// where it means something, and per class its count and summed measure.
fn cluster_props<'a>(pl: &'a PreparedLayer, agg: &Aggregate, props: &mut Vec<Prop<'a>>) {
    let Some(spec) = &pl.cluster_spec else { return };
    let class_name = |c: u8| {
        spec.classes
            .get(usize::from(c))
            .copied()
            .unwrap_or("unknown")
    };
    props.push(("cluster".into(), PropValue::Bool(true)));
    props.push(("point_count".into(), PropValue::Int(i64::from(agg.count))));
    if let Some(d) = agg.dominant() {
        let class_field = pl.data.schema().fields[spec.class_field].name;
        props.push((
            class_field.into(),
            PropValue::Str(Cow::Borrowed(class_name(d))),
        ));
    }
    if spec.sum_total {
        props.push((spec.measure_name.into(), PropValue::Double(agg.total())));
    }
    for c in &agg.classes {
        let name = class_name(c.class);
        props.push((
            format!("count_{name}").into(),
            PropValue::Int(i64::from(c.count)),
        ));
        props.push((
            format!("{}_{name}", spec.measure_name).into(),
            PropValue::Double(c.sum),
        ));
    }
}

/// Estimated bytes of properties: two tag bytes each, plus the value as if it were not shared
/// (names and quantities mostly are not), so the first encoding usually fits the budget.
fn props_bytes(props: &[Prop<'_>]) -> usize {
    props
        .iter()
        .map(|(_, v)| {
            2 + match v {
                PropValue::Str(s) => s.len() + 3,
                PropValue::Double(_) => 11,
                PropValue::Int(_) => 4,
                PropValue::Bool(_) => 0,
            }
        })
        .sum()
}

/// Estimated bytes of a row's properties, as [`props_bytes`] would count them, without
/// building them.
fn row_props_bytes(pl: &PreparedLayer, row: u32) -> usize {
    let data = &pl.data;
    let mut n = 0;
    for i in 0..data.schema().fields.len() {
        n += match data.value(row, i) {
            None => 0,
            Some(ValueRef::Bool(_)) => 2,
            Some(ValueRef::Int(_)) => 6,
            Some(ValueRef::Float(_)) => 13,
            Some(ValueRef::Text(s)) => s.len() + 5,
            Some(ValueRef::Date(_)) => 15,
            Some(ValueRef::Counts(m)) => 15 + m.len() * 16,
        };
    }
    n
}

/// The typed properties of a row. Counts (code → number) become a JSON text plus a
/// `<field>_total` number, since MVT values are scalars.
fn row_props<'a>(pl: &'a PreparedLayer, row: u32, props: &mut Vec<Prop<'a>>) {
    let data = &pl.data;
    for (i, f) in data.schema().fields.iter().enumerate() {
        let Some(v) = data.value(row, i) else {
            continue;
        };
        let name: Cow<'static, str> = Cow::Borrowed(f.name);
        match v {
            ValueRef::Bool(b) => props.push((name, PropValue::Bool(b))),
            ValueRef::Int(n) => props.push((name, PropValue::Int(n))),
            ValueRef::Float(x) => props.push((name, PropValue::Double(x))),
            ValueRef::Text(s) => props.push((name, PropValue::Str(Cow::Borrowed(s)))),
            ValueRef::Date(d) => props.push((
                name,
                PropValue::Str(Cow::Owned(d.format("%Y-%m-%d").to_string())),
            )),
            ValueRef::Counts(m) => {
                let total: f64 = m.values().sum();
                let json = crate::model::Value::Counts(m.clone()).to_json().to_string();
                props.push((name, PropValue::Str(Cow::Owned(json))));
                props.push((
                    Cow::Owned(format!("{}_total", f.name)),
                    PropValue::Double(total),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use geo_types::{Geometry, Point, polygon};
    use geozero::mvt::tile;
    use geozero::mvt::{Message, Tile};
    use serde_json::Map;

    use super::*;
    use crate::index::{LayerData, Snapshot};
    use crate::model::{Audience, Feature, Layer, Value, schema};
    use crate::tiles::{lonlat_to_world, prepare};

    fn deposit(id: u64, lon: f64, lat: f64, q: f64, confidential: bool) -> Feature {
        let s = schema(Layer::WasteDeposits);
        let mut props = vec![None; s.fields.len()];
        props[s.index_of("material")] = Some(Value::Text("wood".into()));
        props[s.index_of("quantity")] = Some(Value::Float(q));
        props[s.index_of("holder")] = Some(Value::Text(format!("Holder {id}")));
        let c = if confidential { "partners" } else { "public" };
        props[s.index_of("confidentiality")] = Some(Value::Text(c.into()));
        Feature {
            id,
            version: 1,
            geometry: Geometry::Point(Point::new(lon, lat)),
            props,
            extra: Map::new(),
        }
    }

    fn decode(bytes: &[u8]) -> Vec<tile::Layer> {
        Tile::decode(bytes).expect("valid MVT").layers
    }

    fn props(layer: &tile::Layer, f: &tile::Feature) -> Vec<(String, tile::Value)> {
        f.tags
            .chunks(2)
            .map(|c| {
                (
                    layer.keys[c[0] as usize].clone(),
                    layer.values[c[1] as usize].clone(),
                )
            })
            .collect()
    }

    fn tile_at(z: u8, lon: f64, lat: f64) -> TileCoord {
        let [x, y] = lonlat_to_world(lon, lat);
        let n = f64::from(1u32 << z);
        TileCoord {
            z,
            x: (x * n) as u32,
            y: (y * n) as u32,
        }
    }

    #[test]
    fn public_readers_do_not_get_confidential_deposits_at_any_zoom() {
        let feats = vec![
            deposit(1, 0.10312, 49.50277, 10.0, true),
            deposit(2, 0.10315, 49.50281, 10.0, false),
        ];
        let snap = Snapshot::new(1, [LayerData::build(Layer::WasteDeposits, feats)]);
        let cfg = TileConfig::default();
        let p = prepare(&snap, None, &cfg);
        let full = TileSet::new(&[Layer::WasteDeposits], Audience::Full);
        let public = TileSet::new(&[Layer::WasteDeposits], Audience::Public);
        assert_ne!(full.canonical(), public.canonical());
        let holders = |l: &tile::Layer| -> Vec<Option<u64>> {
            l.features
                .iter()
                .filter(|f| props(l, f).iter().any(|(k, _)| k == "holder"))
                .map(|f| f.id)
                .collect()
        };
        let t = tile_at(14, 0.10312, 49.50277);
        let f = decode(&render_tile(&p, &full, t, &cfg).bytes);
        assert_eq!(holders(&f[0]), vec![Some(1), Some(2)]);
        // Public: the confidential deposit is left out, holder and position alike; at low
        // zoom it is not counted in a cluster either.
        for z in [14, 12, 8, 4] {
            let t = tile_at(z, 0.10312, 49.50277);
            let pt = decode(&render_tile(&p, &public, t, &cfg).bytes);
            let ids: Vec<_> = pt[0].features.iter().map(|f| f.id).collect();
            assert_eq!(ids, vec![Some(2)], "z{z}");
            let ft = decode(&render_tile(&p, &full, t, &cfg).bytes);
            let count: usize = ft[0].features.len();
            assert!(count >= 1, "z{z}");
        }
    }

    #[test]
    fn the_budget_keeps_the_largest_features_deterministically() {
        // 400 deposits of distinct quantities in one z14 tile; a tight budget keeps the largest.
        let t = tile_at(14, 0.1, 49.5);
        let b = t.lonlat_bounds(0.0, 4096.0);
        let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
        let feats: Vec<Feature> = (0..400)
            .map(|i| {
                let f = f64::from(i);
                deposit(
                    1000 + i as u64,
                    cx + (f % 20.0) * 0.00003,
                    cy + (f / 20.0).floor() * 0.00002,
                    f,
                    false,
                )
            })
            .collect();
        let snap = Snapshot::new(1, [LayerData::build(Layer::WasteDeposits, feats)]);
        let cfg = TileConfig {
            budget_bytes: 4_000,
            ..TileConfig::default()
        };
        let p = prepare(&snap, None, &cfg);
        let set = TileSet::new(&[Layer::WasteDeposits], Audience::Full);
        let a = render_tile(&p, &set, t, &cfg);
        let b = render_tile(&p, &set, t, &cfg);
        assert_eq!(a.bytes, b.bytes);
        assert!(
            a.bytes.len() <= 4_000 && a.left_out > 0 && a.features > 10,
            "{} bytes, {} kept, {} left out",
            a.bytes.len(),
            a.features,
            a.left_out
        );
        let l = &decode(&a.bytes)[0];
        let kept: Vec<u64> = l.features.iter().filter_map(|f| f.id).collect();
        // Ids are 1000 + quantity: the kept ones are exactly the largest quantities.
        let mut want: Vec<u64> = (0..400u64)
            .rev()
            .take(kept.len())
            .map(|q| 1000 + q)
            .collect();
        let mut got = kept.clone();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(a.features + a.left_out, 400);
    }

    #[test]
    fn low_zooms_cluster_deposits_and_merge_small_polygons() {
        let mut feats = Vec::new();
        for i in 0..50 {
            feats.push(deposit(
                i,
                0.1 + f64::from(i as u32) * 1e-5,
                49.5,
                2.0,
                false,
            ));
        }
        let s = schema(Layer::Plots);
        let mut values = vec![None; s.fields.len()];
        values[s.index_of("area_ha")] = Some(Value::Float(1.0));
        values[s.index_of("status")] = Some(Value::Text("available".into()));
        let plot = Feature {
            id: 7,
            version: 1,
            geometry: Geometry::Polygon(polygon![
                (x: 0.1, y: 49.5), (x: 0.1014, y: 49.5), (x: 0.1014, y: 49.5009), (x: 0.1, y: 49.5009)
            ]),
            props: values,
            extra: Map::new(),
        };
        let snap = Snapshot::new(
            1,
            [
                LayerData::build(Layer::WasteDeposits, feats),
                LayerData::build(Layer::Plots, vec![plot]),
            ],
        );
        let cfg = TileConfig::default();
        let p = prepare(&snap, None, &cfg);
        let set = TileSet::new(&[Layer::Plots, Layer::WasteDeposits], Audience::Full);
        let low = decode(&render_tile(&p, &set, tile_at(8, 0.1, 49.5), &cfg).bytes);
        // The 100 m plot is under a pixel at z8: a point with its own id.
        assert_eq!(low[0].name, "plots");
        assert_eq!(
            low[0].features[0].r#type,
            Some(tile::GeomType::Point as i32)
        );
        assert_eq!(low[0].features[0].id, Some(7));
        // The 50 deposits are one cluster carrying count and quantity per material.
        assert_eq!(low[1].features.len(), 1);
        let c = props(&low[1], &low[1].features[0]);
        let get = |k: &str| c.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("point_count").and_then(|v| v.int_value), Some(50));
        assert_eq!(
            get("quantity_wood").and_then(|v| v.double_value),
            Some(100.0)
        );
        assert_eq!(low[1].features[0].id, None);
        // At z16 everything is itself again.
        let high = decode(&render_tile(&p, &set, tile_at(16, 0.1002, 49.5), &cfg).bytes);
        assert_eq!(
            high[0].features[0].r#type,
            Some(tile::GeomType::Polygon as i32)
        );
        assert_eq!(high[1].features.len(), 50);
        let pl = p.layer(Layer::WasteDeposits);
        assert!(pl.complete_from.is_some_and(|z| z > 8));
        let _ = Arc::clone(&p.layers[0]);
    }
}
