//! GeoPackage reader for imports (OGC 12-128r18): a SQLite file whose `gpkg_contents` lists the
//! feature tables, `gpkg_geometry_columns` their geometry column and `gpkg_spatial_ref_sys`
//! their CRS. Geometries are GeoPackage binary blobs (a `GP` header, then WKB), read by
//! geozero. SQLite is the system library PROJ already links.

use std::path::Path;

use geozero::ToGeo;
use geozero::wkb::GpkgWkb;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value as Json};

use super::raw::RawFeature;
use super::{IngestError, Reject};
use crate::geo_util::Crs;

/// What the chosen feature table of a GeoPackage holds.
pub struct GpkgDoc {
    /// The table read.
    pub table: String,
    pub crs: Option<Crs>,
    pub features: Vec<RawFeature>,
    /// E.g. which table was chosen among several.
    pub warnings: Vec<String>,
}

/// One feature table of a GeoPackage.
struct FeatureTable {
    name: String,
    geometry_column: String,
    srs_id: i64,
}

fn err(e: impl std::fmt::Display) -> IngestError {
    IngestError::GeoPackage(e.to_string())
}

/// SQLite's errors on a damaged file, with what the user can do about it.
fn sqlite_err(e: rusqlite::Error) -> IngestError {
    let text = e.to_string();
    if matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    ) {
        err(format!(
            "the file is damaged or truncated (SQLite: {text}); copy it again from its source"
        ))
    } else {
        err(format!("SQLite: {text}"))
    }
}

/// `"name"` with inner quotes doubled, for table and column names in SQL.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Reads the features of one table of a GeoPackage: `table`, or the first feature table (in
/// `gpkg_contents` order) with a warning when there are several.
pub fn read_gpkg(path: &Path, table: Option<&str>) -> Result<GpkgDoc, IngestError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err)?;
    let tables = feature_tables(&conn)?;
    let mut warnings = Vec::new();
    let names = || {
        tables
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match table {
        Some(want) => tables.iter().find(|t| t.name == want).ok_or_else(|| {
            err(format!(
                "no feature table `{want}`; the feature tables are: {}",
                names()
            ))
        })?,
        None => {
            let first = tables.first().ok_or_else(|| {
                err("no feature table with a geometry column (gpkg_contents lists no `features` table registered in gpkg_geometry_columns)")
            })?;
            if tables.len() > 1 {
                warnings.push(format!(
                    "the GeoPackage holds {} feature tables ({}); importing `{}` (choose another with --table)",
                    tables.len(),
                    names(),
                    first.name
                ));
            }
            first
        }
    };
    let crs = table_crs(&conn, chosen.srs_id)?;
    let features = read_table(&conn, chosen)?;
    Ok(GpkgDoc {
        table: chosen.name.clone(),
        crs,
        features,
        warnings,
    })
}

/// The feature tables with their geometry column, in `gpkg_contents` order.
fn feature_tables(conn: &Connection) -> Result<Vec<FeatureTable>, IngestError> {
    let has = |name: &str| -> Result<bool, IngestError> {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(sqlite_err)
    };
    if !has("gpkg_contents")? {
        return Err(err(
            "not a GeoPackage: the SQLite file has no gpkg_contents table",
        ));
    }
    if !has("gpkg_geometry_columns")? {
        return Err(err(
            "no geometry column: the GeoPackage has no gpkg_geometry_columns table (does it hold only attribute tables or tiles?)",
        ));
    }
    let mut stmt = conn
        .prepare(
            "SELECT c.table_name, g.column_name, coalesce(g.srs_id, c.srs_id, 0)
             FROM gpkg_contents c JOIN gpkg_geometry_columns g ON g.table_name = c.table_name
             WHERE c.data_type = 'features' ORDER BY c.rowid",
        )
        .map_err(sqlite_err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(FeatureTable {
                name: r.get(0)?,
                geometry_column: r.get(1)?,
                srs_id: r.get(2)?,
            })
        })
        .map_err(sqlite_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_err)
}

