//! A layer as a FlatGeobuf file: the id in `fid`, the version in `version`, one typed column per
//! schema field (counts maps as JSON), the extra properties in a JSON column `_extra`.

use std::io::{BufRead, Read, Seek, Write};

use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geozero::ColumnValue;
use serde_json::Value as Json;

use crate::index::{LayerData, ValueRef};
use crate::ingest::{RawId, read_fgb, validate::stored_properties};
use crate::model::{Feature, FieldType, Layer, schema};

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

/// Writes a layer (WGS84, EPSG:4326) with a packed R-tree index.
pub fn write_layer_fgb(data: &LayerData, out: impl Write) -> Result<(), String> {
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
        .map_err(|e| e.to_string())?;
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
        .map_err(|e| e.to_string())?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    fgb.write(out).map_err(|e| e.to_string())
}

/// Reads a layer written by [`write_layer_fgb`]. Geometries and computed fields are trusted
/// (they were validated on the way in), which keeps start-up fast.
pub fn read_layer_fgb<R: Read + Seek + BufRead>(
    reader: R,
    layer: Layer,
) -> Result<Vec<Feature>, String> {
    let doc = read_fgb(reader, Some(FID)).map_err(|e| e.to_string())?;
    let schema = schema(layer);
    let mut out = Vec::with_capacity(doc.features.len());
    for raw in doc.features {
        let index = raw.index;
        let id = match raw.id {
            Some(RawId::Number(x)) if x >= 0.0 => x as u64,
            _ => return Err(format!("feature {index} has no `{FID}`")),
        };
        let geometry = raw
            .geometry
            .map_err(|e| format!("feature {index} (id {id}): {e}"))?;
        let mut props = raw.properties;
        let version = props.remove(VERSION).and_then(|v| v.as_u64()).unwrap_or(1);
        let extra = match props.remove(EXTRA) {
            Some(Json::Object(m)) => m,
            _ => Default::default(),
        };
        let (typed, rest) = stored_properties(props, schema)
            .map_err(|e| format!("feature {index} (id {id}): {e}"))?;
        let mut extra = extra;
        extra.extend(rest);
        out.push(Feature {
            id,
            version,
            geometry,
            props: typed,
            extra,
        });
    }
    Ok(out)
}
