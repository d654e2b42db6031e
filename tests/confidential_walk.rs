//! Nothing of a confidential deposit reaches an anonymous caller, on any route.
//!
//! A real `terriens serve --data` process on the demo data set (written by `terriens-fixtures
//! --format store`, with the demo road graph imported) answers a list of requests that would
//! show a confidential deposit if it were visible: searches around it, tiles over it at several
//! zooms (and the low-zoom tiles where it would be clustered), TileJSON, the catalog, OGC
//! collections and items, the sites–waste joins that would count it, routing, the metrics, the
//! map page and its assets, and the writes an anonymous caller or an editor without the
//! `partners` right may try on its id. A partner editor then adds a deposit with a distinctive
//! id, quantity and outlying position (outside the demo extent, so it would widen any bound).
//!
//! The oracle is the same server before the write: every anonymous answer after it equals the
//! one before, byte for byte, apart from the data generation (`generation`, TileJSON `version`,
//! `v=` in URLs, the generation part of cursors) and ETags; none contains the id, the quantity
//! or the coordinates. A partner's answers to the same requests do show the deposit (they
//! differ, the tile over it decodes — with the independent `mapbox-vector-tile` — to a feature
//! of that id and quantity), so the comparison cannot pass vacuously. The PMTiles export of the
//! CLI, read with the independent `pmtiles` package, is the same before and after. Counts and
//! extents are also checked by name: the catalog, OGC collection and TileJSON count the deposit
//! and hold its position in their bounds for a partner only. The test
//! checks that its requests cover every route of the router and of `openapi.yaml`.

use crate::common;
use crate::common::openapi_doc;
use crate::common::python;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{BIN, Server, add_key};
use common::wire::{Resp, request};
use serde_json::{Value, json};

const ID: u64 = 7_314_159_265;
const QUANTITY: f64 = 987_654.321;
const LON: f64 = 1.527_913;
const LAT: f64 = 49.813_579;
/// Texts that must never reach an anonymous caller (unless its request holds them).
const SECRETS: [&str; 4] = ["7314159265", "987654.321", "1.527913", "49.813579"];

/// One request of the walk.
struct Probe {
    /// The route it exercises: method and path template, as in `api::routes()`.
    route: (&'static str, &'static str),
    path: String,
    body: Option<String>,
    /// Sent with the key of an editor without the `partners` right instead of anonymously.
    as_editor: bool,
    /// The anonymous (or editor) status, before and after.
    status: u16,
    /// Whether a partner's answer after the write must differ from the anonymous one.
    partner_sees: bool,
}

fn probe(route: (&'static str, &'static str), path: String, status: u16, sees: bool) -> Probe {
    Probe {
        route,
        path,
        body: None,
        as_editor: false,
        status,
        partner_sees: sees,
    }
}

fn with_body(mut p: Probe, body: String) -> Probe {
    p.body = Some(body);
    p
}

fn editor(mut p: Probe) -> Probe {
    p.as_editor = true;
    p
}

/// The tile of zoom `z` holding the deposit (web mercator, slippy-map numbering).
fn tile_of(z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((LON + 180.0) / 360.0 * n).floor() as u32;
    let lat = LAT.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x, y as u32)
}

fn deposit_feature() -> String {
    json!({
        "type": "Feature",
        "id": ID,
        "geometry": {"type": "Point", "coordinates": [LON, LAT]},
        "properties": {"material": "shells", "quantity": QUANTITY, "holder": "Conchyliculture confidentielle",
                       "confidentiality": "partners", "territory": DEMO_SIREN},
    })
    .to_string()
}

/// The demo territory: the deposit is tagged with it, so its diagnostic would count it.
const DEMO_SIREN: &str = "299000001";

const AROUND: &str = r#"{"type":"Polygon","coordinates":[[[1.50,49.80],[1.56,49.80],[1.56,49.83],[1.50,49.83],[1.50,49.80]]]}"#;

