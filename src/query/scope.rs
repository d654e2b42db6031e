//! Where a query looks, validated against the limits before any work starts.

use geo::BoundingRect;
use geo_types::{Geometry, MultiPolygon, Point};

use super::QueryError;
use crate::index::{ValueRef, View};
use crate::model::Layer;

/// Caps checked before any work starts (from the server's configured limits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Caps {
    /// Largest search radius, metres.
    pub max_radius_m: f64,
    /// Largest k of a nearest query.
    pub max_k: usize,
    /// Largest page size.
    pub max_limit: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_radius_m: 200_000.0,
            max_k: 1_000,
            max_limit: 1_000,
        }
    }
}

/// How a query polygon and a feature must relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// They share at least a point.
    Intersects,
    /// The feature lies inside the polygon (OGC `within`: a feature touching the polygon only
    /// from outside, or only on its boundary, is not within).
    Within,
}

impl Relation {
    /// Parses `intersects` or `within`.
    pub fn parse(s: &str) -> Result<Relation, QueryError> {
        match s.trim() {
            "intersects" => Ok(Relation::Intersects),
            "within" => Ok(Relation::Within),
            other => Err(QueryError::UnknownValue {
                param: "relation",
                value: other.to_string(),
                valid: "intersects, within".into(),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Intersects => "intersects",
            Relation::Within => "within",
        }
    }
}

/// The spatial part of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// The whole layer.
    All,
    /// Features within `radius_m` metres (geodesic) of the centre.
    Radius { centre: Point<f64>, radius_m: f64 },
    /// The k features nearest to the centre, optionally no farther than `within_m`.
    Nearest {
        centre: Point<f64>,
        k: usize,
        within_m: Option<f64>,
    },
    /// Features intersecting a lon/lat box `[min_lon, min_lat, max_lon, max_lat]`.
    BBox([f64; 4]),
    /// Features intersecting, or within, a polygon.
    Polygon {
        shape: MultiPolygon<f64>,
        relation: Relation,
    },
}

impl Scope {
    /// The point distances are measured from, for radius and nearest queries.
    pub fn centre(&self) -> Option<Point<f64>> {
        match self {
            Scope::Radius { centre, .. } | Scope::Nearest { centre, .. } => Some(*centre),
            _ => None,
        }
    }

