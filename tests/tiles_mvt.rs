//! Tiles checked by an independent decoder (Python `mapbox-vector-tile`) against brute force:
//! at zooms where nothing is generalised the ids in a tile are exactly the features that
//! intersect the buffered tile; every coordinate lies in the buffered extent; polygons are
//! valid with clockwise exteriors; ids and properties are stable across tiles and zooms.

use crate::common::python;
use crate::common::world;

use std::collections::{BTreeSet, HashMap};

use geo::{Intersects, Validation};
use geo_types::{Coord, LineString, MultiPolygon, Polygon, Rect};
use serde_json::Value as Json;

use terriens::model::{Audience, Layer};
use terriens::tiles::{TileConfig, TileCoord, TileEngine, TileSet, lonlat_to_world, render_tile};

fn ring(coords: &Json) -> Vec<[f64; 2]> {
    coords
        .as_array()
        .expect("ring")
        .iter()
        .map(|p| [p[0].as_f64().expect("x"), p[1].as_f64().expect("y")])
        .collect()
}

/// Twice the signed area, y down (MVT's convention: exterior rings positive).
fn area2(r: &[[f64; 2]]) -> f64 {
    let n = r.len();
    (0..n)
        .map(|i| r[i][0] * r[(i + 1) % n][1] - r[(i + 1) % n][0] * r[i][1])
        .sum()
}

fn to_ls(r: &[[f64; 2]]) -> LineString<f64> {
    LineString(r.iter().map(|p| Coord { x: p[0], y: p[1] }).collect())
}

fn polygons(geom: &Json) -> Vec<Vec<Vec<[f64; 2]>>> {
    let coords = &geom["coordinates"];
    match geom["type"].as_str() {
        Some("Polygon") => vec![coords.as_array().expect("rings").iter().map(ring).collect()],
        Some("MultiPolygon") => coords
            .as_array()
            .expect("polygons")
            .iter()
            .map(|p| p.as_array().expect("rings").iter().map(ring).collect())
            .collect(),
        _ => Vec::new(),
    }
}

fn all_points(geom: &Json, out: &mut Vec<[f64; 2]>) {
    match geom {
        Json::Array(a) if a.len() == 2 && a[0].is_number() => {
            out.push([a[0].as_f64().unwrap_or(0.0), a[1].as_f64().unwrap_or(0.0)])
        }
        Json::Array(a) => a.iter().for_each(|x| all_points(x, out)),
        _ => {}
    }
}

