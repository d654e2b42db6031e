//! Reading resource files into typed, valid, WGS84 features.
//!
//! Pipeline: detect the format (GeoJSON, FlatGeobuf, CSV, gzip-compressed or not; GeoPackage;
//! Shapefile, as a `.shp` with its siblings or a `.zip`) → read raw
//! features in the source CRS → resolve ids → validate and reproject each feature
//! ([`validate`]) → report every rejected feature with its index and reason. With `strict`,
//! one rejection rejects the file.

pub mod bmo;
mod csv;
mod fgb;
mod geojson;
mod gpkg;
mod raw;
mod reject;
mod shp;
pub mod validate;
pub mod validity;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use indicatif::ProgressBar;
use serde_json::Value as Json;

pub use self::csv::read_csv;
pub use self::fgb::{JsonProps, read_fgb};
pub use self::geojson::read_geojson;
pub use self::gpkg::{GpkgDoc, read_gpkg};
pub use self::shp::{ShpDoc, read_shapefile, read_shapefile_zip};
pub use raw::{RawFeature, RawId, geometry_from_geojson};
pub use reject::Reject;
pub use validate::{Rules, validate_feature, validate_geometry};

use crate::geo_util::{Crs, CrsError, Reprojector};
use crate::model::{Feature, FeatureId, Layer, MAX_FEATURE_ID, schema};

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    FlatGeobuf,
    Csv,
    /// An OGC GeoPackage (SQLite): one feature table.
    GeoPackage,
    /// An ESRI Shapefile: a `.shp` with its `.dbf`/`.prj`/`.cpg`, or a `.zip` of them.
    Shapefile,
}

impl Format {
    /// From a file name (`.geojson`, `.json`, `.fgb`, `.csv`, `.tsv`, `.txt`, `.gpkg`, `.shp`,
    /// `.zip`; `.gz` stripped).
    pub fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let ext = name.rsplit_once('.')?.1;
        match ext {
            "geojson" | "json" => Some(Format::GeoJson),
            "fgb" => Some(Format::FlatGeobuf),
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "gpkg" => Some(Format::GeoPackage),
            "shp" | "zip" => Some(Format::Shapefile),
            _ => None,
        }
    }

    /// A binary format recognised by its magic bytes: FlatGeobuf `fgb`, SQLite's
    /// `SQLite format 3\0` (a GeoPackage), a zip's `PK\x03\x04` (a zipped shapefile), the
    /// shapefile file code 9994 (big-endian). These win over a misleading extension.
    pub fn from_magic(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(b"fgb") {
            Some(Format::FlatGeobuf)
        } else if bytes.starts_with(b"SQLite format 3\0") {
            Some(Format::GeoPackage)
        } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0, 0, 0x27, 0x0a]) {
            Some(Format::Shapefile)
        } else {
            None
        }
    }

    /// From the first bytes.
    pub fn sniff(bytes: &[u8]) -> Format {
        if let Some(f) = Format::from_magic(bytes) {
            return f;
        }
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') | Some(b'[') => Format::GeoJson,
            _ => Format::Csv,
        }
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub layer: Layer,
    /// CRS of the coordinates; overrides what the file declares.
    pub crs: Option<Crs>,
    /// Reject the whole file if any feature is rejected.
    pub strict: bool,
    /// Values given to every feature (`--set field=value`), over those of the file.
    pub set: Vec<(String, String)>,
    /// Property holding the feature id.
    pub id_field: Option<String>,
    /// See [`Rules::as_holders`].
    pub as_holders: bool,
    /// First id given to features that carry none.
    pub first_free_id: FeatureId,
    /// The GeoPackage table (or the shapefile of a zip) to read, when there are several.
    pub table: Option<String>,
}

impl ImportOptions {
    pub fn new(layer: Layer) -> ImportOptions {
        ImportOptions {
            layer,
            crs: None,
            strict: false,
            set: Vec::new(),
            id_field: None,
            as_holders: false,
            first_free_id: 1,
            table: None,
        }
    }
}

/// One rejected feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Position of the feature in the input (0-based; for CSV, the data row).
    pub index: usize,
    pub reason: Reject,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "feature {}: {}", self.index, self.reason)
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub layer: Layer,
    pub format: Format,
    /// CRS the coordinates were read in.
    pub crs: Crs,
    /// Features read from the input.
    pub read: usize,
    pub rejected: Vec<Rejection>,
    /// Notes for the user (e.g. `--crs` overriding the file's CRS).
    pub warnings: Vec<String>,
}

impl ImportReport {
    /// Number of features accepted.
    pub fn accepted(&self) -> usize {
        self.read - self.rejected.len()
    }
}

