//! The search endpoints over HTTP (router driven with `oneshot`, no socket): responses, paging
//! with cursors, site search semantics, the reverse deposit query, and malformed requests that
//! must each be a 400 problem+json naming the parameter, never a 500.

use crate::common;

use axum::http::StatusCode;
use serde_json::Value as Json;

use common::http::{get, send};
use terriens::api::{AppState, router};
use terriens::index::SharedSnapshot;

fn app() -> (axum::Router, std::sync::Arc<SharedSnapshot>) {
    let snap = common::synthetic(11, common::Sizes::DEMO, common::WORLD);
    let state = AppState::new(SharedSnapshot::new(snap), None);
    let shared = state.snapshot.clone();
    (router(state), shared)
}

fn features(j: &Json) -> &Vec<Json> {
    j["features"].as_array().expect("features")
}

#[tokio::test]
async fn radius_search_pages_through_every_match_once() {
    let (r, _) = app();
    let base = "/layers/waste_deposits/search?lon=0.25&lat=49.5&radius_m=12000&material=wood,concrete&limit=25";
    let (s, ct, first) = get(&r, base).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "application/geo+json");
    let matched = first["numberMatched"].as_u64().unwrap() as usize;
    assert!(matched > 60, "{matched}");
    let mut seen = std::collections::HashSet::new();
    let mut last = 0.0;
    let mut page = first;
    loop {
        assert_eq!(page["limit"], 25);
        for f in features(&page) {
            assert!(seen.insert(f["id"].as_u64().unwrap()), "no duplicates");
            let d = f["properties"]["distance_m"].as_f64().unwrap();
            assert!(d >= last && d <= 12_000.0);
            last = d;
            let m = f["properties"]["material"].as_str().unwrap();
            assert!(m == "wood" || m == "concrete");
        }
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next");
        match next {
            Some(l) => {
                let href = l["href"]
                    .as_str()
                    .unwrap()
                    .replace("http://terriens.test", "");
                page = get(&r, &href).await.2;
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), matched, "no gaps");
}

#[tokio::test]
async fn cursors_are_bound_to_generation_and_query() {
    let (r, shared) = app();
    let uri = "/layers/plots/search?bbox=-0.1,49.3,0.6,49.75&limit=10";
    let (_, _, page) = get(&r, uri).await;
    let cursor = page["next"].as_str().unwrap().to_string();
    // Same cursor, same query: the same page twice.
    let a = get(&r, &format!("{uri}&cursor={cursor}")).await.2;
    let b = get(&r, &format!("{uri}&cursor={cursor}")).await.2;
    assert_eq!(a, b);
    // Another query.
    let (s, ct, p) = get(
        &r,
        &format!("/layers/plots/search?bbox=0,49.3,0.6,49.75&limit=10&cursor={cursor}"),
    )
    .await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "application/problem+json")
    );
    assert!(
        p["detail"].as_str().unwrap().contains("another query"),
        "{p}"
    );
    // The data changes: the cursor is stale.
    let snap = shared.load();
    shared.publish(snap.with_layer(snap.layer(terriens::model::Layer::Plots).clone()));
    let (s, _, p) = get(&r, &format!("{uri}&cursor={cursor}")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["param"], "cursor");
    assert!(p["detail"].as_str().unwrap().contains("generation"), "{p}");
}