/// Health, catalog, metrics, the feature by id and layer searches around the deposit.
fn read_probes() -> Vec<Probe> {
    let feature = format!("/layers/waste_deposits/features/{ID}");
    let near = format!("lon={LON}&lat={LAT}");
    vec![
        probe(("GET", "/health"), "/health".into(), 200, false),
        probe(("GET", "/catalog"), "/catalog".into(), 200, true),
        probe(
            ("GET", "/territories/{siren}/diagnostic"),
            format!("/territories/{DEMO_SIREN}/diagnostic"),
            200,
            true,
        ),
        probe(
            ("GET", "/territories/{siren}/diagnostic"),
            format!("/territories/{DEMO_SIREN}/diagnostic?f=csv"),
            200,
            true,
        ),
        probe(
            ("GET", "/territories/{siren}"),
            format!("/territories/{DEMO_SIREN}"),
            200,
            false,
        ),
        probe(("GET", "/metrics"), "/metrics".into(), 200, true),
        probe(("GET", "/layers/{layer}/features/{id}"), feature, 404, true),
        probe(
            ("GET", "/layers/{layer}/search"),
            format!("/layers/waste_deposits/search?{near}&radius_m=5000"),
            200,
            true,
        ),
        probe(
            ("GET", "/layers/{layer}/search"),
            format!("/layers/waste_deposits/search?{near}&k=5"),
            200,
            true,
        ),
        probe(
            ("GET", "/layers/{layer}/search"),
            "/layers/waste_deposits/search?bbox=1.5,49.8,1.56,49.83".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/layers/{layer}/search"),
            "/layers/waste_deposits/search?bbox=0.5,49.2,1.6,49.9&quantity_min=987000".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/layers/{layer}/search"),
            "/layers/waste_deposits/search?bbox=0.5,49.2,1.6,49.9&material=shells&limit=2".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/layers/{layer}/search"),
            "/layers/waste_deposits/search?drive_from=1.0,49.52&drive_max_min=15&limit=5".into(),
            200,
            false,
        ),
        with_body(
            probe(
                ("POST", "/layers/{layer}/search"),
                "/layers/waste_deposits/search".into(),
                200,
                true,
            ),
            AROUND.into(),
        ),
    ]
}

/// Site searches and the sites–waste joins that would count the deposit.
fn join_probes() -> Vec<Probe> {
    vec![
        probe(
            ("GET", "/sites/search"),
            "/sites/search?area_ha=1..20&limit=5".into(),
            200,
            false,
        ),
        probe(
            ("GET", "/sites/search"),
            "/sites/search?drive_to=1.0,49.52&drive_max_min=10&limit=5".into(),
            200,
            false,
        ),
        with_body(
            probe(
                ("POST", "/sites/search"),
                "/sites/search?limit=5".into(),
                200,
                false,
            ),
            AROUND.into(),
        ),
        probe(
            ("GET", "/sites/near-waste"),
            "/sites/near-waste?materials=shells&within_km=40&min_total=987000".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/sites/near-waste"),
            "/sites/near-waste?materials=shells&max_drive_min=30&min_total=987000".into(),
            200,
            false,
        ),
        // The added deposit lies off the demo roads, so no site is reached from it: a partner's
        // answer need not differ, an anonymous one must not.
        with_body(
            probe(
                ("POST", "/match"),
                "/match?limit=10&explain=all".into(),
                200,
                false,
            ),
            json!({
                "land_min_ha": 1,
                "materials": [{"material": "shells", "tonnes_per_year": 987654, "max_drive_min": 30}],
            })
            .to_string(),
        ),
        probe(
            ("GET", "/waste_deposits/{id}/sites"),
            format!("/waste_deposits/{ID}/sites?within_km=40"),
            404,
            true,
        ),
    ]
}