/// Features ready for a layer, and the report.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub features: Vec<Feature>,
    pub report: ImportReport,
}

/// Why a file cannot be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the file is empty")]
    Empty,
    #[error("broken JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("not GeoJSON: {0}")]
    NotGeoJson(String),
    #[error("CSV: {0}")]
    Csv(String),
    #[error(
        "CSV has no geometry columns: expected lon/lat (or longitude/latitude, x/y) or a WKT column (wkt, geometry); found: {headers}"
    )]
    NoGeometryColumns { headers: String },
    #[error("FlatGeobuf: {0}")]
    Fgb(String),
    #[error("GeoPackage: {0}")]
    GeoPackage(String),
    #[error("Shapefile: {0}")]
    Shapefile(String),
    #[error("{0} cannot be read from memory: import it from its file")]
    NeedsFile(&'static str),
    #[error(transparent)]
    Crs(#[from] CrsError),
    #[error("--set {0}: expected FIELD=VALUE with a field of the layer ({1})")]
    BadSet(String, String),
    #[error("--as-holders applies to waste_deposits only, not {0}")]
    HoldersOnly(Layer),
    #[error(
        "strict import: {rejected} of {read} features rejected, nothing imported; first: {first}"
    )]
    Strict {
        rejected: usize,
        read: usize,
        first: Rejection,
    },
}

/// Reads and validates a file.
pub fn import_file(
    path: &Path,
    opts: &ImportOptions,
    progress: &ProgressBar,
) -> Result<ImportOutcome, IngestError> {
    let io = |source| IngestError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(io)?;
    let by_name = Format::from_path(path);
    match Format::from_magic(&head).or(by_name) {
        Some(Format::GeoPackage) => {
            if head.is_empty() {
                return Err(IngestError::Empty);
            }
            let doc = read_gpkg(path, opts.table.as_deref())?;
            let outcome = import_raws(doc.crs, doc.features, Format::GeoPackage, opts, progress)?;
            return Ok(with_warnings_first(doc.warnings, outcome));
        }
        Some(Format::Shapefile) if !head.starts_with(b"PK") => {
            if head.is_empty() {
                return Err(IngestError::Empty);
            }
            let doc = read_shapefile(path)?;
            let outcome = import_raws(doc.crs, doc.features, Format::Shapefile, opts, progress)?;
            return Ok(with_warnings_first(doc.warnings, outcome));
        }
        _ => {}
    }
    let mut bytes = std::fs::read(path).map_err(io)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(io)?;
        bytes = out;
    }
    let format = Format::from_magic(&bytes)
        .or(by_name)
        .unwrap_or_else(|| Format::sniff(&bytes));
    import_bytes(&bytes, format, opts, progress)
}

/// Reads and validates a document held in memory. Steps: read the document's features →
/// choose the CRS (the one given wins over the one declared, with a warning) → validate each
/// feature (ids, `--set` values, the layer's rules) → refuse all in strict mode if any failed.
pub fn import_bytes(
    bytes: &[u8],
    format: Format,
    opts: &ImportOptions,
    progress: &ProgressBar,
) -> Result<ImportOutcome, IngestError> {
    let (declared, raws, warnings) = read_document(bytes, format, opts.table.as_deref())?;
    let outcome = import_raws(declared, raws, format, opts, progress)?;
    Ok(with_warnings_first(warnings, outcome))
}

/// The reader's warnings (e.g. which table was read), then those of validation.
fn with_warnings_first(mut first: Vec<String>, mut outcome: ImportOutcome) -> ImportOutcome {
    first.append(&mut outcome.report.warnings);
    outcome.report.warnings = first;
    outcome
}

/// Validates the raw features of a document read in `format`, whose CRS is `declared`.
fn import_raws(
    declared: Option<Crs>,
    raws: Vec<RawFeature>,
    format: Format,
    opts: &ImportOptions,
    progress: &ProgressBar,
) -> Result<ImportOutcome, IngestError> {
    if opts.as_holders && opts.layer != Layer::WasteDeposits {
        return Err(IngestError::HoldersOnly(opts.layer));
    }
    let mut warnings = Vec::new();
    let crs = choose_crs(opts.crs.as_ref(), declared, &mut warnings);
    let reprojector = Reprojector::to_wgs84(&crs)?;
    let set = parse_set(&opts.set, opts.layer)?;
    let read = raws.len();
    progress.set_length(read as u64);
    let (features, rejected) = validate_all(raws, opts, &set, &reprojector, progress);
    progress.finish_and_clear();
    if opts.strict && !rejected.is_empty() {
        return Err(IngestError::Strict {
            rejected: rejected.len(),
            read,
            first: rejected[0].clone(),
        });
    }
    Ok(ImportOutcome {
        features,
        report: ImportReport {
            layer: opts.layer,
            format,
            crs,
            read,
            rejected,
            warnings,
        },
    })
}

