//! Shapefile reader for imports: a `.shp` with its `.dbf` (attributes, required), `.prj` (CRS as
//! WKT, optional) and `.cpg` (the `.dbf` code page, optional) siblings, or a `.zip` holding
//! them. Polygon rings are assembled as the format says: clockwise rings are outer rings,
//! counter-clockwise ones holes of the outer ring that holds them.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use geo::{Contains, Winding};
use geo_types::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Polygon};
use serde_json::{Map, Value as Json};
use shapefile::dbase::{self, FieldValue};
use shapefile::record::traits::HasXY;
use shapefile::{PolygonRing, Shape};

use super::raw::RawFeature;
use super::{IngestError, Reject};
use crate::geo_util::Crs;

/// What a shapefile holds.
pub struct ShpDoc {
    pub crs: Option<Crs>,
    pub features: Vec<RawFeature>,
    pub warnings: Vec<String>,
}

/// The files of one shapefile, read into memory.
struct Parts {
    /// The `.shp` name, for messages.
    name: String,
    shp: Vec<u8>,
    dbf: Option<Vec<u8>>,
    prj: Option<Vec<u8>>,
    cpg: Option<Vec<u8>>,
}

fn err(e: impl std::fmt::Display) -> IngestError {
    IngestError::Shapefile(e.to_string())
}

/// Reads a `.shp` and its siblings (found whatever the case of their extension).
pub fn read_shapefile(path: &Path) -> Result<ShpDoc, IngestError> {
    let io = |p: &Path, source| IngestError::Io {
        path: p.display().to_string(),
        source,
    };
    let shp = std::fs::read(path).map_err(|e| io(path, e))?;
    let sibling = |ext: &str| -> Result<Option<Vec<u8>>, IngestError> {
        match find_sibling(path, ext) {
            Some(p) => std::fs::read(&p).map(Some).map_err(|e| io(&p, e)),
            None => Ok(None),
        }
    };
    read_parts(Parts {
        name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        ),
        shp,
        dbf: sibling("dbf")?,
        prj: sibling("prj")?,
        cpg: sibling("cpg")?,
    })
}

/// `path` with extension `ext`, or the file of the same directory whose name differs only by
/// the case of the extension (`ROADS.SHP` next to `ROADS.DBF`).
fn find_sibling(path: &Path, ext: &str) -> Option<PathBuf> {
    let exact = path.with_extension(ext);
    if exact.is_file() {
        return Some(exact);
    }
    let stem = path.file_stem()?.to_str()?.to_string();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let p = e.path();
        let same_stem = p.file_stem()?.to_str()? == stem;
        let same_ext = p.extension()?.to_str()?.eq_ignore_ascii_case(ext);
        (same_stem && same_ext).then_some(p)
    })
}

/// Reads the shapefile held in a zip: its only `.shp` (or the one named `table`, by file name
/// with or without extension) and the siblings of the same name.
pub fn read_shapefile_zip(bytes: &[u8], table: Option<&str>) -> Result<ShpDoc, IngestError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| err(format!("cannot read the zip: {e}")))?;
    let names: Vec<String> = zip
        .file_names()
        .filter(|n| !n.starts_with("__MACOSX/") && !n.ends_with('/'))
        .map(str::to_string)
        .collect();
    let lower = |n: &str| n.to_ascii_lowercase();
    let shps: Vec<&String> = names
        .iter()
        .filter(|n| lower(n).ends_with(".shp"))
        .collect();
    let base = |n: &str| n.rsplit('/').next().unwrap_or(n).to_string();
    let mut warnings = Vec::new();
    let shp = match table {
        Some(t) => *shps
            .iter()
            .find(|n| {
                let b = base(n);
                b == t || b[..b.len() - 4] == *t
            })
            .ok_or_else(|| {
                err(format!(
                    "the zip holds no shapefile `{t}`; its shapefiles are: {}",
                    shps.iter().map(|n| base(n)).collect::<Vec<_>>().join(", ")
                ))
            })?,
        None => {
            let first = shps.first().ok_or_else(|| {
                err(format!(
                    "the zip holds no .shp file; it holds: {}",
                    if names.is_empty() {
                        "nothing".to_string()
                    } else {
                        names.join(", ")
                    }
                ))
            })?;
            if shps.len() > 1 {
                warnings.push(format!(
                    "the zip holds {} shapefiles ({}); importing {} (choose another with --table)",
                    shps.len(),
                    shps.iter().map(|n| base(n)).collect::<Vec<_>>().join(", "),
                    base(first)
                ));
            }
            *first
        }
    };
    let stem = shp[..shp.len() - 4].to_string();
    let mut entry = |ext: &str| -> Result<Option<Vec<u8>>, IngestError> {
        let Some(name) = names
            .iter()
            .find(|n| n.len() == stem.len() + 4 && lower(n) == lower(&format!("{stem}.{ext}")))
        else {
            return Ok(None);
        };
        let mut f = zip
            .by_name(name)
            .map_err(|e| err(format!("cannot read {name} in the zip: {e}")))?;
        let mut out = Vec::new();
        f.read_to_end(&mut out)
            .map_err(|e| err(format!("cannot read {name} in the zip: {e}")))?;
        Ok(Some(out))
    };
    let parts = Parts {
        name: base(shp),
        shp: entry("shp")?.unwrap_or_default(),
        dbf: entry("dbf")?,
        prj: entry("prj")?,
        cpg: entry("cpg")?,
    };
    let mut doc = read_parts(parts)?;
    warnings.append(&mut doc.warnings);
    doc.warnings = warnings;
    Ok(doc)
}

