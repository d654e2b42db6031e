//! `/isochrone` and `/workforce` through the router (no socket), on the embedded demo data:
//! GeoJSON shape, limits checked before any work, problem+json errors (a point far from any
//! road gets a 400 with the snap distance), and a sea point off Le Havre when
//! `TERRIENS_REALDATA` is set.

use crate::common;

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use terriens::api::{AppState, router};
use terriens::index::SharedSnapshot;
use terriens::routing::{BuildOptions, ProfileId, RawNetwork, Routing};
use tower::ServiceExt;

fn demo_state() -> AppState {
    static STATE: OnceLock<AppState> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let snap = terriens::store::embedded_snapshot().unwrap();
            let routing = terriens::routing::embedded_routing().unwrap();
            routing.prepare(&snap);
            AppState::new(SharedSnapshot::new(snap), None).with_routing(routing)
        })
        .clone()
}

async fn call(state: AppState, req: Request<Body>) -> (StatusCode, String, Value) {
    let resp = router(state).oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, ct, body)
}

async fn get(state: AppState, uri: &str) -> (StatusCode, String, Value) {
    call(state, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(state: AppState, uri: &str, body: &str) -> (StatusCode, String, Value) {
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    call(state, req).await
}

fn assert_problem(
    status: StatusCode,
    ct: &str,
    body: &Value,
    want: StatusCode,
    slug: &str,
    param: Option<&str>,
) {
    assert_eq!(status, want, "{body}");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(
        body["type"],
        json!(format!("https://terriens.dev/problems/{slug}")),
        "{body}"
    );
    assert_eq!(body["status"], json!(want.as_u16()));
    if let Some(p) = param {
        assert_eq!(body["param"], json!(p), "{body}");
    }
}

#[tokio::test]
async fn get_isochrone_is_geojson_with_contours_and_snapped_location() {
    let (status, ct, body) = get(
        demo_state(),
        "/isochrone?lon=1.0&lat=49.52&contours_min=20,10,30&direction=to",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ct, "application/geo+json");
    assert_eq!(body["type"], "FeatureCollection");
    let features = body["features"].as_array().unwrap();
    assert_eq!(features.len(), 4);
    // Largest first.
    let mins: Vec<f64> = features[..3]
        .iter()
        .map(|f| f["properties"]["contour_min"].as_f64().unwrap())
        .collect();
    assert_eq!(mins, vec![30.0, 20.0, 10.0]);
    let areas: Vec<f64> = features[..3]
        .iter()
        .map(|f| f["properties"]["area_ha"].as_f64().unwrap())
        .collect();
    assert!(
        areas[0] > areas[1] && areas[1] > areas[2] && areas[2] > 100.0,
        "{areas:?}"
    );
    for f in &features[..3] {
        let ty = f["geometry"]["type"].as_str().unwrap();
        assert!(ty == "Polygon" || ty == "MultiPolygon");
        assert_eq!(f["properties"]["direction"], "to");
        assert_eq!(f["properties"]["profile"], "car");
    }
    let p = &features[3];
    assert_eq!(p["geometry"]["type"], "Point");
    assert_eq!(p["properties"]["kind"], "snapped_location");
    assert!(p["properties"]["snap_distance_m"].as_f64().unwrap() < 100.0);
    assert!(body["cell_size_m"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn post_isochrone_with_two_locations_and_lorry_profile() {
    // The main town and the second town of the demo territory.
    let t = terriens_demo::Territory::generate(terriens_demo::DEFAULT_SEED, 1);
    let body = json!({
        "locations": [[t.towns[0].lon, t.towns[0].lat], {"lon": t.towns[1].lon, "lat": t.towns[1].lat}],
        "contours_min": [15], "profile": "hgv_hazmat", "denoise": 0.5, "generalize": 50,
    });
    let (status, ct, out) = post(demo_state(), "/isochrone", &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(ct, "application/geo+json");
    let features = out["features"].as_array().unwrap();
    assert_eq!(features.len(), 3);
    assert_eq!(features[0]["properties"]["profile"], "hgv_hazmat");
    assert_eq!(features[2]["properties"]["location_index"], 1);
}

#[tokio::test]
async fn limits_are_checked_before_any_work() {
    let s = demo_state;
    for (uri, param) in [
        (
            "/isochrone?lon=1&lat=49.52&contours_min=1,2,3,4,5,6,7",
            "contours_min",
        ),
        (
            "/isochrone?lon=1&lat=49.52&contours_min=121",
            "contours_min",
        ),
        ("/isochrone?lon=1&lat=49.52&contours_min=0", "contours_min"),
        (
            "/isochrone?lon=1&lat=49.52&contours_min=10,10",
            "contours_min",
        ),
        (
            "/isochrone?lon=1&lat=49.52&contours_min=ten",
            "contours_min",
        ),
        ("/isochrone?lon=1&lat=49.52", "contours_min"),
        ("/isochrone?lat=49.52&contours_min=10", "lon"),
        (
            "/isochrone?lon=1&lat=49.52&locations=1,49.52&contours_min=10",
            "locations",
        ),
        (
            "/isochrone?locations=1,49.52;oops&contours_min=10",
            "locations",
        ),
        ("/isochrone?lon=1&lat=95&contours_min=10", "locations"),
        (
            "/isochrone?lon=1&lat=49.52&contours_min=10&direction=sideways",
            "direction",
        ),
        (
            "/isochrone?lon=1&lat=49.52&contours_min=10&denoise=2",
            "denoise",
        ),
        (
            "/isochrone?lon=1&lat=49.52&contours_min=10&generalize=5000",
            "generalize",
        ),
        ("/workforce?lon=1&lat=49.52", "minutes"),
        ("/workforce?lon=1&lat=49.52&minutes=0", "minutes"),
        ("/workforce?lon=1&lat=49.52&minutes=500", "minutes"),
    ] {
        let (status, ct, body) = get(s(), uri).await;
        assert_problem(
            status,
            &ct,
            &body,
            StatusCode::BAD_REQUEST,
            "bad-parameter",
            Some(param),
        );
    }
    let (status, ct, body) = get(
        s(),
        "/isochrone?lon=1&lat=49.52&contours_min=10&profile=bus",
    )
    .await;
    assert_problem(
        status,
        &ct,
        &body,
        StatusCode::BAD_REQUEST,
        "unknown-profile",
        Some("profile"),
    );
    let many: Vec<String> = (0..11)
        .map(|i| format!("[1.0, {}]", 49.5 + f64::from(i) * 0.001))
        .collect();
    let body = format!(
        r#"{{"locations": [{}], "contours_min": [10]}}"#,
        many.join(",")
    );
    let (status, ct, out) = post(s(), "/isochrone", &body).await;
    assert_problem(
        status,
        &ct,
        &out,
        StatusCode::BAD_REQUEST,
        "bad-parameter",
        Some("locations"),
    );
    let (status, ct, out) = post(
        s(),
        "/isochrone",
        r#"{"locations": [[1, 49.52]], "contours_min": [10], "colour": "red"}"#,
    )
    .await;
    assert_problem(status, &ct, &out, StatusCode::BAD_REQUEST, "bad-body", None);
    let (status, ct, out) = post(s(), "/isochrone", "{not json").await;
    assert_problem(status, &ct, &out, StatusCode::BAD_REQUEST, "bad-body", None);
}

#[tokio::test]
async fn a_point_far_from_any_road_gets_a_422_with_the_snap_distance() {
    let state = demo_state();
    let engine = state
        .routing
        .as_ref()
        .unwrap()
        .engine(ProfileId::Car)
        .unwrap()
        .clone();
    // 5 km due south of the southernmost node: every road is at least 5 km away.
    let g = engine.graph();
    let south = (0..g.node_count() as u32)
        .map(|v| g.lonlat(v))
        .min_by(|a, b| a[1].total_cmp(&b[1]))
        .unwrap();
    let lat = south[1] - 5_000.0 / 111_230.0;
    let uri = format!("/isochrone?lon={}&lat={lat}&contours_min=10", south[0]);
    let (status, ct, body) = get(state.clone(), &uri).await;
    assert_problem(
        status,
        &ct,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too-far-from-road",
        Some("locations"),
    );
    let d = body["snap_distance_m"].as_f64().unwrap();
    assert!((4_990.0..5_050.0).contains(&d), "{d}");
    assert_eq!(body["max_snap_distance_m"], json!(1000.0));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("m from the nearest road")
    );
    let uri = format!("/workforce?lon={}&lat={lat}&minutes=10", south[0]);
    let (status, ct, body) = get(state, &uri).await;
    assert_problem(
        status,
        &ct,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too-far-from-road",
        Some("lon"),
    );
}

#[tokio::test]
async fn a_sea_point_off_le_havre_gets_a_422() {
    let Some(dir) = common::realdata("a_sea_point_off_le_havre_gets_a_422") else {
        return;
    };
    let bytes = std::fs::read(dir.join("osm_lehavre_centre_2023-02-19.osm.pbf")).unwrap();
    let net = RawNetwork::read_bytes(&bytes, "le_havre.osm.pbf", None).unwrap();
    let routing = Routing::from_network(&net, &[ProfileId::Car], &BuildOptions::default()).unwrap();
    let snap = terriens::index::Snapshot::new(1, []);
    let state = AppState::new(SharedSnapshot::new(snap), None).with_routing(routing);
    // In the Seine estuary / Channel, about 5 km west of the beach.
    let (status, ct, body) = get(
        state.clone(),
        "/isochrone?lon=0.03&lat=49.49&contours_min=5",
    )
    .await;
    assert_problem(
        status,
        &ct,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too-far-from-road",
        Some("locations"),
    );
    let d = body["snap_distance_m"].as_f64().unwrap();
    assert!((4_000.0..7_000.0).contains(&d), "{d}");
    // The city hall is fine.
    let (status, _, body) = get(state, "/isochrone?lon=0.1079&lat=49.4944&contours_min=2,5").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn without_a_graph_routing_routes_answer_404() {
    let snap = terriens::index::Snapshot::new(1, []);
    let state = AppState::new(SharedSnapshot::new(snap), None);
    let (status, ct, body) = get(state.clone(), "/isochrone?lon=1&lat=49.52&contours_min=10").await;
    assert_problem(
        status,
        &ct,
        &body,
        StatusCode::NOT_FOUND,
        "profile-not-loaded",
        Some("profile"),
    );
    let (status, ct, body) = get(state, "/workforce?lon=1&lat=49.52&minutes=10").await;
    assert_problem(
        status,
        &ct,
        &body,
        StatusCode::NOT_FOUND,
        "profile-not-loaded",
        Some("profile"),
    );
}

#[tokio::test]
async fn workforce_sums_weighted_catchments_and_says_how() {
    let (status, ct, body) = get(demo_state(), "/workforce?lon=1.0&lat=49.52&minutes=20").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ct, "application/json");
    assert_eq!(body["direction"], "to");
    assert_eq!(body["weighting"]["method"], "reachable_street_length");
    let catchments = body["catchments"].as_array().unwrap();
    assert!(catchments.len() > 1);
    let mut population = 0.0;
    let mut welders = 0.0;
    for c in catchments {
        let share = c["share"].as_f64().unwrap();
        assert!(share > 0.0 && share <= 1.0, "{c}");
        population += c["population"].as_f64().unwrap();
        welders += c["candidates"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .sum::<f64>();
    }
    let totals = &body["totals"];
    assert!(
        (totals["population"].as_f64().unwrap() - population).abs() < 0.1 * catchments.len() as f64
    );
    let total_candidates: f64 = totals["candidates"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((total_candidates - welders).abs() < 0.1 * catchments.len() as f64 * 20.0);

    // Two hours reach the whole demo territory: every catchment counts wholly.
    let (status, _, all) = get(
        demo_state(),
        "/workforce?lon=1.0&lat=49.52&minutes=120&direction=from",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let snap = terriens::store::embedded_snapshot().unwrap();
    let layer = snap.layer(terriens::model::Layer::Catchments);
    let everyone: f64 = (0..layer.len() as u32)
        .filter_map(|r| {
            layer
                .value_by_name(r, "population")
                .and_then(|v| v.as_f64())
        })
        .sum();
    let reached = all["totals"]["population"].as_f64().unwrap();
    assert!(
        reached > 0.99 * everyone && reached <= everyone + 1.0,
        "{reached} of {everyone}"
    );
}

/// The engine's travel times to a layer's rows (the routing engine itself is checked against
/// petgraph and networkx in `routing_oracle`): row → seconds.
fn times_to(
    layer: terriens::model::Layer,
    origin: [f64; 2],
    direction: terriens::routing::Direction,
    max_s: f64,
) -> std::collections::HashMap<u64, f64> {
    let state = demo_state();
    let snap = state.snapshot.load();
    let routing = state.routing.as_ref().unwrap();
    let engine = routing.engine(ProfileId::Car).unwrap();
    let data = snap.layer(layer);
    // Anonymous callers do not see confidential deposits (`model::Access`).
    let visible = snap.view(&terriens::model::Access::ANONYMOUS).layer(layer);
    terriens::routing::travel_times_to_features(engine, data, &[origin], direction, max_s)
        .unwrap()
        .into_iter()
        .filter(|(row, s)| *s <= max_s && visible.visible(*row))
        .map(|(row, s)| (data.id(row), s))
        .collect()
}

fn ids_and_times(json: &Value) -> std::collections::HashMap<u64, f64> {
    json["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_u64().unwrap(),
                f["properties"]["travel_time_min"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Search on any layer with `drive_from` / `drive_to` returns exactly the features reached
/// within the time, each with its `travel_time_min`.
#[tokio::test]
async fn drive_time_search_returns_the_features_reached_in_time() {
    use terriens::model::Layer;
    use terriens::routing::Direction;
    let origin = [1.0, 49.52];
    for (uri, layer, direction, minutes) in [
        (
            "/layers/plots/search?drive_from=1.0,49.52&drive_max_min=8&limit=1000",
            Layer::Plots,
            Direction::From,
            8.0,
        ),
        (
            "/layers/waste_deposits/search?drive_to=1.0,49.52&drive_max_min=6&limit=1000",
            Layer::WasteDeposits,
            Direction::To,
            6.0,
        ),
        (
            "/layers/buildings/search?drive_from=1.0,49.52&drive_max_min=12&limit=1000&lon=1.0&lat=49.52&radius_m=5000",
            Layer::Buildings,
            Direction::From,
            12.0,
        ),
    ] {
        let (status, _, json) = get(demo_state(), uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {json}");
        let got = ids_and_times(&json);
        let mut expect = times_to(layer, origin, direction, minutes * 60.0);
        if uri.contains("radius_m") {
            // Reached in time and within 5 km (the brute-force distance test of search).
            let snap = demo_state().snapshot.load();
            let data = snap.layer(layer);
            expect.retain(|id, _| {
                let row = data.row_of(*id).unwrap();
                terriens::query::distance_to_geometry_m(
                    geo_types::point!(x: 1.0, y: 49.52),
                    data.geometry(row),
                ) <= 5000.0
            });
        }
        assert!(
            !expect.is_empty(),
            "{uri}: the test needs reachable features"
        );
        let mut a: Vec<u64> = got.keys().copied().collect();
        let mut e: Vec<u64> = expect.keys().copied().collect();
        a.sort();
        e.sort();
        assert_eq!(a, e, "{uri}");
        for (id, min) in &got {
            assert!(
                (min - expect[id] / 60.0).abs() <= 0.006,
                "{uri}: feature {id}"
            );
        }
    }
}

/// `/sites/near-waste?max_drive_min=`: a site counts a deposit when the drive from the deposit
/// to the site is within the time; checked against a pairwise computation over every wood
/// deposit and every plot and building.
#[tokio::test]
async fn near_waste_by_drive_time_equals_a_pairwise_computation() {
    use std::collections::HashMap;
    use terriens::model::Layer;
    use terriens::routing::Direction;
    let minutes = 2.0;
    let (status, _, json) = get(
        demo_state(),
        "/sites/near-waste?materials=wood&max_drive_min=2&min_total=0&limit=1000&deposits_limit=1000",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let state = demo_state();
    let snap = state.snapshot.load();
    let deposits = snap.layer(Layer::WasteDeposits);
    let material = deposits.schema().index_of("material");
    let quantity = deposits.schema().index_of("quantity");
    // Brute force: (site layer, site id) → (total, deposit ids).
    let mut expect: HashMap<(String, u64), (f64, Vec<u64>)> = HashMap::new();
    let visible = snap
        .view(&terriens::model::Access::ANONYMOUS)
        .layer(Layer::WasteDeposits);
    for row in 0..deposits.len() as u32 {
        if deposits.value(row, material) != Some(terriens::index::ValueRef::Text("wood"))
            || !visible.visible(row)
        {
            continue;
        }
        let Some(q) = deposits.value(row, quantity).and_then(|v| v.as_f64()) else {
            continue;
        };
        let geo_types::Geometry::Point(p) = deposits.geometry(row) else {
            continue;
        };
        for layer in [Layer::Plots, Layer::Buildings] {
            let routing = state.routing.as_ref().unwrap();
            let engine = routing.engine(ProfileId::Car).unwrap();
            let data = snap.layer(layer);
            let Ok(times) = terriens::routing::travel_times_to_features(
                engine,
                data,
                &[[p.x(), p.y()]],
                Direction::From,
                minutes * 60.0,
            ) else {
                continue;
            };
            for (site, s) in times {
                if s <= minutes * 60.0 {
                    let e = expect
                        .entry((layer.id().to_string(), data.id(site)))
                        .or_default();
                    e.0 += q;
                    e.1.push(deposits.id(row));
                }
            }
        }
    }
    assert!(!expect.is_empty(), "the test needs pairs in reach");
    assert!(expect.len() < 1000, "one page holds every site");
    let got: HashMap<(String, u64), (f64, Vec<u64>)> = json["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            let mut ids: Vec<u64> = p["waste_deposits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    assert!(d["travel_time_min"].as_f64().unwrap() <= minutes + 1e-9);
                    d["id"].as_u64().unwrap()
                })
                .collect();
            ids.sort();
            (
                (
                    p["layer"].as_str().unwrap().to_string(),
                    f["id"].as_u64().unwrap(),
                ),
                (p["waste_total"].as_f64().unwrap(), ids),
            )
        })
        .collect();
    assert_eq!(got.len(), expect.len(), "number of sites");
    for (k, (total, mut ids)) in expect {
        ids.sort();
        let (t, g) = got.get(&k).unwrap_or_else(|| panic!("site {k:?} missing"));
        assert_eq!(g, &ids, "site {k:?}");
        assert!(
            (t - total).abs() <= 0.01 * total.max(1.0),
            "site {k:?}: {t} vs {total}"
        );
    }
}

#[tokio::test]
async fn drive_time_parameters_are_checked() {
    for (uri, param) in [
        ("/layers/plots/search?drive_max_min=10", "drive_max_min"),
        ("/layers/plots/search?drive_from=1.0,49.52", "drive_max_min"),
        (
            "/layers/plots/search?drive_from=1.0&drive_max_min=10",
            "drive_from",
        ),
        (
            "/layers/plots/search?drive_from=1.0,49.52&drive_to=1.0,49.52&drive_max_min=10",
            "drive_to",
        ),
        (
            "/layers/plots/search?drive_from=1.0,49.52&drive_max_min=500",
            "drive_max_min",
        ),
        (
            "/layers/plots/search?drive_from=1.0,49.52&drive_max_min=-1",
            "drive_max_min",
        ),
        (
            "/layers/plots/search?drive_from=-3.0,49.9&drive_max_min=10",
            "drive_from",
        ),
        (
            "/layers/plots/search?drive_from=1.0,49.52&drive_max_min=10&profile=boat",
            "profile",
        ),
        (
            "/sites/near-waste?materials=wood&max_drive_min=5&within_km=2",
            "max_drive_min",
        ),
        (
            "/sites/near-waste?materials=wood&max_drive_min=500",
            "max_drive_min",
        ),
    ] {
        let (status, ct, json) = get(demo_state(), uri).await;
        // A point off the roads is within the contract; the roads refuse it (422).
        let want = if uri.contains("-3.0,49.9") {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, want, "{uri}: {json}");
        assert_eq!(ct, "application/problem+json", "{uri}");
        assert_eq!(json["param"], param, "{uri}: {json}");
    }
}
