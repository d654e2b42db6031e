//! Drive-time filters: travel times from (or to) a point to every feature of a layer, read from
//! the Dijkstra labels, never from isochrone polygons.
//!
//! Each feature is snapped once: a point feature as it is, a polygon by its interior point
//! (`geo::InteriorPoint`, inside the polygon even when it is not convex). The snaps of a layer
//! are a copy-on-write [`Chunked`] array mirroring the layer's rows, cached by the engine per
//! layer kind and keyed by [`LayerData::serial`]. A layer made from the cached one by
//! `with_changes` re-snaps only the rows that [`LayerData::changes_since`] names (a write costs
//! O(change), not O(layer)); any other layer is snapped whole. The snaps are computed at load by
//! [`super::RoutingEngine::prepare`] (or read from a persisted file, see `snap_file`), else at the
//! first query of a new layer snapshot.

use std::sync::Arc;

use arc_swap::ArcSwap;
use geo::InteriorPoint;

use super::direction::Direction;
use super::engine::RoutingEngine;
use super::error::RoutingError;
use super::snap::Snap;
use crate::index::{Chunked, LayerData};
use crate::model::Layer;

/// The snaps of every row of a layer, by row.
pub type FeatureSnaps = Chunked<Option<Snap>>;

/// Snap arrays kept per layer kind: the newest and the one before, so that a reader still
/// holding the previous snapshot does not recompute it.
const KEPT_PER_KIND: usize = 2;

/// One cached snap array: the layer it mirrors (kind and serial) and the snaps.
#[derive(Clone)]
struct SnapEntry {
    kind: Layer,
    serial: u64,
    snaps: Arc<FeatureSnaps>,
}

/// The feature snaps of an engine, per layer kind, keyed by layer serial. Lookups never lock;
/// a miss computes (incrementally when it can) and publishes with a compare-and-swap, so two
/// concurrent misses may both compute.
#[derive(Default)]
pub(crate) struct SnapCache {
    entries: ArcSwap<Vec<SnapEntry>>,
}

impl SnapCache {
    /// The cached snaps of exactly this layer (same serial), if any.
    fn get(&self, layer: &LayerData) -> Option<Arc<FeatureSnaps>> {
        let serial = layer.serial();
        let entries = self.entries.load();
        let hit = entries
            .iter()
            .find(|e| e.serial == serial && e.kind == layer.layer());
        hit.map(|e| e.snaps.clone())
    }

    /// The newest cached entry of this layer's kind that the layer descends from, with the
    /// rows changed since it.
    fn ancestor(&self, layer: &LayerData) -> Option<(Arc<FeatureSnaps>, Vec<u32>)> {
        let entries = self.entries.load();
        entries
            .iter()
            .rev()
            .filter(|e| e.kind == layer.layer())
            .find_map(|e| {
                let changes = layer.changes_since(e.serial)?;
                (e.snaps.len() == changes.old_len).then(|| (e.snaps.clone(), changes.rows))
            })
    }

    /// Publishes the snaps of a layer, keeping the newest [`KEPT_PER_KIND`] of its kind.
    fn insert(&self, layer: &LayerData, snaps: Arc<FeatureSnaps>) {
        let entry = SnapEntry {
            kind: layer.layer(),
            serial: layer.serial(),
            snaps,
        };
        self.entries.rcu(|old| {
            let mut next: Vec<SnapEntry> = old
                .iter()
                .filter(|e| e.serial != entry.serial)
                .cloned()
                .collect();
            next.push(entry.clone());
            let same = next.iter().filter(|e| e.kind == entry.kind).count();
            let mut drop = same.saturating_sub(KEPT_PER_KIND);
            next.retain(|e| {
                let gone = drop > 0 && e.kind == entry.kind;
                if gone {
                    drop -= 1;
                }
                !gone
            });
            next
        });
    }
}

/// The rows of a layer by the road segment they are snapped to (compressed rows: the rows of
/// segment `s` are `rows[offsets[s]..offsets[s + 1]]`, in row order), so that a bounded search
/// reads the features on the roads it reached rather than every feature of the layer.
#[derive(Debug)]
pub struct SegmentRows {
    offsets: Vec<u32>,
    rows: Vec<u32>,
}

