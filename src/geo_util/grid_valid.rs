//! Valid polygons on an integer grid: the last step of every polygon terriens emits (tile
//! polygons in tile units, isochrones on a 1e-6° grid).
//!
//! Rounding coordinates to a grid can make a valid polygon invalid: two vertices fall on the
//! same grid point, a ring runs out and back over itself (a spike, A→B→A or a longer
//! back-and-forth run along a clip edge), two rings or two parts of one ring come to touch
//! along a segment or cross. Cleaning rings one by one cannot fix rings that touch each other,
//! so the rounded rings go through an exact integer overlay (crate `i_overlay`, the engine
//! behind geo's boolean operations, in its OGC mode): the result is the same point set, split
//! into OGC-valid polygons (no self-intersection, rings meeting at points only, holes inside
//! their shell), with repeated and collinear vertices removed and zero-area rings gone. Its
//! vertices are grid points: the input's, or crossings rounded by the overlay, which then
//! re-checks the topology, so the output is valid exactly as written.
//!
//! Orientation: in and out, exterior rings have a positive shoelace area
//! (`Σ x_i·y_{i+1} − x_{i+1}·y_i > 0`) and holes a negative one. That is counter-clockwise
//! with y up (RFC 7946 for lon/lat) and clockwise on screen with y down (MVT 2.1 exteriors).

use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay::{IntOverlayOptions, Overlay, ShapeType};
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::i_float::int::point::IntPoint;

/// A ring of grid points, not closed (the first point is not repeated).
pub type GridRing = Vec<[i32; 2]>;
/// A polygon on the grid: exterior ring first, then holes.
pub type GridPolygon = Vec<GridRing>;

/// Twice the signed shoelace area of an open ring (positive for an exterior ring).
pub fn ring_area2(pts: &[[i32; 2]]) -> i64 {
    let n = pts.len();
    let mut s = 0i64;
    for i in 0..n {
        let (a, b) = (pts[i], pts[(i + 1) % n]);
        s += i64::from(a[0]) * i64::from(b[1]) - i64::from(b[0]) * i64::from(a[1]);
    }
    s
}

/// The valid polygons covering the point set of `polys`, whose rings are taken with the
/// orientation of their role (exteriors made positive, holes negative) whatever their input
/// winding. A region is filled where its winding number is positive, so a hole cancels its
/// shell, two parts of a multipolygon that came to overlap are merged, and a hole that pokes
/// out of its shell after rounding does not add area.
pub fn make_valid(polys: &[GridPolygon]) -> Vec<GridPolygon> {
    let capacity = polys.iter().flatten().map(Vec::len).sum();
    if capacity == 0 {
        return Vec::new();
    }
    let mut overlay = Overlay::new_custom(capacity, IntOverlayOptions::ogc(), Default::default());
    if let [p] = polys
        && let [ring] = p.as_slice()
        && ring.len() >= 3
    {
        // One ring, the common case: the overlay's own check leaves a simple ring as it is.
        let contour = oriented(ring, true);
        return match overlay.simplify_contour(&contour, FillRule::Positive) {
            None => vec![vec![from_contour(&contour, true)]],
            Some(shapes) => from_shapes(shapes),
        };
    }
    for p in polys {
        for (i, ring) in p.iter().enumerate() {
            if ring.len() >= 3 {
                overlay.add_contour(&oriented(ring, i == 0), ShapeType::Subject);
            }
        }
    }
    from_shapes(overlay.overlay(OverlayRule::Subject, FillRule::Positive))
}

/// A ring as the overlay's contour, positive if `exterior`, negative otherwise.
fn oriented(ring: &[[i32; 2]], exterior: bool) -> Vec<IntPoint> {
    let mut contour: Vec<IntPoint> = ring.iter().map(|q| IntPoint::new(q[0], q[1])).collect();
    if exterior != (ring_area2(ring) > 0) {
        contour.reverse();
    }
    contour
}

