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

/// The project panel on the demo data (with its road graphs): an example project picked and
/// edited, the ranked sites listed with their score bars and reasons, the supplying deposits
/// drawn to them on the map, and the screenshot shows them.
#[test]
fn project_panel_ranks_sites_and_draws_their_suppliers() {
    let Some(browser) = common::browser("project panel test") else {
        return;
    };
    let state = AppState::new(
        SharedSnapshot::new(terriens::store::embedded_snapshot().unwrap()),
        None,
    )
    .with_routing(terriens::routing::embedded_routing().unwrap());
    state.tiles.prepared(&state.snapshot.load());
    let r = common::run_page(&browser, state, "project_panel.mjs", "/");
    assert!(
        r["status"]["matchError"].is_null(),
        "{}",
        r["status"]["matchError"]
    );
    let items = r["items"].as_u64().unwrap_or(0);
    assert_eq!(items, 10, "ten best sites listed: {r}");
    // A total bar and one per criterion (land, wood, the occupation) for each site.
    assert_eq!(r["bars"].as_u64().unwrap_or(0), items * 4, "{r}");
    let first = r["firstItem"].as_str().unwrap_or("");
    assert!(first.contains('%') && first.contains("wood"), "{first}");
    let reasons = r["firstReasons"].as_str().unwrap_or("");
    assert!(
        reasons.contains("t/yr reachable within 30 min by HGV for 300 t/yr needed")
            && reasons.contains("road km"),
        "{reasons}"
    );
    assert!(
        r["status"]["supplyLines"].as_u64().unwrap_or(0) >= items,
        "every site has a supplier drawn: {}",
        r["status"]
    );
    assert!(
        r["projectStatus"]
            .as_str()
            .unwrap_or("")
            .contains("pass every constraint"),
        "{r}"
    );
    let img = &r["image"];
    assert!(
        img["supplyGreenRatio"].as_f64().unwrap_or(0.0) > 0.0005,
        "no supply line visible in the screenshot: {img}"
    );
    assert!(
        img["distinctColours"].as_u64().unwrap_or(0) > 30,
        "screenshot nearly uniform: {img}"
    );
}

/// The project panel's stored projects: only the public one is offered to the page (it has no
/// key), picking it fills the form from its needs, and the page asks for its matches as
/// stored; the sites listed are the project's own best.
#[test]
fn stored_project_is_offered_picked_and_matched() {
    let Some(browser) = common::browser("stored project test") else {
        return;
    };
    let mut snap = terriens::store::embedded_snapshot().unwrap();
    let needs = serde_json::json!({"land_min_ha": 2, "power_min_mva": 1,
        "materials": [{"material": "wood", "tonnes_per_year": 300, "max_drive_min": 30, "profile": "hgv"}]});
    for (id, name, confidentiality) in [(1, "Scierie stockée", "public"), (2, "Secret", "partners")]
    {
        let doc = serde_json::json!({"name": name, "kind": "prospect",
            "confidentiality": confidentiality, "needs": needs});
        let project = terriens::model::Project {
            id,
            version: 1,
            doc: doc.as_object().unwrap().clone(),
        };
        snap.projects.insert(id, std::sync::Arc::new(project));
    }
    let state = AppState::new(SharedSnapshot::new(snap), None)
        .with_routing(terriens::routing::embedded_routing().unwrap());
    state.tiles.prepared(&state.snapshot.load());
    let router = terriens::api::router(state.clone());
    let r = common::run_page(&browser, state, "stored_project.mjs", "/");
    assert!(
        r["status"]["matchError"].is_null(),
        "{}",
        r["status"]["matchError"]
    );
    assert_eq!(
        r["options"],
        serde_json::json!(["(none)", "Scierie stockée"]),
        "{r}"
    );
    assert_eq!(
        (r["material"].as_str(), r["tonnes"].as_str()),
        (Some("wood"), Some("300")),
        "{r}"
    );
    let asked: Vec<&str> = r["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(asked.contains(&"GET /projects/1/matches"), "{asked:?}");
    assert_eq!(r["items"].as_u64(), Some(10), "{r}");
    // The first site listed is the project's best.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, _, best) = rt.block_on(common::app::call(
        &router,
        None,
        "GET",
        "/projects/1/matches?limit=1",
        &[],
        None,
    ));
    let first = r["firstItem"].as_str().unwrap_or("");
    let id = best["features"][0]["id"].as_u64().unwrap();
    // The title reads `<layer> #<id> <name> — <score>`: the id ends at the space.
    assert!(first.contains(&format!(" #{id} ")), "{first} vs site {id}");
}