/// OGC API – Features: collections (extents, counts) and items around the deposit.
fn ogc_probes() -> Vec<Probe> {
    vec![
        probe(("GET", "/ogc"), "/ogc".into(), 200, false),
        probe(("GET", "/ogc/api"), "/ogc/api".into(), 200, false),
        probe(
            ("GET", "/ogc/conformance"),
            "/ogc/conformance".into(),
            200,
            false,
        ),
        probe(
            ("GET", "/ogc/collections"),
            "/ogc/collections".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}"),
            "/ogc/collections/waste_deposits".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}/items"),
            "/ogc/collections/waste_deposits/items?bbox=1.5,49.8,1.56,49.83".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}/items"),
            "/ogc/collections/waste_deposits/items?quantity_min=987000".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}/items"),
            "/ogc/collections/waste_deposits/items?limit=3".into(),
            200,
            false,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}/items"),
            "/ogc/collections/waste_deposits/items?sortby=-quantity&limit=1".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}/items"),
            "/ogc/collections/waste_deposits/items?bbox=1.5,49.8,1.56,49.83&properties=quantity"
                .into(),
            200,
            true,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}/items/{id}"),
            format!("/ogc/collections/waste_deposits/items/{ID}"),
            404,
            true,
        ),
        probe(
            ("OPTIONS", "/ogc/collections/{layer}/items"),
            "/ogc/collections/waste_deposits/items".into(),
            204,
            false,
        ),
        probe(
            ("OPTIONS", "/ogc/collections/{layer}/items/{id}"),
            format!("/ogc/collections/waste_deposits/items/{ID}"),
            404,
            true,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}/queryables"),
            "/ogc/collections/waste_deposits/queryables".into(),
            200,
            false,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}/sortables"),
            "/ogc/collections/waste_deposits/sortables".into(),
            200,
            false,
        ),
        probe(
            ("GET", "/ogc/collections/{layer}/schema"),
            "/ogc/collections/waste_deposits/schema".into(),
            200,
            false,
        ),
        probe(
            ("GET", "/isochrone"),
            "/isochrone?lon=1.0&lat=49.52&contours_min=10".into(),
            200,
            false,
        ),
    ]
}

/// Routing, the map page and its assets, and TileJSON.
fn page_probes() -> Vec<Probe> {
    vec![
        with_body(
            probe(("POST", "/isochrone"), "/isochrone".into(), 200, false),
            r#"{"locations":[[1.0,49.52]],"contours_min":[10]}"#.into(),
        ),
        probe(
            ("GET", "/workforce"),
            "/workforce?lon=1.0&lat=49.52&minutes=10".into(),
            200,
            false,
        ),
        probe(("GET", "/"), "/".into(), 200, false),
        probe(("GET", "/style.json"), "/style.json".into(), 200, false),
        probe(
            ("GET", "/assets/{file}"),
            "/assets/app.js".into(),
            200,
            false,
        ),
        probe(
            ("GET", "/assets/{file}"),
            "/assets/app.css".into(),
            200,
            false,
        ),
        probe(
            ("GET", "/tiles/{tilejson}"),
            "/tiles/waste_deposits.json".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/tiles/{tilejson}"),
            "/tiles/all.json".into(),
            200,
            true,
        ),
        probe(
            ("GET", "/tiles/{tilejson}"),
            "/tiles/waste_deposits.json?material=shells".into(),
            200,
            true,
        ),
    ]
}

/// Tiles over the deposit at several zooms: low zooms where it would join a cluster (its
/// counts and sums), high zooms where it would be a point of its own.
fn tile_probes() -> Vec<Probe> {
    let route = ("GET", "/tiles/{layers}/{z}/{x}/{y}");
    let mut out = Vec::new();
    for z in [0, 3, 6, 9, 12, 14] {
        let (x, y) = tile_of(z);
        // An empty tile is a 204; the status is checked equal before and after, not fixed.
        out.push(probe(
            route,
            format!("/tiles/waste_deposits/{z}/{x}/{y}.mvt"),
            0,
            true,
        ));
        out.push(probe(route, format!("/tiles/all/{z}/{x}/{y}.mvt"), 0, true));
        out.push(probe(
            route,
            format!("/tiles/waste_deposits/{z}/{x}/{y}.mvt?material=shells"),
            0,
            true,
        ));
    }
    out
}

