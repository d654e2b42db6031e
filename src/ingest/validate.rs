//! Turns a raw feature into a typed, valid feature of a layer, or says precisely why not.
//!
//! Steps: geometry kind → reprojection → coordinate ranges → OGC validity → properties by
//! field (aliases, types, formats, ranges, enums) → computed fields (geodesic area, unit,
//! hazardous flag). The same function serves the importer and the editing API.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use geo::CoordsIter;
use geo_types::Geometry;
use serde_json::{Map, Value as Json};

use super::raw::check_rings;
use super::{RawFeature, Reject};
use crate::geo_util::{Reprojector, area_ha};
use crate::model::{
    Feature, FeatureId, FieldType, GeometryKind, Layer, LayerSchema, Origin, TextFormat, Value,
    enum_variant, material_unit, parse_waste_code, schema,
};

/// Typed values in schema order.
type Props = Vec<Option<Value>>;

/// What validation needs besides the feature.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub layer: Layer,
    /// Waste deposits only: the input lists holders (e.g. IREP establishments) whose streams are
    /// not characterised yet, so `material` and `quantity` may be missing (left unknown).
    pub as_holders: bool,
}

/// Validates the geometry of a raw feature for a layer and reprojects it to WGS84.
pub fn validate_geometry(
    geometry: Geometry<f64>,
    layer: Layer,
    reprojector: &Reprojector,
) -> Result<Geometry<f64>, Reject> {
    let mut g = normalise_kind(geometry, layer)?;
    // An empty geometry (`"coordinates": []`) has no place on a map and no FlatGeobuf
    // encoding the layer files could read back: refused like a missing one.
    if g.coords_iter().next().is_none() {
        return Err(Reject::MalformedGeometry(
            "the geometry is empty (no coordinates)".into(),
        ));
    }
    check_rings(&g)?;
    for c in g.coords_iter() {
        if !c.x.is_finite() || !c.y.is_finite() {
            return Err(Reject::NonFinite(format!("({}, {})", c.x, c.y)));
        }
    }
    reprojector.reproject(&mut g)?;
    for c in g.coords_iter() {
        if !(-90.0..=90.0).contains(&c.y) {
            return Err(Reject::LatitudeOutOfRange { lat: c.y });
        }
        if !(-180.0..=180.0).contains(&c.x) {
            return Err(Reject::LongitudeOutOfRange { lon: c.x });
        }
    }
    // geo's verdicts in O(n log n) (geo's own check is quadratic); stops when cancelled.
    match super::validity::first_problem(&g) {
        Ok(None) => Ok(g),
        Ok(Some(problem)) => Err(Reject::InvalidGeometry(problem.to_string())),
        Err(crate::cancel::Cancelled) => Err(Reject::Cancelled),
    }
}

/// Checks the geometry type against the layer; a single-part Multi geometry becomes its part.
fn normalise_kind(g: Geometry<f64>, layer: Layer) -> Result<Geometry<f64>, Reject> {
    let kind = layer.geometry_kind();
    let g = match g {
        Geometry::MultiPoint(mut mp) if mp.0.len() == 1 => Geometry::Point(mp.0.remove(0)),
        Geometry::MultiPolygon(mut mp) if mp.0.len() == 1 => Geometry::Polygon(mp.0.remove(0)),
        other => other,
    };
    let ok = matches!(
        (&g, kind),
        (
            Geometry::Point(_),
            GeometryKind::Point | GeometryKind::PolygonOrPoint
        ) | (
            Geometry::Polygon(_) | Geometry::MultiPolygon(_),
            GeometryKind::Polygon | GeometryKind::PolygonOrPoint,
        )
    );
    if ok {
        Ok(g)
    } else {
        Err(Reject::GeometryType {
            found: geometry_type_name(&g).to_string(),
            layer: layer.id(),
            expected: kind.describe(),
        })
    }
}

