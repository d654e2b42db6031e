//! OGC API – Features Part 2 (Coordinate Reference Systems by Reference): the CRSs a client
//! may ask for (`crs`, `bbox-crs`, `filter-crs`), named by their OGC URIs, and the PROJ
//! transformations between them and the stored CRS (CRS84, WGS84 longitude, latitude).
//!
//! Coordinates are in each CRS's own axis order, as Part 2 asks: EPSG:4326 is latitude,
//! longitude; CRS84 and the projected CRSs (Lambert-93, the CC zones, Web Mercator) are
//! easting, northing.

use geo_types::{Coord, Geometry, LineString, Polygon, coord};

use crate::api::ApiError;
use crate::api::extract::Params;
use crate::geo_util::{CrsError, for_each_coord_mut};

/// The stored CRS, and the default of every CRS parameter.
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const EPSG_PREFIX: &str = "http://www.opengis.net/def/crs/EPSG/0/";

/// The EPSG codes served besides CRS84: WGS84 (latitude first), Lambert-93, Web Mercator,
/// the nine conic conformal zones CC42–CC50.
pub const EPSG_CODES: &[u32] = &[
    4326, 2154, 3857, 3942, 3943, 3944, 3945, 3946, 3947, 3948, 3949, 3950,
];

/// A CRS a client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OgcCrs {
    Crs84,
    Epsg(u32),
}

/// Every CRS URI served, CRS84 first (the collections' `crs` list).
pub fn supported_uris() -> Vec<String> {
    std::iter::once(CRS84.to_string())
        .chain(EPSG_CODES.iter().map(|c| format!("{EPSG_PREFIX}{c}")))
        .collect()
}

impl OgcCrs {
    /// Reads the CRS parameter `name` (absent: CRS84). Accepts the OGC URI, its
    /// `[EPSG:2154]` safe-CURIE form and `EPSG:2154`.
    pub fn param(params: &Params, name: &str) -> Result<OgcCrs, ApiError> {
        match params.get(name)? {
            None => Ok(OgcCrs::Crs84),
            Some(s) => OgcCrs::parse(s).ok_or_else(|| {
                ApiError::bad_param(
                    name,
                    format!(
                        "unsupported CRS `{s}`; this server serves: {}",
                        supported_uris().join(", ")
                    ),
                )
            }),
        }
    }

    fn parse(s: &str) -> Option<OgcCrs> {
        let t = s.trim();
        let t = t
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(t);
        if t.eq_ignore_ascii_case(CRS84) || t.eq_ignore_ascii_case("OGC:CRS84") {
            return Some(OgcCrs::Crs84);
        }
        let code = t
            .strip_prefix(EPSG_PREFIX)
            .or_else(|| t.strip_prefix("EPSG:"))
            .or_else(|| t.strip_prefix("epsg:"))?;
        let code: u32 = code.parse().ok()?;
        EPSG_CODES.contains(&code).then_some(OgcCrs::Epsg(code))
    }

    /// The OGC URI.
    pub fn uri(self) -> String {
        match self {
            OgcCrs::Crs84 => CRS84.to_string(),
            OgcCrs::Epsg(c) => format!("{EPSG_PREFIX}{c}"),
        }
    }

    /// Whether the first axis is latitude (EPSG:4326).
    fn lat_first(self) -> bool {
        self == OgcCrs::Epsg(4326)
    }

    /// The transformation from this CRS to CRS84 (for `bbox-crs` and `filter-crs`).
    pub fn to_crs84(self) -> Result<Transform, ApiError> {
        Transform::new(self, Direction::ToCrs84)
    }

    /// The transformation from CRS84 to this CRS (for `crs`).
    pub fn from_crs84(self) -> Result<Transform, ApiError> {
        Transform::new(self, Direction::FromCrs84)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToCrs84,
    FromCrs84,
}

/// A coordinate transformation between CRS84 and a served CRS, through PROJ.
pub struct Transform {
    proj: Option<proj::Proj>,
    /// Reverse the axes of the non-CRS84 side (EPSG:4326).
    swap: bool,
    direction: Direction,
}

impl Transform {
    fn new(crs: OgcCrs, direction: Direction) -> Result<Transform, ApiError> {
        let proj = match crs {
            OgcCrs::Crs84 | OgcCrs::Epsg(4326) => None,
            OgcCrs::Epsg(code) => {
                let target = format!("EPSG:{code}");
                // new_known_crs normalises axis order: (lon, lat) and (easting, northing).
                let p = match direction {
                    Direction::FromCrs84 => proj::Proj::new_known_crs("OGC:CRS84", &target, None),
                    Direction::ToCrs84 => proj::Proj::new_known_crs(&target, "OGC:CRS84", None),
                };
                Some(p.map_err(|e| ApiError::Internal(format!("PROJ cannot use {target}: {e}")))?)
            }
        };
        Ok(Transform {
            proj,
            swap: crs.lat_first(),
            direction,
        })
    }