fn read_parts(parts: Parts) -> Result<ShpDoc, IngestError> {
    let name = &parts.name;
    if parts.shp.is_empty() {
        return Err(IngestError::Empty);
    }
    let Some(dbf) = parts.dbf else {
        return Err(err(format!(
            "{name}: the .dbf file is missing; a shapefile's attributes are in the .dbf of the same name next to the .shp (send the .shp, .dbf, .prj and .cpg together, or a zip of them)"
        )));
    };
    let mut warnings = Vec::new();
    let crs = match &parts.prj {
        None => {
            warnings.push(format!(
                "{name}: no .prj file; coordinates are read as WGS84 unless --crs is given"
            ));
            None
        }
        Some(prj) => {
            let wkt = String::from_utf8_lossy(prj)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_string();
            if wkt.is_empty() {
                return Err(err(format!("{name}: the .prj file is empty")));
            }
            Some(Crs::parse_wkt(&wkt)?)
        }
    };
    let shapes = shapefile::ShapeReader::new(Cursor::new(parts.shp))
        .map_err(|e| err(format!("{name}: {e}")))?;
    let mut builder = dbase::ReaderBuilder::new();
    let from_cpg = parts.cpg.as_ref().and_then(|cpg| {
        let label = String::from_utf8_lossy(cpg).to_string();
        let e = code_page(&label);
        if e.is_none() {
            warnings.push(format!(
                "{name}: unknown code page `{}` in the .cpg; the .dbf header's is used",
                label.trim()
            ));
        }
        e
    });
    if let Some(e) = from_cpg.or_else(|| header_code_page(&dbf)) {
        builder = builder.with_encoding(e);
    }
    let records = builder
        .build(Cursor::new(dbf))
        .map_err(|e| err(format!("{name}: the .dbf cannot be read: {e}")))?;
    let mut reader = shapefile::Reader::new(shapes, records);
    let mut features = Vec::new();
    for item in reader.iter_shapes_and_records() {
        let index = features.len();
        let (shape, record) = item.map_err(|e| err(format!("{name}: record {index}: {e}")))?;
        let mut properties = Map::new();
        for (field, value) in record {
            properties.insert(field, field_json(value));
        }
        features.push(RawFeature {
            index,
            id: None,
            geometry: shape_geometry(shape),
            properties,
        });
    }
    Ok(ShpDoc {
        crs,
        features,
        warnings,
    })
}

/// The encoding a `.cpg` names: UTF-8 and the Latin-1 family (read as Windows-1252, its
/// superset) by their usual spellings, else what the dbase crate knows.
fn code_page(label: &str) -> Option<dbase::encoding::DynEncoding> {
    let norm: String = label
        .trim()
        .trim_start_matches('\u{feff}')
        .to_ascii_uppercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let name = match norm.as_str() {
        "UTF8" | "65001" => "UTF-8",
        "ISO88591" | "88591" | "LATIN1" | "ISOLATIN1" | "1252" | "CP1252" | "WINDOWS1252"
        | "ANSI1252" | "28591" => "1252",
        _ => label.trim(),
    };
    dbase::encoding::DynEncoding::from_name(name)
}

/// The encoding of a `.dbf` without `.cpg` whose header (byte 29, the language driver id)
/// the dbase crate leaves to lossy UTF-8: 0x57 ("ANSI", what GDAL and ArcGIS write for
/// Latin-1 data) is Windows-1252; 0 (none) is UTF-8 when the records are valid UTF-8, else
/// Windows-1252. Other ids are the dbase crate's business (`None`).
fn header_code_page(dbf: &[u8]) -> Option<dbase::encoding::DynEncoding> {
    let name = match dbf.get(29)? {
        0x57 => "1252",
        0x00 if std::str::from_utf8(dbf.get(32..).unwrap_or_default()).is_ok() => "UTF-8",
        0x00 => "1252",
        _ => return None,
    };
    dbase::encoding::DynEncoding::from_name(name)
}

fn field_json(v: FieldValue) -> Json {
    let num = |x: f64| {
        if x.fract() == 0.0 && x.abs() < 9e15 {
            Json::from(x as i64)
        } else {
            serde_json::Number::from_f64(x)
                .map(Json::Number)
                .unwrap_or(Json::Null)
        }
    };
    match v {
        FieldValue::Character(Some(s)) | FieldValue::Memo(s) => Json::String(s),
        FieldValue::Numeric(Some(x)) | FieldValue::Double(x) | FieldValue::Currency(x) => num(x),
        FieldValue::Float(Some(x)) => num(f64::from(x)),
        FieldValue::Integer(n) => Json::from(n),
        FieldValue::Logical(Some(b)) => Json::Bool(b),
        FieldValue::Date(Some(d)) => {
            Json::String(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }
        FieldValue::DateTime(dt) => {
            let d = dt.date();
            let t = dt.time();
            Json::String(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                d.year(),
                d.month(),
                d.day(),
                t.hours(),
                t.minutes(),
                t.seconds()
            ))
        }
        FieldValue::Character(None)
        | FieldValue::Numeric(None)
        | FieldValue::Float(None)
        | FieldValue::Logical(None)
        | FieldValue::Date(None) => Json::Null,
    }
}