/// A contour of the overlay's output as a ring, positive if `exterior`, negative otherwise.
fn from_contour(contour: &[IntPoint], exterior: bool) -> GridRing {
    let mut ring: GridRing = contour.iter().map(|q| [q.x, q.y]).collect();
    if exterior != (ring_area2(&ring) > 0) {
        ring.reverse();
    }
    ring
}

fn from_shapes(shapes: Vec<Vec<Vec<IntPoint>>>) -> Vec<GridPolygon> {
    shapes
        .iter()
        .filter(|s| s.first().is_some_and(|r| r.len() >= 3))
        .map(|s| {
            s.iter()
                .enumerate()
                .map(|(i, c)| from_contour(c, i == 0))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Validation};
    use geo_types::{Coord, LineString, MultiPolygon, Polygon};

    fn to_geo(polys: &[GridPolygon]) -> MultiPolygon<f64> {
        let ls = |r: &GridRing| {
            let mut c: Vec<Coord<f64>> = r
                .iter()
                .map(|p| Coord {
                    x: f64::from(p[0]),
                    y: f64::from(p[1]),
                })
                .collect();
            c.push(c[0]);
            LineString(c)
        };
        MultiPolygon(
            polys
                .iter()
                .map(|p| Polygon::new(ls(&p[0]), p[1..].iter().map(ls).collect()))
                .collect(),
        )
    }

    fn square(x: i32, y: i32, s: i32) -> GridRing {
        vec![[x, y], [x + s, y], [x + s, y + s], [x, y + s]]
    }

    #[test]
    fn a_valid_polygon_keeps_its_area_and_orientation() {
        let mut hole = square(2, 2, 2);
        hole.reverse();
        for ext in [square(0, 0, 10), {
            let mut r = square(0, 0, 10);
            r.reverse();
            r
        }] {
            let out = make_valid(&[vec![ext, hole.clone()]]);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].len(), 2);
            assert!(ring_area2(&out[0][0]) == 200 && ring_area2(&out[0][1]) == -8);
            assert!(to_geo(&out).is_valid());
        }
    }

    #[test]
    fn spikes_and_back_and_forth_runs_along_an_edge_are_removed() {
        // The ring runs along x = -64 down to y = 50, back up to 10, then down again to 100:
        // the overlap of two collinear runs, as a clipped ring snapped to tile units has.
        let ring = vec![
            [-64, 0],
            [-64, 50],
            [-64, 10],
            [-64, 100],
            [100, 100],
            [100, 40],
            [130, 40],
            [100, 40],
            [100, 0],
        ];
        let before = to_geo(&[vec![ring.clone()]]);
        assert!(!before.is_valid());
        let out = make_valid(&[vec![ring]]);
        let g = to_geo(&out);
        assert!(g.is_valid(), "{out:?}");
        assert_eq!(g.unsigned_area(), 164.0 * 100.0);
    }

    #[test]
    fn rings_touching_along_a_segment_become_valid() {
        // Two parts sharing an edge, and a hole sharing an edge with its shell.
        let parts = [vec![square(0, 0, 10)], vec![square(10, 0, 10)]];
        let out = make_valid(&parts);
        assert_eq!(out.len(), 1);
        assert!(to_geo(&out).is_valid());
        let shell_and_hole = [vec![square(0, 0, 10), square(0, 0, 5)]];
        let out = make_valid(&shell_and_hole);
        let g = to_geo(&out);
        assert!(g.is_valid(), "{out:?}");
        assert_eq!(g.unsigned_area(), 75.0);
    }

    #[test]
    fn degenerate_rings_vanish() {
        assert!(make_valid(&[vec![vec![[0, 0], [5, 5], [0, 0]]]]).is_empty());
        assert!(make_valid(&[vec![vec![[0, 0], [5, 5], [10, 10]]]]).is_empty());
        assert!(make_valid(&[]).is_empty());
    }
}
