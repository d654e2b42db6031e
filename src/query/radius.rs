//! Features within a geodesic distance of a point.
//!
//! Steps: a lon/lat box that contains the circle (split at the antimeridian) → R-tree entries
//! intersecting it → admitted rows → distance on the ellipsoid (points: Andoyer–Lambert, and
//! Karney when the decision is closer to the radius than Andoyer's error bound, so the result
//! set is the one an exact computation gives; polygons: nearest point, 0 inside) → keep those
//! within the radius. Unordered: callers sort.

use geo_types::Point;
use rstar::AABB;

use super::distance::distance_to_geometry_m;
use super::hit::{Hit, Selector};
use crate::geo_util::{
    ANDOYER_MAX_REL_ERROR, andoyer_distance_m, geodesic_distance_m, radius_envelope,
};
use crate::index::{Entry, LayerData};

/// Every admitted feature within `radius_m` metres of `centre`, with its distance.
pub fn radius(select: &Selector, centre: Point<f64>, radius_m: f64) -> Vec<Hit> {
    let data = select.data();
    let mut out = Vec::new();
    let boxes = split_at_antimeridian(radius_envelope(centre.x(), centre.y(), radius_m));
    let split = boxes.len() > 1;
    for b in boxes {
        for e in entries_in(data, b) {
            let row = e.data;
            if split && out.iter().any(|h: &Hit| h.row == row) {
                continue;
            }
            let Some(drive_s) = select.admit(row) else {
                continue;
            };
            if let Some(d) = distance_within(data, e, centre, radius_m) {
                out.push(Selector::hit(data, row, Some(d), drive_s));
            }
        }
    }
    out
}

/// The distance from `centre` to an entry's feature if it is within `radius_m`.
#[inline]
pub(crate) fn distance_within(
    data: &LayerData,
    e: &Entry,
    centre: Point<f64>,
    radius_m: f64,
) -> Option<f64> {
    let env = e.geom();
    let (lo, hi) = (env.lower(), env.upper());
    let d = if lo == hi {
        let p = Point::new(lo[0], lo[1]);
        let d = andoyer_distance_m(centre, p);
        if (d - radius_m).abs() <= radius_m * ANDOYER_MAX_REL_ERROR + 1e-3 {
            geodesic_distance_m(centre, p)
        } else {
            d
        }
    } else {
        distance_to_geometry_m(centre, data.geometry(e.data))
    };
    (d <= radius_m).then_some(d)
}

/// R-tree entries whose envelope intersects a lon/lat box.
pub(crate) fn entries_in(data: &LayerData, b: [f64; 4]) -> impl Iterator<Item = &Entry> {
    data.entries_in_envelope(AABB::from_corners([b[0], b[1]], [b[2], b[3]]))
}

/// A box whose longitudes leave ±180 as one or two boxes inside it.
pub(crate) fn split_at_antimeridian(b: [f64; 4]) -> Vec<[f64; 4]> {
    let [x0, y0, x1, y1] = b;
    if x1 - x0 >= 360.0 {
        return vec![[-180.0, y0, 180.0, y1]];
    }
    if x0 < -180.0 {
        vec![[x0 + 360.0, y0, 180.0, y1], [-180.0, y0, x1, y1]]
    } else if x1 > 180.0 {
        vec![[x0, y0, 180.0, y1], [-180.0, y0, x1 - 360.0, y1]]
    } else {
        vec![b]
    }
}
