//! OGC API – Features Part 4 the way QGIS edits a layer: POST then a read of the `Location` item, PUT, PATCH, DELETE, each visible at once to OGC
//! items, search and tiles; 401/403/412 as for the editing API; confidential deposits stay
//! hidden from callers without the partners right.

use crate::common;

use common::app::{App, deposit};
use serde_json::{Value, json};
use terriens::api::{AuthPolicy, Limits};

const ITEMS: &str = "/ogc/collections/waste_deposits/items";

/// The ids a search around the test deposit's point answers.
async fn search_ids(app: &App, caller: &str) -> Vec<u64> {
    let (s, _, page) = app
        .call(
            caller,
            "GET",
            "/layers/waste_deposits/search?lon=0.12&lat=49.49&radius_m=50",
            &[],
            None,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    page["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect()
}

/// Features in the z16 tile of the test deposit (0.12, 49.49), as the tile header counts them.
async fn tile_features(app: &App) -> u64 {
    let (x, y) = tile_of(0.12, 49.49, 16);
    let req = axum::http::Request::builder()
        .uri(format!("/tiles/waste_deposits/16/{x}/{y}.mvt"))
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    if resp.status() == 204 {
        return 0;
    }
    assert_eq!(resp.status(), 200);
    resp.headers()["x-tile-features"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x, y as u32)
}

#[tokio::test]
async fn qgis_style_create_replace_update_delete() {
    let app = App::new(Limits::default(), AuthPolicy::default());
    // POST without a key, with a reader key, then with an editor key.
    let body = deposit(None, false, 40.0);
    let (s, _, _) = app
        .call("anonymous", "POST", ITEMS, &[], Some(body.clone()))
        .await;
    assert_eq!(s, 401);
    let (s, _, _) = app
        .call("reader", "POST", ITEMS, &[], Some(body.clone()))
        .await;
    assert_eq!(s, 403);
    let tiles_before = tile_features(&app).await;
    let (s, h, created) = app.call("editor", "POST", ITEMS, &[], Some(body)).await;
    assert_eq!(s, 201, "{created}");
    let id = created["features"][0]["id"].as_u64().unwrap();
    let location = h["location"].to_str().unwrap().to_string();
    assert!(location.ends_with(&format!("{ITEMS}/{id}")), "{location}");
    // QGIS re-reads the item at Location; search and tiles see it at once.
    let item_path = format!("{ITEMS}/{id}");
    let (s, _, item) = app.call("anonymous", "GET", &item_path, &[], None).await;
    assert_eq!(s, 200);
    assert_eq!(item["properties"]["quantity"], json!(40.0));
    assert!(search_ids(&app, "anonymous").await.contains(&id));
    assert_eq!(tile_features(&app).await, tiles_before + 1);
    // PUT: stale If-Match is a 412, the current one replaces.
    let mut replacement: Value = serde_json::from_str(&deposit(Some(id), false, 55.0)).unwrap();
    replacement["properties"]["material"] = json!("metal");
    let (s, _, _) = app
        .call(
            "editor",
            "PUT",
            &item_path,
            &[("if-match", "\"7\"")],
            Some(replacement.to_string()),
        )
        .await;
    assert_eq!(s, 412);
    let (s, h, _) = app
        .call(
            "editor",
            "PUT",
            &item_path,
            &[("if-match", "\"1\"")],
            Some(replacement.to_string()),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["etag"], "\"2\"");
    let (_, _, item) = app.call("anonymous", "GET", &item_path, &[], None).await;
    assert_eq!(item["properties"]["material"], "metal");
    let (s, _, found) = app
        .call(
            "anonymous",
            "GET",
            &format!("{ITEMS}?filter=material%20%3D%20%27metal%27%20AND%20quantity%20%3D%2055"),
            &[],
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(
        found["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == id)
    );
    // PATCH: a reader may not, an editor may.
    let patch = json!({"properties": {"quantity": 70}}).to_string();
    let (s, _, _) = app
        .call("reader", "PATCH", &item_path, &[], Some(patch.clone()))
        .await;
    assert_eq!(s, 403);
    let (s, _, _) = app
        .call("editor", "PATCH", &item_path, &[], Some(patch))
        .await;
    assert_eq!(s, 200);
    let (_, _, item) = app.call("anonymous", "GET", &item_path, &[], None).await;
    assert_eq!(item["properties"]["quantity"], json!(70.0));
    // Marked confidential: gone for anonymous readers, there for partners.
    let secret = json!({"properties": {"confidentiality": "partners"}}).to_string();
    let (s, _, _) = app
        .call("editor", "PATCH", &item_path, &[], Some(secret))
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = app.call("anonymous", "GET", &item_path, &[], None).await;
    assert_eq!(s, 404);
    let (s, _, _) = app
        .call("reader+partners", "GET", &item_path, &[], None)
        .await;
    assert_eq!(s, 200);
    assert!(!search_ids(&app, "anonymous").await.contains(&id));
    // DELETE.
    let (s, _, _) = app.call("reader", "DELETE", &item_path, &[], None).await;
    assert_eq!(s, 403);
    // A confidential deposit does not exist for an editor without the partners right.
    let (s, _, _) = app.call("editor", "DELETE", &item_path, &[], None).await;
    assert_eq!(s, 404);
    let (s, _, _) = app.call("admin", "DELETE", &item_path, &[], None).await;
    assert_eq!(s, 200);
    let (s, _, _) = app.call("admin", "GET", &item_path, &[], None).await;
    assert_eq!(s, 404);
    assert!(!search_ids(&app, "admin").await.contains(&id));
    assert_eq!(tile_features(&app).await, tiles_before);
}

#[tokio::test]
async fn a_bbox_across_the_antimeridian_is_two_boxes() {
    let app = App::new(Limits::default(), AuthPolicy::default());
    let mut ids = Vec::new();
    for lon in [175.0, -175.0, 0.0, 165.0] {
        let f = json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, 49.5]},
            "properties": {"material": "wood", "quantity": 1.0},
        });
        let (s, _, body) = app
            .call("editor", "POST", ITEMS, &[], Some(f.to_string()))
            .await;
        assert_eq!(s, 201, "{body}");
        ids.push(body["features"][0]["id"].as_u64().unwrap());
    }
    let (s, _, page) = app
        .call(
            "anonymous",
            "GET",
            &format!("{ITEMS}?bbox=170,49,-170,50"),
            &[],
            None,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let mut got: Vec<u64> = page["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    got.sort();
    let mut want = vec![ids[0], ids[1]];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(page["numberMatched"], 2);
}
