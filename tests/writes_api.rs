//! The editing API in process: creation, batches (atomic), validation errors that name the
//! feature, If-Match, patch, delete, read-your-writes, restart from the log, the demo mode's
//! refusal.

use crate::common;

use common::app::{App, deposit};
use serde_json::json;
use terriens::api::{AppState, AuthPolicy, Limits, router};
use terriens::edit::recover;
use terriens::index::SharedSnapshot;
use terriens::store::DataDir;

const FEATURES: &str = "/layers/waste_deposits/features";

fn count(app: &App) -> usize {
    app.state
        .snapshot
        .load()
        .layer(terriens::model::Layer::WasteDeposits)
        .len()
}

#[tokio::test]
async fn create_read_replace_patch_delete() {
    let app = App::new(Limits::default(), AuthPolicy::default());
    let g0 = app.state.snapshot.load().generation;
    // Create without an id: the server gives one.
    let (s, h, body) = app
        .call(
            "admin",
            "POST",
            FEATURES,
            &[],
            Some(deposit(None, false, 12.5)),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let id = body["features"][0]["id"].as_u64().unwrap();
    assert_eq!(h["location"], format!("{FEATURES}/{id}").as_str());
    assert_eq!(h["etag"], "\"1\"");
    assert!(body["generation"].as_u64().unwrap() > g0);
    // Read your write, at once.
    let path = format!("{FEATURES}/{id}");
    let (s, h, f) = app.call("anonymous", "GET", &path, &[], None).await;
    assert_eq!(s, 200);
    assert_eq!(h["etag"], "\"1\"");
    assert_eq!(f["properties"]["quantity"], json!(12.5));
    assert_eq!(
        f["properties"]["unit"],
        json!("t"),
        "computed like the importer does"
    );
    let (s, _, _) = app
        .call(
            "anonymous",
            "GET",
            &path,
            &[("if-none-match", "\"1\"")],
            None,
        )
        .await;
    assert_eq!(s, 304);
    // Replace with a stale version: 412, nothing changes.
    let (s, _, p) = app
        .call(
            "admin",
            "PUT",
            &path,
            &[("if-match", "\"7\"")],
            Some(deposit(None, false, 1.0)),
        )
        .await;
    assert_eq!(s, 412, "{p}");
    assert_eq!(p["current_version"], json!(1));
    let (s, h, _) = app
        .call(
            "admin",
            "PUT",
            &path,
            &[("if-match", "\"1\"")],
            Some(deposit(None, false, 2.0)),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["etag"], "\"2\"");
    // Patch: merge, null removes, the result is validated.
    let (s, h, _) = app
        .call(
            "admin",
            "PATCH",
            &path,
            &[("if-match", "\"2\"")],
            Some(r#"{"properties":{"holder":null,"quantity":3}}"#.into()),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(h["etag"], "\"3\"");
    let (_, _, f) = app.call("anonymous", "GET", &path, &[], None).await;
    assert_eq!(f["properties"]["quantity"], json!(3.0));
    assert!(f["properties"].get("holder").is_none());
    let (s, _, p) = app
        .call(
            "admin",
            "PATCH",
            &path,
            &[],
            Some(r#"{"properties":{"material":"water","unit":"t"}}"#.into()),
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert!(
        p["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );
    // An explicit id that exists: 409.
    let (s, _, p) = app
        .call(
            "admin",
            "POST",
            FEATURES,
            &[],
            Some(deposit(Some(id), false, 1.0)),
        )
        .await;
    assert_eq!(s, 409, "{p}");
    // Delete, then 404; deleting again is 404 too.
    let (s, _, _) = app
        .call("admin", "DELETE", &path, &[("if-match", "\"3\"")], None)
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = app.call("anonymous", "GET", &path, &[], None).await;
    assert_eq!(s, 404);
    let (s, _, _) = app.call("admin", "DELETE", &path, &[], None).await;
    assert_eq!(s, 404);
    // PUT on an absent id creates it; If-Match on an absent id is 412.
    let (s, _, _) = app
        .call(
            "admin",
            "PUT",
            &format!("{FEATURES}/77"),
            &[("if-match", "*")],
            Some(deposit(None, false, 1.0)),
        )
        .await;
    assert_eq!(s, 412);
    let (s, h, _) = app
        .call(
            "admin",
            "PUT",
            &format!("{FEATURES}/77"),
            &[],
            Some(deposit(None, false, 1.0)),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(h["location"], format!("{FEATURES}/77").as_str());
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_and_names_bad_features() {
    let app = App::new(Limits::default(), AuthPolicy::default());
    let good = deposit(Some(1), false, 1.0);
    let bad_lat = deposit(Some(2), false, 1.0).replace("49.49", "95.0");
    let bad_material = deposit(Some(3), false, 1.0).replace("wood", "kryptonite");
    let body =
        format!(r#"{{"type":"FeatureCollection","features":[{good},{bad_lat},{bad_material}]}}"#);
    let (s, h, p) = app.call("admin", "POST", FEATURES, &[], Some(body)).await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(h["content-type"], "application/problem+json");
    let idx: Vec<u64> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, vec![1, 2]);
    assert!(
        p["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("latitude")
    );
    assert!(
        p["errors"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("kryptonite")
    );
    assert_eq!(count(&app), 0, "nothing of a rejected batch is written");
    // Broken JSON is a 400 saying where.
    let (s, _, p) = app
        .call(
            "admin",
            "POST",
            FEATURES,
            &[],
            Some("{\"type\": \"Feature\",".into()),
        )
        .await;
    assert_eq!(s, 400);
    assert!(p["detail"].as_str().unwrap().contains("line 1"), "{p}");
    let body = format!(
        r#"{{"type":"FeatureCollection","features":[{good},{}]}}"#,
        deposit(Some(9), true, 2.0)
    );
    let (s, _, p) = app.call("admin", "POST", FEATURES, &[], Some(body)).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["features"].as_array().unwrap().len(), 2);
    assert_eq!(count(&app), 2);
}

/// What was acknowledged is there after a restart (log replay), and a torn tail is ignored.
#[tokio::test]
async fn restart_replays_the_log_and_ignores_a_torn_tail() {
    let app = App::new(Limits::default(), AuthPolicy::default());
    for i in 1..=5 {
        let (s, _, _) = app
            .call(
                "admin",
                "POST",
                FEATURES,
                &[],
                Some(deposit(Some(i), i % 2 == 0, i as f64)),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (s, _, _) = app
        .call("admin", "DELETE", &format!("{FEATURES}/3"), &[], None)
        .await;
    assert_eq!(s, 200);
    let before = app.state.snapshot.load();
    let data = app.state.data_dir.clone().unwrap();
    let App {
        state, router, dir, ..
    } = app;
    // Stop without compaction: drop the writer (compact_on_shutdown would empty the log, so
    // cut the log's tail by hand instead of relying on it).
    drop(router);
    let writer = state.writer.clone().unwrap();
    drop(state);
    drop(writer);
    // Something torn at the end, as after a crash in the middle of an append.
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(data.path().join("writes.log"))
        .unwrap();
    f.write_all(&[0x40, 0, 0, 0, 0xde, 0xad]).unwrap();
    drop(f);
    let rec = recover(DataDir::open(data.path()).unwrap()).unwrap();
    let wd = terriens::model::Layer::WasteDeposits;
    let (a, b) = (before.layer(wd), rec.snapshot.layer(wd));
    assert_eq!(b.len(), 4);
    for row in 0..a.len() as u32 {
        let id = a.id(row);
        assert_eq!(
            Some(a.feature(row)),
            b.row_of(id).map(|r| b.feature(r)),
            "feature {id}"
        );
    }
    drop(dir);
}

#[tokio::test]
async fn without_a_data_directory_writes_are_refused_with_409() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("k.toml");
    let key = terriens::auth::add_key(&keys, terriens::model::Role::Editor, false, None).unwrap();
    let state = AppState::new(
        SharedSnapshot::new(terriens::store::embedded_snapshot().unwrap()),
        None,
    )
    .with_keys(
        terriens::auth::KeyStore::load(&keys).unwrap(),
        AuthPolicy::default(),
    );
    let r = router(state);
    let (s, _, p) = common::app::call(
        &r,
        Some(&key),
        "POST",
        FEATURES,
        &[],
        Some(deposit(None, false, 1.0)),
    )
    .await;
    assert_eq!(s, 409, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("restart with --data"),
        "{p}"
    );
    // Confidential demo deposits are not shown to anonymous callers.
    let snap = terriens::store::embedded_snapshot().unwrap();
    let data = snap.layer(terriens::model::Layer::WasteDeposits);
    let row = (0..data.len() as u32)
        .find(|&r| {
            data.value_by_name(r, "confidentiality")
                == Some(terriens::index::ValueRef::Text("partners"))
        })
        .expect("the demo has confidential deposits");
    let (s, _, _) = common::app::call(
        &r,
        None,
        "GET",
        &format!("{FEATURES}/{}", data.id(row)),
        &[],
        None,
    )
    .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn metrics_count_requests_writes_and_features() {
    let app = App::new(Limits::default(), AuthPolicy::default());
    let (s, _, _) = app
        .call(
            "admin",
            "POST",
            FEATURES,
            &[],
            Some(deposit(Some(5), false, 1.0)),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _, _) = app
        .call("anonymous", "GET", &format!("{FEATURES}/5"), &[], None)
        .await;
    assert_eq!(s, 200);
    let (s, _, _) = app
        .call("anonymous", "GET", &format!("{FEATURES}/6"), &[], None)
        .await;
    assert_eq!(s, 404);
    app.state.metrics.tile_cache_hit();
    let req = axum::http::Request::builder()
        .uri("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    for line in [
        r#"terriens_http_requests_total{method="POST",route="/layers/{layer}/features",status="201"} 1"#,
        r#"terriens_http_requests_total{method="GET",route="/layers/{layer}/features/{id}",status="200"} 1"#,
        r#"terriens_http_requests_total{method="GET",route="/layers/{layer}/features/{id}",status="404"} 1"#,
        r#"terriens_http_request_duration_seconds_count{method="GET",route="/layers/{layer}/features/{id}",status="404"} 1"#,
        "terriens_tile_cache_hits_total 1",
        "terriens_writes_total 1",
        "terriens_written_features_total 1",
        r#"terriens_layer_features{layer="waste_deposits"} 1"#,
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    let log_bytes: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("terriens_write_log_bytes "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    let on_disk = std::fs::metadata(
        app.state
            .data_dir
            .as_ref()
            .unwrap()
            .path()
            .join("writes.log"),
    )
    .unwrap()
    .len();
    assert_eq!(log_bytes, on_disk);
}

/// Read-your-writes across the read paths: once a write is acknowledged, search, OGC items and
/// tiles show it (the tile's ETag changes, the TileJSON `version` moves); after a delete they
/// no longer do.
#[tokio::test]
async fn search_ogc_items_and_tiles_see_an_acknowledged_write() {
    let app = App::new(Limits::default(), AuthPolicy::default());
    // The z14 tile over the deposit's position (0.12, 49.49).
    const TILE: &str = "/tiles/waste_deposits/14/8197/5592";
    const SEARCH: &str = "/layers/waste_deposits/search?lon=0.12&lat=49.49&radius_m=100";
    const ITEMS: &str = "/ogc/collections/waste_deposits/items?bbox=0.1,49.4,0.2,49.5";
    let version = |tj: &serde_json::Value| tj["version"].as_str().unwrap_or_default().to_string();
    let ids = |v: &serde_json::Value| -> Vec<u64> {
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["id"].as_u64())
            .collect()
    };
    let (_, _, tj0) = app
        .call("anonymous", "GET", "/tiles/waste_deposits.json", &[], None)
        .await;
    let (s, _, _) = app.call("anonymous", "GET", TILE, &[], None).await;
    assert_eq!(s, 204, "no deposit there yet");

    let (s, _, body) = app
        .call(
            "admin",
            "POST",
            FEATURES,
            &[],
            Some(deposit(Some(7), false, 120.0)),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let (_, _, found) = app.call("anonymous", "GET", SEARCH, &[], None).await;
    assert_eq!(ids(&found), vec![7]);
    assert_eq!(found["features"][0]["properties"]["quantity"], 120.0);
    let (_, _, items) = app.call("anonymous", "GET", ITEMS, &[], None).await;
    assert_eq!(ids(&items), vec![7]);
    let (s, h1, _) = app.call("anonymous", "GET", TILE, &[], None).await;
    assert_eq!(s, 200);
    let (_, _, tj1) = app
        .call("anonymous", "GET", "/tiles/waste_deposits.json", &[], None)
        .await;
    assert_ne!(
        version(&tj0),
        version(&tj1),
        "TileJSON version moves with the data"
    );

    let (s, _, body) = app
        .call(
            "admin",
            "PATCH",
            "/layers/waste_deposits/features/7",
            &[],
            Some(r#"{"properties":{"quantity":250}}"#.into()),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (_, _, found) = app.call("anonymous", "GET", SEARCH, &[], None).await;
    assert_eq!(found["features"][0]["properties"]["quantity"], 250.0);
    let (s, h2, _) = app.call("anonymous", "GET", TILE, &[], None).await;
    assert_eq!(s, 200);
    assert_ne!(h1["etag"], h2["etag"], "the tile changed, so did its ETag");

    let (s, _, _) = app
        .call(
            "admin",
            "DELETE",
            "/layers/waste_deposits/features/7",
            &[],
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, _, found) = app.call("anonymous", "GET", SEARCH, &[], None).await;
    assert!(ids(&found).is_empty());
    let (_, _, items) = app.call("anonymous", "GET", ITEMS, &[], None).await;
    assert!(ids(&items).is_empty());
    let (s, _, _) = app.call("anonymous", "GET", TILE, &[], None).await;
    assert_eq!(s, 204);
}
