//! Geodesic measures on the WGS84 ellipsoid.

use geo::GeodesicArea;
use geo_types::{Geometry, Point, Polygon};

/// WGS84 semi-major axis, metres.
pub const WGS84_A: f64 = 6_378_137.0;
/// WGS84 flattening.
pub const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// Area of a polygonal geometry on the WGS84 ellipsoid, in hectares (Karney's algorithm, through
/// geo's `GeodesicArea`). Points and lines have no area: 0.
///
/// ```
/// use geo_types::{Geometry, polygon};
/// // A 0.01° × 0.01° square at the equator: 123.0907 ha (GeographicLib 2.x, Python).
/// let sq = Geometry::Polygon(polygon![(x: 0.0, y: 0.0), (x: 0.01, y: 0.0), (x: 0.01, y: 0.01), (x: 0.0, y: 0.01)]);
/// let ha = terriens::geo_util::area_ha(&sq);
/// assert!((ha - 123.0907).abs() < 0.001, "{ha}");
/// ```
pub fn area_ha(g: &Geometry<f64>) -> f64 {
    let m2 = match g {
        Geometry::Polygon(p) => polygon_m2(p),
        Geometry::MultiPolygon(mp) => mp.0.iter().map(polygon_m2).sum(),
        Geometry::Rect(r) => polygon_m2(&r.to_polygon()),
        Geometry::Triangle(t) => polygon_m2(&t.to_polygon()),
        _ => 0.0,
    };
    m2 / 10_000.0
}

/// geo's geodesic area reads a clockwise exterior ring as the rest of the Earth (its area is
/// the ellipsoid's minus the polygon's), and much real data (ADMIN EXPRESS, for one) is wound
/// clockwise: orient rings first (exterior counter-clockwise, holes clockwise).
fn polygon_m2(p: &Polygon<f64>) -> f64 {
    use geo::orient::{Direction, Orient};
    p.orient(Direction::Default).geodesic_area_unsigned()
}

/// Geodesic distance between two lon/lat points on WGS84, metres (Karney's algorithm, exact to
/// the nanometre; about 1 µs a call).
pub fn geodesic_distance_m(a: Point<f64>, b: Point<f64>) -> f64 {
    use geo::{Distance, Geodesic};
    Geodesic.distance(a, b)
}

/// Metres per degree of latitude and of longitude at a latitude (WGS84 radii of curvature:
/// meridional M and prime vertical N·cos φ).
pub fn metres_per_degree(lat_deg: f64) -> (f64, f64) {
    let e2 = WGS84_F * (2.0 - WGS84_F);
    let phi = lat_deg.to_radians();
    let s2 = phi.sin().powi(2);
    let w = (1.0 - e2 * s2).sqrt();
    let m = WGS84_A * (1.0 - e2) / (w * w * w);
    let n = WGS84_A / w;
    let rad = std::f64::consts::PI / 180.0;
    (m * rad, n * phi.cos() * rad)
}

/// A lon/lat envelope `[min_lon, min_lat, max_lon, max_lat]` that contains every point within
/// `radius_m` of (lon, lat) on the ellipsoid. It is conservative (slightly larger than needed),
/// reaches the pole when the circle does, and spans all longitudes then. Longitudes may fall
/// outside ±180 near the antimeridian; callers that care split the box.
pub fn radius_envelope(lon: f64, lat: f64, radius_m: f64) -> [f64; 4] {
    // Along a meridian, one degree is at least M(0) ≈ 110.574 km; use a slightly smaller figure.
    let dlat = radius_m / 110_000.0;
    let min_lat = (lat - dlat).max(-90.0);
    let max_lat = (lat + dlat).min(90.0);
    let far_lat = min_lat.abs().max(max_lat.abs());
    if far_lat >= 89.999 {
        return [-180.0, min_lat, 180.0, max_lat];
    }
    // A geodesic leaving the centre reaches its largest longitude change where it crosses the
    // parallel of highest latitude it attains; bounding with the metres per degree of longitude
    // at the farthest latitude of the band is conservative for radii below ~1,000 km.
    let (_, m_per_deg_lon) = metres_per_degree(far_lat);
    let dlon = (radius_m / (m_per_deg_lon * 0.995)).min(180.0);
    if dlon >= 180.0 {
        return [-180.0, min_lat, 180.0, max_lat];
    }
    [lon - dlon, min_lat, lon + dlon, max_lat]
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::point;

    #[test]
    fn envelope_contains_the_circle() {
        for &(lon, lat) in &[(0.1, 49.5), (7.4, 43.7), (2.0, 70.0), (-52.0, 5.0)] {
            for &r in &[100.0, 5_000.0, 200_000.0] {
                let [x0, y0, x1, y1] = radius_envelope(lon, lat, r);
                for az in (0..360).step_by(5) {
                    let p = geo::Destination::destination(
                        &geo::Geodesic,
                        point!(x: lon, y: lat),
                        az as f64,
                        r,
                    );
                    assert!(p.x() >= x0 && p.x() <= x1 && p.y() >= y0 && p.y() <= y1);
                }
            }
        }
    }

    #[test]
    fn metres_per_degree_at_le_havre() {
        let (mlat, mlon) = metres_per_degree(49.49);
        // Karney: 0.001° north / east from (0.1, 49.49).
        let dn = geodesic_distance_m(point!(x: 0.1, y: 49.49), point!(x: 0.1, y: 49.491));
        let de = geodesic_distance_m(point!(x: 0.1, y: 49.49), point!(x: 0.101, y: 49.49));
        assert!((mlat / 1000.0 - dn).abs() < 1e-3);
        assert!((mlon / 1000.0 - de).abs() < 1e-3);
    }
}