/// The GeoJSON name of a geometry's type.
pub fn geometry_type_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::LineString(_) | Geometry::Line(_) => "LineString",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// Builds a typed feature from a raw one. `id` has been resolved by the caller.
pub fn validate_feature(
    raw: RawFeature,
    id: FeatureId,
    rules: Rules,
    reprojector: &Reprojector,
) -> Result<Feature, Reject> {
    let geometry = validate_geometry(raw.geometry?, rules.layer, reprojector)?;
    let schema = schema(rules.layer);
    let code_hazardous = hazardous_from_code(&raw.properties, schema);
    let (mut props, extra) = typed_properties(raw.properties, schema)?;
    computed_fields(&mut props, &geometry, schema, code_hazardous)?;
    check_required(&props, schema, rules)?;
    Ok(Feature {
        id,
        version: 1,
        geometry,
        props,
        extra,
    })
}

/// Reads properties as they are stored (every field by its own name, computed ones included,
/// no aliases, no range checks): the inverse of [`crate::index::LayerData::properties_json`],
/// used to replay the write log.
pub fn stored_properties(
    mut input: Map<String, Json>,
    schema: &LayerSchema,
) -> Result<(Props, Map<String, Json>), Reject> {
    let mut props = Vec::with_capacity(schema.fields.len());
    for field in schema.fields {
        props.push(match input.remove(field.name) {
            Some(v) => convert(&v, field.ty, field.name, field.name, 1.0)?,
            None => None,
        });
    }
    Ok((props, input))
}

/// Splits JSON properties into typed schema fields (by name or alias) and extras.
pub fn typed_properties(
    mut input: Map<String, Json>,
    schema: &LayerSchema,
) -> Result<(Props, Map<String, Json>), Reject> {
    let mut props: Vec<Option<Value>> = vec![None; schema.fields.len()];
    for (i, field) in schema.fields.iter().enumerate() {
        if field.origin == Origin::Computed {
            // Never taken from the input; an input value of that name is left for an alias
            // (plots: an input `area_ha` is the declared area).
            continue;
        }
        // The field's own name wins over aliases.
        let found = input
            .remove(field.name)
            .map(|v| (v, 1.0, field.name))
            .or_else(|| {
                field
                    .aliases
                    .iter()
                    .find_map(|a| input.remove(a.name).map(|v| (v, a.scale, a.name)))
            });
        if let Some((v, scale, name)) = found {
            props[i] = convert(&v, field.ty, field.name, name, scale)?;
            if let (Some(value), Some((lo, hi))) = (&props[i], field.range)
                && let Some(x) = value.as_f64()
                && !(lo..=hi).contains(&x)
            {
                return Err(Reject::OutOfRange {
                    field: field.name,
                    value: x,
                    min: lo,
                    max: hi,
                });
            }
        }
    }
    // Whatever is left over is kept as it was, nulls included.
    Ok((props, input))
}

fn wrong(field: &str, expected: &'static str, v: &Json) -> Reject {
    let found = match v {
        Json::String(s) => format!("\"{}\"", s.chars().take(40).collect::<String>()),
        other => {
            let s = other.to_string();
            s.chars().take(40).collect()
        }
    };
    Reject::WrongType {
        field: field.to_string(),
        expected,
        found,
    }
}