/// Writes on the deposit's id, through the editing API and OGC API – Features Part 4:
/// anonymous ones are refused (401) before anything is looked up; an editor without the
/// partners right gets the answer of an id that does not exist.
fn write_probes() -> Vec<Probe> {
    let mut out = id_write_probes(
        ("/layers/{layer}/features", "/layers/{layer}/features/{id}"),
        "/layers/waste_deposits/features",
    );
    out.extend(id_write_probes(
        (
            "/ogc/collections/{layer}/items",
            "/ogc/collections/{layer}/items/{id}",
        ),
        "/ogc/collections/waste_deposits/items",
    ));
    out.push(probe(
        ("POST", "/admin/compact"),
        "/admin/compact".into(),
        401,
        false,
    ));
    out.extend(project_probes());
    out
}

/// Stored projects: a public project that needs the confidential deposit's material (stored
/// by `post_project` before the walks), its matches and the reverse lookup, read anonymously
/// (nothing of the deposit may show); the writes refused to an anonymous caller (401) and to
/// an editor without the partners right on a confidential project it cannot see (404).
fn project_probes() -> Vec<Probe> {
    let doc = project_doc("partners");
    vec![
        probe(("GET", "/projects"), "/projects".into(), 200, false),
        probe(("GET", "/projects/{id}"), "/projects/1".into(), 200, false),
        probe(
            ("GET", "/projects/{id}/matches"),
            "/projects/1/matches?limit=10&explain=all".into(),
            200,
            false,
        ),
        probe(
            ("GET", "/sites/{layer}/{id}/projects"),
            "/sites/plots/1/projects?explain=all".into(),
            200,
            false,
        ),
        with_body(
            probe(("POST", "/projects"), "/projects".into(), 401, false),
            doc.clone(),
        ),
        with_body(
            probe(("PUT", "/projects/{id}"), "/projects/2".into(), 401, false),
            doc.clone(),
        ),
        with_body(
            probe(
                ("PATCH", "/projects/{id}"),
                "/projects/2".into(),
                401,
                false,
            ),
            r#"{"name":"x"}"#.into(),
        ),
        probe(
            ("DELETE", "/projects/{id}"),
            "/projects/2".into(),
            401,
            false,
        ),
        editor(with_body(
            probe(("PUT", "/projects/{id}"), "/projects/2".into(), 404, false),
            doc,
        )),
        editor(probe(
            ("DELETE", "/projects/{id}"),
            "/projects/2".into(),
            404,
            false,
        )),
    ]
}

/// A project needing the confidential deposit's material (not its tonnage, which the walk looks
/// for in every answer).
fn project_doc(confidentiality: &str) -> String {
    json!({
        "name": "Valorisation de coquilles", "confidentiality": confidentiality,
        "needs": {"land_min_ha": 1, "materials": [{"material": "shells",
            "tonnes_per_year": 500, "max_drive_min": 30, "profile": "car"}]},
    })
    .to_string()
}

/// Stores project 1 (public) and project 2 (confidential) as the partner.
fn post_projects(addr: SocketAddr, partner: &str) {
    let auth = format!("Bearer {partner}");
    for (want, confidentiality) in [(1, "public"), (2, "partners")] {
        let r = request(
            addr,
            "POST",
            "/projects",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(project_doc(confidentiality).as_bytes()),
        )
        .unwrap();
        assert_eq!(r.status, 201, "the partner's project: {}", r.text());
        assert_eq!(r.json()["id"], want);
    }
}

