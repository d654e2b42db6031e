//! CSV reader: geometry from lon/lat columns, x/y columns (projected, with `--crs`) or a WKT
//! column. The delimiter (`,`, `;` or tab) is detected from the header line; French files often
//! use `;` and decimal commas, which the property conversion accepts.

use geozero::ToGeo;
use geozero::wkt::Wkt;
use serde_json::{Map, Value as Json};

use super::raw::RawFeature;
use super::{IngestError, Reject};

/// Where a CSV file keeps its geometry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvGeometry {
    /// Two columns (by position): x/longitude, y/latitude.
    XY { x: usize, y: usize },
    /// One WKT column.
    Wkt(usize),
}

const X_NAMES: &[&str] = &["lon", "lng", "long", "longitude", "x"];
const Y_NAMES: &[&str] = &["lat", "latitude", "y"];
const WKT_NAMES: &[&str] = &["wkt", "geometry", "geom", "the_geom"];

/// Parses a CSV document.
pub fn read_csv(bytes: &[u8]) -> Result<Vec<RawFeature>, IngestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first_line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first_line.iter().filter(|b| *b == d).count())
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| IngestError::Csv(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let geometry = locate_geometry(&headers)?;
    let mut out = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let raw = match record {
            Err(e) => RawFeature {
                index,
                id: None,
                geometry: Err(Reject::MalformedRow(e.to_string())),
                properties: Map::new(),
            },
            Ok(rec) if rec.len() != headers.len() => RawFeature {
                index,
                id: None,
                geometry: Err(Reject::MalformedRow(format!(
                    "{} fields where the header has {}",
                    rec.len(),
                    headers.len()
                ))),
                properties: Map::new(),
            },
            Ok(rec) => {
                let cells: Vec<&str> = rec.iter().collect();
                let geom = row_geometry(&cells, &geometry);
                let mut properties = Map::new();
                for (i, (h, v)) in headers.iter().zip(&cells).enumerate() {
                    let is_geom = match geometry {
                        CsvGeometry::XY { x, y } => i == x || i == y,
                        CsvGeometry::Wkt(w) => i == w,
                    };
                    if !is_geom && !h.is_empty() {
                        properties.insert(h.clone(), Json::String(v.to_string()));
                    }
                }
                RawFeature {
                    index,
                    id: None,
                    geometry: geom,
                    properties,
                }
            }
        };
        out.push(raw);
    }
    Ok(out)
}

fn locate_geometry(headers: &[String]) -> Result<CsvGeometry, IngestError> {
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    if let Some(w) = find(WKT_NAMES) {
        return Ok(CsvGeometry::Wkt(w));
    }
    match (find(X_NAMES), find(Y_NAMES)) {
        (Some(x), Some(y)) => Ok(CsvGeometry::XY { x, y }),
        _ => Err(IngestError::NoGeometryColumns {
            headers: headers.join(", "),
        }),
    }
}

fn row_geometry(
    cells: &[&str],
    geometry: &CsvGeometry,
) -> Result<geo_types::Geometry<f64>, Reject> {
    match *geometry {
        CsvGeometry::XY { x, y } => {
            let (sx, sy) = (cells[x].trim(), cells[y].trim());
            if sx.is_empty() || sy.is_empty() {
                return Err(Reject::NoGeometry);
            }
            let num = |s: &str| -> Result<f64, Reject> {
                let v = s
                    .parse::<f64>()
                    .or_else(|_| s.replace(',', ".").parse::<f64>())
                    .map_err(|_| Reject::MalformedGeometry(format!("`{s}` is not a number")))?;
                if v.is_finite() {
                    Ok(v)
                } else {
                    Err(Reject::NonFinite(s.to_string()))
                }
            };
            Ok(geo_types::Geometry::Point(geo_types::Point::new(
                num(sx)?,
                num(sy)?,
            )))
        }
        CsvGeometry::Wkt(w) => {
            let s = cells[w].trim();
            if s.is_empty() {
                return Err(Reject::NoGeometry);
            }
            Wkt(s)
                .to_geo()
                .map_err(|e| Reject::MalformedGeometry(format!("WKT: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semicolons_wkt_and_bad_rows() {
        let csv =
            "nom;wkt;surface\nA;POINT (0.1 49.5);12,5\nB;POINT (oops);3\nC;POINT (1 2);4;extra\n";
        let rows = read_csv(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].geometry.is_ok());
        assert_eq!(rows[0].properties["surface"], Json::from("12,5"));
        assert!(matches!(
            rows[1].geometry,
            Err(Reject::MalformedGeometry(_))
        ));
        assert!(matches!(rows[2].geometry, Err(Reject::MalformedRow(_))));
        let err = read_csv(b"a,b\n1,2\n").unwrap_err();
        assert!(err.to_string().contains("lon"), "{err}");
    }
}