fn xy<P: HasXY>(p: &P) -> Coord<f64> {
    Coord { x: p.x(), y: p.y() }
}

fn points<P: HasXY>(pts: &[P]) -> Vec<Coord<f64>> {
    pts.iter().map(xy).collect()
}

fn shape_geometry(shape: Shape) -> Result<Geometry<f64>, Reject> {
    match shape {
        Shape::NullShape => Err(Reject::NoGeometry),
        Shape::Point(p) => Ok(Geometry::Point(xy(&p).into())),
        Shape::PointM(p) => Ok(Geometry::Point(xy(&p).into())),
        Shape::PointZ(p) => Ok(Geometry::Point(xy(&p).into())),
        Shape::Multipoint(m) => Ok(multipoint(points(m.points()))),
        Shape::MultipointM(m) => Ok(multipoint(points(m.points()))),
        Shape::MultipointZ(m) => Ok(multipoint(points(m.points()))),
        Shape::Polyline(l) => Ok(lines(
            l.parts().iter().map(|p| points(p.as_slice())).collect(),
        )),
        Shape::PolylineM(l) => Ok(lines(
            l.parts().iter().map(|p| points(p.as_slice())).collect(),
        )),
        Shape::PolylineZ(l) => Ok(lines(
            l.parts().iter().map(|p| points(p.as_slice())).collect(),
        )),
        Shape::Polygon(p) => polygons(p.rings().iter().map(ring).collect()),
        Shape::PolygonM(p) => polygons(p.rings().iter().map(ring).collect()),
        Shape::PolygonZ(p) => polygons(p.rings().iter().map(ring).collect()),
        Shape::Multipatch(_) => Err(Reject::MalformedGeometry(
            "a Multipatch (3D surface) cannot be imported".into(),
        )),
    }
}

/// A ring and whether the file marks it outer (clockwise).
fn ring<P: HasXY>(r: &PolygonRing<P>) -> (bool, Vec<Coord<f64>>) {
    match r {
        PolygonRing::Outer(p) => (true, points(p)),
        PolygonRing::Inner(p) => (false, points(p)),
    }
}

fn multipoint(pts: Vec<Coord<f64>>) -> Geometry<f64> {
    if pts.len() == 1 {
        Geometry::Point(pts[0].into())
    } else {
        Geometry::MultiPoint(MultiPoint(pts.into_iter().map(Into::into).collect()))
    }
}

fn lines(parts: Vec<Vec<Coord<f64>>>) -> Geometry<f64> {
    let mut ls: Vec<LineString<f64>> = parts.into_iter().map(LineString).collect();
    if ls.len() == 1 {
        Geometry::LineString(ls.remove(0))
    } else {
        Geometry::MultiLineString(MultiLineString(ls))
    }
}

/// Outer rings become polygons; each hole goes to the first outer ring that contains it (the
/// last outer ring read before it when none does). A hole with no outer ring at all is an
/// outer ring drawn the wrong way round, as some writers do: it is taken as one.
fn polygons(rings: Vec<(bool, Vec<Coord<f64>>)>) -> Result<Geometry<f64>, Reject> {
    let mut outers: Vec<(Polygon<f64>, Vec<LineString<f64>>)> = Vec::new();
    let mut holes: Vec<(usize, LineString<f64>)> = Vec::new();
    for (outer, pts) in rings {
        let mut line = LineString(pts);
        if outer {
            line.make_ccw_winding();
            outers.push((Polygon::new(line, vec![]), Vec::new()));
        } else {
            holes.push((outers.len(), line));
        }
    }
    if outers.is_empty() {
        for (_, mut h) in holes.drain(..) {
            h.make_ccw_winding();
            outers.push((Polygon::new(h, vec![]), Vec::new()));
        }
    }
    if outers.is_empty() {
        return Err(Reject::MalformedGeometry("a polygon with no ring".into()));
    }
    for (read_before, mut hole) in holes {
        hole.make_cw_winding();
        let inside = hole.0.first().and_then(|c| {
            outers
                .iter()
                .position(|(p, _)| p.contains(&geo_types::Point::from(*c)))
        });
        let at = inside.unwrap_or(read_before.saturating_sub(1));
        outers[at].1.push(hole);
    }
    let mut polys: Vec<Polygon<f64>> = outers
        .into_iter()
        .map(|(p, h)| Polygon::new(p.into_inner().0, h))
        .collect();
    Ok(if polys.len() == 1 {
        Geometry::Polygon(polys.remove(0))
    } else {
        Geometry::MultiPolygon(MultiPolygon(polys))
    })
}