/// The CRS of an `srs_id`: the authority code when `organization` names one, else the WKT
/// `definition`. The spec's undefined systems (0 geographic, -1 Cartesian) give `None`.
fn table_crs(conn: &Connection, srs_id: i64) -> Result<Option<Crs>, IngestError> {
    if srs_id == 0 || srs_id == -1 {
        return Ok(None);
    }
    let row = conn
        .query_row(
            "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
            [srs_id],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            },
        )
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => err(format!(
                "srs_id {srs_id} of the feature table is not in gpkg_spatial_ref_sys"
            )),
            other => sqlite_err(other),
        })?;
    let (org, code, definition) = row;
    match (org, code) {
        (Some(org), Some(code)) if code > 0 && !org.trim().eq_ignore_ascii_case("none") => {
            Ok(Some(Crs::parse(&format!("{}:{code}", org.trim()))?))
        }
        _ => match definition {
            Some(d) if !d.trim().is_empty() && !d.trim().eq_ignore_ascii_case("undefined") => {
                Ok(Some(Crs::Definition(d.trim().to_string())))
            }
            _ => Err(err(format!(
                "srs_id {srs_id} has neither an authority code nor a definition in gpkg_spatial_ref_sys"
            ))),
        },
    }
}

/// Every row of a feature table: the geometry blob decoded, the other columns as properties
/// (the integer primary key, a row number, is not a property; BOOLEAN columns become booleans).
fn read_table(conn: &Connection, table: &FeatureTable) -> Result<Vec<RawFeature>, IngestError> {
    // (name, declared type, is the primary key)
    let mut columns: Vec<(String, String, bool)> = Vec::new();
    {
        let mut info = conn
            .prepare(&format!("PRAGMA table_info({})", quoted(&table.name)))
            .map_err(sqlite_err)?;
        let rows = info
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(5)? > 0,
                ))
            })
            .map_err(sqlite_err)?;
        for row in rows {
            columns.push(row.map_err(sqlite_err)?);
        }
    }
    let Some(geom_at) = columns.iter().position(|c| c.0 == table.geometry_column) else {
        return Err(err(format!(
            "no geometry column: gpkg_geometry_columns names `{}`, which table `{}` does not have",
            table.geometry_column, table.name
        )));
    };
    let list = columns
        .iter()
        .map(|c| quoted(&c.0))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn
        .prepare(&format!("SELECT {list} FROM {}", quoted(&table.name)))
        .map_err(sqlite_err)?;
    let mut rows = stmt.query([]).map_err(sqlite_err)?;
    let mut features = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_err)? {
        let index = features.len();
        let mut properties = Map::new();
        let mut geometry = Err(Reject::NoGeometry);
        for (i, (name, ty, pk)) in columns.iter().enumerate() {
            let value = row.get_ref(i).map_err(sqlite_err)?;
            if i == geom_at {
                geometry = match value {
                    ValueRef::Null => Err(Reject::NoGeometry),
                    ValueRef::Blob(b) => decode_geometry(b),
                    _ => Err(Reject::MalformedGeometry(
                        "the geometry column holds a non-blob value".into(),
                    )),
                };
                continue;
            }
            if *pk && ty.eq_ignore_ascii_case("INTEGER") {
                continue;
            }
            let json = match value {
                ValueRef::Null => Json::Null,
                ValueRef::Integer(n) if ty.eq_ignore_ascii_case("BOOLEAN") => Json::Bool(n != 0),
                ValueRef::Integer(n) => Json::from(n),
                ValueRef::Real(x) => serde_json::Number::from_f64(x)
                    .map(Json::Number)
                    .unwrap_or(Json::Null),
                ValueRef::Text(t) => Json::String(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => continue,
            };
            properties.insert(name.clone(), json);
        }
        features.push(RawFeature {
            index,
            id: None,
            geometry,
            properties,
        });
    }
    Ok(features)
}

/// A GeoPackage geometry blob: `GP`, version, flags (bit 4: empty), srs id, envelope, WKB.
fn decode_geometry(blob: &[u8]) -> Result<geo_types::Geometry<f64>, Reject> {
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return Err(Reject::MalformedGeometry(
            "not a GeoPackage geometry blob (no `GP` header)".into(),
        ));
    }
    if blob[3] & 0b0001_0000 != 0 {
        return Err(Reject::NoGeometry);
    }
    GpkgWkb(blob)
        .to_geo()
        .map_err(|e| Reject::MalformedGeometry(format!("cannot decode the WKB: {e}")))
}
