//! Who may do what: every kind of caller × every write route and every confidential read.
//!
//! Rows are (route, expected status per caller); a new endpoint that reads confidential data
//! (search, OGC items, tiles) adds its rows to `rows()`, with the same columns.

use crate::common;

use common::app::{App, CALLERS, deposit};
use terriens::api::{AuthPolicy, Limits};
use terriens::edit::{Edit, parse_features};
use terriens::model::{Access, Layer, Role};

/// One row: a request, and the status each caller of `CALLERS` must get.
struct Row {
    name: &'static str,
    method: &'static str,
    /// The path; `{c}` is replaced by the caller's column (0..6), so that writes by different
    /// callers touch different features.
    path: &'static str,
    body: Option<fn(usize) -> String>,
    expect: [u16; 6],
}

// Features: 100+c public deposits (one per caller column), 200+c confidential deposits.
const PUBLIC: u64 = 100;
const CONFIDENTIAL: u64 = 200;

fn rows() -> Vec<Row> {
    //                                   anon  bad  reader r+partners editor admin
    vec![
        Row {
            name: "create a feature",
            method: "POST",
            path: "/layers/waste_deposits/features",
            // No id: on waste_deposits only partners keys choose ids (durability_ids.rs).
            body: Some(|_| deposit(None, false, 1.0)),
            expect: [401, 401, 403, 403, 201, 201],
        },
        Row {
            name: "create a batch",
            method: "POST",
            path: "/layers/waste_deposits/features",
            body: Some(|_| {
                format!(
                    r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
                    deposit(None, false, 1.0),
                    deposit(None, true, 2.0)
                )
            }),
            expect: [401, 401, 403, 403, 201, 201],
        },
        Row {
            name: "replace a public feature",
            method: "PUT",
            path: "/layers/waste_deposits/features/10{c}",
            body: Some(|_| deposit(None, false, 5.0)),
            expect: [401, 401, 403, 403, 200, 200],
        },
        Row {
            name: "patch a public feature",
            method: "PATCH",
            path: "/layers/waste_deposits/features/10{c}",
            body: Some(|_| r#"{"properties":{"quantity":6}}"#.to_string()),
            expect: [401, 401, 403, 403, 200, 200],
        },
        Row {
            name: "patch a confidential feature (editor without the partners right: not found)",
            method: "PATCH",
            path: "/layers/waste_deposits/features/20{c}",
            body: Some(|_| r#"{"properties":{"quantity":6}}"#.to_string()),
            expect: [401, 401, 403, 403, 404, 200],
        },
        Row {
            name: "replace a confidential feature",
            method: "PUT",
            path: "/layers/waste_deposits/features/20{c}",
            body: Some(|_| deposit(None, true, 7.0)),
            expect: [401, 401, 403, 403, 404, 200],
        },
        Row {
            name: "delete a public feature",
            method: "DELETE",
            path: "/layers/waste_deposits/features/10{c}",
            body: None,
            expect: [401, 401, 403, 403, 200, 200],
        },
        Row {
            name: "compact the write log",
            method: "POST",
            path: "/admin/compact",
            body: None,
            expect: [401, 401, 403, 403, 403, 200],
        },
        Row {
            name: "read a confidential deposit (holder and position)",
            method: "GET",
            path: "/layers/waste_deposits/features/20{c}",
            body: None,
            expect: [404, 401, 404, 200, 404, 200],
        },
        Row {
            name: "read a public deposit",
            method: "GET",
            path: "/layers/waste_deposits/features/10{c}",
            body: None,
            expect: [200, 401, 200, 200, 200, 200],
        },
        Row {
            name: "metrics (public_metrics = true)",
            method: "GET",
            path: "/metrics",
            body: None,
            expect: [200, 401, 200, 200, 200, 200],
        },
        // Search, OGC items and tiles: add rows for confidential reads here once merged.
    ]
}

async fn seeded() -> App {
    let app = App::new(Limits::default(), AuthPolicy::default());
    let writer = app.state.writer.clone().unwrap();
    let mut body = Vec::new();
    for c in 0..CALLERS.len() as u64 {
        body.push(deposit(Some(PUBLIC + c), false, 1.0));
        body.push(deposit(Some(CONFIDENTIAL + c), true, 1.0));
    }
    let fc = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        body.join(",")
    );
    let features = parse_features(Layer::WasteDeposits, fc.as_bytes(), 100).unwrap();
    writer
        .submit(
            Edit::Create {
                layer: Layer::WasteDeposits,
                features,
            },
            Access::key(Role::Admin, true),
        )
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn every_caller_on_every_route() {
    // Each row on a fresh app, so that one row's writes do not change another's.
    let mut failures = Vec::new();
    for row in rows() {
        let app = seeded().await;
        for (c, caller) in CALLERS.iter().enumerate() {
            let path = row.path.replace("{c}", &c.to_string());
            let body = row.body.map(|b| b(c));
            let (status, _, json) = app.call(caller, row.method, &path, &[], body).await;
            if status.as_u16() != row.expect[c] {
                failures.push(format!(
                    "{} — {caller}: {} {path} → {status}, expected {} ({json})",
                    row.name, row.method, row.expect[c]
                ));
            }
            if status.is_client_error() {
                assert!(json["type"].as_str().is_some(), "problem+json body: {json}");
            }
            if status == 401 {
                // Checked in `unauthorized_answers_say_how`.
            }
        }
    }
    assert!(failures.is_empty(), "auth matrix:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn unauthorized_answers_say_how() {
    let app = seeded().await;
    let (status, headers, json) = app
        .call(
            "anonymous",
            "POST",
            "/layers/waste_deposits/features",
            &[],
            Some(deposit(None, false, 1.0)),
        )
        .await;
    assert_eq!(status, 401);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert!(
        json["detail"].as_str().unwrap().contains("editor"),
        "{json}"
    );
    let (status, _, json) = app
        .call(
            "reader",
            "DELETE",
            "/layers/waste_deposits/features/100",
            &[],
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        json["detail"].as_str().unwrap().contains("editor"),
        "{json}"
    );
    // X-Api-Key works as well as Authorization.
    let key = app.key("editor").unwrap().to_string();
    let (status, _, _) = common::app::call(
        &app.router,
        None,
        "DELETE",
        "/layers/waste_deposits/features/100",
        &[("x-api-key", &key)],
        None,
    )
    .await;
    assert_eq!(status, 200);
    // A scheme other than Bearer is refused, not taken as anonymous.
    let (status, _, _) = common::app::call(
        &app.router,
        None,
        "GET",
        "/catalog",
        &[("authorization", "Basic dXNlcjpwYXNz")],
        None,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn reads_can_require_a_key() {
    let policy = AuthPolicy {
        anonymous_reads: false,
        public_metrics: false,
    };
    let app = App::new(Limits::default(), policy);
    for (caller, path, expect) in [
        ("anonymous", "/catalog", 401),
        ("reader", "/catalog", 200),
        ("anonymous", "/metrics", 401),
        ("editor", "/metrics", 403),
        ("admin", "/metrics", 200),
    ] {
        let (status, _, _) = app.call(caller, "GET", path, &[], None).await;
        assert_eq!(status, expect, "{caller} GET {path}");
    }
}

/// Which deposits of a tile a caller gets: feature ids of points, and the number of deposits
/// the tile stands for (points plus cluster counts).
fn tile_deposits(bytes: &[u8]) -> (Vec<u64>, i64) {
    use geozero::mvt::{Message, Tile};
    let tile = Tile::decode(bytes).expect("a valid MVT");
    let mut ids = Vec::new();
    let mut total = 0;
    for layer in &tile.layers {
        for f in &layer.features {
            let props: Vec<(&str, &geozero::mvt::tile::Value)> = f
                .tags
                .chunks(2)
                .map(|c| {
                    (
                        layer.keys[c[0] as usize].as_str(),
                        &layer.values[c[1] as usize],
                    )
                })
                .collect();
            match props.iter().find(|(k, _)| *k == "point_count") {
                Some((_, v)) => {
                    total += v
                        .int_value
                        .or(v.sint_value)
                        .or(v.uint_value.map(|u| u as i64))
                        .unwrap_or(0)
                }
                None => {
                    total += 1;
                    ids.extend(f.id);
                }
            }
        }
    }
    ids.sort();
    (ids, total)
}

/// Confidential deposits are left out for callers without the partners right in every read:
/// single features, search (radius, nearest, box), OGC items, the sites around a deposit and
/// tiles at high and low zoom (where clusters must not count them either). Callers with the
/// right (a partners key, an admin) see them everywhere.
#[tokio::test]
async fn confidential_deposits_are_left_out_of_every_read_without_the_partners_right() {
    let app = seeded().await;
    let n = CALLERS.len() as u64;
    let public: Vec<u64> = (0..n).map(|c| PUBLIC + c).collect();
    let all: Vec<u64> = public
        .iter()
        .copied()
        .chain((0..n).map(|c| CONFIDENTIAL + c))
        .collect();
    let ids_of = |json: &serde_json::Value| -> Vec<u64> {
        let mut v: Vec<u64> = json["features"]
            .as_array()
            .unwrap_or(&Vec::new())
            .iter()
            .filter_map(|f| f["id"].as_u64())
            .collect();
        v.sort();
        v
    };
    for caller in ["anonymous", "reader", "reader+partners", "editor", "admin"] {
        let sees = caller == "reader+partners" || caller == "admin";
        let expect = if sees { &all } else { &public };
        for uri in [
            "/layers/waste_deposits/search?lon=0.12&lat=49.49&radius_m=1000&limit=100",
            "/layers/waste_deposits/search?lon=0.12&lat=49.49&k=100",
            "/layers/waste_deposits/search?bbox=0.1,49.4,0.2,49.5&limit=100",
            "/layers/waste_deposits/search?limit=100",
            "/ogc/collections/waste_deposits/items?limit=100",
        ] {
            let (status, _, json) = app.call(caller, "GET", uri, &[], None).await;
            assert_eq!(status, 200, "{caller} {uri}: {json}");
            assert_eq!(&ids_of(&json), expect, "{caller} {uri}");
            assert_eq!(
                json["numberMatched"].as_u64(),
                Some(expect.len() as u64),
                "{caller} {uri}"
            );
        }
        for uri in [
            format!("/ogc/collections/waste_deposits/items/{CONFIDENTIAL}"),
            format!("/layers/waste_deposits/features/{CONFIDENTIAL}"),
            format!("/waste_deposits/{CONFIDENTIAL}/sites?within_km=1"),
        ] {
            let (status, _, json) = app.call(caller, "GET", &uri, &[], None).await;
            assert_eq!(
                status,
                if sees { 200 } else { 404 },
                "{caller} {uri}: {json}"
            );
        }
        // Tiles: z14 shows the points themselves, z4 clusters them.
        for (z, x, y) in [(14u8, 8197u32, 5592u32), (4, 8, 5)] {
            let uri = format!("/tiles/waste_deposits/{z}/{x}/{y}");
            let req = axum::http::Request::builder().uri(&uri);
            let req = match app.key(caller) {
                Some(k) => req.header("authorization", format!("Bearer {k}")),
                None => req,
            };
            use tower::ServiceExt;
            let resp = app
                .router
                .clone()
                .oneshot(req.body(axum::body::Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{caller} {uri}");
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            let (ids, total) = tile_deposits(&bytes);
            assert_eq!(
                total,
                expect.len() as i64,
                "{caller} {uri}: deposits in the tile"
            );
            if z == 14 {
                assert_eq!(&ids, expect, "{caller} {uri}");
            }
        }
    }
}
