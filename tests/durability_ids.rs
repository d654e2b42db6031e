//! Item 10 of issue 13: an editor without the partners right must not learn whether an id is
//! held by a confidential waste deposit. Against a real server: for such an editor, every
//! answer about an id held by a confidential deposit is the same as about a free id (POST with
//! an explicit id: 403 whatever the id; PUT, PATCH, DELETE: 404), and the confidential deposit
//! is never changed. A partners key, and every key on the other layers, keeps choosing ids.
//!
//! The oracle is the partners key's view of the data and the two answers compared with each
//! other, not the server's rule.

use crate::common;

use std::net::SocketAddr;

use common::server::{Server, add_key};
use common::wire::{Resp, request};
use serde_json::{Value, json};

fn deposit(id: Option<u64>, confidential: bool, quantity: f64) -> Vec<u8> {
    let mut f = json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [0.12, 49.49]},
        "properties": {"name": "Chutes", "material": "wood", "quantity": quantity,
                       "holder": "Scierie du Nord",
                       "confidentiality": if confidential { "partners" } else { "public" }},
    });
    if let Some(id) = id {
        f["id"] = json!(id);
    }
    serde_json::to_vec(&f).unwrap()
}

struct Key<'a> {
    addr: SocketAddr,
    auth: String,
    _s: &'a Server,
}

impl Key<'_> {
    fn send(&self, method: &str, id: Option<u64>, body: Option<Vec<u8>>) -> Resp {
        let path = match id {
            Some(id) => format!("/layers/waste_deposits/features/{id}"),
            None => "/layers/waste_deposits/features".to_string(),
        };
        let headers = [
            ("Authorization", self.auth.as_str()),
            ("Content-Type", "application/geo+json"),
        ];
        request(self.addr, method, &path, &headers, body.as_deref()).unwrap()
    }
}

/// Status and body of an answer, with the id itself blanked out of the text.
fn shape(r: &Resp, id: u64) -> (u16, Value) {
    let text = r.text().replace(&id.to_string(), "ID");
    (
        r.status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn a_confidential_id_answers_as_a_free_id() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys.toml");
    let partner = add_key(&keys, "editor", true);
    let plain = add_key(&keys, "editor", false);
    let data = tmp.path().join("data");
    let args = [
        "--data",
        data.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
    ];
    let server = Server::start(&args, &[]);
    let key = |k: &str| Key {
        addr: server.addr,
        auth: format!("Bearer {k}"),
        _s: &server,
    };
    let (p, e) = (key(&partner), key(&plain));
    let (secret, free, public) = (500, 501, 600);
    assert_eq!(
        p.send("POST", None, Some(deposit(Some(secret), true, 7.0)))
            .status,
        201
    );
    assert_eq!(
        p.send("POST", None, Some(deposit(Some(public), false, 8.0)))
            .status,
        201
    );
    let before = p.send("GET", Some(secret), None).text();

    // POST with an explicit id: refused alike, whatever the id.
    let a = e.send("POST", None, Some(deposit(Some(secret), false, 1.0)));
    let b = e.send("POST", None, Some(deposit(Some(free), false, 1.0)));
    assert_eq!(a.status, 403, "{}", a.text());
    assert_eq!(shape(&a, secret), shape(&b, free));
    // A batch holding an explicit id too.
    let batch = json!({"type": "FeatureCollection", "features": [
        serde_json::from_slice::<Value>(&deposit(None, false, 1.0)).unwrap(),
        serde_json::from_slice::<Value>(&deposit(Some(secret), false, 1.0)).unwrap(),
    ]});
    let r = e.send("POST", None, Some(serde_json::to_vec(&batch).unwrap()));
    assert_eq!(shape(&r, secret), shape(&a, secret));
    // PUT, PATCH, DELETE on an id it cannot see: 404 alike, with or without If-Match.
    let patch = serde_json::to_vec(&json!({"properties": {"quantity": 2.0}})).unwrap();
    for (method, body) in [
        ("PUT", Some(deposit(None, false, 1.0))),
        ("PATCH", Some(patch.clone())),
        ("DELETE", None),
    ] {
        let a = e.send(method, Some(secret), body.clone());
        let b = e.send(method, Some(free), body);
        assert_eq!(a.status, 404, "{method}: {}", a.text());
        assert_eq!(shape(&a, secret), shape(&b, free), "{method}");
    }
    let get = |id| e.send("GET", Some(id), None);
    assert_eq!(shape(&get(secret), secret), shape(&get(free), free));

    // The confidential deposit is untouched; the free id is still free.
    assert_eq!(p.send("GET", Some(secret), None).text(), before);
    assert_eq!(p.send("GET", Some(free), None).status, 404);
    // What the plain editor may still do: create without an id, replace what it sees.
    assert_eq!(
        e.send("POST", None, Some(deposit(None, false, 3.0))).status,
        201
    );
    let r = e.send("PUT", Some(public), Some(deposit(None, false, 9.0)));
    assert_eq!(r.status, 200, "{}", r.text());
    // The partners key chooses ids: POST with an id, PUT creating under a free id.
    assert_eq!(
        p.send("POST", None, Some(deposit(Some(free), true, 1.0)))
            .status,
        201
    );
    assert_eq!(
        p.send("PUT", Some(777), Some(deposit(None, false, 1.0)))
            .status,
        201
    );
}
