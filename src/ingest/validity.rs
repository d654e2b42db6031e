//! OGC validity of polygons in O(n log n) for the shapes people send, with the verdicts (and the
//! first error) of geo's [`Validation`].
//!
//! geo's check compares every segment of a ring with every other one (quadratic: 68 s for a
//! 100,000-vertex polygon), and every pair of holes and of parts with `relate`. Here the same
//! predicates run only on the pairs that can meet:
//! - a ring's segments go into an R-tree (bulk-loaded, O(n log n)); each segment is tested, with
//!   geo's exact predicate, against the segments whose boxes touch its own box. Two segments
//!   whose boxes are disjoint cannot intersect, so the verdict is geo's. The work is
//!   O(n log n + k), k the number of pairs of touching boxes: about n for real outlines; a
//!   crafted ring of long parallel segments can make k quadratic, which the vertex cap of the
//!   API and cancellation ([`crate::cancel`], checked every few thousand pairs) bound;
//! - holes against holes, and parts against parts, are related only when their boxes touch
//!   (disjoint boxes: no common point, so neither error can be raised).
//!
//! Errors come in geo's order, so the first one is the one `validation_errors().first()` gives.

use geo::algorithm::validation::{
    InvalidGeometry, InvalidMultiPolygon, InvalidPolygon, RingRole, Validation,
};
use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::{
    BoundingRect, HasDimensions, Intersects, PreparedGeometry, Relate, RemoveRepeatedPoints,
};
use geo_types::{Geometry, Line, LineString, MultiPolygon, Polygon, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::cancel::{self, Cancelled};

/// How many pair tests between two cancellation checks.
const CHECK_EVERY: usize = 4096;

type Boxed = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// The first validity error of a geometry, as geo's `validation_errors().first()` gives it.
pub fn first_problem(g: &Geometry<f64>) -> Result<Option<InvalidGeometry>, Cancelled> {
    Ok(match g {
        Geometry::Polygon(p) => polygon_problem(p)?.map(InvalidGeometry::InvalidPolygon),
        Geometry::MultiPolygon(mp) => {
            multipolygon_problem(mp)?.map(InvalidGeometry::InvalidMultiPolygon)
        }
        // Points, lines and the rest are cheap: geo's own check.
        other => other.validation_errors().into_iter().next(),
    })
}

/// The first validity error of a multipolygon (geo's order: each part, then that part against
/// the later ones).
pub fn multipolygon_problem(
    mp: &MultiPolygon<f64>,
) -> Result<Option<InvalidMultiPolygon>, Cancelled> {
    use geo::algorithm::validation::GeometryIndex;
    let tree = box_tree(mp.0.iter().map(|p| p.bounding_rect()));
    for (i, p) in mp.0.iter().enumerate() {
        if let Some(e) = polygon_problem(p)? {
            return Ok(Some(InvalidMultiPolygon::InvalidPolygon(
                GeometryIndex(i),
                e,
            )));
        }
        for j in later_touching(&tree, p.bounding_rect(), i) {
            cancel::check()?;
            let im = p.relate(&mp.0[j]);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                let e = InvalidMultiPolygon::ElementsOverlaps(GeometryIndex(i), GeometryIndex(j));
                return Ok(Some(e));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                let e =
                    InvalidMultiPolygon::ElementsTouchOnALine(GeometryIndex(i), GeometryIndex(j));
                return Ok(Some(e));
            }
        }
    }
    Ok(None)
}

/// The first validity error of a polygon: each ring alone, then holes against the shell and
/// against each other.
pub fn polygon_problem(p: &Polygon<f64>) -> Result<Option<InvalidPolygon>, Cancelled> {
    if p.is_empty() {
        return Ok(None);
    }
    let rings = std::iter::once(p.exterior()).chain(p.interiors());
    for (idx, ring) in rings.enumerate() {
        if ring.is_empty() {
            continue;
        }
        let role = if idx == 0 {
            RingRole::Exterior
        } else {
            RingRole::Interior(idx - 1)
        };
        if let Some(e) = ring_problem(ring, role)? {
            return Ok(Some(e));
        }
    }
    holes_problem(p)
}

/// Too few points, a self-intersection, a non-finite coordinate (geo's order).
fn ring_problem(
    ring: &LineString<f64>,
    role: RingRole,
) -> Result<Option<InvalidPolygon>, Cancelled> {
    if ring.remove_repeated_points().0.len() < 4 {
        return Ok(Some(InvalidPolygon::TooFewPointsInRing(role)));
    }
    if let Some(i) = ring
        .0
        .iter()
        .position(|c| !(c.x.is_finite() && c.y.is_finite()))
    {
        // Boxes of non-finite coordinates mean nothing: geo's own check for this rare ring.
        let p = Polygon::new(ring.clone(), vec![]);
        let own = p.validation_errors().into_iter().next();
        let fallback =
            InvalidPolygon::NonFiniteCoord(role, geo::algorithm::validation::CoordIndex(i));
        return Ok(Some(own.map_or(fallback, |e| with_role(e, role))));
    }
    if ring_self_intersects(ring)? {
        return Ok(Some(InvalidPolygon::SelfIntersection(role)));
    }
    Ok(None)
}

