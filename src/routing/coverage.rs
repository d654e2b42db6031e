//! How much of each catchment the road graph covers: what a drive-time answer must say before
//! anyone reads its figures as the truth for a catchment the graph only partly holds.
//!
//! **Measure: the graph's extent is the convex hull of its nodes.** Road extracts are cut to a
//! bounding box or an administrative polygon, so their nodes fill a convex-ish region up to the
//! cut; inside it a lack of roads is real (fields, water, port basins), outside it roads are
//! merely absent from the file. The road coverage of a catchment is the geodesic area of
//! (catchment ∩ hull) over the geodesic area of the catchment, 0 to 1 (point catchments: 1 if
//! inside the hull, else 0). It overestimates the coverage of a concave extract (the hull
//! bridges its bays) and never underestimates it. Computed once per (graph, catchments
//! snapshot) and cached by the engine.
//!
//! An answer (a workforce, an isochrone) is **partial** when one of the catchments it counts is
//! covered less than [`FULL_COVERAGE`]; its share is the area-weighted mean coverage of those
//! catchments.

use geo::{BooleanOps, BoundingRect, ConvexHull, Intersects};
use geo_types::{Geometry, MultiPoint, MultiPolygon, Point, Polygon};

use super::graph::RoadGraph;
use crate::geo_util::area_ha;
use crate::index::LayerData;

/// A catchment covered at least this much counts as fully covered (the rest is the noise of
/// generalised boundaries).
pub const FULL_COVERAGE: f64 = 0.99;

/// The road graph's extent and the coverage of each catchment row.
#[derive(Debug, Clone)]
pub struct RoadCoverage {
    /// Per catchment row: covered share of its area, 0 to 1.
    coverage: Vec<f64>,
    /// Per catchment row: geodesic area, hectares.
    area_ha: Vec<f64>,
}

/// The convex hull of a graph's nodes (`None` for fewer than 3 distinct nodes).
pub fn graph_hull(graph: &RoadGraph) -> Option<Polygon<f64>> {
    let pts: MultiPoint<f64> = (0..graph.node_count() as u32)
        .map(|n| {
            let [x, y] = graph.lonlat(n);
            Point::new(x, y)
        })
        .collect();
    let hull = pts.convex_hull();
    (hull.exterior().0.len() >= 4).then_some(hull)
}

/// The covered share of one geometry: area inside the hull over area.
pub fn covered_share(g: &Geometry<f64>, hull: Option<&Polygon<f64>>) -> f64 {
    let Some(hull) = hull else {
        return 0.0;
    };
    let (Some(gb), Some(hb)) = (g.bounding_rect(), hull.bounding_rect()) else {
        return 0.0;
    };
    if !gb.intersects(&hb) {
        return 0.0;
    }
    let mp: MultiPolygon<f64> = match g {
        Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
        Geometry::MultiPolygon(m) => m.clone(),
        other => return if hull.intersects(other) { 1.0 } else { 0.0 },
    };
    let total = area_ha(g);
    if total <= 0.0 {
        return if hull.intersects(g) { 1.0 } else { 0.0 };
    }
    let inside = mp.intersection(&MultiPolygon(vec![hull.clone()]));
    (area_ha(&Geometry::MultiPolygon(inside)) / total).clamp(0.0, 1.0)
}

impl RoadCoverage {
    pub fn new(hull: Option<&Polygon<f64>>, catchments: &LayerData) -> RoadCoverage {
        let rows = 0..catchments.len() as u32;
        RoadCoverage {
            coverage: rows
                .clone()
                .map(|r| covered_share(catchments.geometry(r), hull))
                .collect(),
            area_ha: rows.map(|r| area_ha(catchments.geometry(r))).collect(),
        }
    }

    /// The covered share of a catchment row.
    pub fn of(&self, row: u32) -> f64 {
        self.coverage[row as usize]
    }

    /// The coverage of an answer counting these catchment rows.
    pub fn answer(&self, rows: impl IntoIterator<Item = u32>) -> AnswerCoverage {
        let (mut area, mut covered, mut partial, mut n) = (0.0, 0.0, false, 0);
        for r in rows {
            let (a, c) = (self.area_ha[r as usize], self.coverage[r as usize]);
            area += a;
            covered += a * c;
            partial |= c < FULL_COVERAGE;
            n += 1;
        }
        AnswerCoverage {
            share: if area > 0.0 {
                covered / area
            } else if n > 0 && !partial {
                1.0
            } else {
                0.0
            },
            partial,
            catchments: n,
        }
    }
}

/// The road coverage of an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerCoverage {
    /// Area-weighted mean road coverage of the catchments counted, 0 to 1.
    pub share: f64,
    /// A catchment counted is covered less than [`FULL_COVERAGE`].
    pub partial: bool,
    /// How many catchments were counted.
    pub catchments: usize,
}

impl AnswerCoverage {
    /// What the answer says about its coverage.
    pub fn note(&self) -> &'static str {
        if self.catchments == 0 {
            "No catchment is counted: nothing to say about road coverage."
        } else if self.partial {
            "Partial: the road graph covers only part of some catchments (road_coverage < 0.99): their figures and shares are taken over the roads the graph holds, people beyond the graph's extent are not counted."
        } else {
            "The road graph covers every catchment counted."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    #[test]
    fn share_of_a_square_half_inside() {
        let hull =
            polygon![(x: 0.0, y: 0.0), (x: 0.01, y: 0.0), (x: 0.01, y: 0.01), (x: 0.0, y: 0.01)];
        let half = Geometry::Polygon(
            polygon![(x: 0.005, y: 0.0), (x: 0.015, y: 0.0), (x: 0.015, y: 0.01), (x: 0.005, y: 0.01)],
        );
        let s = covered_share(&half, Some(&hull));
        assert!((s - 0.5).abs() < 1e-3, "{s}");
        let out = Geometry::Polygon(
            polygon![(x: 1.0, y: 1.0), (x: 1.1, y: 1.0), (x: 1.1, y: 1.1), (x: 1.0, y: 1.0)],
        );
        assert_eq!(covered_share(&out, Some(&hull)), 0.0);
        assert_eq!(covered_share(&half, None), 0.0);
    }
}
