//! The router in process (no socket), over a fresh data directory with a running writer and
//! one key per kind of caller.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use terriens::api::{AppState, AuthPolicy, Limits, router};
use terriens::auth::{KeyStore, add_key};
use terriens::edit::{Writer, WriterOptions, recover};
use terriens::index::SharedSnapshot;
use terriens::model::Role;
use terriens::store::DataDir;

/// The kinds of caller, in the order of the auth matrix columns.
pub const CALLERS: [&str; 6] = [
    "anonymous",
    "bad key",
    "reader",
    "reader+partners",
    "editor",
    "admin",
];

pub struct App {
    pub state: AppState,
    pub router: Router,
    pub dir: tempfile::TempDir,
    /// The key of each caller of [`CALLERS`] (None: no key).
    pub keys: Vec<Option<String>>,
}

impl App {
    pub fn new(limits: Limits, policy: AuthPolicy) -> App {
        let dir = tempfile::tempdir().unwrap();
        let keys_path = dir.path().join("keys.toml");
        let keys = vec![
            None,
            Some(
                "trn_0badc0de_0000000000000000000000000000000000000000000000000000000000000000"
                    .to_string(),
            ),
            Some(add_key(&keys_path, Role::Reader, false, None).unwrap()),
            Some(add_key(&keys_path, Role::Reader, true, None).unwrap()),
            Some(add_key(&keys_path, Role::Editor, false, None).unwrap()),
            Some(add_key(&keys_path, Role::Admin, false, None).unwrap()),
        ];
        let store = KeyStore::load(&keys_path).unwrap();
        let data = DataDir::open(dir.path().join("data")).unwrap();
        let rec = recover(data.clone()).unwrap();
        let state = AppState::new(SharedSnapshot::new(rec.snapshot.clone()), Some(data))
            .with_limits(limits)
            .with_keys(store, policy);
        let writer = Writer::start(rec, state.snapshot.clone(), WriterOptions::default()).unwrap();
        let state = state.with_writer(Arc::new(writer));
        App {
            router: router(state.clone()),
            state,
            dir,
            keys,
        }
    }

    pub fn key(&self, caller: &str) -> Option<&str> {
        let i = CALLERS
            .iter()
            .position(|c| *c == caller)
            .expect("a known caller");
        self.keys[i].as_deref()
    }

    /// One request as `caller` (a name of [`CALLERS`]).
    pub async fn call(
        &self,
        caller: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> (StatusCode, HeaderMap, Value) {
        call(&self.router, self.key(caller), method, path, headers, body).await
    }
}

pub async fn call(
    router: &Router,
    key: Option<&str>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(body.map_or_else(Body::empty, Body::from)).unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, json)
}

/// A waste deposit as GeoJSON text.
pub fn deposit(id: Option<u64>, confidential: bool, quantity: f64) -> String {
    let mut f = serde_json::json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [0.12, 49.49]},
        "properties": {
            "name": "Chutes de bois",
            "material": "wood",
            "quantity": quantity,
            "holder": "Scierie du Nord",
            "confidentiality": if confidential { "partners" } else { "public" },
        },
    });
    if let Some(id) = id {
        f["id"] = serde_json::json!(id);
    }
    f.to_string()
}
