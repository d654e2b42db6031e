//! Drive-time filters: travel times from (or to) a point to every feature of a layer, read from
//! the Dijkstra labels, never from isochrone polygons.
//!
//! Each feature is snapped once per layer snapshot: a point feature as it is, a polygon by its
//! interior point (`geo::InteriorPoint`, inside the polygon even when it is not convex). The
//! snaps are cached by the engine, keyed by the `Arc<LayerData>`, and computed at load by
//! [`super::RoutingEngine::prepare`] (or at the first query of a new layer snapshot).

use std::sync::Arc;

use geo::InteriorPoint;

use super::direction::Direction;
use super::engine::RoutingEngine;
use super::error::RoutingError;
use super::snap::Snap;
use crate::index::LayerData;

impl RoutingEngine {
    /// The snap of every row of a layer (`None` for features farther than the snapping limit
    /// from a usable road, or without a point), computed once per layer snapshot.
    pub fn feature_snaps(&self, layer: &Arc<LayerData>) -> Arc<Vec<Option<Snap>>> {
        self.feature_snaps
            .get_or_compute(layer, || snap_features(self, layer))
    }
}

/// Snaps every feature of a layer.
fn snap_features(engine: &RoutingEngine, layer: &LayerData) -> Vec<Option<Snap>> {
    layer
        .geometries()
        .iter()
        .map(|g| {
            let p = g.interior_point()?;
            engine.snap(p.x(), p.y()).ok()
        })
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
