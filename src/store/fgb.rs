//! A layer as a FlatGeobuf file: the id in `fid`, the version in `version`, one typed column per
//! schema field (counts maps as JSON), the extra properties in a JSON column `_extra`.

use std::io::{BufRead, Read, Write};

use flatgeobuf::{
    ColumnType, FallibleStreamingIterator, FgbCrs, FgbReader, FgbWriter, FgbWriterOptions,
    GeometryType,
};
use geozero::{ColumnValue, FeatureProperties, PropertyProcessor, ToGeo};
use serde_json::{Map, Value as Json};

use crate::index::{LayerBuilder, LayerData, ValueRef};
use crate::model::{Feature, FieldType, Layer, Value, schema};

const FID: &str = "fid";
const VERSION: &str = "version";
const EXTRA: &str = "_extra";

/// Lets the writer read a geometry in place instead of cloning it.
struct GeomRef<'a>(&'a geo_types::Geometry<f64>);

impl geozero::GeozeroGeometry for GeomRef<'_> {
    fn process_geom<P: geozero::GeomProcessor>(&self, p: &mut P) -> geozero::error::Result<()> {
        self.0.process_geom(p)
    }
}

fn column_type(ty: FieldType) -> ColumnType {
    match ty {
        FieldType::Bool => ColumnType::Bool,
        FieldType::Int => ColumnType::Long,
        FieldType::Float => ColumnType::Double,
        FieldType::Text(_) | FieldType::Enum(_) => ColumnType::String,
        FieldType::Date => ColumnType::DateTime,
        FieldType::Counts => ColumnType::Json,
    }
}

/// Why a layer file could not be written or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FgbError {
    /// The FlatGeobuf library refused (header, index, encoding, I/O).
    #[error("{0}")]
    Format(String),
    /// One feature of the file does not read.
    #[error("feature {index}: {reason}")]
    Feature { index: usize, reason: String },
    #[error("feature {index} has no `{FID}`")]
    NoId { index: usize },
}

impl FgbError {
    fn format(e: impl std::fmt::Display) -> FgbError {
        FgbError::Format(e.to_string())
    }

    fn feature(index: usize, e: impl std::fmt::Display) -> FgbError {
        FgbError::Feature {
            index,
            reason: e.to_string(),
        }
    }
}

/// Writes a layer (WGS84, EPSG:4326) with a packed R-tree index.
pub fn write_layer_fgb(data: &LayerData, out: impl Write) -> Result<(), FgbError> {
    let layer = data.layer();
    let schema = schema(layer);
    let options = FgbWriterOptions {
        write_index: true,
        // Plots and buildings mix points and polygons: keep each feature's own type.
        detect_type: false,
        promote_to_multi: false,
        crs: FgbCrs {
            code: 4326,
            ..Default::default()
        },
        title: Some(layer.title()),
        description: Some("terriens layer store"),
        ..Default::default()
    };
    let mut fgb = FgbWriter::create_with_options(layer.id(), GeometryType::Unknown, options)
        .map_err(FgbError::format)?;
    fgb.add_column(FID, ColumnType::ULong, |_, c| c.nullable = false);
    fgb.add_column(VERSION, ColumnType::ULong, |_, c| c.nullable = false);
    for field in schema.fields {
        fgb.add_column(field.name, column_type(field.ty), |_, c| c.nullable = true);
    }
    fgb.add_column(EXTRA, ColumnType::Json, |_, c| c.nullable = true);
    let extra_index = schema.fields.len() + 2;
    for row in 0..data.len() as u32 {
        let mut failure = None;
        fgb.add_feature_geom(GeomRef(data.geometry(row)), |w| {
            let mut put = |i: usize, name: &str, v: &ColumnValue| {
                if let Err(e) = geozero::PropertyProcessor::property(w, i, name, v) {
                    failure.get_or_insert(e.to_string());
                }
            };
            put(0, FID, &ColumnValue::ULong(data.id(row)));
            put(1, VERSION, &ColumnValue::ULong(data.version(row)));
            for (i, field) in schema.fields.iter().enumerate() {
                let Some(v) = data.value(row, i) else {
                    continue;
                };
                let text;
                let cv = match v {
                    ValueRef::Bool(b) => ColumnValue::Bool(b),
                    ValueRef::Int(x) => ColumnValue::Long(x),
                    ValueRef::Float(x) => ColumnValue::Double(x),
                    ValueRef::Text(s) => ColumnValue::String(s),
                    ValueRef::Date(d) => {
                        text = d.format("%Y-%m-%d").to_string();
                        ColumnValue::DateTime(&text)
                    }
                    ValueRef::Counts(_) => {
                        text = v.to_value().to_json().to_string();
                        ColumnValue::Json(&text)
                    }
                };
                put(i + 2, field.name, &cv);
            }
            if let Some(extra) = data.extra(row) {
                let text = Json::Object(extra.clone()).to_string();
                put(extra_index, EXTRA, &ColumnValue::Json(&text));
            }
        })
        .map_err(FgbError::format)?;
        if let Some(e) = failure {
            return Err(FgbError::Format(e));
        }
    }
    fgb.write(out).map_err(FgbError::format)
}

