//! OGC items `sortby` and `properties`, against a real server on the demo data:
//! - `sortby` orders equal a plain-Python sort of the same features (`tests/py/sort_oracle.py`),
//!   followed page by page through `next` links (ties by id keep pages stable);
//! - a cursor of one sort is a 400 under another; unknown or repeated fields are 400s naming
//!   `sortby`;
//! - `/sortables` lists exactly the fields `sortby` takes (each sorts; the other properties of
//!   the feature schema are refused);
//! - `properties` keeps only the named properties (id and geometry kept); an unknown name is
//!   a 400 naming `properties`.

use crate::common;

use serde_json::{Value as Json, json};

use common::server::Server;
use common::wire::{Resp, request};

fn get(server: &Server, path: &str) -> Resp {
    request(server.addr, "GET", path, &[], None).unwrap()
}

/// Every feature an items query answers, following `next` links.
fn features(server: &Server, first: &str) -> Vec<Json> {
    let mut out = Vec::new();
    let mut path = first.to_string();
    loop {
        let r = get(server, &path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let page = r.json();
        out.extend(page["features"].as_array().unwrap().iter().cloned());
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .and_then(|l| l["href"].as_str());
        match next {
            Some(h) => path = h.split_once(&server.addr.to_string()).unwrap().1.into(),
            None => return out,
        }
    }
}

fn ids(fs: &[Json]) -> Vec<u64> {
    fs.iter().map(|f| f["id"].as_u64().unwrap()).collect()
}

/// The ids in the order the Python oracle sorts `all` by `keys`.
fn oracle(all: &[Json], keys: &[(&str, bool)]) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    let doc = json!({ "features": all, "keys": keys });
    std::fs::write(&input, doc.to_string()).unwrap();
    common::python::run("sort_oracle.py", "json", &[&input])
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn problem_names(r: &Resp, param: &str) {
    // A cursor is any string to the contract: one this server did not issue for this query
    // is a 422; the rest are 400s.
    let want = if param == "cursor" { 422 } else { 400 };
    assert_eq!(r.status, want, "{}", r.text());
    let body = r.json();
    assert!(
        body.to_string().contains(param),
        "the problem names `{param}`: {body}"
    );
}

/// Sort keys as the oracle reads them: field name, descending.
type Keys<'a> = &'a [(&'a str, bool)];

#[test]
fn sortby_equals_a_python_sort_page_by_page() {
    let server = Server::start(&[], &[]);
    let cases: &[(&str, &str, Keys)] = &[
        ("plots", "-area_ha", &[("area_ha", true)]),
        ("plots", "area_ha", &[("area_ha", false)]),
        (
            "plots",
            "+status,-area_ha",
            &[("status", false), ("area_ha", true)],
        ),
        ("plots", "name", &[("name", false)]),
        (
            "plots",
            "-available_from,name",
            &[("available_from", true), ("name", false)],
        ),
        ("buildings", "-price_eur", &[("price_eur", true)]),
        (
            "waste_deposits",
            "material,-quantity",
            &[("material", false), ("quantity", true)],
        ),
    ];
    for (layer, sortby, keys) in cases {
        let all = features(
            &server,
            &format!("/ogc/collections/{layer}/items?limit=1000"),
        );
        assert!(all.len() > 20, "{layer}: enough features to page");
        let want = oracle(&all, keys);
        // Small pages: the order must hold across cursors.
        let got = features(
            &server,
            &format!("/ogc/collections/{layer}/items?limit=7&sortby={sortby}"),
        );
        assert_eq!(ids(&got), want, "{layer} sortby={sortby}");
    }
}

#[test]
fn sortby_binds_the_cursor_and_names_bad_fields() {
    let server = Server::start(&[], &[]);
    let r = get(
        &server,
        "/ogc/collections/plots/items?limit=5&sortby=-area_ha",
    );
    assert_eq!(r.status, 200);
    let next = r.json()["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .and_then(|l| l["href"].as_str())
        .unwrap()
        .to_string();
    let cursor = next
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    for other in ["sortby=area_ha&", "sortby=name&", ""] {
        let r = get(
            &server,
            &format!("/ogc/collections/plots/items?limit=5&{other}cursor={cursor}"),
        );
        problem_names(&r, "cursor");
    }
    for bad in ["nope", "-area_ha,area_ha", "+", "area_ha,,name"] {
        let r = get(
            &server,
            &format!("/ogc/collections/plots/items?sortby={bad}"),
        );
        problem_names(&r, "sortby");
    }
}

#[test]
fn properties_keeps_only_the_named_ones() {
    let server = Server::start(&[], &[]);
    let all = features(&server, "/ogc/collections/plots/items?limit=1000");
    let got = features(
        &server,
        "/ogc/collections/plots/items?limit=1000&properties=area_ha,status",
    );
    assert_eq!(ids(&got), ids(&all));
    for (g, a) in got.iter().zip(&all) {
        assert_eq!(g["geometry"], a["geometry"]);
        let mut want = serde_json::Map::new();
        for k in ["area_ha", "status"] {
            if let Some(v) = a["properties"].get(k) {
                want.insert(k.into(), v.clone());
            }
        }
        assert_eq!(g["properties"], Json::Object(want), "feature {}", g["id"]);
    }
    // One item, in another CRS too.
    let id = all[0]["id"].as_u64().unwrap();
    let r = get(
        &server,
        &format!(
            "/ogc/collections/plots/items/{id}?properties=name&crs=http://www.opengis.net/def/crs/EPSG/0/2154"
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let f = r.json();
    let keys: Vec<&String> = f["properties"].as_object().unwrap().keys().collect();
    assert!(keys.iter().all(|k| *k == "name"), "{keys:?}");
    assert!(f["geometry"]["coordinates"].to_string().len() > 10);
    for path in [
        "/ogc/collections/plots/items?properties=nope",
        &format!("/ogc/collections/plots/items/{id}?properties=area_ha,nope"),
    ] {
        problem_names(&get(&server, path), "properties");
    }
}

#[test]
fn sortables_are_what_sortby_takes() {
    let server = Server::start(&[], &[]);
    for layer in ["plots", "buildings", "waste_deposits", "catchments"] {
        let r = get(&server, &format!("/ogc/collections/{layer}/sortables"));
        assert_eq!(r.status, 200, "{}", r.text());
        let sortables = r.json()["properties"].as_object().unwrap().clone();
        assert!(!sortables.is_empty(), "{layer}");
        let schema = get(&server, &format!("/ogc/collections/{layer}/schema")).json();
        for name in schema["properties"].as_object().unwrap().keys() {
            let r = get(
                &server,
                &format!("/ogc/collections/{layer}/items?limit=1&sortby=-{name}"),
            );
            if sortables.contains_key(name) {
                assert_eq!(r.status, 200, "{layer} sortby={name}: {}", r.text());
            } else {
                problem_names(&r, "sortby");
            }
        }
        let collection = get(&server, &format!("/ogc/collections/{layer}")).json();
        assert!(
            collection["links"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/sortables"),
            "{layer}: a sortables link"
        );
    }
}