/// What a reader gives: the CRS the document declares (if its format can), its raw features,
/// and warnings.
type Document = (Option<Crs>, Vec<RawFeature>, Vec<String>);

/// The raw features of a document, the CRS it declares (if its format can), and warnings.
/// A GeoPackage (SQLite reads a file) and a bare `.shp` (its siblings are files) cannot be
/// read from memory; a zipped shapefile can.
fn read_document(
    bytes: &[u8],
    format: Format,
    table: Option<&str>,
) -> Result<Document, IngestError> {
    Ok(match format {
        Format::GeoJson => {
            let doc = read_geojson(bytes)?;
            (doc.crs, doc.features, Vec::new())
        }
        Format::Csv => (None, read_csv(bytes)?, Vec::new()),
        Format::FlatGeobuf => {
            if bytes.is_empty() {
                return Err(IngestError::Empty);
            }
            let doc = read_fgb(std::io::Cursor::new(bytes), None)?;
            (doc.crs, doc.features, Vec::new())
        }
        Format::GeoPackage => return Err(IngestError::NeedsFile("a GeoPackage")),
        Format::Shapefile if bytes.starts_with(b"PK") => {
            let doc = read_shapefile_zip(bytes, table)?;
            (doc.crs, doc.features, doc.warnings)
        }
        Format::Shapefile if bytes.is_empty() => return Err(IngestError::Empty),
        Format::Shapefile => {
            return Err(IngestError::NeedsFile(
                "a .shp (its attributes are in the .dbf next to it)",
            ));
        }
    })
}

/// The CRS to read coordinates in: `--crs` if given (warning when the file declares another),
/// else the declared one, else WGS 84.
fn choose_crs(given: Option<&Crs>, declared: Option<Crs>, warnings: &mut Vec<String>) -> Crs {
    match (given, declared) {
        (Some(given), Some(declared)) if *given != declared => {
            warnings.push(format!(
                "the file declares {declared}; --crs {given} is used instead"
            ));
            given.clone()
        }
        (Some(given), _) => given.clone(),
        (None, Some(declared)) => declared,
        (None, None) => Crs::Wgs84,
    }
}

/// Validates every raw feature: applies `--set`, resolves (or assigns) its id, refuses
/// duplicate ids, checks it by the layer's rules. The valid features, and the rejections.
fn validate_all(
    raws: Vec<RawFeature>,
    opts: &ImportOptions,
    set: &[(String, String)],
    reprojector: &Reprojector,
    progress: &ProgressBar,
) -> (Vec<Feature>, Vec<Rejection>) {
    let rules = Rules {
        layer: opts.layer,
        as_holders: opts.as_holders,
    };
    let mut features = Vec::with_capacity(raws.len());
    let mut rejected = Vec::new();
    let mut seen: HashMap<FeatureId, usize> = HashMap::new();
    let mut next_id = opts.first_free_id;
    for mut raw in raws {
        progress.inc(1);
        let index = raw.index;
        for (k, v) in set {
            raw.properties.insert(k.clone(), Json::String(v.clone()));
        }
        let id = match resolve_id(&mut raw, opts.id_field.as_deref(), opts.layer) {
            Ok(Some(id)) => id,
            Ok(None) => {
                next_id += 1;
                next_id - 1
            }
            Err(reason) => {
                rejected.push(Rejection { index, reason });
                continue;
            }
        };
        if let Some(&first) = seen.get(&id) {
            rejected.push(Rejection {
                index,
                reason: Reject::DuplicateId { id, first },
            });
            continue;
        }
        match validate_feature(raw, id, rules, reprojector) {
            Ok(f) => {
                seen.insert(id, index);
                features.push(f);
            }
            Err(reason) => rejected.push(Rejection { index, reason }),
        }
    }
    (features, rejected)
}

fn parse_set(set: &[(String, String)], layer: Layer) -> Result<Vec<(String, String)>, IngestError> {
    let s = schema(layer);
    for (k, _) in set {
        if s.field(k).is_none() {
            return Err(IngestError::BadSet(k.clone(), s.field_names()));
        }
    }
    Ok(set.to_vec())
}

/// Stable id of a string id: FNV-1a, folded below 2^53. The same string always gives the same
/// id, so re-importing a file updates its features instead of duplicating them.
///
/// ```
/// let a = terriens::ingest::string_id("76351_0042");
/// assert_eq!(a, terriens::ingest::string_id("76351_0042"));
/// assert!(a < 1 << 53);
/// ```
pub fn string_id(s: &str) -> FeatureId {
    let h = crate::model::hash::fnv1a(s.as_bytes());
    (h ^ (h >> 53)) & MAX_FEATURE_ID
}