/// The write probes of one collection route (`routes.0`) and its by-id route (`routes.1`).
fn id_write_probes(routes: (&'static str, &'static str), collection: &str) -> Vec<Probe> {
    let (create, feature_route) = routes;
    let feature = format!("{collection}/{ID}");
    let patch = r#"{"properties":{"quantity":1}}"#.to_string();
    vec![
        with_body(
            probe(("POST", create), collection.into(), 401, false),
            deposit_feature(),
        ),
        with_body(
            probe(("PUT", feature_route), feature.clone(), 401, false),
            deposit_feature(),
        ),
        with_body(
            probe(("PATCH", feature_route), feature.clone(), 401, false),
            patch.clone(),
        ),
        probe(("DELETE", feature_route), feature.clone(), 401, false),
        editor(with_body(
            probe(("PUT", feature_route), feature.clone(), 404, false),
            deposit_feature(),
        )),
        editor(with_body(
            probe(("PATCH", feature_route), feature.clone(), 404, false),
            patch,
        )),
        editor(probe(("DELETE", feature_route), feature, 404, false)),
    ]
}

/// An answer as compared: status, the headers that carry content, the body with the
/// generation-dependent parts taken out.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

const COMPARED_HEADERS: [&str; 4] = [
    "content-type",
    "x-tile-features",
    "x-tile-left-out",
    "location",
];

/// A cursor's text (`generation.fingerprint.offset.check`) without its generation and check.
fn strip_cursor(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('.').collect();
    let hex = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_hexdigit());
    (parts.len() == 4 && parts.iter().all(hex) && parts[3].len() == 4)
        .then(|| format!("cursor:{}.{}", parts[1], parts[2]))
}

/// `v=<generation>` and cursors inside URLs, made generation-free.
fn normalize_text(s: &str) -> String {
    if let Some(c) = strip_cursor(s) {
        return c;
    }
    let Some((base, query)) = s.split_once('?') else {
        return s.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some(("v", _)) => "v=G".to_string(),
            Some(("cursor", c)) => format!("cursor={}", strip_cursor(c).unwrap_or(c.into())),
            _ => kv.to_string(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

fn normalize_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for k in ["generation", "version", "timeStamp"] {
                m.remove(k);
            }
            m.values_mut().for_each(normalize_json);
        }
        Value::Array(a) => a.iter_mut().for_each(normalize_json),
        Value::String(s) => *s = normalize_text(s),
        _ => {}
    }
}

fn seen(r: &Resp) -> Seen {
    let ct = r.header("content-type").unwrap_or("").to_string();
    let body = if ct.contains("json") && !r.body.is_empty() {
        let mut v = r.json();
        normalize_json(&mut v);
        v.to_string().into_bytes()
    } else if ct.starts_with("text/plain") {
        // Metrics: request counters move with every request; the figures about data do not.
        r.text()
            .lines()
            .filter(|l| l.starts_with("terriens_layer_features"))
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes()
    } else {
        r.body.clone()
    };
    let headers = COMPARED_HEADERS
        .iter()
        .filter_map(|h| r.header(h).map(|v| (h.to_string(), v.to_string())))
        .collect();
    Seen {
        status: r.status,
        headers,
        body,
    }
}

fn send(addr: SocketAddr, p: &Probe, key: Option<&str>) -> Resp {
    let auth = key.map(|k| format!("Bearer {k}"));
    let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a));
    }
    request(
        addr,
        p.route.0,
        &p.path,
        &headers,
        p.body.as_deref().map(str::as_bytes),
    )
    .unwrap_or_else(|e| panic!("{} {}: no answer: {e}", p.route.0, p.path))
}

fn show(s: &Seen) -> String {
    let body = String::from_utf8_lossy(&s.body);
    let cut: String = body.chars().take(600).collect();
    format!("{} {:?} {cut}", s.status, s.headers)
}

