//! The map page in headless Chromium (driven by playwright-core from npm): it draws features
//! of every layer, logs no console error, asks for nothing outside this server (offline), and
//! its screenshot is not blank. A feature click opens a popup.
//!
//! Needs Chromium and `tests/browser/node_modules` (both installed by
//! `scripts/ensure-deps.sh --test`). Without them the test says so and passes, except under CI
//! (`CI` set), where it fails.

use crate::common;
use crate::common::world;

use terriens::api::AppState;
use terriens::index::SharedSnapshot;

#[test]
fn map_page_renders_every_layer_without_errors() {
    let Some(browser) = common::browser("map page test") else {
        return;
    };

    let state = AppState::new(
        SharedSnapshot::new(world::world(7, world::Counts::SMALL)),
        None,
    );
    state.tiles.prepared(&state.snapshot.load());
    let r = common::run_page(&browser, state, "map_page.mjs", "/");
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
