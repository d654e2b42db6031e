//! The hook through which drive times restrict and annotate results.
//!
//! The routing engine computes, from one origin, the travel time to the features of a layer
//! (snapped to the road graph at load). A query given a [`DriveGate`] keeps only the rows
//! reached within `max_s` seconds and reports each one's time (`travel_time_min` in responses). The
//! query code knows nothing of roads: anything that maps rows to seconds will do.

use std::collections::HashMap;
use std::sync::Arc;

use crate::index::LayerData;
use crate::model::Layer;

/// What the drive-time join needs of a road network (the routing engine implements it): the
/// rows reached by driving from one point. The query module knows nothing of roads.
pub trait DriveFrom: Send + Sync {
    /// For each of `layers` in order, the `(row, seconds)` of its features reached from
    /// `origin` within `max_s`; `None` when `origin` is too far from any road.
    fn reached_from(
        &self,
        origin: [f64; 2],
        max_s: f64,
        layers: &[&Arc<LayerData>],
    ) -> Option<Vec<Vec<(u32, f64)>>>;
}

/// Travel times in seconds from one origin to features, by layer and row.
pub trait TravelTimes: Send + Sync {
    /// Seconds to reach the feature at `row` of `layer`; `None` when it is not reached.
    fn seconds(&self, layer: Layer, row: u32) -> Option<f64>;
}

impl TravelTimes for HashMap<(Layer, u32), f64> {
    fn seconds(&self, layer: Layer, row: u32) -> Option<f64> {
        self.get(&(layer, row)).copied()
    }
}

/// Keep rows reached within `max_s` seconds.
#[derive(Clone, Copy)]
pub struct DriveGate<'a> {
    pub times: &'a dyn TravelTimes,
    pub max_s: f64,
}

impl std::fmt::Debug for DriveGate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DriveGate(max {} s)", self.max_s)
    }
}

impl DriveGate<'_> {
    /// The travel time to a row, if it is reached within the budget.
    #[inline]
    pub fn admit(&self, layer: Layer, row: u32) -> Option<f64> {
        self.times.seconds(layer, row).filter(|s| *s <= self.max_s)
    }
}

/// Travel times held as one dense array per layer (row → seconds; infinite when the row is not
/// reached): what a drive-time search builds from one routing search.
#[derive(Debug, Default, Clone)]
pub struct RowTimes {
    by_layer: Vec<(Layer, Vec<f64>)>,
}

impl RowTimes {
    /// Sets the times of a layer of `len` rows from `(row, seconds)` pairs.
    pub fn insert(
        &mut self,
        layer: Layer,
        len: usize,
        times: impl IntoIterator<Item = (u32, f64)>,
    ) {
        let mut v = vec![f64::INFINITY; len];
        for (row, s) in times {
            if let Some(slot) = v.get_mut(row as usize) {
                *slot = s;
            }
        }
        self.by_layer.retain(|(l, _)| *l != layer);
        self.by_layer.push((layer, v));
    }
}

impl TravelTimes for RowTimes {
    #[inline]
    fn seconds(&self, layer: Layer, row: u32) -> Option<f64> {
        let (_, v) = self.by_layer.iter().find(|(l, _)| *l == layer)?;
        v.get(row as usize).copied().filter(|s| s.is_finite())
    }
}