#[tokio::test]
async fn nearest_with_a_selective_filter_returns_k() {
    let (r, _) = app();
    let (s, _, j) = get(
        &r,
        "/layers/waste_deposits/search?lon=0.2&lat=49.5&k=30&material=textile&hazardous=true",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let n = features(&j).len();
    assert!(n == 30 || n as u64 == j["numberMatched"].as_u64().unwrap());
    for f in features(&j) {
        assert_eq!(f["properties"]["material"], "textile");
        assert_eq!(f["properties"]["hazardous"], true);
    }
}

#[tokio::test]
async fn polygon_search_by_post() {
    let (r, _) = app();
    let body = r#"{"type":"Polygon","coordinates":[[[0.1,49.4],[0.3,49.4],[0.3,49.6],[0.1,49.6],[0.1,49.4]]]}"#;
    let (s, _, inter) = send(&r, "POST", "/layers/plots/search?limit=1000", Some(body)).await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, within) = send(
        &r,
        "POST",
        "/layers/plots/search?relation=within&limit=1000",
        Some(body),
    )
    .await;
    let (ni, nw) = (
        inter["numberMatched"].as_u64().unwrap(),
        within["numberMatched"].as_u64().unwrap(),
    );
    assert!(ni >= nw && nw > 0, "{ni} {nw}");
    // With a point, distances and order.
    let feature = format!(r#"{{"type":"Feature","properties":{{}},"geometry":{body}}}"#);
    let (_, _, j) = send(
        &r,
        "POST",
        "/layers/plots/search?lon=0.2&lat=49.5&limit=5",
        Some(&feature),
    )
    .await;
    let d: Vec<f64> = features(&j)
        .iter()
        .map(|f| f["properties"]["distance_m"].as_f64().unwrap())
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]) && d.len() == 5);
}

