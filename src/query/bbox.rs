//! Features intersecting a lon/lat box.
//!
//! Steps: R-tree entries whose envelope intersects the box → admitted rows → exact test for
//! polygons (a polygon's envelope may touch the box while the polygon does not) → distance
//! from `origin`, when given.

use geo::Intersects;
use geo_types::{Point, Rect, coord};

use super::distance::distance_to_geometry_m;
use super::hit::{Hit, Selector};
use super::radius::entries_in;

/// Every admitted feature intersecting `b = [min_lon, min_lat, max_lon, max_lat]`, in row order.
pub fn bbox(select: &Selector, b: [f64; 4], origin: Option<Point<f64>>) -> Vec<Hit> {
    let data = select.data();
    let rect = Rect::new(coord! { x: b[0], y: b[1] }, coord! { x: b[2], y: b[3] });
    let mut out: Vec<Hit> = entries_in(data, b)
        .filter_map(|e| {
            let row = e.data;
            let drive_s = select.admit(row)?;
            let env = e.geom();
            if env.lower() != env.upper() && !data.geometry(row).intersects(&rect) {
                return None;
            }
            let d = origin.map(|o| distance_to_geometry_m(o, data.geometry(row)));
            Some(Selector::hit(data, row, d, drive_s))
        })
        .collect();
    out.sort_unstable_by_key(|h| h.row);
    out
}