impl SegmentRows {
    fn build(segments: usize, snaps: &FeatureSnaps) -> SegmentRows {
        let mut offsets = vec![0u32; segments + 1];
        for s in snaps.iter().flatten() {
            offsets[s.seg as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut next = offsets.clone();
        let mut rows = vec![0u32; offsets[segments] as usize];
        for (row, s) in snaps.iter().enumerate() {
            if let Some(s) = s {
                let at = &mut next[s.seg as usize];
                rows[*at as usize] = row as u32;
                *at += 1;
            }
        }
        SegmentRows { offsets, rows }
    }

    /// The rows snapped to segment `seg`.
    pub fn on(&self, seg: u32) -> &[u32] {
        let (a, b) = (self.offsets[seg as usize], self.offsets[seg as usize + 1]);
        &self.rows[a as usize..b as usize]
    }
}

impl RoutingEngine {
    /// The rows of a layer by road segment (see [`SegmentRows`]), cached per layer serial. Made
    /// whole from the snaps (O(rows), a few milliseconds per million rows) on first use after
    /// a change.
    pub fn segment_rows(&self, layer: &Arc<LayerData>) -> Arc<SegmentRows> {
        self.segment_rows.get_or_compute(layer, || {
            SegmentRows::build(self.graph().segment_count(), &self.feature_snaps(layer))
        })
    }

    /// The snap of every row of a layer (`None` for features farther than the snapping limit
    /// from a usable road, or without a point). Cached per layer serial; a layer made by
    /// `with_changes` from a cached one re-snaps only its changed rows.
    pub fn feature_snaps(&self, layer: &LayerData) -> Arc<FeatureSnaps> {
        if let Some(hit) = self.feature_snaps.get(layer) {
            return hit;
        }
        let snaps = match self.feature_snaps.ancestor(layer) {
            Some((old, rows)) => {
                let mut snaps = (*old).clone();
                snaps.resize(layer.len(), None);
                for r in &rows {
                    snaps.set(*r as usize, snap_row(self, layer, *r));
                }
                tracing::debug!(layer = %layer.layer(), profile = %self.profile(), rows = rows.len(), "feature snaps updated");
                snaps
            }
            None => snap_features(self, layer),
        };
        let snaps = Arc::new(snaps);
        self.feature_snaps.insert(layer, snaps.clone());
        snaps
    }

    /// The cached snaps of exactly this layer, without computing.
    pub fn cached_snaps(&self, layer: &LayerData) -> Option<Arc<FeatureSnaps>> {
        self.feature_snaps.get(layer)
    }

    /// Installs snaps computed elsewhere (read from a persisted file) for a layer. The caller
    /// vouches that they are those of [`snap_features`] on this layer; the length must match.
    pub fn install_snaps(&self, layer: &LayerData, snaps: FeatureSnaps) -> bool {
        if snaps.len() != layer.len() {
            return false;
        }
        self.feature_snaps.insert(layer, Arc::new(snaps));
        true
    }
}

/// The snap of one row of a layer.
fn snap_row(engine: &RoutingEngine, layer: &LayerData, row: u32) -> Option<Snap> {
    let p = layer.geometry(row).interior_point()?;
    engine.snap(p.x(), p.y()).ok()
}

/// Snaps every feature of a layer from scratch (the oracle of the incremental update).
pub fn snap_features(engine: &RoutingEngine, layer: &LayerData) -> FeatureSnaps {
    (0..layer.len() as u32)
        .map(|row| snap_row(engine, layer, row))
        .collect()
}

/// Travel times between points and the features of a layer: `(row, seconds)` for every
/// feature within `max_seconds`, by row.
///
/// `origins` are (lon, lat) pairs; with [`Direction::From`] times run from the nearest origin
/// to each feature, with [`Direction::To`] from each feature to its nearest origin. One bounded
/// Dijkstra answers the call; each feature's time is that of its snapped position (along its
/// segment, from the labels of the segment's ends). Fails with
/// [`RoutingError::TooFarFromRoad`] when an origin is off the road network.
///
/// ```
/// use std::sync::Arc;
/// use terriens::index::LayerData;
/// use terriens::model::Layer;
/// use terriens::routing::{BuildOptions, Direction, ProfileId, RawNetwork, RoadClass, RoadGraph,
///     RoutingEngine, WayAttrs, travel_times_to_features};
///
/// // A 1 km primary road; a waste deposit halfway along it.
/// let mut net = RawNetwork::new("doc");
/// let a = net.push_node(1.0, 49.0);
/// let b = net.push_node(1.0 + 1000.0 / 73_172.0, 49.0);
/// net.push_way(vec![a, b], WayAttrs::new(RoadClass::Primary));
/// let engine = RoutingEngine::new(RoadGraph::build(&net, ProfileId::Car, &BuildOptions::default()).unwrap());
/// let s = terriens::model::schema(Layer::WasteDeposits);
/// let deposit = terriens::model::Feature {
///     id: 7, version: 1,
///     geometry: geo_types::Geometry::Point(geo_types::point!(x: 1.0 + 500.0 / 73_172.0, y: 49.0)),
///     props: vec![None; s.fields.len()], extra: Default::default(),
/// };
/// let layer = Arc::new(LayerData::build(Layer::WasteDeposits, vec![deposit]));
/// let times = travel_times_to_features(&engine, &layer, &[[1.0, 49.0]], Direction::From, 600.0).unwrap();
/// assert_eq!(times.len(), 1);
/// // 500 m at 75 km/h (the rural primary speed): 24 s.
/// assert!((times[0].1 - 24.0).abs() < 0.1, "{times:?}");
/// ```
pub fn travel_times_to_features(
    engine: &RoutingEngine,
    layer: &Arc<LayerData>,
    origins: &[[f64; 2]],
    direction: Direction,
    max_seconds: f64,
) -> Result<Vec<(u32, f64)>, RoutingError> {
    let times = engine.travel_times(origins, direction, max_seconds)?;
    Ok(times.to_features(layer))
}