/// Converts one JSON value to a field's type. Empty strings and nulls are missing values.
/// Strings are accepted for every type (CSV has nothing else), with French spellings of
/// booleans and decimal commas.
fn convert(
    v: &Json,
    ty: FieldType,
    field: &'static str,
    input_name: &str,
    scale: f64,
) -> Result<Option<Value>, Reject> {
    let name = if input_name == field {
        field.to_string()
    } else {
        format!("{field}` (from `{input_name}`")
    };
    if let Json::String(s) = v
        && s.trim().is_empty()
    {
        return Ok(None);
    }
    if v.is_null() {
        return Ok(None);
    }
    let value = match ty {
        FieldType::Bool => Value::Bool(to_bool(v, &name)?),
        FieldType::Int => {
            let x = number(v).ok_or_else(|| wrong(&name, "an integer", v))? * scale;
            if x.fract() != 0.0 || x.abs() > 9.0e15 {
                return Err(wrong(&name, "an integer", v));
            }
            Value::Int(x as i64)
        }
        FieldType::Float => {
            let x = number(v).ok_or_else(|| wrong(&name, "a number", v))?;
            if !x.is_finite() {
                return Err(wrong(&name, "a finite number", v));
            }
            Value::Float(x * scale)
        }
        FieldType::Text(format) => Value::Text(to_text(v, format, field, &name)?),
        FieldType::Date => {
            let s = v
                .as_str()
                .ok_or_else(|| wrong(&name, "a date (YYYY-MM-DD)", v))?;
            Value::Date(parse_date(s).ok_or_else(|| wrong(&name, "a date (YYYY-MM-DD)", v))?)
        }
        FieldType::Enum(variants) => Value::Text(to_variant(v, variants, field, &name)?),
        FieldType::Counts => Value::Counts(to_counts(v, field, &name)?),
    };
    Ok(Some(value))
}

/// A boolean: JSON's, 1/0, or an English or French word.
fn to_bool(v: &Json, name: &str) -> Result<bool, Reject> {
    Ok(match v {
        Json::Bool(b) => *b,
        Json::Number(n) if n.as_f64() == Some(1.0) => true,
        Json::Number(n) if n.as_f64() == Some(0.0) => false,
        Json::String(s) => match s.trim().to_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "oui" | "o" | "1" | "vrai" => true,
            "false" | "f" | "no" | "n" | "non" | "0" | "faux" => false,
            _ => return Err(wrong(name, "a boolean (true/false)", v)),
        },
        _ => return Err(wrong(name, "a boolean (true/false)", v)),
    })
}

/// A text (a string, or a number's digits) normalised and checked by its format.
fn to_text(
    v: &Json,
    format: TextFormat,
    field: &'static str,
    name: &str,
) -> Result<String, Reject> {
    let s = match v {
        Json::String(s) => s.trim().to_string(),
        Json::Number(n) => n.to_string(),
        _ => return Err(wrong(name, "a string", v)),
    };
    let bad = |value: String| Reject::BadFormat {
        field,
        value,
        hint: format.hint(),
    };
    let s = match format {
        // INSEE codes written as numbers lose their leading zero (01001 → 1001).
        TextFormat::Insee if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) => {
            format!("0{s}")
        }
        TextFormat::WasteCode => match parse_waste_code(&s) {
            Some((code, _)) => code,
            None => return Err(bad(s)),
        },
        _ => s,
    };
    if !format.accepts(&s) {
        return Err(bad(s));
    }
    Ok(s)
}

/// The canonical spelling of an enum value.
fn to_variant(
    v: &Json,
    variants: &'static [&'static str],
    field: &'static str,
    name: &str,
) -> Result<String, Reject> {
    let Json::String(s) = v else {
        return Err(wrong(name, "a string", v));
    };
    match enum_variant(s, variants) {
        Some(x) => Ok(x.to_string()),
        None => Err(Reject::UnknownValue {
            field,
            value: s.chars().take(60).collect(),
            valid: variants.join(", "),
        }),
    }
}

/// Counts by key, from an object (or, in CSV, its JSON text); masked (`*`) and empty counts
/// are left out.
fn to_counts(v: &Json, field: &'static str, name: &str) -> Result<BTreeMap<String, f64>, Reject> {
    let obj = match v {
        Json::Object(o) => o.clone(),
        // CSV cells can hold the object as JSON text.
        Json::String(s) => match serde_json::from_str::<Json>(s) {
            Ok(Json::Object(o)) => o,
            _ => return Err(wrong(name, "an object of counts", v)),
        },
        _ => return Err(wrong(name, "an object of counts", v)),
    };
    let mut m = BTreeMap::new();
    for (k, c) in obj {
        // France Travail masks small counts with `*`: unknown, so left out.
        if c.is_null()
            || c.as_str()
                .is_some_and(|s| s.trim() == "*" || s.trim().is_empty())
        {
            continue;
        }
        let x = number(&c)
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| wrong(&format!("{field}.{k}"), "a count ≥ 0", &c))?;
        m.insert(k, x);
    }
    Ok(m)
}

fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => {
            let t = s.trim().replace(['\u{a0}', ' '], "");
            t.parse::<f64>()
                .ok()
                .or_else(|| t.replace(',', ".").parse::<f64>().ok())
        }
        _ => None,
    }
}

/// Parses `YYYY-MM-DD`, an ISO date-time (date part) or the French `DD/MM/YYYY`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let t = s.trim();
    let head = t.get(..10).unwrap_or(t);
    NaiveDate::parse_from_str(head, "%Y-%m-%d")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(t, "%d/%m/%Y").ok())
}

/// Fills the fields terriens computes.
fn computed_fields(
    props: &mut [Option<Value>],
    geometry: &Geometry<f64>,
    schema: &LayerSchema,
    code_hazardous: Option<bool>,
) -> Result<(), Reject> {
    match schema.layer {
        Layer::Plots => {
            let area = schema.index_of("area_ha");
            let source = schema.index_of("area_source");
            let declared = schema.index_of("declared_area_ha");
            if matches!(geometry, Geometry::Point(_)) {
                // A point plot has no outline: its area is the declared one, if any.
                props[area] = props[declared].clone();
                props[source] = props[area].as_ref().map(|_| Value::Text("declared".into()));
            } else {
                props[area] = Some(Value::Float(area_ha(geometry)));
                props[source] = Some(Value::Text("geometry".into()));
            }
        }
        Layer::WasteDeposits => {
            let material = schema.index_of("material");
            let unit = schema.index_of("unit");
            if let Some(Value::Text(m)) = &props[material] {
                let expected = material_unit(m).unwrap_or("t");
                match &props[unit] {
                    None => props[unit] = Some(Value::Text(expected.into())),
                    Some(Value::Text(u)) if u != expected => {
                        return Err(Reject::UnitMismatch {
                            unit: u.clone(),
                            material: m.clone(),
                            expected,
                        });
                    }
                    _ => {}
                }
            }
            // A code marked with an asterisk is hazardous whatever the input's flag says.
            let hazardous = schema.index_of("hazardous");
            if let Some(star) = code_hazardous {
                let given = matches!(props[hazardous], Some(Value::Bool(true)));
                props[hazardous] = Some(Value::Bool(given || star));
            }
            let conf = schema.index_of("confidentiality");
            if props[conf].is_none() {
                props[conf] = Some(Value::Text("public".into()));
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_required(
    props: &[Option<Value>],
    schema: &LayerSchema,
    rules: Rules,
) -> Result<(), Reject> {
    for (field, value) in schema.fields.iter().zip(props) {
        if field.origin != Origin::Required || value.is_some() {
            continue;
        }
        let waived = rules.as_holders
            && rules.layer == Layer::WasteDeposits
            && matches!(field.name, "material" | "quantity");
        if !waived {
            return Err(Reject::MissingField { field: field.name });
        }
    }
    Ok(())
}

/// Reads a waste code with its hazardous asterisk from the raw properties before typing, so
/// `16 01 04*` sets `hazardous`.
fn hazardous_from_code(props: &Map<String, Json>, schema: &LayerSchema) -> Option<bool> {
    let (_, field) = schema.field("waste_code")?;
    let raw = std::iter::once(field.name)
        .chain(field.aliases.iter().map(|a| a.name))
        .find_map(|n| props.get(n).and_then(Json::as_str))?;
    parse_waste_code(raw).map(|(_, h)| h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo_util::Crs;
    use serde_json::json;

    fn raw(geometry: Json, props: Json) -> RawFeature {
        RawFeature {
            index: 0,
            id: None,
            geometry: super::super::raw::geometry_from_geojson(&geometry),
            properties: props.as_object().unwrap().clone(),
        }
    }

    fn wgs84() -> Reprojector {
        Reprojector::to_wgs84(&Crs::Wgs84).unwrap()
    }

    #[test]
    fn deposit_gets_unit_and_keeps_extras() {
        let rules = Rules {
            layer: Layer::WasteDeposits,
            as_holders: false,
        };
        let f = validate_feature(
            raw(
                json!({"type": "Point", "coordinates": [0.1, 49.5]}),
                json!({"material": "Paper Cardboard", "quantity": "1 250,5", "colour": "brown", "waste_code": "15 01 01"}),
            ),
            7,
            rules,
            &wgs84(),
        )
        .unwrap();
        let s = schema(Layer::WasteDeposits);
        assert_eq!(
            f.get(s, "material"),
            Some(&Value::Text("paper_cardboard".into()))
        );
        assert_eq!(f.get(s, "quantity"), Some(&Value::Float(1250.5)));
        assert_eq!(f.get(s, "unit"), Some(&Value::Text("t".into())));
        assert_eq!(f.get(s, "waste_code"), Some(&Value::Text("150101".into())));
        assert_eq!(f.extra.get("colour"), Some(&json!("brown")));
    }

    #[test]
    fn precise_rejections() {
        let rules = Rules {
            layer: Layer::WasteDeposits,
            as_holders: false,
        };
        let pt = json!({"type": "Point", "coordinates": [0.1, 49.5]});
        let cases = [
            (
                json!({"material": "unobtainium", "quantity": 1}),
                "unknown material",
            ),
            (json!({"quantity": 1}), "missing required field `material`"),
            (
                json!({"material": "wood", "quantity": "lots"}),
                "must be a number",
            ),
            (json!({"material": "wood", "quantity": -3}), "out of range"),
            (
                json!({"material": "water", "quantity": 3, "unit": "t"}),
                "does not match",
            ),
        ];
        for (props, expected) in cases {
            let err = validate_feature(raw(pt.clone(), props), 1, rules, &wgs84()).unwrap_err();
            assert!(err.to_string().contains(expected), "{err} ⊅ {expected}");
        }
        let lat95 = json!({"type": "Point", "coordinates": [0.1, 95.0]});
        let err = validate_feature(
            raw(lat95, json!({"material": "wood", "quantity": 1})),
            1,
            rules,
            &wgs84(),
        )
        .unwrap_err();
        assert!(matches!(err, Reject::LatitudeOutOfRange { .. }));
    }

    /// An empty geometry was once accepted by the write API, and the compaction then wrote a
    /// layer file the next start could not read (found by the schemathesis run).
    #[test]
    fn empty_geometries_are_rejected() {
        let rules = Rules {
            layer: Layer::Plots,
            as_holders: false,
        };
        for g in [
            json!({"type": "MultiPolygon", "coordinates": []}),
            json!({"type": "Polygon", "coordinates": []}),
            json!({"type": "MultiPolygon", "coordinates": [[]]}),
        ] {
            let err = validate_feature(raw(g.clone(), json!({})), 1, rules, &wgs84()).unwrap_err();
            assert!(matches!(err, Reject::MalformedGeometry(_)), "{g}: {err}");
        }
    }

    #[test]
    fn self_intersecting_polygon_is_rejected() {
        let bowtie = json!({"type": "Polygon", "coordinates": [[[0,0],[1,1],[1,0],[0,1],[0,0]]]});
        let err = validate_feature(
            raw(bowtie, json!({"zone_code": "A"})),
            1,
            Rules {
                layer: Layer::Catchments,
                as_holders: false,
            },
            &wgs84(),
        )
        .unwrap_err();
        assert!(matches!(err, Reject::InvalidGeometry(_)), "{err}");
    }
}