#[test]
fn tiles_decoded_independently_match_brute_force() {
    let snap = world::world(7, world::Counts::SMALL);
    let cfg = TileConfig::default();
    let engine = TileEngine::new(cfg.clone());
    let prepared = engine.prepared(&snap);
    let set = TileSet::new(&Layer::ALL, Audience::Full);

    // Tiles around some plots at zooms 13 (first ungeneralised), 14 and 16.
    let plots = snap.layer(Layer::Plots);
    let mut tiles: BTreeSet<TileCoord> = BTreeSet::new();
    for row in (0..plots.len() as u32).step_by(13) {
        let Some(r) = geo::BoundingRect::bounding_rect(plots.geometry(row)) else {
            continue;
        };
        let [wx, wy] = lonlat_to_world(r.center().x, r.center().y);
        for z in [13u8, 14, 16] {
            let n = f64::from(1u32 << z);
            tiles.insert(TileCoord {
                z,
                x: (wx * n) as u32,
                y: (wy * n) as u32,
            });
        }
    }
    assert!(tiles.len() >= 20, "{} tiles", tiles.len());
    let dir = tempfile::tempdir().expect("tempdir");
    for t in &tiles {
        let r = render_tile(&prepared, &set, *t, &cfg);
        assert_eq!(r.left_out, 0, "tile {t} over budget");
        std::fs::write(
            dir.path().join(format!("{}_{}_{}.mvt", t.z, t.x, t.y)),
            &r.bytes,
        )
        .unwrap();
    }
    let decoded: Json = serde_json::from_str(&python::run(
        "decode_mvt.py",
        "mapbox_vector_tile",
        &[dir.path()],
    ))
    .expect("json");

    let extent = f64::from(cfg.extent);
    let buffer = f64::from(cfg.buffer);
    let mut props_by_id: HashMap<(String, u64), Json> = HashMap::new();
    let mut checked_features = 0;
    for t in &tiles {
        let name = format!("{}_{}_{}.mvt", t.z, t.x, t.y);
        let tile = &decoded[&name];
        assert!(tile.is_object(), "{name} not decoded");
        for layer in Layer::ALL {
            let data = snap.layer(layer);
            let decoded_layer = &tile[layer.id()];
            let features: Vec<Json> = decoded_layer["features"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !features.is_empty() {
                assert_eq!(decoded_layer["extent"], 4096);
                assert_eq!(decoded_layer["version"], 2);
            }
            let got: BTreeSet<u64> = features
                .iter()
                .map(|f| f["id"].as_u64().expect("integer id"))
                .collect();
            assert_eq!(got.len(), features.len(), "{name} {layer}: duplicate ids");
            // Brute force over every feature: must be in the tile if it meets the buffered box
            // shrunk by one tile unit; may be in it only if it meets the box grown by one.
            let bx = |b: f64| {
                let [x0, y0, x1, y1] = t.lonlat_bounds(b, extent);
                Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 })
            };
            let (inner, outer) = (bx(buffer - 1.0), bx(buffer + 1.0));
            let mut must = BTreeSet::new();
            let mut may = BTreeSet::new();
            for row in 0..data.len() as u32 {
                let g = data.geometry(row);
                if g.intersects(&outer) {
                    may.insert(data.id(row));
                    if g.intersects(&inner) {
                        must.insert(data.id(row));
                    }
                }
            }
            let missing: Vec<_> = must.difference(&got).collect();
            let extra: Vec<_> = got.difference(&may).collect();
            assert!(missing.is_empty(), "{name} {layer}: missing {missing:?}");
            assert!(extra.is_empty(), "{name} {layer}: unexpected {extra:?}");

            for f in &features {
                checked_features += 1;
                let id = f["id"].as_u64().unwrap_or(0);
                let mut pts = Vec::new();
                all_points(&f["geometry"]["coordinates"], &mut pts);
                for p in &pts {
                    assert!(
                        p[0] >= -buffer
                            && p[0] <= extent + buffer
                            && p[1] >= -buffer
                            && p[1] <= extent + buffer,
                        "{name} {layer} #{id}: {p:?} outside the buffered extent"
                    );
                }
                let polys = polygons(&f["geometry"]);
                if !polys.is_empty() {
                    let mut mp = Vec::new();
                    for rings in &polys {
                        assert!(
                            area2(&rings[0]) > 0.0,
                            "{name} {layer} #{id}: exterior not clockwise"
                        );
                        for h in &rings[1..] {
                            assert!(
                                area2(h) < 0.0,
                                "{name} {layer} #{id}: hole not counter-clockwise"
                            );
                        }
                        for r in rings {
                            for w in r.windows(2) {
                                assert_ne!(w[0], w[1], "{name} {layer} #{id}: repeated point");
                            }
                        }
                        mp.push(Polygon::new(
                            to_ls(&rings[0]),
                            rings[1..].iter().map(|r| to_ls(r)).collect(),
                        ));
                    }
                    let mp = MultiPolygon(mp);
                    assert!(
                        mp.is_valid(),
                        "{name} {layer} #{id}: invalid: {:?}",
                        mp.validation_errors()
                    );
                }
                // Same id → same properties everywhere (tiles, zooms), and the data's values.
                let props = f["properties"].clone();
                let row = data.row_of(id).expect("id of the layer");
                if let Some(name_v) = data.value_by_name(row, "name") {
                    assert_eq!(props["name"], name_v.to_value().to_json());
                }
                if let Some(prev) = props_by_id.insert((layer.id().to_string(), id), props.clone())
                {
                    assert_eq!(
                        prev, props,
                        "{layer} #{id}: properties differ between tiles"
                    );
                }
            }
        }
    }
    assert!(
        checked_features > 500,
        "only {checked_features} features checked"
    );

    // Typed values survive the round trip.
    let typed = |layer: &str, field: &str| {
        props_by_id
            .iter()
            .filter(|((l, _), _)| l == layer)
            .find_map(|(_, p)| p.get(field).cloned())
            .unwrap_or(Json::Null)
    };
    assert!(typed("waste_deposits", "quantity").is_f64());
    assert!(typed("buildings", "dock_doors").is_i64());
    assert!(typed("plots", "turnkey").is_boolean());
    assert!(typed("waste_deposits", "material").is_string());
}
