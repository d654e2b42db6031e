//! GDAL's OGC API – Features client (`ogr2ogr`, Debian's gdal-bin, installed by
//! `scripts/ensure-deps.sh --test`) against a real `terriens serve` on the demo data:
//! - every collection copied to a GeoPackage, anonymously and with a partners key: the ids
//!   equal the API's, confidential deposits only with the key, and sampled geometries equal
//!   the API's coordinates;
//! - `-where` on a property and `-spat` are sent to the server (`filter=` / `bbox=` in the
//!   server's request log) and GDAL fetches only the pages of the matching features;
//! - `crs=` answers (Lambert-93, Web Mercator, EPSG:4326) equal pyproj's transform of the CRS84
//!   answers within 1 mm (GDAL 3.6 has no CRS open option; the request is made by hand).

use crate::common;
use crate::common::python;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

use common::server::{Server, add_key};
use common::wire::request;

const LAYERS: [&str; 5] = [
    "plots",
    "buildings",
    "waste_deposits",
    "catchments",
    "territories",
];

struct Fixture {
    server: Server,
    key: String,
    dir: tempfile::TempDir,
}

fn start() -> Fixture {
    assert!(
        Command::new("ogr2ogr").arg("--version").output().is_ok(),
        "GDAL's ogr2ogr is needed for this test: run scripts/ensure-deps.sh --test"
    );
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.toml");
    let key = add_key(&keys, "reader", true);
    let server = Server::start(
        &["--keys", keys.to_str().unwrap()],
        // Request spans (with their URIs) are logged by tower_http at debug.
        &[("RUST_LOG", "info,tower_http=debug")],
    );
    Fixture { server, key, dir }
}

impl Fixture {
    fn url(&self) -> String {
        format!("OAPIF:http://{}/ogc", self.server.addr)
    }

