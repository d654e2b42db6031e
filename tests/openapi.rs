//! `openapi.yaml` is the contract: every route of the router is documented there with its
//! method, and every documented path exists in the router.

use crate::common::openapi_doc;

use std::collections::BTreeSet;

use openapi_doc::documented;

#[test]
fn router_and_openapi_agree() {
    let routed: BTreeSet<(String, String)> = terriens::api::routes()
        .iter()
        .map(|r| (r.method.as_str().to_string(), r.path.to_string()))
        .collect();
    let documented = documented();
    assert!(!documented.is_empty());
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        missing.is_empty(),
        "openapi.yaml documents routes the router lacks: {missing:?}"
    );
}

/// The contract is a valid OpenAPI 3.1 document, checked by an independent validator
/// (`openapi-spec-validator`, installed by `scripts/ensure-deps.sh --test`).
#[test]
fn openapi_yaml_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let check = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output();
    assert!(
        matches!(check, Ok(ref o) if o.status.success()),
        "python3 with openapi-spec-validator is needed (run scripts/ensure-deps.sh --test)"
    );
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", path])
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "openapi.yaml is not a valid OpenAPI document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

use crate::common;
use crate::common::python;

use common::server::Server;
use common::wire::request;
use serde_json::{Value, json};

/// Requests of every documented GET operation on the embedded demo data, good and bad: (route
/// template, path with query). Answers of each status the contract names for them.
fn contract_probes(deposit: u64, plot: u64) -> Vec<(&'static str, String)> {
    let near = "lon=1.0&lat=49.52";
    let mut out: Vec<(&'static str, String)> = vec![
        ("/health", "/health".into()),
        ("/catalog", "/catalog".into()),
        ("/layers/{layer}/features/{id}", format!("/layers/plots/features/{plot}")),
        ("/layers/{layer}/features/{id}", "/layers/plots/features/1".into()),
        ("/layers/{layer}/features/{id}", "/layers/nope/features/1".into()),
        ("/layers/{layer}/search", format!("/layers/waste_deposits/search?{near}&radius_m=5000&material=wood")),
        ("/layers/{layer}/search", format!("/layers/plots/search?{near}&k=5")),
        ("/layers/{layer}/search", "/layers/buildings/search?bbox=0.5,49.2,1.6,49.9&limit=3".into()),
        ("/layers/{layer}/search", "/layers/plots/search?area_ha=1..20&status=available&limit=2".into()),
        ("/layers/{layer}/search", "/layers/plots/search?drive_from=1.0,49.52&drive_max_min=10&limit=3".into()),
        ("/layers/{layer}/search", "/layers/plots/search?area_ha=abc".into()),
        ("/layers/{layer}/search", "/layers/plots/search?radius_m=5".into()),
        ("/layers/{layer}/search", "/layers/nope/search".into()),
        ("/sites/search", "/sites/search?area_ha=1..20&limit=3".into()),
        ("/sites/search", "/sites/search?drive_to=1.0,49.52&drive_max_min=10&limit=3".into()),
        ("/sites/search", "/sites/search?area_ha=x".into()),
        ("/sites/near-waste", "/sites/near-waste?materials=wood&within_km=5&limit=3".into()),
        ("/sites/near-waste", "/sites/near-waste?materials=wood&max_drive_min=10&limit=3".into()),
        ("/sites/near-waste", "/sites/near-waste?materials=wood".into()),
        ("/waste_deposits/{id}/sites", format!("/waste_deposits/{deposit}/sites?within_km=3&limit=3")),
        ("/waste_deposits/{id}/sites", "/waste_deposits/1/sites?within_km=3".into()),
        ("/ogc", "/ogc".into()),
        ("/ogc/api", "/ogc/api".into()),
        ("/ogc/conformance", "/ogc/conformance".into()),
        ("/ogc/collections", "/ogc/collections".into()),
        ("/ogc/collections/{layer}", "/ogc/collections/plots".into()),
        ("/ogc/collections/{layer}", "/ogc/collections/nope".into()),
        ("/ogc/collections/{layer}/items", "/ogc/collections/plots/items?limit=3&bbox=0.5,49.2,1.6,49.9".into()),
        ("/ogc/collections/{layer}/items", "/ogc/collections/plots/items?limit=2&crs=http://www.opengis.net/def/crs/EPSG/0/2154".into()),
        ("/ogc/collections/{layer}/items", "/ogc/collections/plots/items?filter=status%3D%27available%27&filter-lang=cql2-text&limit=2".into()),
        ("/ogc/collections/{layer}/items", "/ogc/collections/plots/items?limit=0".into()),
        ("/ogc/collections/{layer}/items/{id}", format!("/ogc/collections/plots/items/{plot}")),
        ("/ogc/collections/{layer}/items/{id}", "/ogc/collections/plots/items/1".into()),
        ("/ogc/collections/{layer}/queryables", "/ogc/collections/waste_deposits/queryables".into()),
        ("/ogc/collections/{layer}/sortables", "/ogc/collections/plots/sortables".into()),
        ("/ogc/collections/{layer}/sortables", "/ogc/collections/nope/sortables".into()),
        ("/ogc/collections/{layer}/items", "/ogc/collections/plots/items?limit=3&sortby=-area_ha,name&properties=area_ha".into()),
        ("/ogc/collections/{layer}/items", "/ogc/collections/plots/items?sortby=nope".into()),
        ("/ogc/collections/{layer}/schema", "/ogc/collections/buildings/schema".into()),
        ("/style.json", "/style.json".into()),
        ("/tiles/{tilejson}", "/tiles/plots.json".into()),
        ("/tiles/{tilejson}", "/tiles/all.json?status=available".into()),
        ("/tiles/{tilejson}", "/tiles/nope.json".into()),
        ("/tiles/{layers}/{z}/{x}/{y}", "/tiles/plots/40/1/1.mvt".into()),
        ("/isochrone", format!("/isochrone?{near}&contours_min=5,10")),
        ("/isochrone", format!("/isochrone?{near}&contours_min=5000")),
        ("/workforce", format!("/workforce?{near}&minutes=10")),
        ("/workforce", "/workforce?minutes=10".into()),
        ("/projects", "/projects".into()),
        ("/projects/{id}", "/projects/1".into()),
        ("/projects/{id}/matches", "/projects/1/matches?limit=5".into()),
        ("/sites/{layer}/{id}/projects", format!("/sites/plots/{plot}/projects?explain=all")),
        ("/sites/{layer}/{id}/projects", "/sites/waste_deposits/1/projects".into()),
    ];
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

/// The first id of a layer on the demo data.
fn first_id(addr: std::net::SocketAddr, layer: &str) -> u64 {
    let r = request(
        addr,
        "GET",
        &format!("/layers/{layer}/search?limit=1"),
        &[],
        None,
    )
    .unwrap();
    r.json()["features"][0]["id"].as_u64().expect("an id")
}

/// Every recorded answer matches the contract: its operation, query parameters, status and
/// media type are documented, and each JSON body validates against the documented schema. The
/// oracle is Python's `jsonschema` (JSON Schema 2020-12, the dialect of OpenAPI 3.1) reading
/// `openapi.yaml`, through `tests/py/openapi_answers.py`.
#[test]
fn answers_match_the_documented_parameters_statuses_and_schemas() {
    let server = Server::start(&[], &[]);
    let probes = contract_probes(
        first_id(server.addr, "waste_deposits"),
        first_id(server.addr, "plots"),
    );
    let mut answers = Vec::new();
    for (route, path) in &probes {
        let r = request(server.addr, "GET", path, &[], None).expect("an answer");
        let content_type = r.header("content-type").unwrap_or("").to_string();
        let body: Value = if content_type.contains("json") {
            serde_json::from_slice(&r.body).unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let query: Vec<String> = path
            .split_once('?')
            .map(|(_, q)| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, _)| k.into_owned())
                    .collect()
            })
            .unwrap_or_default();
        answers.push(json!({
            "method": "GET", "route": route, "query": query, "status": r.status,
            "content_type": content_type, "body": body,
        }));
    }
    let statuses: BTreeSet<u64> = answers
        .iter()
        .filter_map(|a| a["status"].as_u64())
        .collect();
    assert!(
        statuses.contains(&200) && statuses.contains(&400) && statuses.contains(&404),
        "the probes reach success and error answers: {statuses:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.json");
    std::fs::write(&file, serde_json::to_vec(&answers).unwrap()).unwrap();
    let spec = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"));
    let out = python::run("openapi_answers.py", "jsonschema", &[spec, &file]);
    eprintln!("{out}");
    assert!(out.contains(" 0 problems"), "{out}");
}
