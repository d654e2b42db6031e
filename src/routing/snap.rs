//! Snapping points to the road graph: an R-tree over the segments that are not on islands,
//! queried for the nearest segment; the point is projected onto it.
//!
//! The tree holds segments in a scaled frame (longitude × the east/north metre ratio at the
//! graph's middle latitude, latitude), where Euclidean distance is proportional to ground
//! distance to within a fraction of a percent over a région. The few nearest candidates are
//! then measured in metres at the point's own latitude.

use rstar::primitives::{GeomWithData, Line};
use rstar::{PointDistance, RTree};

use super::graph::RoadGraph;
use crate::geo_util::metres_per_degree;

/// Default largest distance from a point to the road it is snapped to, metres.
pub const DEFAULT_MAX_SNAP_M: f64 = 1_000.0;

/// A point snapped onto a segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snap {
    pub seg: u32,
    /// Position along the segment from `nodes[0]` (0) to `nodes[1]` (1).
    pub frac: f64,
    /// The snapped point (lon, lat).
    pub lonlat: [f64; 2],
    /// Distance from the input point to the snapped point, metres.
    pub distance_m: f64,
}

type Entry = GeomWithData<Line<[f64; 2]>, u32>;

/// Nearest-segment index of one graph.
#[derive(Debug, Clone)]
pub struct SnapIndex {
    tree: RTree<Entry>,
    /// Longitude scale of the frame.
    kx: f64,
}

/// How many nearest candidates (in the scaled frame) are measured exactly.
const CANDIDATES: usize = 4;

impl SnapIndex {
    /// Indexes the usable segments of a graph (both ends off islands).
    pub fn new(graph: &RoadGraph) -> SnapIndex {
        let [_, y0, _, y1] = graph.bbox();
        let (m_lat, m_lon) = metres_per_degree((y0 + y1) / 2.0);
        let kx = m_lon / m_lat;
        let entries = graph
            .segments()
            .iter()
            .enumerate()
            .filter(|(_, s)| !graph.is_island(s.nodes[0]) && !graph.is_island(s.nodes[1]))
            .map(|(i, s)| {
                let (a, b) = (graph.lonlat(s.nodes[0]), graph.lonlat(s.nodes[1]));
                Entry::new(Line::new([a[0] * kx, a[1]], [b[0] * kx, b[1]]), i as u32)
            })
            .collect();
        SnapIndex {
            tree: RTree::bulk_load(entries),
            kx,
        }
    }

    /// Number of indexed segments.
    pub fn len(&self) -> usize {
        self.tree.size()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.size() == 0
    }

    /// Approximate memory of the tree, bytes: the entries plus about a sixth more for the inner
    /// nodes' envelopes (rstar's default node size).
    pub fn heap_bytes(&self) -> usize {
        self.tree.size() * std::mem::size_of::<Entry>() * 7 / 6
    }

    /// The nearest usable segment to (lon, lat) and the point on it, whatever the distance;
    /// `None` only for an empty index.
    pub fn nearest(&self, graph: &RoadGraph, lon: f64, lat: f64) -> Option<Snap> {
        let q = [lon * self.kx, lat];
        let (m_lat, m_lon) = metres_per_degree(lat);
        let mut best: Option<Snap> = None;
        for entry in self.tree.nearest_neighbor_iter(&q).take(CANDIDATES) {
            let seg = graph.segment(entry.data);
            let (a, b) = (graph.lonlat(seg.nodes[0]), graph.lonlat(seg.nodes[1]));
            // Project in metres around the query point.
            let to_m = |p: [f64; 2]| [(p[0] - lon) * m_lon, (p[1] - lat) * m_lat];
            let (am, bm) = (to_m(a), to_m(b));
            let ab = [bm[0] - am[0], bm[1] - am[1]];
            let len2 = ab[0] * ab[0] + ab[1] * ab[1];
            let frac = if len2 > 0.0 {
                (-(am[0] * ab[0] + am[1] * ab[1]) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let pm = [am[0] + frac * ab[0], am[1] + frac * ab[1]];
            let distance_m = pm[0].hypot(pm[1]);
            if best.is_none_or(|b| distance_m < b.distance_m) {
                best = Some(Snap {
                    seg: entry.data,
                    frac,
                    lonlat: [a[0] + frac * (b[0] - a[0]), a[1] + frac * (b[1] - a[1])],
                    distance_m,
                });
            }
            // Candidates come nearest first in the frame; stop once they are clearly farther.
            if let Some(b) = best
                && entry.geom().distance_2(&q).sqrt() * m_lat > b.distance_m * 1.01 + 1.0
            {
                break;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::graph::BuildOptions;
    use crate::routing::network::RawNetwork;
    use crate::routing::profile::{ProfileId, RoadClass, WayAttrs};

    #[test]
    fn snaps_onto_the_nearest_segment_and_skips_islands() {
        let mut net = RawNetwork::new("t");
        // A long east-west road, and a short isolated one just north of it.
        let a = net.push_node(1.0, 49.0);
        let b = net.push_node(1.01, 49.0);
        let c = net.push_node(1.02, 49.0);
        net.push_way(vec![a, b, c], WayAttrs::new(RoadClass::Primary));
        let d = net.push_node(1.004, 49.0005);
        let e = net.push_node(1.006, 49.0005);
        net.push_way(vec![d, e], WayAttrs::new(RoadClass::Service));
        let g = RoadGraph::build(
            &net,
            ProfileId::Car,
            &BuildOptions {
                island_max_nodes: 3,
            },
        )
        .unwrap();
        let idx = SnapIndex::new(&g);
        assert_eq!(idx.len(), 2, "the island segment is not indexed");
        let s = idx.nearest(&g, 1.005, 49.0004).unwrap();
        assert!((s.lonlat[0] - 1.005).abs() < 1e-9 && s.lonlat[1] == 49.0);
        // 0.0004° of latitude ≈ 44.5 m.
        assert!((s.distance_m - 44.5).abs() < 0.3, "{}", s.distance_m);
        let seg = g.segment(s.seg);
        let (pa, pb) = (g.lonlat(seg.nodes[0]), g.lonlat(seg.nodes[1]));
        let x = pa[0] + s.frac * (pb[0] - pa[0]);
        assert!((x - 1.005).abs() < 1e-9);
        // Beyond the end of the road the snap clamps to the end node.
        let s = idx.nearest(&g, 1.03, 49.0).unwrap();
        assert_eq!(s.lonlat, [1.02, 49.0]);
        assert!((s.distance_m - 731.3).abs() < 1.0, "{}", s.distance_m);
    }
}
