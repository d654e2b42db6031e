//! HTTP behaviour of the tile endpoints: 200/204/304/400/404, ETags, gzip and brotli, HEAD,
//! CORS, filters in the cache key and ETag, TileJSON URLs behind proxies.

use crate::common::world;

use std::io::Read;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use geozero::mvt::{Message, Tile};
use serde_json::Value as Json;
use tower::ServiceExt;

use terriens::api::{AppState, router};
use terriens::index::SharedSnapshot;
use terriens::tiles::lonlat_to_world;

fn app() -> axum::Router {
    router(AppState::new(
        SharedSnapshot::new(world::world(7, world::Counts::SMALL)),
        None,
    ))
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

async fn send(app: &axum::Router, method: Method, uri: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

/// A z14 tile address holding data (the centre of the first waste deposit).
fn busy_tile(z: u8) -> (u8, u32, u32) {
    let snap = world::world(7, world::Counts::SMALL);
    let d = snap.layer(terriens::model::Layer::WasteDeposits);
    let geo_types::Geometry::Point(p) = d.geometry(0) else {
        panic!("point")
    };
    let [x, y] = lonlat_to_world(p.x(), p.y());
    let n = f64::from(1u32 << z);
    (z, (x * n) as u32, (y * n) as u32)
}

fn problem(r: &Resp) -> Json {
    assert_eq!(
        r.headers[header::CONTENT_TYPE],
        "application/problem+json",
        "{:?}",
        String::from_utf8_lossy(&r.body)
    );
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test]
async fn tile_status_codes() {
    let app = app();
    let (z, x, y) = busy_tile(14);
    for suffix in ["", ".mvt", ".pbf"] {
        let r = send(
            &app,
            Method::GET,
            &format!("/tiles/waste_deposits/{z}/{x}/{y}{suffix}"),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "suffix {suffix:?}");
        assert_eq!(
            r.headers[header::CONTENT_TYPE],
            "application/vnd.mapbox-vector-tile"
        );
        let tile = Tile::decode(&r.body[..]).unwrap();
        assert_eq!(tile.layers[0].name, "waste_deposits");
        assert!(
            r.headers[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("max-age")
        );
    }
    // Empty: the middle of the Pacific.
    let r = send(&app, Method::GET, "/tiles/all/10/10/500", &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    assert!(r.headers.contains_key(header::ETAG));

    let r = send(&app, Method::GET, "/tiles/plots/23/0/0", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(problem(&r)["param"], "z");
    // Beyond the zoom's grid: no such tile.
    let r = send(&app, Method::GET, "/tiles/plots/3/8/0", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(problem(&r)["param"], "x");
    let r = send(&app, Method::GET, "/tiles/plots/3/0/8.mvt", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(problem(&r)["param"], "y");
    let r = send(&app, Method::GET, "/tiles/plots/3/0/x.png", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(&app, Method::GET, "/tiles/roads/3/0/0", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        problem(&r)["detail"]
            .as_str()
            .unwrap()
            .contains("waste_deposits")
    );
    let r = send(&app, Method::GET, "/tiles/plots,roads/3/0/0", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(&app, Method::GET, "/tiles/roads.json", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(&app, Method::GET, "/tiles/plots.xml", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn filters_are_validated_and_change_the_tile_and_etag() {
    let app = app();
    // Zoom 10: deposits are clustered, so the filter goes through the cluster path too.
    let (z, x, y) = busy_tile(10);
    let base = format!("/tiles/waste_deposits/{z}/{x}/{y}");
    let r = send(&app, Method::GET, &format!("{base}?colour=red"), &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(problem(&r)["param"], "colour");
    let r = send(&app, Method::GET, &format!("{base}?quantity_min=lots"), &[]).await;
    assert_eq!(problem(&r)["param"], "quantity_min");
    let r = send(
        &app,
        Method::GET,
        &format!("{base}?material=unobtainium"),
        &[],
    )
    .await;
    assert_eq!(problem(&r)["param"], "material");
    // On a composite a filter goes to the layers that have it; one no layer has is a 400.
    let r = send(
        &app,
        Method::GET,
        &format!("/tiles/plots,buildings/{z}/{x}/{y}?material=wood"),
        &[],
    )
    .await;
    assert_eq!(problem(&r)["param"], "material");

    let all = send(&app, Method::GET, &base, &[]).await;
    let wood = send(
        &app,
        Method::GET,
        &format!("{base}?material=wood&quantity_min=100"),
        &[],
    )
    .await;
    assert_eq!(wood.status, StatusCode::OK);
    assert_ne!(all.headers[header::ETAG], wood.headers[header::ETAG]);
    let t = Tile::decode(&wood.body[..]).unwrap();
    let layer = &t.layers[0];
    let tags = |f: &geozero::mvt::tile::Feature| -> std::collections::HashMap<String, geozero::mvt::tile::Value> {
        f.tags
            .chunks(2)
            .map(|c| (layer.keys[c[0] as usize].clone(), layer.values[c[1] as usize].clone()))
            .collect()
    };
    let mut clusters = 0;
    for f in &layer.features {
        let t = tags(f);
        assert_eq!(t["material"].string_value.as_deref(), Some("wood"));
        if t.contains_key("cluster") {
            clusters += 1;
            assert!(f.id.is_none());
            assert!(
                t.keys()
                    .filter(|k| k.starts_with("count_"))
                    .all(|k| k == "count_wood")
            );
        } else {
            assert!(t["quantity"].double_value.unwrap() >= 100.0);
        }
    }
    assert!(clusters > 0, "no cluster at zoom {z}");
    let n_all = Tile::decode(&all.body[..]).unwrap().layers[0]
        .features
        .len();
    assert!(layer.features.len() < n_all);
    // Same filter written differently: same ETag.
    let again = send(
        &app,
        Method::GET,
        &format!("{base}?quantity=100..&material=Wood"),
        &[],
    )
    .await;
    assert_eq!(again.headers[header::ETAG], wood.headers[header::ETAG]);
    // A composite with a filter one layer has.
    let r = send(
        &app,
        Method::GET,
        &format!("/tiles/plots,waste_deposits/{z}/{x}/{y}?material=wood"),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn etags_compression_head_and_cors() {
    let app = app();
    let (z, x, y) = busy_tile(13);
    let uri = format!("/tiles/all/{z}/{x}/{y}.mvt");
    let plain = send(&app, Method::GET, &uri, &[]).await;
    assert_eq!(plain.status, StatusCode::OK);
    let etag = plain.headers[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"));
    let names: Vec<String> = Tile::decode(&plain.body[..])
        .unwrap()
        .layers
        .iter()
        .map(|l| l.name.clone())
        .collect();
    assert!(
        names.contains(&"waste_deposits".to_string()) && names.contains(&"catchments".to_string()),
        "{names:?}"
    );

    let r = send(&app, Method::GET, &uri, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    assert_eq!(r.headers[header::ETAG], etag.as_str());
    let r = send(
        &app,
        Method::GET,
        &uri,
        &[("if-none-match", "\"other\", ".to_string().as_str())],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    let gz = send(&app, Method::GET, &uri, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gz.headers[header::VARY], "Accept-Encoding");
    assert_ne!(gz.headers[header::ETAG], etag.as_str());
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, plain.body);
    let again = send(&app, Method::GET, &uri, &[("accept-encoding", "gzip")]).await;
    assert_eq!(again.body, gz.body, "cached compressed body");

    let br = send(
        &app,
        Method::GET,
        &uri,
        &[("accept-encoding", "gzip, deflate, br")],
    )
    .await;
    assert_eq!(br.headers[header::CONTENT_ENCODING], "br");
    let mut back = Vec::new();
    brotli::Decompressor::new(&br.body[..], 4096)
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, plain.body);

    let head = send(&app, Method::HEAD, &uri, &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(
        head.headers[header::CONTENT_LENGTH],
        plain.body.len().to_string().as_str()
    );
    assert_eq!(head.headers[header::ETAG], etag.as_str());

    let cors = send(
        &app,
        Method::GET,
        &uri,
        &[("origin", "https://example.org")],
    )
    .await;
    assert_eq!(cors.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    // A URL naming the current data version may be cached for long.
    let v = send(&app, Method::GET, &format!("{uri}?v=1"), &[]).await;
    assert!(
        v.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(
        !plain.headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
}

#[tokio::test]
async fn tilejson_urls_layers_and_version() {
    let app = app();
    let r = send(
        &app,
        Method::GET,
        "/tiles/plots,waste_deposits.json?material=wood",
        &[
            ("host", "internal:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "maps.example.org"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let tj: Json = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(tj["version"], "1.0.0");
    let url = tj["tiles"][0].as_str().unwrap();
    assert!(
        url.starts_with("https://maps.example.org/tiles/plots,waste_deposits/{z}/{x}/{y}.mvt?v=1"),
        "{url}"
    );
    assert!(url.contains("material=wood"));
    let layers = tj["vector_layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["id"], "plots");
    assert_eq!(layers[0]["fields"]["area_ha"], "Number");
    assert_eq!(layers[0]["fields"]["turnkey"], "Boolean");
    assert_eq!(layers[1]["fields"]["material"], "String");
    assert_eq!(layers[1]["fields"]["quantity_wood"], "Number");
    assert!(layers[1]["complete_from_zoom"].as_u64().unwrap() >= 1);
    let b = tj["bounds"].as_array().unwrap();
    assert!(b[0].as_f64().unwrap() > 0.0 && b[1].as_f64().unwrap() > 49.0);
    assert!(tj["center"][2].as_f64().unwrap() >= 6.0);

    let r = send(
        &app,
        Method::GET,
        "/tiles/all.json",
        &[("host", "127.0.0.1:9999")],
    )
    .await;
    let tj: Json = serde_json::from_slice(&r.body).unwrap();
    assert!(
        tj["tiles"][0]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:9999/tiles/all/")
    );
    assert_eq!(tj["vector_layers"].as_array().unwrap().len(), 5);
    let r = send(&app, Method::GET, "/tiles/plots.json?colour=red", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_new_generation_changes_version_and_etags() {
    let snap = world::world(7, world::Counts::SMALL);
    let state = AppState::new(SharedSnapshot::new(snap), None);
    let app = router(state.clone());
    let (z, x, y) = busy_tile(14);
    let uri = format!("/tiles/waste_deposits/{z}/{x}/{y}");
    let before = send(&app, Method::GET, &uri, &[]).await;
    let current = state.snapshot.load();
    let data = current.layer(terriens::model::Layer::WasteDeposits);
    let fewer: Vec<_> = data.features().skip(1).collect();
    state
        .snapshot
        .publish(
            current.with_layer(std::sync::Arc::new(terriens::index::LayerData::build(
                terriens::model::Layer::WasteDeposits,
                fewer,
            ))),
        );
    let after = send(
        &app,
        Method::GET,
        &uri,
        &[(
            "if-none-match",
            before.headers[header::ETAG].to_str().unwrap(),
        )],
    )
    .await;
    assert_eq!(after.status, StatusCode::OK, "stale ETag must not give 304");
    let ids = |b: &[u8]| -> Vec<u64> {
        Tile::decode(b).unwrap().layers[0]
            .features
            .iter()
            .filter_map(|f| f.id)
            .collect()
    };
    assert!(ids(&before.body).contains(&2_000_000));
    assert!(!ids(&after.body).contains(&2_000_000));
    let tj = send(&app, Method::GET, "/tiles/waste_deposits.json", &[]).await;
    let tj: Json = serde_json::from_slice(&tj.body).unwrap();
    assert_eq!(tj["version"], "2.0.0");
}