#[tokio::test]
async fn site_search_spans_plots_and_buildings() {
    let (r, _) = app();
    let (s, _, j) = get(
        &r,
        "/sites/search?lon=0.25&lat=49.5&radius_m=8000&limit=1000",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let layers: std::collections::BTreeSet<&str> = features(&j)
        .iter()
        .map(|f| f["properties"]["layer"].as_str().unwrap())
        .collect();
    assert_eq!(layers.len(), 2, "{layers:?}");
    // A floor area is a building's: plots drop out.
    let (_, _, j) = get(
        &r,
        "/sites/search?lon=0.25&lat=49.5&radius_m=8000&floor_area_m2_min=5000&limit=1000",
    )
    .await;
    assert!(
        features(&j)
            .iter()
            .all(|f| f["properties"]["layer"] == "buildings"
                && f["properties"]["floor_area_m2"].as_f64().unwrap() >= 5000.0)
    );
    // Hectares apply to both (land area for buildings); exclusions; sorts.
    let (_, _, j) = get(&r, "/sites/search?area_ha=2..10&exclude=flood_zone,seveso&utilities=power&sort=-area&limit=1000").await;
    let mut last = f64::INFINITY;
    for f in features(&j) {
        let p = &f["properties"];
        let a = p["site_area_ha"].as_f64().unwrap();
        assert!((2.0..=10.0).contains(&a) && a <= last + 1e-9);
        last = a;
        assert_ne!(p["flood_zone"], true);
        assert_ne!(p["seveso"], true);
        assert!(p["power_mva"].as_f64().unwrap() > 0.0);
    }
    let (_, _, j) = get(&r, "/sites/search?status=available&sort=price&limit=50").await;
    let prices: Vec<f64> = features(&j)
        .iter()
        .filter_map(|f| f["properties"]["site_price_eur"].as_f64())
        .collect();
    assert!(prices.len() > 10 && prices.windows(2).all(|w| w[0] <= w[1]));
    // Inside the territory polygon.
    let (s, _, j) = get(
        &r,
        &format!(
            "/sites/search?in_territory={}&limit=5",
            common::TERRITORY_SIREN
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert!(j["numberMatched"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn near_waste_and_the_reverse_query() {
    let (r, _) = app();
    let (s, _, j) = get(&r, "/sites/near-waste?materials=wood,plastic&within_km=2&min_total=2000&deposit.hazardous=false&limit=20").await;
    assert_eq!(s, StatusCode::OK, "{j}");
    assert_eq!(j["unit"], "t");
    let mut last = f64::INFINITY;
    for f in features(&j) {
        let p = &f["properties"];
        let total = p["waste_total"].as_f64().unwrap();
        assert!(total >= 2000.0 && total <= last + 1e-6);
        last = total;
        for d in p["waste_deposits"].as_array().unwrap() {
            assert!(d["distance_m"].as_f64().unwrap() <= 2000.0);
        }
    }
    // The reverse: sites around the first deposit listed.
    let dep = features(&j)[0]["properties"]["waste_deposits"][0]["id"]
        .as_u64()
        .unwrap();
    let (s, _, rev) = get(
        &r,
        &format!("/waste_deposits/{dep}/sites?within_km=2&limit=100"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{rev}");
    assert_eq!(rev["deposit"]["id"].as_u64(), Some(dep));
    assert!(
        features(&rev)
            .iter()
            .any(|f| f["id"] == features(&j)[0]["id"])
    );
    let (s, _, _) = get(&r, "/waste_deposits/42/sites?within_km=2").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Each malformed request is a 400 problem+json whose `param` names the culprit.
/// The cases of `malformed_requests_are_400_problems` that are 422s.
const UNPROCESSABLE: &[&str] = &[
    "?bbox=1,49,0,50",
    "?bbox=0,50,1,49",
    "?cursor=garbage",
    "?cursor=1.2.3.4",
    "/sites/search?sort=distance ",
    "?materials=wood,water&within_km=2 ",
    // A territory the data does not hold.
    "?in_territory=123456789 ",
    // A self-intersecting ring (the bow tie).
    "[[[0,49],[1,50],[1,49],[0,50],[0,49]]]",
];

#[tokio::test]
async fn malformed_requests_are_400_problems() {
    let (r, _) = app();
    let s = "/layers/waste_deposits/search";
    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        (
            "GET",
            format!("{s}?lon=0.2&lat=49.5&radius_m=-5"),
            None,
            "radius_m",
        ),
        (
            "GET",
            format!("{s}?lon=0.2&lat=49.5&radius_m=10000000"),
            None,
            "radius_m",
        ),
        (
            "GET",
            format!("{s}?lon=0.2&lat=49.5&radius_m=abc"),
            None,
            "radius_m",
        ),
        ("GET", format!("{s}?lon=0.2&lat=49.5&k=0"), None, "k"),
        ("GET", format!("{s}?lon=0.2&lat=49.5&k=5000"), None, "k"),
        ("GET", format!("{s}?lon=0.2&lat=49.5&k=-3"), None, "k"),
        ("GET", format!("{s}?bbox=1,49,0,50"), None, "bbox"),
        ("GET", format!("{s}?bbox=0,50,1,49"), None, "bbox"),
        ("GET", format!("{s}?bbox=0,49,1"), None, "bbox"),
        ("GET", format!("{s}?bbox=0,49,1,nope"), None, "bbox"),
        (
            "GET",
            format!("{s}?lon=0.2&lat=100&radius_m=10"),
            None,
            "lat",
        ),
        (
            "GET",
            format!("{s}?lon=200&lat=49&radius_m=10"),
            None,
            "lon",
        ),
        ("GET", format!("{s}?lon=0.2&radius_m=10"), None, "lat"),
        ("GET", format!("{s}?radius_m=10"), None, "lon"),
        ("GET", format!("{s}?lon=0.2&lat=49.5"), None, "radius_m"),
        (
            "GET",
            format!("{s}?lon=0.2&lat=49.5&radius_m=10&bbox=0,49,1,50"),
            None,
            "bbox",
        ),
        ("GET", format!("{s}?colour=red"), None, "colour"),
        ("GET", format!("{s}?material=unobtainium"), None, "material"),
        ("GET", format!("{s}?quantity=lots"), None, "quantity"),
        ("GET", format!("{s}?quantity=20..5"), None, "quantity"),
        ("GET", format!("{s}?limit=100000"), None, "limit"),
        ("GET", format!("{s}?limit=0"), None, "limit"),
        ("GET", format!("{s}?cursor=garbage"), None, "cursor"),
        ("GET", format!("{s}?cursor=1.2.3.4"), None, "cursor"),
        ("GET", format!("{s}?limit=5&limit=6"), None, "limit"),
        ("GET", format!("{s}?relation=within"), None, "relation"),
        (
            "GET",
            format!("{s}?drive_from=0.1&drive_max_min=20"),
            None,
            "drive_from",
        ),
        ("POST", s.to_string(), Some("{not json"), ""),
        (
            "POST",
            s.to_string(),
            Some(r#"{"type":"Point","coordinates":[0.1,49.5]}"#),
            "geometry",
        ),
        (
            "POST",
            s.to_string(),
            Some(r#"{"type":"Polygon","coordinates":[[[0,49],[1,49],[1,50]]]}"#),
            "",
        ),
        (
            "POST",
            s.to_string(),
            Some(r#"{"type":"Polygon","coordinates":[[[0,49],[1,50],[1,49],[0,50],[0,49]]]}"#),
            "geometry",
        ),
        (
            "POST",
            format!("{s}?relation=inside"),
            Some(r#"{"type":"Polygon","coordinates":[[[0,49],[1,49],[1,50],[0,49]]]}"#),
            "relation",
        ),
        (
            "GET",
            "/sites/search?floor_area_m2=big".into(),
            None,
            "floor_area_m2",
        ),
        ("GET", "/sites/search?colour=red".into(), None, "colour"),
        (
            "GET",
            "/sites/search?exclude=volcano".into(),
            None,
            "exclude",
        ),
        (
            "GET",
            "/sites/search?utilities=teleporter".into(),
            None,
            "utilities",
        ),
        ("GET", "/sites/search?sort=distance".into(), None, "lon"),
        ("GET", "/sites/search?sort=beauty".into(), None, "sort"),
        (
            "GET",
            "/sites/search?in_territory=123456789".into(),
            None,
            "in_territory",
        ),
        ("GET", "/sites/search?layers=roads".into(), None, "layers"),
        (
            "GET",
            "/sites/near-waste?within_km=2".into(),
            None,
            "materials",
        ),
        (
            "GET",
            "/sites/near-waste?materials=unobtainium&within_km=2".into(),
            None,
            "materials",
        ),
        (
            "GET",
            "/sites/near-waste?materials=wood,water&within_km=2".into(),
            None,
            "materials",
        ),
        (
            "GET",
            "/sites/near-waste?materials=wood".into(),
            None,
            "within_km",
        ),
        (
            "GET",
            "/sites/near-waste?materials=wood&within_km=10000".into(),
            None,
            "within_km",
        ),
        (
            "GET",
            "/sites/near-waste?materials=wood&within_km=1&min_total=-1".into(),
            None,
            "min_total",
        ),
        (
            "GET",
            "/sites/near-waste?materials=wood&within_km=1&sort=colour".into(),
            None,
            "sort",
        ),
        ("GET", "/waste_deposits/1/sites".into(), None, "within_km"),
        (
            "GET",
            "/ogc/collections/plots/items?bbox=1,2,3".into(),
            None,
            "bbox",
        ),
        (
            "GET",
            "/ogc/collections/plots/items?datetime=yesterday".into(),
            None,
            "datetime",
        ),
        (
            "GET",
            "/ogc/collections/plots/items?datetime=2027-01-01/2026-01-01".into(),
            None,
            "datetime",
        ),
        (
            "GET",
            "/ogc/collections/plots/items?colour=red".into(),
            None,
            "colour",
        ),
        (
            "GET",
            "/ogc/collections/plots/items?f=xml".into(),
            None,
            "f",
        ),
        (
            "GET",
            "/ogc/collections/plots/items?limit=0".into(),
            None,
            "limit",
        ),
    ];
    assert!(cases.len() >= 20);
    for (method, uri, body, param) in &cases {
        let (s, ct, j) = send(&r, method, uri, *body).await;
        // Within the schema but not answerable as asked (a box whose min exceeds its max, an
        // invalid polygon): 422; the others break the contract: 400.
        let case = format!("{uri} {}", body.unwrap_or_default());
        let want = if UNPROCESSABLE.iter().any(|u| case.contains(u)) {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(s, want, "{method} {uri}: {j}");
        assert_eq!(ct, "application/problem+json", "{method} {uri}");
        let detail = j["detail"].as_str().unwrap_or_default();
        assert!(
            detail.len() > 15,
            "{method} {uri}: a clear message, got {j}"
        );
        if !param.is_empty() {
            assert_eq!(j["param"], *param, "{method} {uri}: {j}");
        }
        println!("{method} {uri} → {detail}");
    }
    // Unknown filters list the valid ones.
    let (_, _, j) = get(&r, &format!("{s}?colour=red")).await;
    assert!(j["detail"].as_str().unwrap().contains("material"), "{j}");
    println!("{} malformed requests, each a 400", cases.len());
}