/// The whole walk as the caller of each probe (anonymous, or the non-partner editor).
fn walk(addr: SocketAddr, probes: &[Probe], editor_key: &str) -> Vec<(Resp, Seen)> {
    probes
        .iter()
        .map(|p| {
            let r = send(addr, p, p.as_editor.then_some(editor_key));
            let s = seen(&r);
            if p.status != 0 {
                assert_eq!(r.status, p.status, "{} {}: {}", p.route.0, p.path, show(&s));
            }
            (r, s)
        })
        .collect()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    keys: PathBuf,
    partner: String,
    editor: String,
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The demo data set as a data directory, with the demo road graph, and two keys.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    terriens_demo::generate(
        &data,
        1,
        terriens_demo::DEFAULT_SEED,
        terriens_demo::OutputFormat::Store,
    )
    .expect("the demo data set (terriens-fixtures --format store) is written");
    let roads = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/roads.osm.gz");
    run_ok(
        Command::new(BIN)
            .arg("import-roads")
            .arg(&roads)
            .args(["--profile", "car", "--data"])
            .arg(&data),
        "terriens import-roads",
    );
    let keys = tmp.path().join("keys.toml");
    let partner = add_key(&keys, "editor", true);
    let editor = add_key(&keys, "editor", false);
    Fixture {
        _tmp: tmp,
        data,
        keys,
        partner,
        editor,
    }
}

/// A PMTiles archive as read back: header and metadata, and each tile's name and bytes.
type Export = (Value, Vec<(String, Vec<u8>)>);

/// `terriens export-pmtiles` of the data directory, read back with the `pmtiles` package:
/// header, metadata without its version, and every tile's bytes.
fn export(data: &Path, name: &str) -> Export {
    let out = data.parent().unwrap().join(format!("{name}.pmtiles"));
    run_ok(
        Command::new(BIN)
            .args([
                "export-pmtiles",
                "--minzoom",
                "0",
                "--maxzoom",
                "10",
                "--out",
            ])
            .arg(&out)
            .arg("--data")
            .arg(data),
        "terriens export-pmtiles",
    );
    let tiles = data.parent().unwrap().join(format!("{name}-tiles"));
    std::fs::create_dir_all(&tiles).unwrap();
    let mut read: Value =
        serde_json::from_str(&python::run("read_pmtiles.py", "pmtiles", &[&out, &tiles])).unwrap();
    read["metadata"]
        .as_object_mut()
        .expect("metadata is an object")
        .remove("version");
    let mut bodies: Vec<(String, Vec<u8>)> = std::fs::read_dir(&tiles)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    bodies.sort();
    (read, bodies)
}