    /// A stable text of the scope, part of a query's fingerprint.
    pub fn canonical(&self) -> String {
        match self {
            Scope::All => "all".into(),
            Scope::Radius { centre, radius_m } => {
                format!("radius:{},{},{radius_m}", centre.x(), centre.y())
            }
            Scope::Nearest {
                centre,
                k,
                within_m,
            } => format!("nearest:{},{},{k},{within_m:?}", centre.x(), centre.y()),
            Scope::BBox(b) => format!("bbox:{},{},{},{}", b[0], b[1], b[2], b[3]),
            Scope::Polygon { shape, relation } => {
                format!("polygon:{}:{shape:?}", relation.as_str())
            }
        }
    }
}

/// The boundary of a territory (by SIREN) from the territories layer, as a polygon scope.
pub fn territory_scope(view: &View, siren: &str) -> Result<Scope, QueryError> {
    let territories = view.layer(Layer::Territories);
    let data = territories.data();
    let siren = siren.trim();
    let row = territories
        .rows()
        .find(|r| data.value_by_name(*r, "siren") == Some(ValueRef::Text(siren)))
        .ok_or_else(|| {
            let known: Vec<String> = territories
                .rows()
                .filter_map(|r| match data.value_by_name(r, "siren") {
                    Some(ValueRef::Text(s)) => Some(s.to_string()),
                    _ => None,
                })
                .take(20)
                .collect();
            // A well-formed SIREN the data does not hold: the data's answer (a 422).
            QueryError::unprocessable(
                "in_territory",
                format!(
                    "unknown territory `{siren}`; the data holds: {}",
                    if known.is_empty() {
                        "none (the territories layer is empty)".into()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })?;
    let shape = match data.geometry(row) {
        Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
        Geometry::MultiPolygon(mp) => mp.clone(),
        _ => {
            return Err(QueryError::unprocessable(
                "in_territory",
                format!("territory {siren} has no polygon boundary"),
            ));
        }
    };
    Ok(Scope::Polygon {
        shape,
        relation: Relation::Intersects,
    })
}

/// Checks a lon/lat pair; `lon_param`/`lat_param` name them in errors.
pub fn check_point(
    lon: f64,
    lat: f64,
    lon_param: &'static str,
    lat_param: &'static str,
) -> Result<Point<f64>, QueryError> {
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        return Err(QueryError::out_of_range(
            lon_param,
            lon,
            "a longitude in degrees between -180 and 180 (WGS84)",
        ));
    }
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        return Err(QueryError::out_of_range(
            lat_param,
            lat,
            "a latitude in degrees between -90 and 90 (WGS84)",
        ));
    }
    Ok(Point::new(lon, lat))
}

/// Checks a radius against the cap.
pub fn check_radius(param: &'static str, radius_m: f64, caps: &Caps) -> Result<f64, QueryError> {
    if !(radius_m.is_finite() && radius_m >= 0.0 && radius_m <= caps.max_radius_m) {
        return Err(QueryError::out_of_range(
            param,
            radius_m,
            format!(
                "a distance in metres between 0 and {} (the server's maximum)",
                caps.max_radius_m
            ),
        ));
    }
    Ok(radius_m)
}

/// Checks k against the cap.
pub fn check_k(k: usize, caps: &Caps) -> Result<usize, QueryError> {
    if k == 0 || k > caps.max_k {
        return Err(QueryError::out_of_range(
            "k",
            k,
            format!("a whole number between 1 and {}", caps.max_k),
        ));
    }
    Ok(k)
}

/// Checks a page size against the cap.
pub fn check_limit(limit: usize, caps: &Caps) -> Result<usize, QueryError> {
    if limit == 0 || limit > caps.max_limit {
        return Err(QueryError::out_of_range(
            "limit",
            limit,
            format!("a whole number between 1 and {}", caps.max_limit),
        ));
    }
    Ok(limit)
}

/// Checks a box `[min_lon, min_lat, max_lon, max_lat]`.
pub fn check_bbox(b: [f64; 4]) -> Result<[f64; 4], QueryError> {
    let [x0, y0, x1, y1] = b;
    if b.iter().any(|v| !v.is_finite()) {
        return Err(QueryError::invalid(
            "bbox",
            "coordinates must be finite numbers",
        ));
    }
    for (v, lat) in [(x0, false), (y0, true), (x1, false), (y1, true)] {
        let (lim, what) = if lat {
            (90.0, "latitudes")
        } else {
            (180.0, "longitudes")
        };
        if v.abs() > lim {
            return Err(QueryError::invalid(
                "bbox",
                format!("{what} must lie between -{lim} and {lim}, got {v}"),
            ));
        }
    }
    if y0 > y1 {
        return Err(QueryError::unprocessable(
            "bbox",
            format!(
                "min_lat {y0} is above max_lat {y1}; the order is min_lon,min_lat,max_lon,max_lat"
            ),
        ));
    }
    if x0 > x1 {
        return Err(QueryError::unprocessable(
            "bbox",
            format!(
                "min_lon {x0} is east of max_lon {x1}; the order is min_lon,min_lat,max_lon,max_lat (for a box across the antimeridian, send one request per side)"
            ),
        ));
    }
    Ok(b)
}

/// Checks a query polygon: Polygon or MultiPolygon, WGS84 ranges, valid (OGC simple feature).
pub fn check_polygon(g: Geometry<f64>) -> Result<MultiPolygon<f64>, QueryError> {
    use geo::CoordsIter;
    let mp = match g {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(mp) => mp,
        other => {
            return Err(QueryError::invalid(
                "geometry",
                format!(
                    "a Polygon or MultiPolygon is needed, got a {}",
                    crate::ingest::validate::geometry_type_name(&other)
                ),
            ));
        }
    };
    for c in mp.coords_iter() {
        if !(c.x.is_finite() && c.y.is_finite() && c.x.abs() <= 180.0 && c.y.abs() <= 90.0) {
            return Err(QueryError::unprocessable(
                "geometry",
                format!("coordinate ({}, {}) is not WGS84 lon/lat degrees", c.x, c.y),
            ));
        }
    }
    if mp.bounding_rect().is_none() {
        return Err(QueryError::unprocessable(
            "geometry",
            "the polygon is empty",
        ));
    }
    // geo's verdicts in O(n log n); a cancelled check is an error nobody reads (the request
    // was abandoned).
    let problem = crate::ingest::validity::multipolygon_problem(&mp)
        .map_err(|c| QueryError::unprocessable("geometry", c.to_string()))?;
    if let Some(problem) = problem {
        return Err(QueryError::unprocessable(
            "geometry",
            format!("invalid polygon: {problem}"),
        ));
    }
    Ok(mp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        let caps = Caps::default();
        assert!(check_radius("radius_m", -1.0, &caps).is_err());
        assert!(check_radius("radius_m", 1e7, &caps).is_err());
        assert!(check_radius("radius_m", f64::NAN, &caps).is_err());
        assert_eq!(check_radius("radius_m", 5_000.0, &caps), Ok(5_000.0));
        assert!(check_k(0, &caps).is_err());
        assert!(check_k(1_001, &caps).is_err());
        assert!(check_limit(0, &caps).is_err());
        assert!(check_point(0.0, 100.0, "lon", "lat").unwrap_err().param() == "lat");
        assert!(check_bbox([1.0, 0.0, 0.0, 1.0]).is_err());
        assert!(check_bbox([0.0, 1.0, 1.0, 0.0]).is_err());
        assert!(check_bbox([0.0, 0.0, 1.0, 1.0]).is_ok());
    }
}
