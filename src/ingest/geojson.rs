//! GeoJSON reader: a FeatureCollection, a single Feature or a bare geometry, with the legacy
//! `crs` member honoured (RFC 7946 dropped it, but French open data still writes it for
//! Lambert-93 files).

use serde_json::Value as Json;

use super::raw::{RawFeature, RawId, geometry_from_geojson};
use super::{IngestError, Reject};
use crate::geo_util::Crs;

/// What a GeoJSON document holds.
pub struct GeoJsonDoc {
    pub crs: Option<Crs>,
    pub features: Vec<RawFeature>,
}

/// Parses a GeoJSON document.
pub fn read_geojson(bytes: &[u8]) -> Result<GeoJsonDoc, IngestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty);
    }
    let doc: Json = serde_json::from_slice(bytes).map_err(|e| IngestError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let Json::Object(mut top) = doc else {
        return Err(IngestError::NotGeoJson(
            "the document is not a JSON object".into(),
        ));
    };
    let crs = match top.remove("crs") {
        None | Some(Json::Null) => None,
        Some(c) => Some(crs_member(&c)?),
    };
    let ty = top
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| IngestError::NotGeoJson("the top-level object has no `type`".into()))?
        .to_string();
    let features = match ty.as_str() {
        "FeatureCollection" => {
            let Some(Json::Array(items)) = top.remove("features") else {
                return Err(IngestError::NotGeoJson(
                    "a FeatureCollection needs a `features` array".into(),
                ));
            };
            items
                .into_iter()
                .enumerate()
                .map(|(i, f)| feature(i, f))
                .collect()
        }
        "Feature" => vec![feature(0, Json::Object(top))],
        "Point" | "MultiPoint" | "LineString" | "MultiLineString" | "Polygon" | "MultiPolygon"
        | "GeometryCollection" => vec![RawFeature {
            index: 0,
            id: None,
            geometry: geometry_from_geojson(&Json::Object(top)),
            properties: Default::default(),
        }],
        other => {
            return Err(IngestError::NotGeoJson(format!(
                "unknown GeoJSON type `{other}`"
            )));
        }
    };
    Ok(GeoJsonDoc { crs, features })
}

/// Reads one Feature object; problems become the feature's rejection, not the file's.
pub fn feature(index: usize, f: Json) -> RawFeature {
    let Json::Object(mut obj) = f else {
        return RawFeature {
            index,
            id: None,
            geometry: Err(Reject::MalformedGeometry(
                "the feature is not a JSON object".into(),
            )),
            properties: Default::default(),
        };
    };
    if obj.get("type").and_then(Json::as_str) != Some("Feature") {
        return RawFeature {
            index,
            id: None,
            geometry: Err(Reject::MalformedGeometry(
                "the member of `features` is not of type Feature".into(),
            )),
            properties: Default::default(),
        };
    }
    let (id, bad_id) = match obj.remove("id") {
        Some(Json::Number(n)) => (n.as_f64().map(RawId::Number), None),
        Some(Json::String(s)) => (Some(RawId::Text(s)), None),
        None | Some(Json::Null) => (None, None),
        // RFC 7946 §3.2: an id is a string or a number. Anything else rejects the feature
        // (carried in the geometry's slot, the one per-feature verdict a raw feature has).
        Some(other) => (
            None,
            Some(Reject::WrongType {
                field: "id".into(),
                expected: "a number or a string (RFC 7946)",
                found: other.to_string(),
            }),
        ),
    };
    let (properties, bad_properties) = match obj.remove("properties") {
        Some(Json::Object(p)) => (p, None),
        None | Some(Json::Null) => (Default::default(), None),
        // RFC 7946 §3.2: `properties` is an object or null.
        Some(other) => (
            Default::default(),
            Some(Reject::WrongType {
                field: "properties".into(),
                expected: "an object or null (RFC 7946)",
                found: other.to_string(),
            }),
        ),
    };
    let geometry = match bad_id.or(bad_properties) {
        Some(r) => Err(r),
        None => geometry_from_geojson(obj.get("geometry").unwrap_or(&Json::Null)),
    };
    RawFeature {
        index,
        id,
        geometry,
        properties,
    }
}

/// The legacy `crs` member: `{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}`.
fn crs_member(c: &Json) -> Result<Crs, IngestError> {
    let name = c
        .get("properties")
        .and_then(|p| p.get("name"))
        .and_then(Json::as_str);
    match name {
        Some(n) => Ok(Crs::parse(n)?),
        None => Err(IngestError::NotGeoJson(
            "the `crs` member is not of the form {\"type\": \"name\", \"properties\": {\"name\": ...}}"
                .into(),
        )),
    }
}