/// The partner editor adds the confidential deposit.
fn post_deposit(addr: SocketAddr, partner: &str) {
    let auth = format!("Bearer {partner}");
    let r = request(
        addr,
        "POST",
        "/layers/waste_deposits/features",
        &[
            ("authorization", &auth),
            ("content-type", "application/geo+json"),
        ],
        Some(deposit_feature().as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 201, "the partner's write: {}", r.text());
}

/// What an anonymous answer after the write gave away: a secret text, or any change.
fn leaks(probes: &[Probe], before: &[(Resp, Seen)], after: &[(Resp, Seen)]) -> Vec<String> {
    let mut out = Vec::new();
    for ((p, (_, b)), (ra, a)) in probes.iter().zip(before).zip(after) {
        let what = format!("{} {}", p.route.0, p.path);
        let raw = String::from_utf8_lossy(&ra.body);
        // An answer may echo what the request said (a 404 names the id asked for).
        let asked = format!("{}{}", p.path, p.body.as_deref().unwrap_or(""));
        for s in SECRETS.iter().filter(|s| !asked.contains(*s)) {
            if raw.contains(s) {
                out.push(format!("{what}: the answer shows `{s}`: {}", show(a)));
            }
        }
        if b != a {
            out.push(format!(
                "{what}: the answer changed\n  before: {}\n  after:  {}",
                show(b),
                show(a)
            ));
        }
    }
    out
}

/// What the public PMTiles export gave away: a change of header, metadata or tiles.
fn export_leaks(before: &Export, after: &Export) -> Vec<String> {
    let mut out = Vec::new();
    if before.0 != after.0 {
        out.push(format!(
            "PMTiles header or metadata changed\n  before: {}\n  after:  {}",
            before.0, after.0
        ));
    }
    let names = |e: &Export| e.1.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(before) != names(after) {
        out.push("PMTiles: the set of tiles changed".into());
    }
    for ((n, b), (_, a)) in before.1.iter().zip(&after.1) {
        if b != a {
            out.push(format!("PMTiles tile {n} changed"));
        }
    }
    out
}

/// Where a partner's answer fails to show the deposit although the probe says it must (so the
/// anonymous comparison would be vacuous there).
fn partner_misses(
    addr: SocketAddr,
    probes: &[Probe],
    after: &[(Resp, Seen)],
    key: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut checked = 0;
    for (p, (_, anon)) in probes.iter().zip(after) {
        if !p.partner_sees {
            continue;
        }
        checked += 1;
        let mine = seen(&send(addr, p, Some(key)));
        if &mine == anon {
            out.push(format!(
                "{} {}: a partner's answer does not show the deposit: {}",
                p.route.0,
                p.path,
                show(&mine)
            ));
        }
    }
    assert!(
        checked >= 20,
        "only {checked} answers are checked for a partner"
    );
    out
}

/// The tile over the deposit at zoom 14, decoded by `mapbox-vector-tile`: the partner's holds
/// the deposit with its quantity, the anonymous one nothing of it.
fn assert_tile_decodes(addr: SocketAddr, partner: &str, dir: &Path) {
    let (x, y) = tile_of(14);
    let p = probe(
        ("GET", ""),
        format!("/tiles/waste_deposits/14/{x}/{y}.mvt"),
        0,
        true,
    );
    let tiles = dir.join("decoded");
    std::fs::create_dir_all(&tiles).unwrap();
    for (name, key) in [("partner", Some(partner)), ("anonymous", None)] {
        let r = send(addr, &p, key);
        if r.status == 200 {
            std::fs::write(tiles.join(format!("{name}.mvt")), &r.body).unwrap();
        }
    }
    let decoded: Value = serde_json::from_str(&python::run(
        "decode_mvt.py",
        "mapbox_vector_tile",
        &[&tiles],
    ))
    .unwrap();
    let has_deposit = |tile: &Value| {
        tile["waste_deposits"]["features"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["id"] == json!(ID) && f["properties"]["quantity"] == json!(QUANTITY))
    };
    assert!(
        has_deposit(&decoded["partner.mvt"]),
        "the partner's tile lacks the deposit: {}",
        decoded["partner.mvt"]
    );
    assert!(!has_deposit(&decoded["anonymous.mvt"]));
}

fn assert_covers_every_route(probes: &[Probe]) {
    let covered: BTreeSet<(String, String)> = probes
        .iter()
        .map(|p| (p.route.0.to_string(), p.route.1.to_string()))
        .collect();
    let routed: BTreeSet<(String, String)> = terriens::api::routes()
        .iter()
        .map(|r| (r.method.as_str().to_string(), r.path.to_string()))
        .collect();
    let missing: Vec<_> = routed.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes the walk does not call: {missing:?}"
    );
    let undocumented: Vec<_> = openapi_doc::documented()
        .into_iter()
        .filter(|r| !covered.contains(r))
        .collect();
    assert!(
        undocumented.is_empty(),
        "openapi.yaml routes the walk does not call: {undocumented:?}"
    );
}

