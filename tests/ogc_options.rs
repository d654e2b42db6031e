//! `OPTIONS` on OGC items and on an item, through the in-process router for every kind of
//! caller: 204 with the `Allow` this caller may use (reads for everyone, `POST` / `PUT`,
//! `PATCH`, `DELETE` for editors, nothing about a feature the caller may not see), and a CORS
//! preflight still answered by the CORS layer.

use crate::common;

use axum::http::StatusCode;
use common::app::{App, CALLERS, deposit};
use terriens::api::{AuthPolicy, Limits};

const READ: &str = "GET, HEAD, OPTIONS";
const ITEMS_WRITE: &str = "GET, HEAD, POST, OPTIONS";
const ITEM_WRITE: &str = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS";
const CREATE_AT: &str = "PUT, OPTIONS";
const PUBLIC: u64 = 5_001;
const HIDDEN: u64 = 5_002;

/// What `OPTIONS` answers: the `Allow` of a 204, or the status.
fn allowed(status: StatusCode, headers: &axum::http::HeaderMap) -> Result<String, u16> {
    if status != StatusCode::NO_CONTENT {
        return Err(status.as_u16());
    }
    Ok(headers
        .get("allow")
        .expect("a 204 to OPTIONS has Allow")
        .to_str()
        .unwrap()
        .to_string())
}

#[tokio::test]
async fn options_lists_what_each_caller_may_do() {
    let app = App::new(Limits::default(), AuthPolicy::default());
    for (id, confidential) in [(PUBLIC, false), (HIDDEN, true)] {
        let (s, _, body) = app
            .call(
                "admin",
                "POST",
                "/layers/waste_deposits/features",
                &[("content-type", "application/geo+json")],
                Some(deposit(Some(id), confidential, 12.0)),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    let ok = |s: &str| Ok::<String, u16>(s.to_string());
    // path → expected answer per caller, in the order of CALLERS:
    // anonymous, bad key, reader, reader+partners, editor, admin.
    let cases: Vec<(String, [Result<String, u16>; 6])> = vec![
        (
            "/ogc/collections/waste_deposits/items".into(),
            [
                ok(READ),
                Err(401),
                ok(READ),
                ok(READ),
                ok(ITEMS_WRITE),
                ok(ITEMS_WRITE),
            ],
        ),
        (
            "/ogc/collections/plots/items".into(),
            [
                ok(READ),
                Err(401),
                ok(READ),
                ok(READ),
                ok(ITEMS_WRITE),
                ok(ITEMS_WRITE),
            ],
        ),
        (
            format!("/ogc/collections/waste_deposits/items/{PUBLIC}"),
            [
                ok(READ),
                Err(401),
                ok(READ),
                ok(READ),
                ok(ITEM_WRITE),
                ok(ITEM_WRITE),
            ],
        ),
        (
            // Confidential: absent for whoever lacks the partners right, the editor too.
            format!("/ogc/collections/waste_deposits/items/{HIDDEN}"),
            [
                Err(404),
                Err(401),
                Err(404),
                ok(READ),
                Err(404),
                ok(ITEM_WRITE),
            ],
        ),
        (
            // A free deposit id: only a key that may choose ids there may create under it.
            "/ogc/collections/waste_deposits/items/999".into(),
            [
                Err(404),
                Err(401),
                Err(404),
                Err(404),
                Err(404),
                ok(CREATE_AT),
            ],
        ),
        (
            "/ogc/collections/plots/items/999".into(),
            [
                Err(404),
                Err(401),
                Err(404),
                Err(404),
                ok(CREATE_AT),
                ok(CREATE_AT),
            ],
        ),
        (
            "/ogc/collections/plots/items/not-a-number".into(),
            [Err(404), Err(401), Err(404), Err(404), Err(404), Err(404)],
        ),
        (
            "/ogc/collections/nope/items".into(),
            [Err(404), Err(401), Err(404), Err(404), Err(404), Err(404)],
        ),
    ];
    let mut misses = Vec::new();
    for (path, want) in &cases {
        for (caller, want) in CALLERS.iter().zip(want) {
            let (s, h, _) = app.call(caller, "OPTIONS", path, &[], None).await;
            let got = allowed(s, &h);
            if &got != want {
                misses.push(format!("{caller} OPTIONS {path}: {got:?}, want {want:?}"));
            }
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));

    // What Allow promises holds: the editor patches the public deposit, not the hidden one.
    let patch = Some(r#"{"properties": {"quantity": 13.0}}"#.to_string());
    let ct = [("content-type", "application/json")];
    let item = |id: u64| format!("/ogc/collections/waste_deposits/items/{id}");
    let (s, _, body) = app
        .call("editor", "PATCH", &item(PUBLIC), &ct, patch.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, _) = app.call("editor", "PATCH", &item(HIDDEN), &ct, patch).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = app.call("reader", "DELETE", &item(PUBLIC), &[], None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cors_preflight_is_answered_as_before() {
    let app = App::new(Limits::default(), AuthPolicy::default());
    let preflight = [
        ("origin", "https://qgis.example"),
        ("access-control-request-method", "PUT"),
        ("access-control-request-headers", "authorization, if-match"),
    ];
    for path in [
        "/ogc/collections/plots/items",
        "/ogc/collections/plots/items/1",
        "/catalog",
    ] {
        for caller in ["anonymous", "editor"] {
            let (s, h, _) = app.call(caller, "OPTIONS", path, &preflight, None).await;
            assert_eq!(s, StatusCode::OK, "{caller} preflight {path}");
            assert_eq!(
                h.get("access-control-allow-origin")
                    .map(|v| v.to_str().unwrap()),
                Some("*"),
                "{caller} preflight {path}: {h:?}"
            );
            assert!(h.get("access-control-allow-methods").is_some(), "{path}");
            assert!(
                h.get("allow").is_none(),
                "the preflight is CORS's, not ours"
            );
        }
    }
    // A plain OPTIONS elsewhere is still answered by the CORS layer; on the items, by the
    // route, with the CORS origin stamped.
    let (s, _, _) = app
        .call("anonymous", "OPTIONS", "/catalog", &[], None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let origin = [("origin", "https://qgis.example")];
    let (s, h, _) = app
        .call(
            "anonymous",
            "OPTIONS",
            "/ogc/collections/plots/items",
            &origin,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(h.get("access-control-allow-origin").unwrap(), "*");
    assert_eq!(h.get("allow").unwrap(), READ);
}
