//! `/health`, `/catalog` and single features.

use axum::Json;
use axum::extract::State;
use serde_json::{Value as Json_, json};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::extract::{ApiPath, Caller, etag, if_none_match};
use crate::api::handlers::visible_row;
use crate::api::{ApiError, AppState};
use crate::index::LayerView;
use crate::ingest::bmo::OccupationTable;
use crate::model::{BMO_SPREAD, Field, FieldType, Layer, Origin};
use crate::request::Endpoint;

/// `GET /health`: the server is up and holds data of a generation. A replica
/// (`serve --source`) says whether it has caught up with its database (`ready`) or not
/// (`catching_up`, with the lag), and answers 503 when its lag is beyond `[source] max_lag_s`.
pub async fn health(State(state): State<AppState>) -> Response {
    let snap = state.snapshot.load();
    let Some(feed) = &state.feed else {
        return Json(json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "generation": snap.generation,
        }))
        .into_response();
    };
    let body = json!({
        "status": feed.state(),
        "version": env!("CARGO_PKG_VERSION"),
        "generation": snap.generation,
        "source": {
            "kind": "postgresql",
            "lag_s": feed.lag().as_secs_f64(),
            "connected": feed.connected.load(std::sync::atomic::Ordering::Relaxed),
            "applied_changes": feed.applied.load(std::sync::atomic::Ordering::Relaxed),
        },
    });
    if feed.too_far_behind() {
        let retry = [(
            header::RETRY_AFTER,
            HeaderValue::from(crate::api::error::LAGGING_RETRY_S),
        )];
        return (StatusCode::SERVICE_UNAVAILABLE, retry, Json(body)).into_response();
    }
    Json(body).into_response()
}

/// The catalog entry of one layer: count and bounds of what `access` may see, typed fields,
/// and the source attributes of the rows it may see (inferred types; filterable on
/// `/layers/{layer}/search` unless the search reserves the name).
pub fn layer_entry(view: &LayerView) -> Json_ {
    let data = view.data();
    let layer = data.layer();
    let fields: Vec<Json_> = data.schema().fields.iter().map(field_entry).collect();
    let extent = view.extent();
    let source: Vec<Json_> = view
        .source_attrs()
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "type": a.ty.name(),
                "source": true,
                "rows": a.rows,
                "filterable": !Endpoint::LayerSearch.reserves(&a.name),
            })
        })
        .collect();
    json!({
        "id": layer.id(),
        "title": layer.title(),
        "geometry": layer.geometry_kind().describe(),
        "count": extent.count,
        "bounds": extent.bbox(),
        "fields": fields,
        "source_attributes": source,
    })
}

/// One field of a layer's catalog entry: name, type, description, origin, unit, values.
fn field_entry(f: &Field) -> Json_ {
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
}

/// `GET /catalog`: every layer with the count and bounds of the features the caller may see,
/// and its fields.
pub async fn catalog(State(state): State<AppState>, Caller(access): Caller) -> Json<Json_> {
    let snap = state.snapshot.load();
    let view = snap.view(&access);
    let layers: Vec<Json_> = view.layers().map(|l| layer_entry(&l)).collect();
    let mut body = json!({ "generation": snap.generation, "layers": layers });
    if !state.occupations.occupations.is_empty() {
        body["bmo"] = bmo_entry(&state.occupations);
    }
    Json(body)
}

/// The BMO survey behind the catchments' hiring figures: its year, how a bassin's figures are
/// spread over communes, and the occupation codes with their labels and families.
fn bmo_entry(table: &OccupationTable) -> Json_ {
    json!({
        "year": table.year,
        "source": "France Travail, enquête Besoins en Main-d'Œuvre (BMO)",
        "spread_rule": BMO_SPREAD,
        "masked": "Values masked in the survey (`*`) are unknown, never 0: absent from the counts and listed in hiring_masked, difficult_masked, seasonal_masked.",
        "occupations": table.occupations.values().collect::<Vec<_>>(),
    })
}

/// `GET /layers/{layer}/features/{id}`: one feature as GeoJSON, with its version as ETag
/// (`If-None-Match` → 304). A confidential deposit is a 404 for callers without the
/// `partners` right: its existence is not revealed either.
pub async fn feature(
    State(state): State<AppState>,
    Caller(access): Caller,
    ApiPath((layer, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let layer: Layer = layer.parse()?;
    let snap = state.snapshot.load();
    let (_, row) = visible_row(&snap, &access, layer, &id)?;
    let data = snap.layer(layer);
    let tag = etag(data.version(row));
    if if_none_match(&headers, tag.to_str().unwrap_or("")) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    let geojson = HeaderValue::from_static("application/geo+json");
    let headers = [(header::ETAG, tag), (header::CONTENT_TYPE, geojson)];
    Ok((headers, Json(data.feature_json(row))).into_response())
}