/// Counts and extents, named explicitly (the byte comparison covers them too): after the
/// write, a partner's catalog entry, OGC collection and TileJSON of the waste deposits count
/// one more deposit than an anonymous caller's, and only the partner's bounds hold its position.
fn count_extent_misses(addr: SocketAddr, partner: &str) -> Vec<String> {
    let get = |path: &str, key: Option<&str>| -> Value {
        send(addr, &probe(("GET", ""), path.into(), 0, false), key).json()
    };
    type Pick = fn(&Value) -> (Option<u64>, Value);
    let catalog: Pick = |v| {
        let l = v["layers"]
            .as_array()
            .and_then(|ls| ls.iter().find(|l| l["id"] == "waste_deposits"))
            .cloned()
            .unwrap_or(Value::Null);
        (l["count"].as_u64(), l["bounds"].clone())
    };
    let ogc: Pick = |v| {
        let text = v["description"].as_str().unwrap_or("");
        let count = text
            .split(" (")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok());
        (count, v["extent"]["spatial"]["bbox"][0].clone())
    };
    let tilejson: Pick = |v| {
        (
            v["vector_layers"][0]["feature_count"].as_u64(),
            v["bounds"].clone(),
        )
    };
    let holds = |b: &Value| {
        let n = |i: usize| b[i].as_f64().unwrap_or(f64::NAN);
        // TileJSON bounds go through web mercator and back: a micro-degree of slack.
        let e = 1e-6;
        n(0) - e <= LON && LON <= n(2) + e && n(1) - e <= LAT && LAT <= n(3) + e
    };
    let mut out = Vec::new();
    for (path, pick) in [
        ("/catalog", catalog),
        ("/ogc/collections/waste_deposits", ogc),
        ("/tiles/waste_deposits.json", tilejson),
    ] {
        let (anon_count, anon_bounds) = pick(&get(path, None));
        let (partner_count, partner_bounds) = pick(&get(path, Some(partner)));
        if anon_count.is_none() || partner_count.is_none() {
            out.push(format!("{path}: no count in the answer"));
        } else if partner_count.unwrap_or(0) < anon_count.unwrap_or(0) + 1 {
            out.push(format!(
                "{path}: partner count {partner_count:?} not above anonymous {anon_count:?}"
            ));
        }
        if holds(&anon_bounds) {
            out.push(format!(
                "{path}: anonymous bounds {anon_bounds} hold the deposit"
            ));
        }
        if !holds(&partner_bounds) {
            out.push(format!(
                "{path}: partner bounds {partner_bounds} miss the deposit"
            ));
        }
    }
    out
}

#[test]
fn an_anonymous_walk_of_every_route_shows_nothing_of_a_confidential_deposit() {
    let probes: Vec<Probe> = read_probes()
        .into_iter()
        .chain(join_probes())
        .chain(ogc_probes())
        .chain(page_probes())
        .chain(tile_probes())
        .chain(write_probes())
        .collect();
    assert_covers_every_route(&probes);
    let fx = fixture();
    let export_before = export(&fx.data, "before");
    let keys = fx.keys.to_str().unwrap();
    let data = fx.data.to_str().unwrap();
    let mut server = Server::start(&["--data", data, "--keys", keys], &[]);
    post_projects(server.addr, &fx.partner);
    let before = walk(server.addr, &probes, &fx.editor);
    post_deposit(server.addr, &fx.partner);
    let after = walk(server.addr, &probes, &fx.editor);
    let mut failures = leaks(&probes, &before, &after);
    failures.extend(partner_misses(server.addr, &probes, &after, &fx.partner));
    failures.extend(count_extent_misses(server.addr, &fx.partner));
    assert_tile_decodes(server.addr, &fx.partner, fx.data.parent().unwrap());
    // SIGTERM compacts the log into the layer files: the export reads the deposit.
    assert!(server.stop(), "the server stops cleanly");
    let export_after = export(&fx.data, "after");
    failures.extend(export_leaks(&export_before, &export_after));
    // The deposit is in the data the export read: a restarted server shows it to a partner.
    let server = Server::start(&["--data", data, "--keys", keys], &[]);
    let p = probe(
        ("GET", ""),
        format!("/layers/waste_deposits/features/{ID}"),
        0,
        true,
    );
    assert_eq!(send(server.addr, &p, Some(&fx.partner)).status, 200);
    assert!(
        failures.is_empty(),
        "{} answers gave the confidential deposit away:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
