//! Limits are answered with the documented status codes: 413 for a body or a batch too large,
//! 503 with Retry-After for a full heavy-endpoint gate and for a request past the timeout, 400
//! (`over-limit`) for a parameter above its cap; and the config file drives them.

use crate::common;

use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router, middleware};
use common::app::{App, call, deposit};
use terriens::api::{self, AuthPolicy, HeavyGate, Limits};

const FEATURES: &str = "/layers/waste_deposits/features";

#[tokio::test]
async fn bodies_and_batches_too_large_are_413() {
    let limits = Limits {
        max_body_bytes: 2_000,
        max_batch: 3,
        ..Limits::default()
    };
    let app = App::new(limits, AuthPolicy::default());
    let big = deposit(None, false, 1.0).replace("Chutes de bois", &"x".repeat(3_000));
    let (s, h, p) = app.call("editor", "POST", FEATURES, &[], Some(big)).await;
    assert_eq!(s, 413, "{p}");
    assert_eq!(h["content-type"], "application/problem+json");
    assert!(p["type"].as_str().unwrap().ends_with("body-too-large"));
    let four: Vec<String> = (1..=4).map(|i| deposit(Some(i), false, 1.0)).collect();
    let body = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        four.join(",")
    );
    assert!(body.len() < 2_000);
    let (s, _, p) = app.call("editor", "POST", FEATURES, &[], Some(body)).await;
    assert_eq!(s, 413, "{p}");
    assert!(p["type"].as_str().unwrap().ends_with("batch-too-large"));
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(300)).await;
    "done"
}

#[tokio::test]
async fn a_full_heavy_gate_answers_503_with_retry_after() {
    let limits = Limits {
        heavy_concurrency: 1,
        heavy_wait_ms: 20,
        retry_after_s: 3,
        ..Limits::default()
    };
    let gate = HeavyGate::new(&limits);
    let r: Router = Router::new()
        .route(
            "/heavy",
            get(slow).route_layer(middleware::from_fn(api::heavy)),
        )
        .layer(Extension(gate.clone()));
    let (a, b) = tokio::join!(call(&r, None, "GET", "/heavy", &[], None), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        call(&r, None, "GET", "/heavy", &[], None).await
    });
    assert_eq!(a.0, 200);
    assert_eq!(b.0, 503, "{}", b.2);
    assert_eq!(b.1["retry-after"], "3");
    assert!(b.2["type"].as_str().unwrap().ends_with("overloaded"));
    // Free again once the first is done.
    assert_eq!(gate.available(), 1);
    assert_eq!(call(&r, None, "GET", "/heavy", &[], None).await.0, 200);
}

#[tokio::test]
async fn a_request_past_the_timeout_answers_503_with_retry_after() {
    let limits = Limits {
        request_timeout_ms: 50,
        ..Limits::default()
    };
    let app = App::new(limits, AuthPolicy::default());
    let r: Router = Router::new()
        .route("/slow", get(slow))
        .layer(middleware::from_fn_with_state(
            app.state.clone(),
            api::limits::timeout,
        ));
    let (s, h, p) = call(&r, None, "GET", "/slow", &[], None).await;
    assert_eq!(s, 503, "{p}");
    assert_eq!(h["retry-after"], "1");
    assert!(p["type"].as_str().unwrap().ends_with("timeout"));
}

#[test]
fn caps_answer_400_naming_the_parameter_and_come_from_config() {
    let env = [
        (
            "TERRIENS_LIMITS_MAX_RADIUS_M".to_string(),
            "5000".to_string(),
        ),
        (
            "TERRIENS_LIMITS_MAX_CONTOUR_MIN".to_string(),
            "20".to_string(),
        ),
    ];
    let cfg = terriens::config::Config::load(None, env).unwrap();
    let l = cfg.limits;
    assert_eq!(l.max_radius_m, 5000.0);
    let err = Limits::check("radius", 6000.0, l.max_radius_m).unwrap_err();
    let resp = axum::response::IntoResponse::into_response(err);
    assert_eq!(resp.status(), 400);
    assert!(Limits::check("minutes", 20.0, l.max_contour_min).is_ok());
    assert!(Limits::check("minutes", 21.0, l.max_contour_min).is_err());
}

/// The real heavy routes (isochrones, workforce, the sites–waste joins) go through the gate:
/// with no permit free they answer 503 with Retry-After before any work. And the caps of the
/// search, routing and drive-time parameters are 400s naming the parameter.
#[tokio::test]
async fn heavy_routes_are_gated_and_caps_name_their_parameter() {
    let limits = Limits {
        heavy_concurrency: 1,
        heavy_wait_ms: 10,
        retry_after_s: 4,
        ..Limits::default()
    };
    let app = App::new(limits, AuthPolicy::default());
    // A heavy request in progress holds the only permit.
    let _busy = app.state.heavy.acquire().await.unwrap();
    for uri in [
        "/isochrone?lon=1.0&lat=49.52&contours_min=10",
        "/workforce?lon=1.0&lat=49.52&minutes=10",
        "/sites/near-waste?materials=wood&within_km=2",
        "/waste_deposits/1/sites?within_km=2",
    ] {
        let (s, h, p) = app.call("anonymous", "GET", uri, &[], None).await;
        assert_eq!(s, 503, "{uri}: {p}");
        assert_eq!(h["retry-after"], "4", "{uri}");
        assert!(p["type"].as_str().unwrap().ends_with("overloaded"), "{uri}");
    }
    let app = App::new(Limits::default(), AuthPolicy::default());
    for (uri, param) in [
        (
            "/layers/plots/search?lon=1&lat=49.5&radius_m=300000",
            "radius_m",
        ),
        ("/layers/plots/search?lon=1&lat=49.5&k=5000", "k"),
        ("/layers/plots/search?limit=5000", "limit"),
        ("/isochrone?lon=1&lat=49.5&contours_min=130", "contours_min"),
        ("/workforce?lon=1&lat=49.5&minutes=500", "minutes"),
        (
            "/layers/plots/search?drive_from=1,49.5&drive_max_min=500",
            "drive_max_min",
        ),
        (
            "/sites/near-waste?materials=wood&within_km=500",
            "within_km",
        ),
    ] {
        let (s, h, p) = app.call("anonymous", "GET", uri, &[], None).await;
        assert_eq!(s, 400, "{uri}: {p}");
        assert_eq!(h["content-type"], "application/problem+json");
        assert_eq!(p["param"], param, "{uri}: {p}");
    }
}
