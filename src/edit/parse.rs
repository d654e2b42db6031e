//! Request bodies to validated features, with exactly the importer's rules
//! (`ingest::validate_feature`), so a feature accepted by the API is one `terriens import`
//! would accept, and the reasons given are the same.
//!
//! Two differences:
//! - computed fields (`area_ha`, `area_source` of plots) are ignored on input, so a feature
//!   read with GET can be sent back with PUT unchanged (the importer reads an input `area_ha`
//!   as the declared area; through the API, give `declared_area_ha`);
//! - coordinates are WGS84 (RFC 7946): a legacy `crs` member naming another CRS is refused.
//!   Besides keeping the API to the standard, this keeps requests away from PROJ's CRS lookup,
//!   whose failure path leaks memory in the `proj` crate (found by fuzzing; see `fuzz/`), which
//!   a server must not let clients trigger at will.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

use super::EditError;
use crate::geo_util::{Crs, Reprojector};
use crate::ingest::{
    IngestError, RawFeature, RawId, Reject, Rejection, Rules, geometry_from_geojson, read_geojson,
    resolve_id, validate_feature,
};
use crate::model::{Feature, FeatureId, Layer, MAX_FEATURE_ID, Origin, schema};

/// A validated feature to write; `id: None` asks the writer for a new id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFeature {
    pub id: Option<FeatureId>,
    /// Validated, at version 1 (the writer sets the real version).
    pub feature: Feature,
}

/// A partial update: properties merged (a `null` removes one), geometry replaced if given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    pub geometry: Option<Json>,
    pub properties: Map<String, Json>,
}

fn rules(layer: Layer) -> Rules {
    Rules {
        layer,
        as_holders: false,
    }
}

/// The body's `crs` member, if any, must be WGS84.
fn wgs84_only(crs: Option<Crs>) -> Result<Reprojector, EditError> {
    match crs {
        None | Some(Crs::Wgs84) => Ok(Reprojector::to_wgs84(&Crs::Wgs84).map_err(IngestError::from)?),
        Some(other) => Err(IngestError::NotGeoJson(format!(
            "the editing API takes WGS84 longitude, latitude (RFC 7946); the body declares {other}: \
             reproject it, or load the file with `terriens import --crs`"
        ))
        .into()),
    }
}

fn strip_computed(layer: Layer, props: &mut Map<String, Json>) {
    for f in schema(layer).fields {
        if f.origin == Origin::Computed {
            props.remove(f.name);
        }
    }
}

/// Parses a POST body: one GeoJSON Feature or a FeatureCollection (a batch). Every feature is
/// validated; if any is rejected, all are (the batch is atomic) and every rejection is listed.
pub fn parse_features(
    layer: Layer,
    bytes: &[u8],
    max_batch: usize,
) -> Result<Vec<NewFeature>, EditError> {
    let doc = read_geojson(bytes)?;
    let total = doc.features.len();
    if total == 0 {
        return Err(
            IngestError::NotGeoJson("the FeatureCollection holds no feature".into()).into(),
        );
    }
    if total > max_batch {
        return Err(EditError::BatchTooLarge {
            count: total,
            max: max_batch,
        });
    }
    let reprojector = wgs84_only(doc.crs)?;
    let mut out = Vec::with_capacity(total);
    let mut rejected = Vec::new();
    let mut seen: HashMap<FeatureId, usize> = HashMap::new();
    for mut raw in doc.features {
        let index = raw.index;
        strip_computed(layer, &mut raw.properties);
        let id = match resolve_id(&mut raw, None, layer) {
            Ok(id) => id,
            Err(reason) => {
                rejected.push(Rejection { index, reason });
                continue;
            }
        };
        if let Some(id) = id
            && let Some(&first) = seen.get(&id)
        {
            rejected.push(Rejection {
                index,
                reason: Reject::DuplicateId { id, first },
            });
            continue;
        }
        match validate_feature(raw, id.unwrap_or(0), rules(layer), &reprojector) {
            Ok(feature) => {
                if let Some(id) = id {
                    seen.insert(id, index);
                }
                out.push(NewFeature { id, feature });
            }
            Err(reason) => rejected.push(Rejection { index, reason }),
        }
    }
    if !rejected.is_empty() {
        return Err(EditError::Rejected { rejected, total });
    }
    Ok(out)
}

