//! The diagnostic page of a real territory (CU Le Havre Seine Métropole, built from the
//! national files) in headless Chromium (playwright-core): the page reports it has drawn, every
//! chart canvas holds drawn pixels, no console error, nothing asked outside the server, and the
//! print stylesheet hides the buttons. Set `TERRIENS_KEEP_SCREENSHOT=FILE.png` to keep the
//! screenshot.

use crate::common;

use indicatif::ProgressBar;

use terriens::api::AppState;
use terriens::edit::recover;
use terriens::index::SharedSnapshot;
use terriens::routing::ProfileId;
use terriens::store::{DataDir, Manifest};
use terriens::territory::{BuildOptions, Selection, build};
use terriens::tiles::TileConfig;

#[test]
fn diagnostic_page_draws_its_charts_without_errors() {
    let Some(realdata) = common::realdata("diagnostic_page") else {
        return;
    };
    let Some(browser) = common::browser("diagnostic page test") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("lh");
    let manifest = build(
        &BuildOptions {
            selection: Selection::Epci("200084952".into()),
            name: None,
            from: realdata,
            out: out.clone(),
            buffer_km: 5.0,
            profiles: vec![ProfileId::Car],
        },
        &ProgressBar::hidden(),
    )
    .unwrap();
    assert_eq!(Manifest::read(&out).unwrap().as_ref(), Some(&manifest));
    let dir = DataDir::open(&out).unwrap();
    let rec = recover(dir.clone()).unwrap();
    let state = AppState::new(SharedSnapshot::new(rec.snapshot.clone()), Some(dir))
        .with_tiles(TileConfig::default().for_data_dir(Some(&manifest)))
        .with_manifest(manifest);
    state.tiles.prepared(&state.snapshot.load());

    let r = common::run_page(
        &browser,
        state,
        "territory_page.mjs",
        "/territories/200084952",
    );
    assert_eq!(r["status"]["ready"], true, "{r}");
    assert!(
        r["title"].as_str().unwrap().contains("Le Havre"),
        "{}",
        r["title"]
    );
    // The land and workforce charts have data on this territory (IREP holders carry no
    // tonnage: the waste chart says so); each must hold drawn pixels.
    for chart in ["chart-size", "chart-site-type", "chart-occupations"] {
        let drawn = r["chartPixels"][chart].as_f64().unwrap_or(0.0);
        assert!(drawn > 0.01, "{chart} not drawn: {}", r["chartPixels"]);
    }
    assert!(r["kpis"].as_u64().unwrap() >= 8, "{r}");
    assert_eq!(r["printHidesButtons"], true);
    assert!(
        r["screenshotBytes"].as_u64().unwrap() > 20_000,
        "screenshot too small"
    );
}
