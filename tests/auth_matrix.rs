//! Who may do what: every kind of caller × every write route and every confidential read.
//!
//! Rows are (route, expected status per caller); a new endpoint that reads confidential data
//! (search, OGC items, tiles) adds its rows to `rows()`, with the same columns.

mod common;

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
            body: Some(|c| deposit(Some(300 + c as u64), false, 1.0)),
            expect: [401, 401, 403, 403, 201, 201],
        },
        Row {
            name: "create a batch",
            method: "POST",
            path: "/layers/waste_deposits/features",
            body: Some(|c| {
                format!(
                    r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
                    deposit(Some(400 + c as u64), false, 1.0),
                    deposit(Some(500 + c as u64), true, 2.0)
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
