//! Which catchment each residential street segment of a graph lies in, and the street length
//! of each catchment: what the workforce weighting ([`super::workforce`]) divides by. Computed
//! once per catchments snapshot and cached by the engine, so it sits below the engine.

use geo::Contains;
use geo_types::Point;

use super::graph::RoadGraph;
use crate::index::LayerData;

/// No catchment.
const NONE: u32 = u32::MAX;

/// Which catchment each residential street segment lies in, and their street lengths.
#[derive(Debug, Clone)]
pub struct CatchmentRoads {
    /// Per segment: the catchment row, or `u32::MAX`.
    seg_catchment: Vec<u32>,
    /// Per catchment row: residential street length, metres.
    street_m: Vec<f64>,
}

impl CatchmentRoads {
    /// Assigns each residential street segment to the catchment holding its midpoint.
    pub fn new(graph: &RoadGraph, catchments: &LayerData) -> CatchmentRoads {
        let mut seg_catchment = vec![NONE; graph.segment_count()];
        let mut street_m = vec![0.0; catchments.len()];
        for (i, s) in graph.segments().iter().enumerate() {
            if !s.class.is_residential() {
                continue;
            }
            let (a, b) = (graph.lonlat(s.nodes[0]), graph.lonlat(s.nodes[1]));
            let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
            let pt = Point::new(mid[0], mid[1]);
            let hit = catchments
                .rows_in_envelope([mid[0], mid[1], mid[0], mid[1]])
                .find(|&row| catchments.geometry(row).contains(&pt));
            if let Some(row) = hit {
                seg_catchment[i] = row;
                street_m[row as usize] += f64::from(s.length_m);
            }
        }
        CatchmentRoads {
            seg_catchment,
            street_m,
        }
    }

    /// The catchment row a segment lies in, if it is a residential street inside one.
    pub fn catchment_of(&self, seg: u32) -> Option<u32> {
        let c = self.seg_catchment[seg as usize];
        (c != NONE).then_some(c)
    }

    /// Residential street length of a catchment, metres.
    pub fn street_m(&self, row: u32) -> f64 {
        self.street_m[row as usize]
    }
}