    /// Runs ogr2ogr with `args`, with the key sent as a header when `with_key`.
    fn ogr2ogr(&self, with_key: bool, args: &[&str]) {
        let mut cmd = Command::new("ogr2ogr");
        cmd.args(args);
        if with_key {
            cmd.env("GDAL_HTTP_HEADERS", format!("X-Api-Key: {}", self.key));
        }
        let out = cmd.output().expect("ogr2ogr runs");
        assert!(
            out.status.success(),
            "ogr2ogr {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A GET answered 200, as JSON.
    fn get(&self, path: &str, with_key: bool) -> Json {
        let auth = format!("Bearer {}", self.key);
        let headers: Vec<(&str, &str)> = if with_key {
            vec![("Authorization", auth.as_str())]
        } else {
            vec![]
        };
        let r = request(self.server.addr, "GET", path, &headers, None).unwrap();
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        r.json()
    }

    /// Every feature the API answers for an items query, following `next` links.
    fn all_items(&self, layer: &str, query: &str, with_key: bool) -> Vec<Json> {
        let mut out = Vec::new();
        let mut path = format!("/ogc/collections/{layer}/items?limit=1000&{query}");
        loop {
            let page = self.get(&path, with_key);
            out.extend(page["features"].as_array().unwrap().iter().cloned());
            let next = page["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["rel"] == "next")
                .and_then(|l| l["href"].as_str());
            match next {
                Some(h) => {
                    path = h
                        .split_once(&self.server.addr.to_string())
                        .unwrap()
                        .1
                        .into()
                }
                None => return out,
            }
        }
    }

    /// The item requests of `layer` the server logged since `from` (index into the log).
    fn item_requests(&self, layer: &str, from: usize) -> Vec<Vec<(String, String)>> {
        let prefix = format!("uri=/ogc/collections/{layer}/items");
        let log = self.server.log.lock().unwrap();
        log[from..]
            .iter()
            .filter(|l| l.contains("started processing request"))
            .filter_map(|l| {
                let uri = l[l.find(&prefix)? + 4..].split([' ', '}']).next()?;
                let query = uri.split_once('?').map_or("", |(_, q)| q);
                Some(
                    form_urlencoded::parse(query.as_bytes())
                        .into_owned()
                        .collect(),
                )
            })
            .collect()
    }

    fn log_len(&self) -> usize {
        self.server.log.lock().unwrap().len()
    }
}

/// The id of a feature: its `id` member, or the `id` field GDAL writes it to.
fn fid(f: &Json) -> u64 {
    f["id"]
        .as_u64()
        .or_else(|| f["properties"]["id"].as_u64())
        .unwrap_or_else(|| panic!("no id: {f}"))
}

fn ids(features: &[Json]) -> BTreeSet<u64> {
    features.iter().map(fid).collect()
}

/// The features of one layer of a file GDAL can read, as GeoJSON (through ogr2ogr itself).
fn read_layer(fx: &Fixture, file: &Path, layer: &str) -> Vec<Json> {
    let out = fx.dir.path().join(format!("{layer}-read.geojson"));
    let _ = std::fs::remove_file(&out);
    fx.ogr2ogr(
        false,
        &[
            "-f",
            "GeoJSON",
            "-preserve_fid",
            out.to_str().unwrap(),
            file.to_str().unwrap(),
            layer,
        ],
    );
    let doc: Json = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    doc["features"].as_array().unwrap().clone()
}

fn positions(g: &Json, out: &mut Vec<(f64, f64)>) {
    match g {
        Json::Array(a) if a.len() >= 2 && a[0].is_number() => {
            out.push((a[0].as_f64().unwrap(), a[1].as_f64().unwrap()));
        }
        Json::Array(a) => a.iter().for_each(|x| positions(x, out)),
        _ => {}
    }
}

fn same_geometry(a: &Json, b: &Json) -> bool {
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    positions(&a["coordinates"], &mut pa);
    positions(&b["coordinates"], &mut pb);
    a["type"] == b["type"]
        && pa.len() == pb.len()
        && pa
            .iter()
            .zip(&pb)
            .all(|(p, q)| (p.0 - q.0).abs() < 1e-9 && (p.1 - q.1).abs() < 1e-9)
}

#[test]
fn ogr2ogr_copies_every_collection_with_and_without_a_key() {
    let fx = start();
    let confidential = fx.all_items("waste_deposits", "confidentiality=partners", true);
    assert!(
        !confidential.is_empty(),
        "the demo data has confidential deposits"
    );
    for with_key in [false, true] {
        let gpkg = fx.dir.path().join(format!("copy-{with_key}.gpkg"));
        // -preserve_fid: the GeoPackage keeps the API's ids (GDAL reads them from the items'
        // integer `id` members) instead of numbering the rows 1, 2, 3…
        fx.ogr2ogr(
            with_key,
            &[
                "-f",
                "GPKG",
                "-preserve_fid",
                gpkg.to_str().unwrap(),
                &fx.url(),
            ],
        );
        for layer in LAYERS {
            let api = fx.all_items(layer, "", with_key);
            let copied = read_layer(&fx, &gpkg, layer);
            assert_eq!(ids(&copied), ids(&api), "{layer}, key: {with_key}");
            let api_by_id: std::collections::HashMap<u64, &Json> =
                api.iter().map(|f| (f["id"].as_u64().unwrap(), f)).collect();
            for f in copied.iter().step_by(23) {
                let want = api_by_id[&fid(f)];
                assert!(
                    same_geometry(&f["geometry"], &want["geometry"]),
                    "{layer} {}: {} vs {}",
                    f["id"],
                    f["geometry"],
                    want["geometry"]
                );
            }
        }
        let deposits = read_layer(&fx, &gpkg, "waste_deposits");
        let hidden = ids(&confidential);
        let seen = ids(&deposits).intersection(&hidden).count();
        assert_eq!(seen, if with_key { hidden.len() } else { 0 });
    }
}

#[test]
fn where_and_spat_are_pushed_to_the_server() {
    let fx = start();
    // -where: the attribute filter travels as CQL2 `filter=`.
    let out = fx.dir.path().join("available.geojson");
    let from = fx.log_len();
    fx.ogr2ogr(
        false,
        &[
            "-f",
            "GeoJSON",
            "-preserve_fid",
            out.to_str().unwrap(),
            &fx.url(),
            "plots",
            "-where",
            "status = 'available'",
        ],
    );
    // GDAL's requests, taken before the test's own reads of the API below.
    let requests = fx.item_requests("plots", from);
    let got = read_layer(&fx, &out, "plots");
    let want = fx.all_items("plots", "status=available", false);
    assert!(!want.is_empty());
    assert_eq!(ids(&got), ids(&want));
    check_pushed(&requests, "filter", want.len(), |v| {
        v.contains("status") && v.contains("available")
    });
    // -spat: the box travels as `bbox=`.
    let out = fx.dir.path().join("box.geojson");
    let from = fx.log_len();
    let b = [0.95, 49.45, 1.05, 49.55];
    let spat: Vec<String> = b.iter().map(|x| x.to_string()).collect();
    let mut args = vec!["-f", "GeoJSON", "-preserve_fid", out.to_str().unwrap()];
    let url = fx.url();
    args.extend([url.as_str(), "buildings", "-spat"]);
    args.extend(spat.iter().map(String::as_str));
    fx.ogr2ogr(false, &args);
    let requests = fx.item_requests("buildings", from);
    let got = read_layer(&fx, &out, "buildings");
    let want = fx.all_items("buildings", &format!("bbox={}", spat.join(",")), false);
    assert!(!want.is_empty());
    assert_eq!(ids(&got), ids(&want));
    check_pushed(&requests, "bbox", want.len(), |v| {
        let nums: Vec<f64> = v.split(',').map(|x| x.parse().unwrap()).collect();
        nums.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-9)
    });
}

/// GDAL sent `param` (checked by `ok`) on its item requests, and fetched no more pages than
/// the matching features need (plus the one unfiltered page it reads the layer's fields from).
fn check_pushed(
    requests: &[Vec<(String, String)>],
    param: &str,
    matched: usize,
    ok: impl Fn(&str) -> bool,
) {
    let value =
        |r: &Vec<(String, String)>| r.iter().find(|(k, _)| k == param).map(|(_, v)| v.clone());
    let pushed: Vec<&Vec<(String, String)>> =
        requests.iter().filter(|r| value(r).is_some()).collect();
    assert!(
        !pushed.is_empty(),
        "no request carried `{param}`: {requests:?}"
    );
    for r in &pushed {
        assert!(ok(&value(r).unwrap()), "{r:?}");
    }
    let page: usize = pushed[0]
        .iter()
        .find(|(k, _)| k == "limit")
        .map_or(10, |(_, v)| v.parse().unwrap());
    assert!(
        pushed.len() <= matched.div_ceil(page),
        "{} pages of {page} for {matched} features",
        pushed.len()
    );
    assert!(
        requests.len() - pushed.len() <= 1,
        "unfiltered item requests: {requests:?}"
    );
}

#[test]
fn crs_answers_equal_pyproj_within_a_millimetre() {
    let fx = start();
    let dir = fx.dir.path();
    for layer in ["plots", "waste_deposits"] {
        let base = fx.get(&format!("/ogc/collections/{layer}/items?limit=300"), false);
        std::fs::write(dir.join("crs84.json"), base.to_string()).unwrap();
        for code in [2154, 3857, 4326, 3946] {
            let uri = format!("http://www.opengis.net/def/crs/EPSG/0/{code}");
            let path = format!("/ogc/collections/{layer}/items?limit=300&crs={uri}");
            let r = request(fx.server.addr, "GET", &path, &[], None).unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.header("content-crs"), Some(format!("<{uri}>").as_str()));
            std::fs::write(dir.join("projected.json"), &r.body).unwrap();
            let code_s = format!("EPSG:{code}");
            let out = python::run(
                "crs_check.py",
                "pyproj",
                &[
                    dir.join("crs84.json").as_path(),
                    dir.join("projected.json").as_path(),
                    Path::new(&code_s),
                ],
            );
            let (n, max_m): (usize, f64) = {
                let mut it = out.split_whitespace();
                (
                    it.next().unwrap().parse().unwrap(),
                    it.next().unwrap().parse().unwrap(),
                )
            };
            assert!(n >= 300, "{layer} {code}: only {n} positions compared");
            assert!(max_m < 0.001, "{layer} {code}: {max_m} m from pyproj");
        }
    }
}
