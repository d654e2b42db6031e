//! Coordinate reference systems: parsing the ways files name them, and reprojection to WGS84
//! (lon, lat) with PROJ (full PROJ through the `proj` crate, with its database embedded).

use std::fmt;

use geo_types::Geometry;

/// A coordinate reference system, as found in a file header or given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Crs {
    /// WGS84 longitude, latitude: EPSG:4326 as GeoJSON writes it, or OGC:CRS84.
    Wgs84,
    /// An authority code, e.g. `EPSG:2154`.
    Code { authority: String, code: String },
    /// A full definition (WKT or PROJ string), e.g. from a FlatGeobuf header without a code.
    Definition(String),
}

/// Why a CRS cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CrsError {
    #[error(
        "cannot read the CRS name `{0}`; write it as EPSG:NNNN, urn:ogc:def:crs:EPSG::NNNN or an OGC URL"
    )]
    Unparsable(String),
    #[error(
        "the CRS definition is not WKT (expected PROJCS[…], GEOGCS[…], PROJCRS[…] or GEOGCRS[…]); it starts with `{0}`"
    )]
    NotWkt(String),
    #[error("unknown CRS {crs}: PROJ says: {reason}")]
    Unknown { crs: String, reason: String },
    #[error("cannot reproject ({x}, {y}) from {crs} to WGS84: {reason}")]
    Transform {
        crs: String,
        x: f64,
        y: f64,
        reason: String,
    },
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Crs::Wgs84 => f.write_str("EPSG:4326"),
            Crs::Code { authority, code } => write!(f, "{authority}:{code}"),
            Crs::Definition(d) => match wkt_name(d) {
                // `PROJCS["RGF_1993_Lambert_93",…]` → `WKT "RGF_1993_Lambert_93"`
                Some(name) => write!(f, "WKT \"{name}\""),
                None => {
                    let short: String = d.chars().take(60).collect();
                    write!(f, "{short}")
                }
            },
        }
    }
}

/// The name of a WKT definition: the first quoted string, when the text opens with
/// `KEYWORD["`.
fn wkt_name(d: &str) -> Option<&str> {
    let open = d.find('[')?;
    if !d[..open]
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    let rest = d[open + 1..].strip_prefix('"')?;
    rest.split_once('"').map(|(name, _)| name)
}

