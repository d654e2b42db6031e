//! Clipping polygons to a tile's buffered box, in floating point, before they are snapped to
//! the integer grid. Polygons wholly inside or outside the box skip the overlay; the others go
//! through geo's boolean intersection, which keeps the result valid (a concave polygon cut by
//! the box becomes several polygons, not one ring with zero-width bridges as
//! Sutherland–Hodgman would leave).

use geo::{BooleanOps, BoundingRect};
use geo_types::{Coord, MultiPolygon, Polygon, Rect};

/// The parts of `mp` inside `bounds` (`[min_x, min_y, max_x, max_y]`).
///
/// ```
/// use geo_types::{polygon, MultiPolygon};
/// use geo::Area;
/// use terriens::tiles::clip;
/// let square = MultiPolygon(vec![polygon![(x: -10.0, y: -10.0), (x: 10.0, y: -10.0),
///     (x: 10.0, y: 10.0), (x: -10.0, y: 10.0)]]);
/// let inside = clip(&square, [0.0, 0.0, 100.0, 100.0]);
/// assert!((inside.unsigned_area() - 100.0).abs() < 1e-9);
/// ```
pub fn clip(mp: &MultiPolygon<f64>, bounds: [f64; 4]) -> MultiPolygon<f64> {
    let Some(r) = mp.bounding_rect() else {
        return MultiPolygon(Vec::new());
    };
    match relation(r, bounds) {
        Relation::Inside => return mp.clone(),
        Relation::Outside => return MultiPolygon(Vec::new()),
        Relation::Crosses => {}
    }
    let rect = Rect::new(
        Coord {
            x: bounds[0],
            y: bounds[1],
        },
        Coord {
            x: bounds[2],
            y: bounds[3],
        },
    )
    .to_polygon();
    let mut out: Vec<Polygon<f64>> = Vec::new();
    for p in &mp.0 {
        let Some(pr) = p.bounding_rect() else {
            continue;
        };
        match relation(pr, bounds) {
            Relation::Inside => out.push(p.clone()),
            Relation::Outside => {}
            Relation::Crosses => out.extend(p.intersection(&rect).0),
        }
    }
    MultiPolygon(out)
}

enum Relation {
    Inside,
    Outside,
    Crosses,
}

fn relation(r: Rect<f64>, b: [f64; 4]) -> Relation {
    if r.min().x >= b[0] && r.min().y >= b[1] && r.max().x <= b[2] && r.max().y <= b[3] {
        Relation::Inside
    } else if r.max().x < b[0] || r.min().x > b[2] || r.max().y < b[1] || r.min().y > b[3] {
        Relation::Outside
    } else {
        Relation::Crosses
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Validation};
    use geo_types::polygon;

    #[test]
    fn concave_polygon_cut_in_two_stays_valid() {
        // A "U" whose arms cross the top edge of the box: two pieces, each valid.
        let u = MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 30.0, y: 0.0), (x: 30.0, y: 30.0), (x: 20.0, y: 30.0),
            (x: 20.0, y: 10.0), (x: 10.0, y: 10.0), (x: 10.0, y: 30.0), (x: 0.0, y: 30.0),
        ]]);
        let out = clip(&u, [-5.0, 20.0, 35.0, 40.0]);
        assert_eq!(out.0.len(), 2);
        assert!(out.is_valid());
        assert!((out.unsigned_area() - 200.0).abs() < 1e-9);
    }
}
