//! The map page in headless Chromium (driven by playwright-core from npm): it draws features
//! of every layer, logs no console error, asks for nothing outside this server (offline), and
//! its screenshot is not blank. A feature click opens a popup.
//!
//! Needs Chromium and `tests/browser/node_modules` (both installed by
//! `scripts/ensure-deps.sh --test`). Without them the test says so and passes, except under CI
//! (`CI` set), where it fails.

use crate::common;
use crate::common::world;

use std::process::Command;

use serde_json::Value as Json;

use terriens::api::{AppState, router};
use terriens::index::SharedSnapshot;

#[test]
fn map_page_renders_every_layer_without_errors() {
    let Some((browser_dir, chromium)) = common::browser("map page test") else {
        return;
    };

    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(
        SharedSnapshot::new(world::world(7, world::Counts::SMALL)),
        None,
    );
    state.tiles.prepared(&state.snapshot.load());
    rt.spawn(async move { axum::serve(listener, router(state)).await });

    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("map.png");
    let out = Command::new("node")
        .arg(browser_dir.join("map_page.mjs"))
        .arg(format!("http://{addr}/"))
        .arg(&shot)
        .arg(&chromium)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Json = serde_json::from_str(stdout.trim()).expect("json from map_page.mjs");
    if let Ok(keep) = std::env::var("TERRIENS_KEEP_SCREENSHOT") {
        let _ = std::fs::copy(&shot, keep);
    }
    assert!(r["fatal"].is_null(), "{}", r["fatal"]);
    assert_eq!(r["consoleErrors"], Json::Array(vec![]), "console errors");
    assert_eq!(r["pageErrors"], Json::Array(vec![]), "page errors");
    assert_eq!(
        r["failedRequests"],
        Json::Array(vec![]),
        "requests outside the server"
    );
    assert_eq!(
        r["status"]["errors"],
        Json::Array(vec![]),
        "errors seen by the page"
    );
    for layer in [
        "territories",
        "catchments",
        "plots",
        "buildings",
        "waste_deposits",
    ] {
        let n = r["status"]["rendered"][layer].as_u64().unwrap_or(0);
        assert!(n > 0, "no {layer} drawn: {}", r["status"]);
    }
    let img = &r["image"];
    assert!(
        img["nonBackgroundRatio"].as_f64().unwrap_or(0.0) > 0.2,
        "screenshot mostly background: {img}"
    );
    assert!(
        img["distinctColours"].as_u64().unwrap_or(0) > 30,
        "screenshot nearly uniform: {img}"
    );
    assert_eq!(r["popup"], true, "no popup on a feature click: {r}");
    assert!(r["popupText"].as_str().unwrap_or("").contains("material"));
}