impl Crs {
    /// Parses `EPSG:2154`, `2154`, `urn:ogc:def:crs:EPSG::2154`, `urn:ogc:def:crs:EPSG:6.18:2154`,
    /// `http://www.opengis.net/def/crs/EPSG/0/2154`, and the CRS84 names.
    ///
    /// ```
    /// use terriens::geo_util::Crs;
    /// assert_eq!(Crs::parse("urn:ogc:def:crs:EPSG::2154").unwrap().to_string(), "EPSG:2154");
    /// assert_eq!(Crs::parse("urn:ogc:def:crs:OGC:1.3:CRS84").unwrap(), Crs::Wgs84);
    /// assert!(Crs::parse("Lambert 93 please").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Crs, CrsError> {
        let t = s.trim();
        let upper = t.to_ascii_uppercase();
        if upper.ends_with("CRS84") || upper.ends_with("CRS:84") {
            return Ok(Crs::Wgs84);
        }
        if t.starts_with("PROJCS[")
            || t.starts_with("GEOGCS[")
            || t.starts_with("PROJCRS[")
            || t.starts_with("GEOGCRS[")
            || t.starts_with("+proj")
        {
            return Ok(Crs::Definition(t.to_string()));
        }
        let (authority, code) = if let Some(rest) = upper.strip_prefix("URN:OGC:DEF:CRS:") {
            // urn:ogc:def:crs:AUTH:[version]:CODE
            let parts: Vec<&str> = rest.split(':').collect();
            match parts.as_slice() {
                [auth, _version, code] => (auth.to_string(), code.to_string()),
                [auth, code] => (auth.to_string(), code.to_string()),
                _ => return Err(CrsError::Unparsable(s.to_string())),
            }
        } else if let Some(pos) = upper.find("/DEF/CRS/") {
            // http://www.opengis.net/def/crs/AUTH/VERSION/CODE
            let parts: Vec<&str> = upper[pos + 9..].split('/').collect();
            match parts.as_slice() {
                [auth, _version, code] => (auth.to_string(), code.to_string()),
                _ => return Err(CrsError::Unparsable(s.to_string())),
            }
        } else if let Some((auth, code)) = upper.split_once(':') {
            (auth.to_string(), code.to_string())
        } else if !upper.is_empty() && upper.bytes().all(|b| b.is_ascii_digit()) {
            ("EPSG".to_string(), upper.clone())
        } else {
            return Err(CrsError::Unparsable(s.to_string()));
        };
        if authority.is_empty()
            || code.is_empty()
            || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(CrsError::Unparsable(s.to_string()));
        }
        if authority == "EPSG" && code == "4326" {
            // GeoJSON and most tools write EPSG:4326 data in lon, lat order.
            return Ok(Crs::Wgs84);
        }
        Ok(Crs::Code { authority, code })
    }

    /// A WKT definition (WKT1, ESRI's WKT1 of `.prj` files, or WKT2), for PROJ to read; a
    /// definition PROJ does not know fails later, in [`Reprojector::to_wgs84`].
    ///
    /// ```
    /// use terriens::geo_util::Crs;
    /// assert!(Crs::parse_wkt("PROJCS[\"RGF93_Lambert_93\",GEOGCS[\"GCS_RGF_1993\"]]").is_ok());
    /// assert!(Crs::parse_wkt("Lambert 93").is_err());
    /// let l93 = Crs::parse_wkt("PROJCS[\"RGF_1993_Lambert_93\",GEOGCS[\"GCS_RGF_1993\"]]").unwrap();
    /// assert_eq!(l93.to_string(), "WKT \"RGF_1993_Lambert_93\"");
    /// ```
    pub fn parse_wkt(wkt: &str) -> Result<Crs, CrsError> {
        const KEYWORDS: &[&str] = &[
            "PROJCS[",
            "GEOGCS[",
            "GEOCCS[",
            "COMPD_CS[",
            "LOCAL_CS[",
            "PROJCRS[",
            "GEOGCRS[",
            "GEODCRS[",
            "BOUNDCRS[",
            "COMPOUNDCRS[",
            "PROJECTEDCRS[",
            "GEOGRAPHICCRS[",
        ];
        let t = wkt.trim().trim_start_matches('\u{feff}').trim();
        let upper = t.to_ascii_uppercase();
        if KEYWORDS.iter().any(|k| upper.starts_with(k)) {
            Ok(Crs::Definition(t.to_string()))
        } else {
            Err(CrsError::NotWkt(t.chars().take(40).collect()))
        }
    }

    /// An EPSG code as a `Crs`.
    pub fn epsg(code: u32) -> Crs {
        if code == 4326 {
            Crs::Wgs84
        } else {
            Crs::Code {
                authority: "EPSG".into(),
                code: code.to_string(),
            }
        }
    }

    fn proj_definition(&self) -> String {
        match self {
            Crs::Wgs84 => "OGC:CRS84".to_string(),
            Crs::Code { authority, code } => format!("{authority}:{code}"),
            Crs::Definition(d) => d.clone(),
        }
    }
}

/// Reprojects coordinates from one CRS to WGS84 lon/lat. Identity for WGS84 input.
pub struct Reprojector {
    crs: Crs,
    proj: Option<proj::Proj>,
}

impl fmt::Debug for Reprojector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reprojector({})", self.crs)
    }
}

impl Reprojector {
    /// Prepares the transformation; fails for a CRS PROJ does not know.
    pub fn to_wgs84(crs: &Crs) -> Result<Reprojector, CrsError> {
        if *crs == Crs::Wgs84 {
            return Ok(Reprojector {
                crs: crs.clone(),
                proj: None,
            });
        }
        // new_known_crs normalises axis order for visualisation: (x, y) in, (lon, lat) out.
        let proj =
            proj::Proj::new_known_crs(&crs.proj_definition(), "OGC:CRS84", None).map_err(|e| {
                CrsError::Unknown {
                    crs: crs.to_string(),
                    reason: e.to_string(),
                }
            })?;
        Ok(Reprojector {
            crs: crs.clone(),
            proj: Some(proj),
        })
    }

    /// The source CRS.
    pub fn crs(&self) -> &Crs {
        &self.crs
    }

    /// Whether the source is already WGS84.
    pub fn is_identity(&self) -> bool {
        self.proj.is_none()
    }