/// Where a FlatGeobuf column goes when loading.
#[derive(Debug, Clone, Copy)]
enum Target {
    Fid,
    Version,
    Extra,
    Field(usize),
    /// A column the schema does not know (a file written by another tool): kept as an extra.
    Other,
}

/// Collects one feature's properties straight into typed values, without a JSON detour
/// (loading 1M features through JSON maps took most of the start-up time).
struct RowSink<'a> {
    targets: &'a [Target],
    schema: &'static crate::model::LayerSchema,
    id: Option<u64>,
    version: u64,
    props: Vec<Option<Value>>,
    extra: Map<String, Json>,
    error: Option<String>,
}

impl PropertyProcessor for RowSink<'_> {
    fn property(&mut self, i: usize, name: &str, v: &ColumnValue) -> geozero::error::Result<bool> {
        let target = self.targets.get(i).copied().unwrap_or(Target::Other);
        match target {
            Target::Fid => self.id = column_u64(v),
            Target::Version => self.version = column_u64(v).unwrap_or(1),
            Target::Extra => {
                if let ColumnValue::Json(s) | ColumnValue::String(s) = v
                    && let Ok(Json::Object(m)) = serde_json::from_str::<Json>(s)
                {
                    for (k, x) in m {
                        self.extra.entry(k).or_insert(x);
                    }
                }
            }
            Target::Field(f) => match typed(self.schema.fields[f].ty, v) {
                Some(value) => self.props[f] = Some(value),
                None => {
                    self.error.get_or_insert_with(|| {
                        format!(
                            "column `{name}` holds {v:?}, not a {}",
                            self.schema.fields[f].ty.name()
                        )
                    });
                }
            },
            Target::Other => {
                let mut one = crate::ingest::JsonProps::default();
                one.property(i, name, v)?;
                self.extra.extend(one.0);
            }
        }
        Ok(false)
    }
}

fn column_u64(v: &ColumnValue) -> Option<u64> {
    match *v {
        ColumnValue::ULong(x) => Some(x),
        ColumnValue::Long(x) => u64::try_from(x).ok(),
        ColumnValue::UInt(x) => Some(u64::from(x)),
        ColumnValue::Int(x) => u64::try_from(x).ok(),
        _ => None,
    }
}

/// A stored cell as a typed value.
fn typed(ty: FieldType, v: &ColumnValue) -> Option<Value> {
    Some(match (ty, v) {
        (FieldType::Bool, ColumnValue::Bool(b)) => Value::Bool(*b),
        (FieldType::Int, ColumnValue::Long(x)) => Value::Int(*x),
        (FieldType::Int, ColumnValue::Int(x)) => Value::Int(i64::from(*x)),
        (FieldType::Float, ColumnValue::Double(x)) => Value::Float(*x),
        (FieldType::Float, ColumnValue::Float(x)) => Value::Float(f64::from(*x)),
        (FieldType::Float, ColumnValue::Long(x)) => Value::Float(*x as f64),
        (FieldType::Text(_) | FieldType::Enum(_), ColumnValue::String(s)) => {
            Value::Text((*s).to_string())
        }
        (FieldType::Date, ColumnValue::DateTime(s) | ColumnValue::String(s)) => {
            Value::Date(crate::ingest::validate::parse_date(s)?)
        }
        (FieldType::Counts, ColumnValue::Json(s) | ColumnValue::String(s)) => {
            let m: std::collections::BTreeMap<String, f64> = serde_json::from_str(s).ok()?;
            Value::Counts(m)
        }
        _ => return None,
    })
}

/// Reads a layer written by [`write_layer_fgb`] straight into its columns. Geometries and
/// computed fields are trusted (they were validated on the way in), which keeps start-up fast.
pub fn read_layer_fgb<R: Read + BufRead>(reader: R, layer: Layer) -> Result<LayerData, FgbError> {
    let fgb = FgbReader::open(reader).map_err(FgbError::format)?;
    let schema = schema(layer);
    let header = fgb.header();
    let targets: Vec<Target> = header
        .columns()
        .map(|cols| {
            cols.iter()
                .map(|c| match c.name() {
                    FID => Target::Fid,
                    VERSION => Target::Version,
                    EXTRA => Target::Extra,
                    name => schema
                        .field(name)
                        .map_or(Target::Other, |(i, _)| Target::Field(i)),
                })
                .collect()
        })
        .unwrap_or_default();
    let count = header.features_count() as usize;
    let mut builder = LayerBuilder::new(layer, count);
    let mut iter = fgb.select_all_seq().map_err(FgbError::format)?;
    let mut index = 0usize;
    while let Some(f) = iter.next().map_err(FgbError::format)? {
        let geometry = f.to_geo().map_err(|e| FgbError::feature(index, e))?;
        let mut sink = RowSink {
            targets: &targets,
            schema,
            id: None,
            version: 1,
            props: vec![None; schema.fields.len()],
            extra: Map::new(),
            error: None,
        };
        f.process_properties(&mut sink)
            .map_err(|e| FgbError::feature(index, e))?;
        if let Some(e) = sink.error {
            return Err(FgbError::feature(index, e));
        }
        let id = sink.id.ok_or(FgbError::NoId { index })?;
        builder.push(Feature {
            id,
            version: sink.version,
            geometry,
            props: sink.props,
            extra: sink.extra,
        });
        index += 1;
    }
    Ok(builder.finish())
}
