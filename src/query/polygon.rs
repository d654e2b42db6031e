//! Features intersecting, or within, a query polygon (lon/lat, edges straight in lon/lat as in
//! GeoJSON).
//!
//! Steps: R-tree entries whose envelope intersects the polygon's envelope → admitted rows →
//! exact predicate against the polygon, prepared once (its edges indexed) for the many
//! candidates → distance from `origin`, when given.

use geo::{BoundingRect, Contains, Intersects, PreparedGeometry, Relate};
use geo_types::{Geometry, MultiPolygon, Point};

use super::distance::distance_to_geometry_m;
use super::hit::{Hit, Selector};
use super::radius::entries_in;
use super::scope::Relation;

/// Every admitted feature in the given relation with `shape`, in row order.
pub fn polygon(
    select: &Selector,
    shape: &MultiPolygon<f64>,
    relation: Relation,
    origin: Option<Point<f64>>,
) -> Vec<Hit> {
    let data = select.data();
    let Some(r) = shape.bounding_rect() else {
        return Vec::new();
    };
    let prepared = PreparedGeometry::from(Geometry::MultiPolygon(shape.clone()));
    let b = [r.min().x, r.min().y, r.max().x, r.max().y];
    let mut out: Vec<Hit> = entries_in(data, b)
        .filter_map(|e| {
            let row = e.data;
            let drive_s = select.admit(row)?;
            let g = data.geometry(row);
            // The feature is within the polygon when the polygon contains it (OGC: not when it
            // only touches the boundary).
            let keep = match (g, relation) {
                (Geometry::Point(p), Relation::Intersects) => shape.intersects(p),
                (Geometry::Point(p), Relation::Within) => shape.contains(p),
                (_, Relation::Intersects) => prepared.relate(g).is_intersects(),
                (_, Relation::Within) => prepared.relate(g).is_contains(),
            };
            if !keep {
                return None;
            }
            let d = origin.map(|o| distance_to_geometry_m(o, g));
            Some(Selector::hit(data, row, d, drive_s))
        })
        .collect();
    out.sort_unstable_by_key(|h| h.row);
    out
}