    /// Reprojects one coordinate to (lon, lat).
    pub fn convert(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        match &self.proj {
            None => Ok((x, y)),
            Some(p) => {
                let (lon, lat) = p
                    .convert((x, y))
                    .map_err(|e| self.transform_error(x, y, e))?;
                if !lon.is_finite() || !lat.is_finite() {
                    return Err(self.transform_error(x, y, "result is not finite"));
                }
                Ok((lon, lat))
            }
        }
    }

    /// Reprojects a geometry in place.
    pub fn reproject(&self, g: &mut Geometry<f64>) -> Result<(), CrsError> {
        if self.proj.is_none() {
            return Ok(());
        }
        let mut f = |c: &mut geo_types::Coord<f64>| -> Result<(), CrsError> {
            (c.x, c.y) = self.convert(c.x, c.y)?;
            Ok(())
        };
        for_each_coord_mut(g, &mut f)
    }

    fn transform_error(&self, x: f64, y: f64, reason: impl fmt::Display) -> CrsError {
        CrsError::Transform {
            crs: self.crs.to_string(),
            x,
            y,
            reason: reason.to_string(),
        }
    }
}

/// Applies `f` to every coordinate. Written by hand because geo's `try_map_coords_in_place`
/// recurses without bound on `GeometryCollection` when the closure borrows state.
pub fn for_each_coord_mut(
    g: &mut Geometry<f64>,
    f: &mut dyn FnMut(&mut geo_types::Coord<f64>) -> Result<(), CrsError>,
) -> Result<(), CrsError> {
    use geo_types::LineString;
    fn line(
        l: &mut LineString<f64>,
        f: &mut dyn FnMut(&mut geo_types::Coord<f64>) -> Result<(), CrsError>,
    ) -> Result<(), CrsError> {
        l.0.iter_mut().try_for_each(f)
    }
    fn poly(
        p: &mut geo_types::Polygon<f64>,
        f: &mut dyn FnMut(&mut geo_types::Coord<f64>) -> Result<(), CrsError>,
    ) -> Result<(), CrsError> {
        let mut err = Ok(());
        p.exterior_mut(|e| err = line(e, f));
        err.as_ref().map_err(Clone::clone)?;
        p.interiors_mut(|rings| {
            for r in rings {
                if err.is_ok() {
                    err = line(r, f);
                }
            }
        });
        err
    }
    match g {
        Geometry::Point(p) => f(&mut p.0),
        Geometry::Line(l) => {
            f(&mut l.start)?;
            f(&mut l.end)
        }
        Geometry::LineString(l) => line(l, f),
        Geometry::Polygon(p) => poly(p, f),
        Geometry::MultiPoint(mp) => mp.0.iter_mut().try_for_each(|p| f(&mut p.0)),
        Geometry::MultiLineString(ml) => ml.0.iter_mut().try_for_each(|l| line(l, f)),
        Geometry::MultiPolygon(mp) => mp.0.iter_mut().try_for_each(|p| poly(p, f)),
        Geometry::GeometryCollection(gc) => {
            gc.0.iter_mut().try_for_each(|g| for_each_coord_mut(g, f))
        }
        Geometry::Rect(_) | Geometry::Triangle(_) => {
            let mut as_poly = match g {
                Geometry::Rect(r) => Geometry::Polygon(r.to_polygon()),
                Geometry::Triangle(t) => Geometry::Polygon(t.to_polygon()),
                _ => unreachable!("matched above"),
            };
            for_each_coord_mut(&mut as_poly, f)?;
            *g = as_poly;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        let l93 = Crs::epsg(2154);
        for s in [
            "EPSG:2154",
            "epsg:2154",
            "2154",
            "urn:ogc:def:crs:EPSG::2154",
            "urn:ogc:def:crs:EPSG:6.18:2154",
            "http://www.opengis.net/def/crs/EPSG/0/2154",
        ] {
            assert_eq!(Crs::parse(s).unwrap(), l93, "{s}");
        }
        assert_eq!(Crs::parse("EPSG:4326").unwrap(), Crs::Wgs84);
        assert!(Crs::parse("").is_err());
        assert!(Crs::parse("EPSG:").is_err());
    }

    #[test]
    fn unknown_code_is_an_error() {
        let err = Reprojector::to_wgs84(&Crs::epsg(99999)).unwrap_err();
        assert!(matches!(err, CrsError::Unknown { .. }), "{err}");
    }
}
