//! A feature in row form: what the importer produces, the store writes and the API returns.
//! Inside an index snapshot the same data is held column by column (see `index::LayerData`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use geo_types::Geometry;
use serde_json::{Map, Value as Json};

use super::schema::{FieldType, LayerSchema};

/// Stable feature id. Kept below 2^53 so JavaScript clients (MapLibre's `promoteId`, feature
/// state) read it exactly.
pub type FeatureId = u64;

/// Largest id a feature may have (2^53 − 1).
pub const MAX_FEATURE_ID: FeatureId = (1 << 53) - 1;

/// A typed property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Text, and the values of enum fields.
    Text(String),
    Date(NaiveDate),
    /// Code → count (e.g. candidates by occupation).
    Counts(BTreeMap<String, f64>),
}

impl Value {
    /// The JSON form: dates as `YYYY-MM-DD`, counts as an object.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            Value::Text(s) => Json::String(s.clone()),
            Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
            Value::Counts(m) => Json::Object(
                m.iter()
                    .map(|(k, v)| {
                        let n = if v.fract() == 0.0 && v.abs() < 9e15 {
                            Json::from(*v as i64)
                        } else {
                            serde_json::Number::from_f64(*v)
                                .map(Json::Number)
                                .unwrap_or(Json::Null)
                        };
                        (k.clone(), n)
                    })
                    .collect(),
            ),
        }
    }

    /// Whether the value has the shape of a field type (enums are `Text`).
    pub fn fits(&self, ty: FieldType) -> bool {
        matches!(
            (self, ty),
            (Value::Bool(_), FieldType::Bool)
                | (Value::Int(_), FieldType::Int)
                | (Value::Float(_), FieldType::Float)
                | (Value::Text(_), FieldType::Text(_))
                | (Value::Text(_), FieldType::Enum(_))
                | (Value::Date(_), FieldType::Date)
                | (Value::Counts(_), FieldType::Counts)
        )
    }

    /// Numeric view of ints and floats.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Text view of text and enum values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// One feature of a layer, in WGS84 (lon, lat).
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub id: FeatureId,
    /// Incremented by every write to the feature; starts at 1.
    pub version: u64,
    pub geometry: Geometry<f64>,
    /// One slot per field of the layer's schema, in schema order.
    pub props: Vec<Option<Value>>,
    /// Properties of the input that are not fields of the schema, kept as they were.
    pub extra: Map<String, Json>,
}

impl Feature {
    /// The value of a named field.
    pub fn get<'a>(&'a self, schema: &LayerSchema, name: &str) -> Option<&'a Value> {
        let (i, _) = schema.field(name)?;
        self.props.get(i)?.as_ref()
    }

    /// The properties as a JSON object: the typed fields first (nulls left out), then the
    /// extra properties.
    pub fn properties_json(&self, schema: &LayerSchema) -> Map<String, Json> {
        let mut out = Map::new();
        for (field, value) in schema.fields.iter().zip(&self.props) {
            if let Some(v) = value {
                out.insert(field.name.to_string(), v.to_json());
            }
        }
        for (k, v) in &self.extra {
            out.entry(k.clone()).or_insert_with(|| v.clone());
        }
        out
    }

    /// A GeoJSON Feature object.
    pub fn to_geojson(&self, schema: &LayerSchema) -> Json {
        let mut f = Map::new();
        f.insert("type".into(), Json::from("Feature"));
        f.insert("id".into(), Json::from(self.id));
        f.insert("geometry".into(), geometry_to_json(&self.geometry));
        f.insert(
            "properties".into(),
            Json::Object(self.properties_json(schema)),
        );
        Json::Object(f)
    }
}

/// GeoJSON geometry object of a geo geometry (WGS84, lon/lat).
pub fn geometry_to_json(g: &Geometry<f64>) -> Json {
    fn pos(c: &geo_types::Coord<f64>) -> Json {
        Json::Array(vec![num(c.x), num(c.y)])
    }
    fn num(v: f64) -> Json {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .unwrap_or(Json::Null)
    }
    fn line(l: &geo_types::LineString<f64>) -> Json {
        Json::Array(l.0.iter().map(pos).collect())
    }
    fn poly(p: &geo_types::Polygon<f64>) -> Json {
        let mut rings = vec![line(p.exterior())];
        rings.extend(p.interiors().iter().map(line));
        Json::Array(rings)
    }
    let (ty, coords) = match g {
        Geometry::Point(p) => ("Point", pos(&p.0)),
        Geometry::MultiPoint(mp) => (
            "MultiPoint",
            Json::Array(mp.iter().map(|p| pos(&p.0)).collect()),
        ),
        Geometry::LineString(l) => ("LineString", line(l)),
        Geometry::MultiLineString(ml) => (
            "MultiLineString",
            Json::Array(ml.iter().map(line).collect()),
        ),
        Geometry::Polygon(p) => ("Polygon", poly(p)),
        Geometry::MultiPolygon(mp) => ("MultiPolygon", Json::Array(mp.iter().map(poly).collect())),
        Geometry::GeometryCollection(gc) => {
            let geoms = gc.iter().map(geometry_to_json).collect();
            let mut m = Map::new();
            m.insert("type".into(), Json::from("GeometryCollection"));
            m.insert("geometries".into(), Json::Array(geoms));
            return Json::Object(m);
        }
        Geometry::Line(l) => ("LineString", Json::Array(vec![pos(&l.start), pos(&l.end)])),
        Geometry::Rect(r) => return geometry_to_json(&Geometry::Polygon(r.to_polygon())),
        Geometry::Triangle(t) => return geometry_to_json(&Geometry::Polygon(t.to_polygon())),
    };
    let mut m = Map::new();
    m.insert("type".into(), Json::from(ty));
    m.insert("coordinates".into(), coords);
    Json::Object(m)
}
