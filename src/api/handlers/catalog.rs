//! `/health`, `/catalog` and single features.

use axum::Json;
use axum::extract::State;
use serde_json::{Value as Json_, json};

use crate::api::extract::ApiPath;
use crate::api::{ApiError, AppState};
use crate::index::LayerData;
use crate::model::{FeatureId, FieldType, Layer, Origin};

/// `GET /health`: the server is up and holds data of a generation.
pub async fn health(State(state): State<AppState>) -> Json<Json_> {
    let snap = state.snapshot.load();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "generation": snap.generation,
    }))
}

/// The catalog entry of one layer: count, bounds, typed fields.
pub fn layer_entry(data: &LayerData) -> Json_ {
    let layer = data.layer();
    let fields: Vec<Json_> = data
        .schema()
        .fields
        .iter()
        .map(|f| {
            let mut e = json!({
                "name": f.name,
                "type": f.ty.name(),
                "description": f.description,
                "required": f.origin == Origin::Required,
                "computed": f.origin == Origin::Computed,
            });
            if let Some(u) = f.unit {
                e["unit"] = json!(u);
            }
            if let FieldType::Enum(values) = f.ty {
                e["values"] = json!(values);
            }
            e
        })
        .collect();
    let bounds = data
        .bounds()
        .map(|b| json!([b.min().x, b.min().y, b.max().x, b.max().y]));
    json!({
        "id": layer.id(),
        "title": layer.title(),
        "geometry": layer.geometry_kind().describe(),
        "count": data.len(),
        "bounds": bounds,
        "fields": fields,
    })
}

/// `GET /catalog`: every layer with its feature count, bounds and fields.
pub async fn catalog(State(state): State<AppState>) -> Json<Json_> {
    let snap = state.snapshot.load();
    let layers: Vec<Json_> = snap.layers().map(|d| layer_entry(d)).collect();
    Json(json!({ "generation": snap.generation, "layers": layers }))
}

/// `GET /layers/{layer}/features/{id}`: one feature as GeoJSON.
pub async fn feature(
    State(state): State<AppState>,
    ApiPath((layer, id)): ApiPath<(String, String)>,
) -> Result<Json<Json_>, ApiError> {
    let layer: Layer = layer.parse()?;
    let id: FeatureId = id.parse().map_err(|_| ApiError::FeatureNotFound {
        layer,
        id: id.clone(),
    })?;
    let snap = state.snapshot.load();
    let data = snap.layer(layer);
    let row = data.row_of(id).ok_or(ApiError::not_found(layer, id))?;
    Ok(Json(data.feature_json(row)))
}