/// An error found on a ring checked alone (as an exterior) given the ring's real role.
fn with_role(e: InvalidPolygon, role: RingRole) -> InvalidPolygon {
    match e {
        InvalidPolygon::TooFewPointsInRing(_) => InvalidPolygon::TooFewPointsInRing(role),
        InvalidPolygon::SelfIntersection(_) => InvalidPolygon::SelfIntersection(role),
        InvalidPolygon::NonFiniteCoord(_, i) => InvalidPolygon::NonFiniteCoord(role, i),
        other => other,
    }
}

/// geo's predicate: two segments of the ring intersect, other than the end of one being the
/// start of the other; tested only on segments whose boxes touch.
pub fn ring_self_intersects(ring: &LineString<f64>) -> Result<bool, Cancelled> {
    let lines: Vec<Line<f64>> = ring.lines().collect();
    let tree = box_tree(lines.iter().map(|l| Some(Rect::new(l.start, l.end))));
    let mut tests = 0usize;
    for (i, a) in lines.iter().enumerate() {
        let env = aabb(Rect::new(a.start, a.end));
        for c in tree.locate_in_envelope_intersecting(&env) {
            let j = c.data;
            if j <= i {
                continue;
            }
            tests += 1;
            if tests.is_multiple_of(CHECK_EVERY) {
                cancel::check()?;
            }
            let b = &lines[j];
            if a.start != b.end && a.end != b.start && (a.intersects(b) || b.intersects(a)) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Holes inside the shell, touching it at points only; holes not overlapping each other nor
/// touching on a line.
fn holes_problem(p: &Polygon<f64>) -> Result<Option<InvalidPolygon>, Cancelled> {
    if !p.interiors().iter().any(|r| !r.is_empty()) {
        return Ok(None);
    }
    let shell = Polygon::new(p.exterior().clone(), vec![]);
    let shell = PreparedGeometry::from(&shell);
    let holes: Vec<Polygon<f64>> = p
        .interiors()
        .iter()
        .map(|r| Polygon::new(r.clone(), vec![]))
        .collect();
    let tree = box_tree(p.interiors().iter().map(|r| {
        if r.is_empty() {
            None
        } else {
            r.bounding_rect()
        }
    }));
    for (i, hole) in holes.iter().enumerate() {
        if hole.exterior().is_empty() {
            continue;
        }
        cancel::check()?;
        let role = RingRole::Interior(i);
        let prepared = PreparedGeometry::from(hole);
        let im = shell.relate(&prepared);
        if !im.is_contains() {
            return Ok(Some(
                InvalidPolygon::InteriorRingNotContainedInExteriorRing(role),
            ));
        }
        if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            return Ok(Some(InvalidPolygon::IntersectingRingsOnALine(
                RingRole::Exterior,
                role,
            )));
        }
        for j in later_touching(&tree, hole.bounding_rect(), i) {
            cancel::check()?;
            let im = prepared.relate(&holes[j]);
            let other = RingRole::Interior(j);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Ok(Some(InvalidPolygon::IntersectingRingsOnAnArea(role, other)));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                return Ok(Some(InvalidPolygon::IntersectingRingsOnALine(role, other)));
            }
        }
    }
    Ok(None)
}

fn aabb(r: Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

/// An R-tree of boxes tagged with their index (items without a box are left out).
fn box_tree(boxes: impl Iterator<Item = Option<Rect<f64>>>) -> RTree<Boxed> {
    let items = boxes
        .enumerate()
        .filter_map(|(i, r)| {
            let r = r?;
            let b = Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
            Some(GeomWithData::new(b, i))
        })
        .collect();
    RTree::bulk_load(items)
}

/// Indices above `i` whose boxes touch `rect`, in increasing order (geo's pair order).
fn later_touching(tree: &RTree<Boxed>, rect: Option<Rect<f64>>, i: usize) -> Vec<usize> {
    let Some(r) = rect else {
        return Vec::new();
    };
    let mut out: Vec<usize> = tree
        .locate_in_envelope_intersecting(&aabb(r))
        .map(|c| c.data)
        .filter(|&j| j > i)
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{Coord, coord};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The old check (geo's, quadratic): the oracle.
    fn oracle(g: &Geometry<f64>) -> Option<String> {
        g.validation_errors().first().map(ToString::to_string)
    }

    fn fast(g: &Geometry<f64>) -> Option<String> {
        first_problem(g).unwrap().map(|e| e.to_string())
    }

    /// A closed ring through `n` random points of a small grid: many collinear points,
    /// touching vertices, repeated points and crossings.
    fn grid_ring(rng: &mut ChaCha8Rng, n: usize, size: i32, at: (f64, f64)) -> LineString<f64> {
        let mut pts: Vec<Coord<f64>> = (0..n)
            .map(|_| {
                coord! {
                    x: at.0 + f64::from(rng.random_range(0..size)),
                    y: at.1 + f64::from(rng.random_range(0..size)),
                }
            })
            .collect();
        pts.push(pts[0]);
        LineString(pts)
    }

    /// A star-shaped ring (simple) with `n` vertices, optionally with a spike or a dent.
    fn star_ring(rng: &mut ChaCha8Rng, n: usize, c: (f64, f64), r: f64) -> LineString<f64> {
        let mut pts: Vec<Coord<f64>> = (0..n)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / n as f64;
                let rr = r * rng.random_range(0.5..1.0);
                coord! { x: c.0 + rr * a.cos(), y: c.1 + rr * a.sin() }
            })
            .collect();
        pts.push(pts[0]);
        LineString(pts)
    }

    fn square(x: f64, y: f64, s: f64) -> LineString<f64> {
        LineString::from(vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y)])
    }

    fn check(g: Geometry<f64>) {
        assert_eq!(fast(&g), oracle(&g), "{g:?}");
    }

    #[test]
    fn same_verdicts_as_geo_on_random_grid_rings() {
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        for case in 0..3000 {
            let n = 3 + case % 9;
            let size = 2 + (case % 5) as i32;
            let ring = grid_ring(&mut rng, n, size, (0.0, 0.0));
            check(Geometry::Polygon(Polygon::new(ring, vec![])));
        }
    }

    #[test]
    fn same_verdicts_as_geo_on_holes_and_parts() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for case in 0..1500 {
            let holes: Vec<LineString<f64>> = (0..case % 4)
                .map(|_| {
                    let x = f64::from(rng.random_range(-1..9));
                    let y = f64::from(rng.random_range(-1..9));
                    if rng.random_bool(0.3) {
                        grid_ring(&mut rng, 4, 3, (x, y))
                    } else {
                        square(x, y, f64::from(rng.random_range(1..4)))
                    }
                })
                .collect();
            let shell = if case % 3 == 0 {
                star_ring(&mut rng, 12, (5.0, 5.0), 6.0)
            } else {
                square(0.0, 0.0, 10.0)
            };
            let p = Polygon::new(shell, holes);
            check(Geometry::Polygon(p.clone()));
            let parts: Vec<Polygon<f64>> = (0..1 + case % 4)
                .map(|_| {
                    let x = f64::from(rng.random_range(0..12));
                    let y = f64::from(rng.random_range(0..12));
                    Polygon::new(square(x, y, f64::from(rng.random_range(1..5))), vec![])
                })
                .chain(std::iter::once(p))
                .collect();
            check(Geometry::MultiPolygon(MultiPolygon(parts)));
        }
    }

    #[test]
    fn same_verdicts_as_geo_on_crafted_rings() {
        let rings: Vec<Vec<(f64, f64)>> = vec![
            // bowtie
            vec![(0., 0.), (1., 1.), (1., 0.), (0., 1.), (0., 0.)],
            // the ring passes twice through (2, 2)
            vec![
                (0., 0.),
                (4., 0.),
                (2., 2.),
                (4., 4.),
                (0., 4.),
                (2., 2.),
                (0., 0.),
            ],
            // a spike out and back
            vec![
                (0., 0.),
                (4., 0.),
                (4., 4.),
                (2., 4.),
                (2., 6.),
                (2., 5.),
                (0., 4.),
                (0., 0.),
            ],
            // repeated consecutive points
            vec![
                (0., 0.),
                (0., 0.),
                (4., 0.),
                (4., 4.),
                (4., 4.),
                (0., 4.),
                (0., 0.),
            ],
            // a vertex on another edge
            vec![(0., 0.), (4., 0.), (4., 4.), (2., 0.), (0., 4.), (0., 0.)],
            // collinear overlap of non-adjacent edges
            vec![
                (0., 0.),
                (4., 0.),
                (4., 2.),
                (3., 0.),
                (1., 0.),
                (0., 2.),
                (0., 0.),
            ],
            // degenerate: all on a line
            vec![(0., 0.), (1., 0.), (2., 0.), (0., 0.)],
            vec![(0., 0.), (2., 0.), (1., 0.), (1., 0.), (0., 0.)],
        ];
        for r in rings {
            check(Geometry::Polygon(Polygon::new(LineString::from(r), vec![])));
        }
    }

    #[test]
    fn large_star_is_valid_and_a_crossing_is_found() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let ring = star_ring(&mut rng, 100_000, (0.0, 0.0), 1.0);
        let p = Polygon::new(ring.clone(), vec![]);
        assert!(polygon_problem(&p).unwrap().is_none());
        let mut crossed = ring;
        let n = crossed.0.len();
        crossed.0.swap(10, n / 2);
        let p = Polygon::new(crossed, vec![]);
        assert_eq!(
            polygon_problem(&p).unwrap(),
            Some(InvalidPolygon::SelfIntersection(RingRole::Exterior))
        );
    }

    #[test]
    fn cancelled_work_stops() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let p = Polygon::new(star_ring(&mut rng, 50_000, (0.0, 0.0), 1.0), vec![]);
        let t = crate::cancel::CancelToken::new();
        t.cancel();
        let r = crate::cancel::run_with(&t, || polygon_problem(&p));
        assert_eq!(r, Err(Cancelled));
    }
}
