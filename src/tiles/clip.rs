//! Clipping polygons to a tile's buffered box, in floating point, before they are snapped to
//! the integer grid. Polygons wholly inside or outside the box skip clipping. The others are
//! clipped with Sutherland–Hodgman, which is fast but, on a concave ring that leaves and
//! re-enters the box, leaves zero-width bridges along the box edge (an invalid ring). So its
//! result is kept only when it cannot have one — the ring is convex, or its clipped ring meets
//! the box boundary in a single stretch — and holes do not cross the box; otherwise the
//! polygon goes through geo's boolean intersection, which splits it into valid parts.

use geo::{BooleanOps, BoundingRect};
use geo_types::{Coord, LineString, MultiPolygon, Polygon, Rect};

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
            Relation::Crosses => match clip_simple(p, bounds) {
                Some(Some(q)) => out.push(q),
                Some(None) => {}
                None => out.extend(p.intersection(&rect).0),
            },
        }
    }
    MultiPolygon(out)
}

/// Sutherland–Hodgman when its result is known valid: `Some(None)` if nothing is left,
/// `None` when the overlay is needed.
fn clip_simple(p: &Polygon<f64>, b: [f64; 4]) -> Option<Option<Polygon<f64>>> {
    let mut holes = Vec::new();
    for h in p.interiors() {
        match h.bounding_rect().map(|r| relation(r, b)) {
            Some(Relation::Inside) => holes.push(h.clone()),
            Some(Relation::Outside) | None => {}
            Some(Relation::Crosses) => return None,
        }
    }
    let ring = &p.exterior().0;
    let clipped = sutherland_hodgman(ring, b);
    if clipped.len() < 3 {
        return Some(None);
    }
    if boundary_runs(&clipped, b) > 1 && !is_convex(ring) {
        return None;
    }
    let mut ext = clipped;
    ext.push(ext[0]);
    Some(Some(Polygon::new(LineString(ext), holes)))
}

/// Clips a ring (closed or not) to a box; returns an open ring.
fn sutherland_hodgman(ring: &[Coord<f64>], b: [f64; 4]) -> Vec<Coord<f64>> {
    let mut pts: Vec<Coord<f64>> = ring.to_vec();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    // Edges: x >= b0, x <= b2, y >= b1, y <= b3.
    for edge in 0..4 {
        if pts.is_empty() {
            break;
        }
        let inside = |c: &Coord<f64>| match edge {
            0 => c.x >= b[0],
            1 => c.x <= b[2],
            2 => c.y >= b[1],
            _ => c.y <= b[3],
        };
        let cut = |a: &Coord<f64>, c: &Coord<f64>| -> Coord<f64> {
            match edge {
                0 | 1 => {
                    let x = if edge == 0 { b[0] } else { b[2] };
                    let t = (x - a.x) / (c.x - a.x);
                    Coord {
                        x,
                        y: a.y + t * (c.y - a.y),
                    }
                }
                _ => {
                    let y = if edge == 2 { b[1] } else { b[3] };
                    let t = (y - a.y) / (c.y - a.y);
                    Coord {
                        x: a.x + t * (c.x - a.x),
                        y,
                    }
                }
            }
        };
        let mut out = Vec::with_capacity(pts.len() + 4);
        let mut prev = pts[pts.len() - 1];
        let mut prev_in = inside(&prev);
        for cur in &pts {
            let cur_in = inside(cur);
            if cur_in {
                if !prev_in {
                    out.push(cut(&prev, cur));
                }
                out.push(*cur);
            } else if prev_in {
                out.push(cut(&prev, cur));
            }
            prev = *cur;
            prev_in = cur_in;
        }
        pts = out;
    }
    pts
}

/// How many separate stretches of an open ring lie on the box boundary.
fn boundary_runs(ring: &[Coord<f64>], b: [f64; 4]) -> usize {
    let on = |c: &Coord<f64>| c.x == b[0] || c.x == b[2] || c.y == b[1] || c.y == b[3];
    let n = ring.len();
    (0..n)
        .filter(|&i| on(&ring[i]) && !on(&ring[(i + n - 1) % n]))
        .count()
        .max(usize::from(ring.iter().all(on)))
}

/// Whether a ring turns one way only.
fn is_convex(ring: &[Coord<f64>]) -> bool {
    let mut pts: &[Coord<f64>] = ring;
    if pts.len() > 1 && pts.first() == pts.last() {
        pts = &pts[..pts.len() - 1];
    }
    let n = pts.len();
    if n < 3 {
        return false;
    }
    let (mut pos, mut neg) = (false, false);
    for i in 0..n {
        let (a, b, c) = (pts[i], pts[(i + 1) % n], pts[(i + 2) % n]);
        let cross = (b.x - a.x) * (c.y - b.y) - (b.y - a.y) * (c.x - b.x);
        pos |= cross > 0.0;
        neg |= cross < 0.0;
    }
    !(pos && neg)
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
    use geo::{Area, BooleanOps, Validation};
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
        // Sutherland–Hodgman alone would bridge the two arms: it must not be taken here.
        let sh = sutherland_hodgman(&u.0[0].exterior().0, [-5.0, 20.0, 35.0, 40.0]);
        assert_eq!(boundary_runs(&sh, [-5.0, 20.0, 35.0, 40.0]), 2);
    }

    #[test]
    fn fast_path_agrees_with_the_overlay() {
        // A concave "L" crossing one edge once, a convex quad across a corner, a ring around
        // the box: each clipped by Sutherland–Hodgman equals the boolean intersection.
        let b = [0.0, 0.0, 100.0, 100.0];
        let shapes = [
            polygon![(x: 50.0, y: 50.0), (x: 150.0, y: 50.0), (x: 150.0, y: 60.0),
                (x: 60.0, y: 60.0), (x: 60.0, y: 90.0), (x: 50.0, y: 90.0)],
            polygon![(x: 80.0, y: -10.0), (x: 130.0, y: 20.0), (x: 110.0, y: 40.0), (x: 70.0, y: 30.0)],
            polygon![(x: -50.0, y: -50.0), (x: 150.0, y: -50.0), (x: 150.0, y: 150.0), (x: -50.0, y: 150.0)],
        ];
        let rect = Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 100.0, y: 100.0 }).to_polygon();
        for p in shapes {
            let fast = clip_simple(&p, b).expect("fast path").expect("non-empty");
            assert!(fast.is_valid());
            let slow = p.intersection(&rect);
            assert!((fast.unsigned_area() - slow.unsigned_area()).abs() < 1e-6);
        }
    }
}