/// Parses a PUT body: one Feature. Its `id`, if given, must be the id of the URL.
pub fn parse_replacement(
    layer: Layer,
    id: FeatureId,
    bytes: &[u8],
) -> Result<NewFeature, EditError> {
    let doc = read_geojson(bytes)?;
    let mut features = doc.features;
    if features.len() != 1 {
        return Err(IngestError::NotGeoJson(format!(
            "PUT takes one Feature, not {} features",
            features.len()
        ))
        .into());
    }
    let mut raw = features.remove(0);
    let body_id = match raw.id.take() {
        None => None,
        Some(RawId::Number(x)) => Some(x.to_string()),
        Some(RawId::Text(s)) => Some(s),
    };
    if let Some(b) = body_id
        && b.trim().parse::<f64>().ok() != Some(id as f64)
    {
        return Err(EditError::IdMismatch { path: id, body: b });
    }
    strip_computed(layer, &mut raw.properties);
    let reprojector = wgs84_only(doc.crs)?;
    let feature = validate_feature(raw, id, rules(layer), &reprojector).map_err(|reason| {
        EditError::Rejected {
            rejected: vec![Rejection { index: 0, reason }],
            total: 1,
        }
    })?;
    Ok(NewFeature {
        id: Some(id),
        feature,
    })
}

