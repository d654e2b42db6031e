//! FlatGeobuf reader for imports: geometry and properties of any FlatGeobuf file (QGIS, GDAL,
//! our own store), with the CRS of its header.

use std::io::{Read, Seek};

use flatgeobuf::{FallibleStreamingIterator, FgbReader};
use geozero::{ColumnValue, FeatureProperties, PropertyProcessor, ToGeo};
use serde_json::{Map, Value as Json};

use super::raw::{RawFeature, RawId};
use super::{IngestError, Reject};
use crate::geo_util::Crs;

/// What a FlatGeobuf file holds.
pub struct FgbDoc {
    pub crs: Option<Crs>,
    pub features: Vec<RawFeature>,
}

/// Collects a feature's properties as JSON values.
#[derive(Default)]
pub struct JsonProps(pub Map<String, Json>);

impl PropertyProcessor for JsonProps {
    fn property(
        &mut self,
        _i: usize,
        name: &str,
        value: &ColumnValue,
    ) -> geozero::error::Result<bool> {
        let v = match value {
            ColumnValue::Byte(v) => Json::from(*v),
            ColumnValue::UByte(v) => Json::from(*v),
            ColumnValue::Bool(v) => Json::from(*v),
            ColumnValue::Short(v) => Json::from(*v),
            ColumnValue::UShort(v) => Json::from(*v),
            ColumnValue::Int(v) => Json::from(*v),
            ColumnValue::UInt(v) => Json::from(*v),
            ColumnValue::Long(v) => Json::from(*v),
            ColumnValue::ULong(v) => Json::from(*v),
            ColumnValue::Float(v) => serde_json::Number::from_f64(f64::from(*v))
                .map(Json::Number)
                .unwrap_or(Json::Null),
            ColumnValue::Double(v) => serde_json::Number::from_f64(*v)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            ColumnValue::String(s) | ColumnValue::DateTime(s) => Json::from(*s),
            ColumnValue::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| Json::from(*s)),
            ColumnValue::Binary(_) => return Ok(false),
        };
        self.0.insert(name.to_string(), v);
        Ok(false)
    }
}

/// Reads every feature of a FlatGeobuf file. `id_column` names a column to take as the feature
/// id (our store writes `fid`).
pub fn read_fgb<R: Read + Seek>(reader: R, id_column: Option<&str>) -> Result<FgbDoc, IngestError> {
    let fgb = FgbReader::open(reader).map_err(|e| IngestError::Fgb(e.to_string()))?;
    let header = fgb.header();
    let crs = match header.crs() {
        None => None,
        Some(c) if c.code() > 0 => Some(Crs::parse(&format!(
            "{}:{}",
            c.org().unwrap_or("EPSG"),
            c.code()
        ))?),
        Some(c) => match (c.code_string(), c.wkt()) {
            (Some(code), _) => Some(Crs::parse(&format!(
                "{}:{code}",
                c.org().unwrap_or("EPSG")
            ))?),
            (None, Some(wkt)) => Some(Crs::Definition(wkt.to_string())),
            (None, None) => None,
        },
    };
    let mut iter = fgb
        .select_all_seq()
        .map_err(|e| IngestError::Fgb(e.to_string()))?;
    let mut features = Vec::new();
    let mut index = 0;
    while let Some(f) = iter.next().map_err(|e| IngestError::Fgb(e.to_string()))? {
        let geometry = f
            .to_geo()
            .map_err(|e| Reject::MalformedGeometry(e.to_string()));
        let mut props = JsonProps::default();
        let properties = match f.process_properties(&mut props) {
            Ok(_) => props.0,
            Err(e) => {
                features.push(RawFeature {
                    index,
                    id: None,
                    geometry: Err(Reject::MalformedRow(e.to_string())),
                    properties: Map::new(),
                });
                index += 1;
                continue;
            }
        };
        let mut properties = properties;
        let id = id_column
            .and_then(|c| properties.remove(c))
            .and_then(|v| match v {
                Json::Number(n) => n.as_f64().map(RawId::Number),
                Json::String(s) => Some(RawId::Text(s)),
                _ => None,
            });
        features.push(RawFeature {
            index,
            id,
            geometry,
            properties,
        });
        index += 1;
    }
    Ok(FgbDoc { crs, features })
}