/// The field of a layer holding the source's own identifier of a feature, from which an id is
/// taken when the feature has none: `zone_code` for catchments (the INSEE code of a commune,
/// the code of a BMO bassin), `source_id` (Cerema `site_id`, IREP, BD TOPO `cleabs`) elsewhere.
pub fn source_id_field(layer: Layer) -> &'static str {
    match layer {
        Layer::Catchments => "zone_code",
        _ => "source_id",
    }
}

/// The id of a raw feature: `id_field`, else the feature's own id, else an `id` property, else
/// the layer's source identifier ([`source_id_field`], under its name or an alias). Numeric
/// strings are the number (INSEE 76351 → id 76351); other strings are hashed with
/// [`string_id`] (2A004) and kept as `source_id` where the layer has one. `None`: no id.
pub fn resolve_id(
    raw: &mut RawFeature,
    id_field: Option<&str>,
    layer: Layer,
) -> Result<Option<FeatureId>, Reject> {
    let from_prop = |v: Json| match v {
        Json::Number(n) => n.as_f64().map(RawId::Number),
        Json::String(s) if !s.trim().is_empty() => Some(RawId::Text(s)),
        _ => None,
    };
    let candidate = match id_field {
        Some(f) => raw.properties.remove(f).and_then(from_prop),
        None => raw
            .id
            .take()
            .or_else(|| raw.properties.remove("id").and_then(from_prop)),
    };
    let candidate = candidate.or_else(|| {
        let (_, field) = schema(layer).field(source_id_field(layer))?;
        std::iter::once(field.name)
            .chain(field.aliases.iter().map(|a| a.name))
            .find_map(|n| raw.properties.get(n).cloned().and_then(from_prop))
    });
    match candidate {
        None => Ok(None),
        Some(RawId::Number(x)) => {
            if x >= 0.0 && x.fract() == 0.0 && x <= MAX_FEATURE_ID as f64 {
                Ok(Some(x as FeatureId))
            } else {
                Err(Reject::BadId(x.to_string()))
            }
        }
        Some(RawId::Text(s)) => {
            let t = s.trim();
            if let Ok(n) = t.parse::<u64>()
                && n <= MAX_FEATURE_ID
            {
                return Ok(Some(n));
            }
            // Keep the string as `source_id` unless the file already has it under some name.
            let has_source_id = schema(layer).field("source_id").is_some_and(|(_, f)| {
                std::iter::once(f.name)
                    .chain(f.aliases.iter().map(|a| a.name))
                    .any(|n| raw.properties.contains_key(n))
            });
            if schema(layer).field("source_id").is_some() && !has_source_id {
                raw.properties
                    .insert("source_id".into(), Json::String(t.to_string()));
            }
            Ok(Some(string_id(t)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_formats_are_told_by_their_magic() {
        assert_eq!(
            Format::sniff(b"SQLite format 3\0\x10\0"),
            Format::GeoPackage
        );
        assert_eq!(Format::sniff(b"PK\x03\x04\x14\0"), Format::Shapefile);
        assert_eq!(Format::sniff(&[0, 0, 0x27, 0x0a, 0, 0]), Format::Shapefile);
        assert_eq!(Format::sniff(b"fgb\x03fgb\0"), Format::FlatGeobuf);
        assert_eq!(Format::sniff(b" {\"type\""), Format::GeoJson);
        assert_eq!(Format::sniff(b"lon,lat\n"), Format::Csv);
        let p = |s: &str| Format::from_path(Path::new(s));
        assert_eq!(p("a/communes.GPKG"), Some(Format::GeoPackage));
        assert_eq!(p("communes.shp"), Some(Format::Shapefile));
        assert_eq!(p("communes.zip"), Some(Format::Shapefile));
    }

    #[test]
    fn catchments_take_their_insee_code_as_id() {
        let raw = |code: &str| RawFeature {
            index: 0,
            id: None,
            geometry: Err(Reject::NoGeometry),
            properties: serde_json::json!({ "code_insee": code })
                .as_object()
                .cloned()
                .unwrap(),
        };
        let mut r = raw("76351");
        assert_eq!(
            resolve_id(&mut r, None, Layer::Catchments),
            Ok(Some(76_351))
        );
        // Corsica: not a number, so hashed by the one rule of string ids; the code stays.
        let mut r = raw("2A004");
        assert_eq!(
            resolve_id(&mut r, None, Layer::Catchments),
            Ok(Some(string_id("2A004")))
        );
        assert!(r.properties.contains_key("code_insee"));
    }
}
