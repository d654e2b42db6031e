//! `GET /ogc/api`: the OpenAPI definition of the OGC API, as JSON, generated from
//! `openapi.yaml` (parsed once, at the first request): the `/ogc` paths relative to a `servers`
//! entry at `/ogc` (so `/collections/{layer}/items` is where OGC clients look for it), and one
//! path per collection, `/collections/plots/items`, listing that collection's property
//! filters as query parameters — GDAL reads them to know which filters it may push to the
//! server, and the `limit` maximum as its page size.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde_json::{Map, Value as Json, json};

use super::queryables::field_schema;
use crate::api::geojson::{base_url, respond};
use crate::api::{ApiError, AppState};
use crate::model::{FieldType, Layer, schema};

/// The OpenAPI 3.1 media type, for clients that ask for it.
const OPENAPI_JSON: &str = "application/vnd.oai.openapi+json;version=3.1";

/// `openapi.yaml` as JSON.
fn source() -> Result<&'static Json, ApiError> {
    static DOC: OnceLock<Result<Json, serde_norway::Error>> = OnceLock::new();
    DOC.get_or_init(|| serde_norway::from_str::<Json>(include_str!("../../../../openapi.yaml")))
        .as_ref()
        .map_err(|e| ApiError::Internal(format!("openapi.yaml does not parse: {e}")))
}

/// `GET /ogc/api`.
pub async fn api_definition(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let doc = ogc_document(source()?, &base_url(&headers), state.limits.max_limit);
    // OpenAPI's own media type when the client accepts it, else plain JSON (GDAL asks for
    // the 3.0 media type or application/json).
    let accepts_openapi = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/vnd.oai.openapi+json;version=3.1"));
    let media = if accepts_openapi {
        OPENAPI_JSON
    } else {
        "application/json"
    };
    Ok(respond(doc.to_string(), media))
}

/// The OGC part of the whole document, rebased on `/ogc`.
pub fn ogc_document(whole: &Json, base: &str, max_limit: usize) -> Json {
    let mut doc = whole.clone();
    let Some(obj) = doc.as_object_mut() else {
        return doc;
    };
    let mut paths = Map::new();
    if let Some(Json::Object(all)) = whole.get("paths") {
        for (path, item) in all {
            if let Some(rest) = path.strip_prefix("/ogc") {
                let rel = if rest.is_empty() { "/" } else { rest };
                paths.insert(rel.to_string(), item.clone());
            }
        }
    }
    if let Some(items) = paths.get("/collections/{layer}/items").cloned() {
        for layer in Layer::ALL {
            paths.insert(
                format!("/collections/{}/items", layer.id()),
                collection_items(&items, layer),
            );
        }
    }
    for item in paths.values_mut() {
        cap_limit(item, max_limit);
    }
    obj.insert("servers".into(), json!([{ "url": format!("{base}/ogc") }]));
    obj.insert("paths".into(), Json::Object(paths));
    doc
}

/// The items operation of one collection: no `{layer}` path parameter, and one query
/// parameter per filterable property.
fn collection_items(generic: &Json, layer: Layer) -> Json {
    let mut item = generic.clone();
    let Some(Json::Array(params)) = item.pointer_mut("/get/parameters") else {
        return item;
    };
    params.retain(|p| p.get("$ref") != Some(&json!("#/components/parameters/layer")));
    for f in schema(layer).fields {
        if f.ty == FieldType::Counts {
            continue;
        }
        params.push(json!({
            "name": f.name,
            "in": "query",
            "required": false,
            "description": format!("Property filter (the filter grammar): {}", f.description),
            "schema": grammar_schema(f),
        }));
    }
    item
}

/// The schema of a property filter parameter: the grammar writes ranges and lists as text.
fn grammar_schema(f: &crate::model::Field) -> Json {
    match f.ty {
        FieldType::Bool => field_schema(f),
        _ => json!({ "type": "string" }),
    }
}

/// States the server's page size cap as the `limit` parameter's maximum.
fn cap_limit(item: &mut Json, max_limit: usize) {
    let Some(Json::Array(params)) = item.pointer_mut("/get/parameters") else {
        return;
    };
    for p in params.iter_mut() {
        if p.get("name") == Some(&json!("limit"))
            && let Some(Json::Object(s)) = p.get_mut("schema")
        {
            s.insert("maximum".into(), json!(max_limit));
        }
    }
}
