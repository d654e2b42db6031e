//! The JSON Schemas of a collection: its queryables (OGC API – Features Part 3: every field a
//! CQL2 filter may name, with its type and allowed values), its sortables (every field
//! `sortby` may name, `request::ogc::sortable_fields`) and the schema of its features (the
//! `describedby` link: every property, and the geometry types), all generated from the
//! layer's schema (`model::schema`), the one source of truth for fields.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value as Json, json};

use crate::api::extract::ApiPath;
use crate::api::geojson::{base_url, respond};
use crate::api::{ApiError, AppState};
use crate::index::cql2::GEOMETRY_PROPERTY;
use crate::model::{Field, FieldType, GeometryKind, Layer, TextFormat, schema};

/// Media type of JSON Schema.
pub const SCHEMA_JSON: &str = "application/schema+json";

/// `GET /ogc/collections/{layer}/queryables`.
pub async fn queryables(
    State(_state): State<AppState>,
    ApiPath(layer): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    schema_document(&layer, &headers, "queryables", Doc::Queryables)
}

/// `GET /ogc/collections/{layer}/sortables`: the fields `sortby` may name.
pub async fn sortables(
    State(_state): State<AppState>,
    ApiPath(layer): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    schema_document(&layer, &headers, "sortables", Doc::Sortables)
}

/// Which schema document of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doc {
    Queryables,
    Sortables,
    Features,
}

/// `GET /ogc/collections/{layer}/schema`: the schema of the collection's features.
pub async fn feature_schema(
    State(_state): State<AppState>,
    ApiPath(layer): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    schema_document(&layer, &headers, "schema", Doc::Features)
}

/// The JSON Schema document of a layer served at `/ogc/collections/{layer}/{name}`: its
/// queryables, or the schema of its features.
fn schema_document(
    layer: &str,
    headers: &HeaderMap,
    name: &str,
    which: Doc,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    let id = format!(
        "{}/ogc/collections/{}/{name}",
        base_url(headers),
        layer.id()
    );
    let doc = document(layer, &id, which);
    Ok(respond(doc.to_string(), SCHEMA_JSON))
}

/// The queryables, the sortables or the feature schema of a layer.
fn document(layer: Layer, id: &str, which: Doc) -> Json {
    let mut props = Map::new();
    match which {
        Doc::Sortables => {
            for f in crate::request::ogc::sortable_fields(layer) {
                props.insert(f.name.into(), field_schema(f));
            }
        }
        Doc::Queryables | Doc::Features => {
            props.insert(GEOMETRY_PROPERTY.into(), geometry_schema(layer));
            for f in schema(layer).fields {
                if which == Doc::Queryables && f.ty == FieldType::Counts {
                    continue;
                }
                props.insert(f.name.into(), field_schema(f));
            }
        }
    }
    let filterable_only = which != Doc::Features;
    let title = match which {
        Doc::Queryables => format!("Queryables of {}", layer.id()),
        Doc::Sortables => format!("Sortables of {}", layer.id()),
        Doc::Features => format!("Features of {}", layer.id()),
    };
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": id,
        "type": "object",
        "title": title,
        "description": layer.title(),
        "properties": props,
        "additionalProperties": !filterable_only,
    })
}

/// A field as a JSON Schema property.
pub fn field_schema(f: &Field) -> Json {
    let mut s = match f.ty {
        FieldType::Bool => json!({ "type": "boolean" }),
        FieldType::Int => json!({ "type": "integer" }),
        FieldType::Float => json!({ "type": "number" }),
        FieldType::Date => json!({ "type": "string", "format": "date" }),
        FieldType::Enum(values) => json!({ "type": "string", "enum": values }),
        FieldType::Text(format) => match format {
            TextFormat::Siren => json!({ "type": "string", "pattern": "^[0-9]{9}$" }),
            TextFormat::Insee => json!({ "type": "string", "pattern": "^[0-9][0-9AB][0-9]{3}$" }),
            TextFormat::WasteCode => json!({ "type": "string", "pattern": "^[0-9]{6}$" }),
            TextFormat::Free => json!({ "type": "string" }),
        },
        FieldType::Counts => {
            json!({ "type": "object", "additionalProperties": { "type": "number" } })
        }
    };
    if let Json::Object(m) = &mut s {
        m.insert("title".into(), json!(f.name));
        m.insert("description".into(), json!(f.description));
        if let Some((lo, hi)) = f.range {
            m.insert("minimum".into(), json!(lo));
            m.insert("maximum".into(), json!(hi));
        }
        if let Some(unit) = f.unit {
            m.insert("x-ogc-unit".into(), json!(unit));
        }
    }
    s
}

/// The geometry property: its role, its format (OGC API – Features Part 5) and the GeoJSON
/// geometry types it takes.
pub fn geometry_schema(layer: Layer) -> Json {
    let kind = layer.geometry_kind();
    let (format, types): (&str, &[&str]) = match kind {
        GeometryKind::Point => ("geometry-point", &["Point"]),
        GeometryKind::Polygon => (
            "geometry-polygon-or-multipolygon",
            &["Polygon", "MultiPolygon"],
        ),
        GeometryKind::PolygonOrPoint => ("geometry-any", &["Polygon", "MultiPolygon", "Point"]),
    };
    let one_of: Vec<Json> = types
        .iter()
        .map(|t| json!({ "$ref": format!("https://geojson.org/schema/{t}.json") }))
        .collect();
    json!({
        "title": GEOMETRY_PROPERTY,
        "description": kind.describe(),
        "x-ogc-role": "primary-geometry",
        "format": format,
        "oneOf": one_of,
    })
}