/// Parses a PATCH body: `{"properties": {...}, "geometry": {...}}` (either may be left out;
/// a whole Feature works too). Checked against the current feature by the writer.
pub fn parse_patch(bytes: &[u8]) -> Result<Patch, EditError> {
    let v: Json = serde_json::from_slice(bytes).map_err(|e| IngestError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let Json::Object(mut obj) = v else {
        return Err(EditError::BadPatch(
            "a patch is a JSON object with `properties` and/or `geometry`".into(),
        ));
    };
    let properties = match obj.remove("properties") {
        None | Some(Json::Null) => Map::new(),
        Some(Json::Object(p)) => p,
        Some(_) => return Err(EditError::BadPatch("`properties` must be an object".into())),
    };
    let geometry = match obj.remove("geometry") {
        None => None,
        Some(Json::Null) => {
            return Err(EditError::BadPatch(
                "`geometry` cannot be removed; every feature has one".into(),
            ));
        }
        Some(g) => Some(g),
    };
    if let Some(id) = obj.remove("id") {
        return Err(EditError::BadPatch(format!(
            "a patch cannot change the id (got `id`: {id}); the URL names the feature"
        )));
    }
    obj.remove("type");
    if let Some(k) = obj.keys().next() {
        return Err(EditError::BadPatch(format!(
            "unknown member `{k}`; a patch has `properties` and/or `geometry`"
        )));
    }
    if properties.is_empty() && geometry.is_none() {
        return Err(EditError::BadPatch(
            "the patch changes nothing: give `properties` and/or `geometry`".into(),
        ));
    }
    Ok(Patch {
        geometry,
        properties,
    })
}

/// The feature after a patch, validated like any input. The current typed fields are taken by
/// their own names; a patch key that is an alias of a field replaces that field.
pub fn apply_patch(layer: Layer, current: &Feature, patch: &Patch) -> Result<Feature, Reject> {
    let s = schema(layer);
    let mut props = Map::new();
    for (field, value) in s.fields.iter().zip(&current.props) {
        if field.origin == Origin::Computed {
            continue;
        }
        if let Some(v) = value {
            props.insert(field.name.to_string(), v.to_json());
        }
    }
    for (k, v) in &current.extra {
        props.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in &patch.properties {
        if let Some(field) = s
            .fields
            .iter()
            .find(|f| f.name != k && f.aliases.iter().any(|a| a.name == k))
        {
            props.remove(field.name);
        }
        if v.is_null() {
            props.remove(k);
        } else {
            props.insert(k.clone(), v.clone());
        }
    }
    strip_computed(layer, &mut props);
    let geometry = match &patch.geometry {
        Some(g) => geometry_from_geojson(g),
        None => Ok(current.geometry.clone()),
    };
    let raw = RawFeature {
        index: 0,
        id: None,
        geometry,
        properties: props,
    };
    let wgs84 = Reprojector::to_wgs84(&Crs::Wgs84)?;
    let mut f = validate_feature(raw, current.id, rules(layer), &wgs84)?;
    f.version = current.version;
    Ok(f)
}

/// Checks an id given in a URL.
pub fn path_id(s: &str) -> Option<FeatureId> {
    s.parse::<FeatureId>()
        .ok()
        .filter(|&id| id <= MAX_FEATURE_ID)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    #[test]
    fn batch_rejections_name_every_bad_feature() {
        let body = br#"{"type":"FeatureCollection","features":[
            {"type":"Feature","id":1,"geometry":{"type":"Point","coordinates":[0.1,49.5]},"properties":{"material":"wood","quantity":3}},
            {"type":"Feature","id":2,"geometry":{"type":"Point","coordinates":[0.1,95]},"properties":{"material":"wood","quantity":3}},
            {"type":"Feature","id":1,"geometry":{"type":"Point","coordinates":[0.1,49.5]},"properties":{"material":"wood","quantity":3}},
            {"type":"Feature","geometry":{"type":"Point","coordinates":[0.1,49.5]},"properties":{"material":"gold","quantity":3}}
        ]}"#;
        let Err(EditError::Rejected { rejected, total }) =
            parse_features(Layer::WasteDeposits, body, 100)
        else {
            panic!("expected rejections")
        };
        assert_eq!(total, 4);
        let idx: Vec<usize> = rejected.iter().map(|r| r.index).collect();
        assert_eq!(idx, vec![1, 2, 3]);
        assert!(matches!(
            rejected[0].reason,
            Reject::LatitudeOutOfRange { .. }
        ));
        assert!(matches!(
            rejected[1].reason,
            Reject::DuplicateId { id: 1, first: 0 }
        ));
        assert!(rejected[2].reason.to_string().contains("unknown material"));
    }

    #[test]
    fn patch_merges_validates_and_honours_aliases() {
        let body = br#"{"type":"Feature","id":4,"geometry":{"type":"Point","coordinates":[0.1,49.5]},"properties":{"material":"wood","quantity":3,"holder":"A","note":"x"}}"#;
        let cur = parse_features(Layer::WasteDeposits, body, 10)
            .unwrap()
            .remove(0);
        let s = schema(Layer::WasteDeposits);
        let patch = parse_patch(
            br#"{"properties":{"holder":null,"tonnage":"12,5","note":null,"extra2":1}}"#,
        )
        .unwrap();
        let f = apply_patch(Layer::WasteDeposits, &cur.feature, &patch).unwrap();
        assert_eq!(f.get(s, "holder"), None);
        assert_eq!(f.get(s, "quantity"), Some(&Value::Float(12.5)));
        assert_eq!(f.get(s, "material"), Some(&Value::Text("wood".into())));
        assert!(!f.extra.contains_key("note"));
        assert_eq!(f.extra.get("extra2"), Some(&Json::from(1)));
        let bad = parse_patch(br#"{"properties":{"material":"water","unit":"t"}}"#).unwrap();
        assert!(matches!(
            apply_patch(Layer::WasteDeposits, &cur.feature, &bad),
            Err(Reject::UnitMismatch { .. })
        ));
        assert!(parse_patch(br#"{"id": 3, "properties": {"a": 1}}"#).is_err());
        assert!(parse_patch(br#"{}"#).is_err());
    }

    #[test]
    fn only_wgs84_bodies() {
        let l93 = br#"{"type":"Feature","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::2154"}},"geometry":{"type":"Point","coordinates":[560000,6930000]},"properties":{"material":"wood","quantity":1}}"#;
        let err = parse_features(Layer::WasteDeposits, l93, 10).unwrap_err();
        assert!(err.to_string().contains("WGS84"), "{err}");
        let crs84 = String::from_utf8_lossy(l93)
            .replace(
                "urn:ogc:def:crs:EPSG::2154",
                "urn:ogc:def:crs:OGC:1.3:CRS84",
            )
            .replace("560000,6930000", "0.1,49.5");
        assert!(parse_features(Layer::WasteDeposits, crs84.as_bytes(), 10).is_ok());
    }

    /// GET → PUT of a plot keeps it as it was: computed fields are not read back as input.
    #[test]
    fn computed_fields_are_ignored_on_input() {
        let body = br#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0.1,49.5],[0.11,49.5],[0.11,49.51],[0.1,49.51],[0.1,49.5]]]},"properties":{"area_ha":999,"area_source":"declared"}}"#;
        let f = parse_replacement(Layer::Plots, 8, body).unwrap().feature;
        let s = schema(Layer::Plots);
        let area = f.get(s, "area_ha").and_then(Value::as_f64).unwrap();
        assert!((area - 80.0).abs() < 10.0, "{area}");
        assert_eq!(f.get(s, "declared_area_ha"), None);
        assert!(f.extra.is_empty());
        assert!(matches!(
            parse_replacement(
                Layer::Plots,
                9,
                &body.replace_first("\"Feature\"", "\"Feature\",\"id\":8")
            ),
            Err(EditError::IdMismatch { path: 9, .. })
        ));
    }

    trait ReplaceFirst {
        fn replace_first(&self, a: &str, b: &str) -> Vec<u8>;
    }
    impl ReplaceFirst for [u8] {
        fn replace_first(&self, a: &str, b: &str) -> Vec<u8> {
            String::from_utf8_lossy(self).replacen(a, b, 1).into_bytes()
        }
    }
}
