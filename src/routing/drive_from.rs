//! The road network as the query module's [`DriveFrom`]: one bounded road search from a
//! point, read at the snapped features of each layer.

use std::sync::Arc;

use super::{Direction, RoutingEngine};
use crate::index::LayerData;
use crate::query::DriveFrom;

impl DriveFrom for RoutingEngine {
    fn reached_from(
        &self,
        origin: [f64; 2],
        max_s: f64,
        layers: &[&Arc<LayerData>],
    ) -> Option<Vec<Vec<(u32, f64)>>> {
        let tt = self.travel_times(&[origin], Direction::From, max_s).ok()?;
        Some(layers.iter().map(|data| tt.to_features(data)).collect())
    }
}