    /// Whether the transformation changes nothing.
    pub fn is_identity(&self) -> bool {
        self.proj.is_none() && !self.swap
    }

    /// Transforms one position: axis swap on the CRS84 side, then PROJ (if any).
    pub fn convert(&self, c: Coord<f64>) -> Result<Coord<f64>, TransformError> {
        match self.direction {
            Direction::ToCrs84 => self.project(self.swapped(c)),
            Direction::FromCrs84 => Ok(self.swapped(self.project(c)?)),
        }
    }

    /// `c` with its axes swapped when the other CRS is latitude first.
    fn swapped(&self, c: Coord<f64>) -> Coord<f64> {
        if self.swap {
            coord! {x: c.y, y: c.x}
        } else {
            c
        }
    }

    /// `c` through PROJ (unchanged without a projection); a non-finite image is an error.
    fn project(&self, c: Coord<f64>) -> Result<Coord<f64>, TransformError> {
        let Some(p) = &self.proj else {
            return Ok(c);
        };
        let (x, y) = p.convert((c.x, c.y)).map_err(|e| TransformError::Failed {
            x: c.x,
            y: c.y,
            reason: e.to_string(),
        })?;
        if !x.is_finite() || !y.is_finite() {
            return Err(TransformError::NoImage { x: c.x, y: c.y });
        }
        Ok(coord! {x: x, y: y})
    }

    /// Transforms a geometry in place; the first failure is returned.
    pub fn apply(&self, g: &mut Geometry<f64>) -> Result<(), TransformError> {
        if self.is_identity() {
            return Ok(());
        }
        let mut first = None;
        let mut f = |c: &mut Coord<f64>| -> Result<(), CrsError> {
            match self.convert(*c) {
                Ok(out) => {
                    *c = out;
                    Ok(())
                }
                Err(e) => {
                    first = Some(e);
                    Err(CrsError::Unparsable(String::new()))
                }
            }
        };
        let result = for_each_coord_mut(g, &mut f);
        result.map_err(|_| first.take().unwrap_or(TransformError::Unknown))
    }

    /// A box given in the source CRS as a CRS84 polygon: its edges are sampled, since a
    /// straight edge in one CRS is curved in the other.
    pub fn box_to_crs84(&self, [x0, y0, x1, y1]: [f64; 4]) -> Result<Polygon<f64>, TransformError> {
        const STEPS: usize = 32;
        let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
        let mut ring = Vec::with_capacity(4 * STEPS + 1);
        for w in corners.windows(2) {
            let ((ax, ay), (bx, by)) = (w[0], w[1]);
            for i in 0..STEPS {
                let t = i as f64 / STEPS as f64;
                ring.push(self.convert(coord! {x: ax + (bx - ax) * t, y: ay + (by - ay) * t})?);
            }
        }
        ring.push(ring[0]);
        Ok(Polygon::new(LineString(ring), vec![]))
    }
}

/// Why a position cannot be transformed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformError {
    #[error("cannot transform ({x}, {y}): {reason}")]
    Failed { x: f64, y: f64, reason: String },
    #[error("({x}, {y}) has no image in the CRS")]
    NoImage { x: f64, y: f64 },
    /// A failure that left no error (not expected: every failing position records one).
    #[error("")]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(OgcCrs::parse(CRS84), Some(OgcCrs::Crs84));
        assert_eq!(
            OgcCrs::parse("http://www.opengis.net/def/crs/EPSG/0/2154"),
            Some(OgcCrs::Epsg(2154))
        );
        assert_eq!(OgcCrs::parse("[EPSG:3857]"), Some(OgcCrs::Epsg(3857)));
        assert_eq!(OgcCrs::parse("EPSG:9999"), None);
    }

    #[test]
    fn round_trip_lambert93() {
        let there = OgcCrs::Epsg(2154).from_crs84().unwrap();
        let back = OgcCrs::Epsg(2154).to_crs84().unwrap();
        let p = coord! {x: 1.0, y: 49.5};
        let l93 = there.convert(p).unwrap();
        assert!((l93.x - 570_000.0).abs() < 100_000.0, "{l93:?}");
        let q = back.convert(l93).unwrap();
        assert!((q.x - p.x).abs() < 1e-9 && (q.y - p.y).abs() < 1e-9);
        let wgs = OgcCrs::Epsg(4326).from_crs84().unwrap();
        assert_eq!(wgs.convert(p).unwrap(), coord! {x: 49.5, y: 1.0});
    }
}
