//! TileJSON 3.0.0 documents for a tile set: absolute tile URLs, `vector_layers` with typed
//! fields, per-layer zooms and the zoom from which each layer is complete, bounds and centre
//! from the data, `version` from the data generation.

use serde_json::{Map, Value as Json, json};

use super::prepare::{Prepared, cluster_spec};
use super::{TileConfig, TileSet, lonlat_to_world, world_to_lonlat};
use crate::model::{FieldType, Layer, schema};

/// The MVT value type of a field, in TileJSON's words.
fn field_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Bool => "Boolean",
        FieldType::Int | FieldType::Float => "Number",
        FieldType::Text(_) | FieldType::Enum(_) | FieldType::Date | FieldType::Counts => "String",
    }
}

/// The fields a layer's tiles may carry, with their types.
pub fn layer_fields(layer: Layer) -> Map<String, Json> {
    let mut fields = Map::new();
    for f in schema(layer).fields {
        fields.insert(f.name.to_string(), json!(field_type(f.ty)));
        if f.ty == FieldType::Counts {
            fields.insert(format!("{}_total", f.name), json!("Number"));
        }
    }
    if let Some(spec) = cluster_spec(layer) {
        fields.insert("cluster".into(), json!("Boolean"));
        fields.insert("point_count".into(), json!("Number"));
        if spec.sum_total {
            fields.insert(spec.measure_name.into(), json!("Number"));
        }
        for c in spec.classes.iter().chain(["unknown"].iter()) {
            fields.insert(format!("count_{c}"), json!("Number"));
            fields.insert(format!("{}_{c}", spec.measure_name), json!("Number"));
        }
    }
    fields
}

/// The zoom up to which clients should ask for tiles (they overzoom beyond).
pub fn max_zoom(prepared: &Prepared, set: &TileSet, cfg: &TileConfig) -> u8 {
    set.layers
        .iter()
        .filter_map(|(l, _)| prepared.layer(*l).complete_from_for(set.audience))
        .fold(cfg.max_zoom, u8::max)
        .min(super::MAX_ZOOM)
}

/// World bounds `[min_x, min_y, max_x, max_y]` (unit square, y down) of the features of the
/// set's layers that its audience may see (`index::LayerView::extent`): confidential deposits
/// widen them only for partners.
pub fn world_bounds(prepared: &Prepared, set: &TileSet) -> Option<[f64; 4]> {
    set.layers
        .iter()
        .filter_map(|(l, _)| prepared.layer(*l).view(set.audience).extent().bbox())
        .map(|[lon0, lat0, lon1, lat1]| {
            let [x0, y1] = lonlat_to_world(lon0, lat0);
            let [x1, y0] = lonlat_to_world(lon1, lat1);
            [x0, y0, x1, y1]
        })
        .reduce(|a, b| {
            [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]
        })
}

/// The TileJSON of a tile set. `tiles_url` is the absolute URL template of its tiles. Counts,
/// bounds and centre are over what the set's reader may see.
pub fn tilejson(prepared: &Prepared, set: &TileSet, tiles_url: &str, cfg: &TileConfig) -> Json {
    let maxzoom = max_zoom(prepared, set, cfg);
    let bounds = world_bounds(prepared, set);
    let mut vector_layers = Vec::new();
    for (layer, _) in &set.layers {
        let pl = prepared.layer(*layer);
        let complete = pl.complete_from_for(set.audience);
        let description = match (complete, cluster_spec(*layer)) {
            (Some(z), Some(_)) => format!(
                "{}; below zoom {z} small features are clustered (cluster=true, point_count, sums per class) and tiles may leave out low-priority features",
                layer.title()
            ),
            (Some(z), None) => format!(
                "{}; below zoom {z} polygons under a pixel are left out",
                layer.title()
            ),
            (None, _) => format!(
                "{}; too dense to fit the tile budget at any zoom: tiles leave out low-priority features",
                layer.title()
            ),
        };
        vector_layers.push(json!({
            "id": layer.id(),
            "description": description,
            "minzoom": 0,
            "maxzoom": maxzoom,
            "fields": layer_fields(*layer),
            "complete_from_zoom": complete,
            "feature_count": pl.view(set.audience).extent().count,
        }));
    }
    let (bounds_ll, center) = match bounds {
        Some(b) => {
            let [lon0, lat1] = world_to_lonlat(b[0], b[1]);
            let [lon1, lat0] = world_to_lonlat(b[2], b[3]);
            let span = (b[2] - b[0]).max(b[3] - b[1]).max(1e-9);
            // The zoom at which the data fits about one tile.
            let z = (-span.log2()).floor().clamp(0.0, f64::from(maxzoom));
            let [clon, clat] = world_to_lonlat((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
            (vec![lon0, lat0, lon1, lat1], vec![clon, clat, z])
        }
        None => (
            vec![-180.0, -85.051_128_78, 180.0, 85.051_128_78],
            vec![0.0, 0.0, 0.0],
        ),
    };
    json!({
        "tilejson": "3.0.0",
        "name": format!("terriens {}", set.name()),
        "description": format!(
            "Vector tiles (MVT 2.1, extent {}) of {}",
            cfg.extent,
            set.layers.iter().map(|(l, _)| l.title()).collect::<Vec<_>>().join(", ")
        ),
        "version": format!("{}.0.0", prepared.generation),
        "attribution": cfg.attribution_of(set.layers.iter().map(|(l, _)| *l)),
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": 0,
        "maxzoom": maxzoom,
        "bounds": bounds_ll,
        "center": center,
        "vector_layers": vector_layers,
    })
}
