//! Features as read from a file, before validation: geometry in the source CRS, properties as
//! JSON, and GeoJSON geometry parsing that says precisely what is wrong.

use geo_types::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};
use serde_json::{Map, Value as Json};

use super::Reject;

/// The id a source gives a feature.
#[derive(Debug, Clone, PartialEq)]
pub enum RawId {
    Number(f64),
    Text(String),
}

/// One feature as read, not yet validated.
#[derive(Debug, Clone)]
pub struct RawFeature {
    /// Position in the input (0-based), reported with rejections.
    pub index: usize,
    pub id: Option<RawId>,
    /// Geometry in the source CRS, or why it could not be read.
    pub geometry: Result<Geometry<f64>, Reject>,
    pub properties: Map<String, Json>,
}

/// Reads a GeoJSON geometry object, checking what generic readers let through: ring closure,
/// ring length, finite numbers. Z values are dropped.
pub fn geometry_from_geojson(v: &Json) -> Result<Geometry<f64>, Reject> {
    let obj = match v {
        Json::Null => return Err(Reject::NoGeometry),
        Json::Object(o) => o,
        other => {
            return Err(Reject::MalformedGeometry(format!(
                "expected an object, found {}",
                json_kind(other)
            )));
        }
    };
    let ty = obj
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| Reject::MalformedGeometry("no `type` member".into()))?;
    if ty == "GeometryCollection" {
        let geoms = obj
            .get("geometries")
            .and_then(Json::as_array)
            .ok_or_else(|| {
                Reject::MalformedGeometry("GeometryCollection without `geometries`".into())
            })?;
        let parts = geoms
            .iter()
            .map(geometry_from_geojson)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Geometry::GeometryCollection(geo_types::GeometryCollection(
            parts,
        )));
    }
    let coords = obj
        .get("coordinates")
        .ok_or_else(|| Reject::MalformedGeometry(format!("{ty} without `coordinates`")))?;
    match ty {
        "Point" => Ok(Geometry::Point(Point(position(coords)?))),
        "MultiPoint" => Ok(Geometry::MultiPoint(
            array(coords, "MultiPoint")?
                .iter()
                .map(|p| position(p).map(Point))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        )),
        "LineString" => Ok(Geometry::LineString(line(coords)?)),
        "MultiLineString" => Ok(Geometry::MultiLineString(geo_types::MultiLineString(
            array(coords, "MultiLineString")?
                .iter()
                .map(line)
                .collect::<Result<Vec<_>, _>>()?,
        ))),
        "Polygon" => Ok(Geometry::Polygon(polygon(coords, 0)?)),
        "MultiPolygon" => Ok(Geometry::MultiPolygon(MultiPolygon(
            array(coords, "MultiPolygon")?
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, i))
                .collect::<Result<Vec<_>, _>>()?,
        ))),
        other => Err(Reject::MalformedGeometry(format!(
            "unknown geometry type `{other}`"
        ))),
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn array<'a>(v: &'a Json, what: &str) -> Result<&'a Vec<Json>, Reject> {
    v.as_array().ok_or_else(|| {
        Reject::MalformedGeometry(format!(
            "{what} coordinates must be an array, found {}",
            json_kind(v)
        ))
    })
}

fn position(v: &Json) -> Result<Coord<f64>, Reject> {
    let a = array(v, "position")?;
    if a.len() < 2 {
        return Err(Reject::MalformedGeometry(format!(
            "a position needs at least 2 numbers, found {}",
            a.len()
        )));
    }
    let num = |j: &Json| -> Result<f64, Reject> {
        match j {
            Json::Number(n) => n
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| Reject::NonFinite(n.to_string())),
            // Some writers emit "NaN" or null for missing values.
            Json::Null => Err(Reject::NonFinite("null".into())),
            Json::String(s) => Err(Reject::NonFinite(format!("\"{s}\" (a string)"))),
            other => Err(Reject::MalformedGeometry(format!(
                "a coordinate must be a number, found {}",
                json_kind(other)
            ))),
        }
    };
    Ok(Coord {
        x: num(&a[0])?,
        y: num(&a[1])?,
    })
}

fn line(v: &Json) -> Result<LineString<f64>, Reject> {
    let pts = array(v, "LineString")?
        .iter()
        .map(position)
        .collect::<Result<Vec<_>, _>>()?;
    if pts.len() < 2 {
        return Err(Reject::MalformedGeometry(format!(
            "a LineString needs at least 2 positions, found {}",
            pts.len()
        )));
    }
    Ok(LineString(pts))
}

fn polygon(v: &Json, index: usize) -> Result<Polygon<f64>, Reject> {
    let rings = array(v, "Polygon")?;
    if rings.is_empty() {
        return Err(Reject::MalformedGeometry(format!(
            "polygon {index} has no rings"
        )));
    }
    let mut out = Vec::with_capacity(rings.len());
    for (r, ring) in rings.iter().enumerate() {
        let pts = array(ring, "ring")?
            .iter()
            .map(position)
            .collect::<Result<Vec<_>, _>>()?;
        out.push(closed_ring(pts, index, r)?);
    }
    let exterior = out.remove(0);
    Ok(Polygon::new(exterior, out))
}

/// Checks that a ring is closed and long enough; GeoJSON (RFC 7946 §3.1.6) requires both.
pub fn closed_ring(
    pts: Vec<Coord<f64>>,
    polygon: usize,
    ring: usize,
) -> Result<LineString<f64>, Reject> {
    if let (Some(first), Some(last)) = (pts.first(), pts.last())
        && first != last
    {
        return Err(Reject::RingNotClosed {
            polygon,
            ring,
            first: (first.x, first.y),
            last: (last.x, last.y),
        });
    }
    if pts.len() < 4 {
        return Err(Reject::RingTooShort {
            polygon,
            ring,
            positions: pts.len(),
        });
    }
    Ok(LineString(pts))
}

/// Checks rings of a geometry built by another reader (WKT, FlatGeobuf), which may close rings
/// silently or not at all.
pub fn check_rings(g: &Geometry<f64>) -> Result<(), Reject> {
    let check = |p: &Polygon<f64>, i: usize| -> Result<(), Reject> {
        for (r, ring) in std::iter::once(p.exterior())
            .chain(p.interiors())
            .enumerate()
        {
            closed_ring(ring.0.clone(), i, r)?;
        }
        Ok(())
    };
    match g {
        Geometry::Polygon(p) => check(p, 0),
        Geometry::MultiPolygon(mp) => mp.iter().enumerate().try_for_each(|(i, p)| check(p, i)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn precise_geometry_errors() {
        let open = json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1]]]});
        assert!(matches!(
            geometry_from_geojson(&open),
            Err(Reject::RingNotClosed { ring: 0, .. })
        ));
        let short = json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[0,0]]]});
        assert!(matches!(
            geometry_from_geojson(&short),
            Err(Reject::RingTooShort { positions: 3, .. })
        ));
        let nan = json!({"type": "Point", "coordinates": [null, 1]});
        assert!(matches!(
            geometry_from_geojson(&nan),
            Err(Reject::NonFinite(_))
        ));
        let z = json!({"type": "Point", "coordinates": [1.5, 2.5, 30]});
        assert_eq!(
            geometry_from_geojson(&z).unwrap(),
            Geometry::Point(Point::new(1.5, 2.5))
        );
        assert_eq!(geometry_from_geojson(&Json::Null), Err(Reject::NoGeometry));
    }
}
