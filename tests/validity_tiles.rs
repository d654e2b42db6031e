//! Every polygon of every vector tile is valid, checked by an independent engine: the tiles of
//! a real `terriens serve` process are decoded by Python `mapbox-vector-tile` and each polygon
//! feature is checked by GEOS (shapely), in tile coordinates (`tests/py/validate_mvt.py`).
//!
//! - Volume: a z8–z16 pyramid of `/tiles/all/…` over the extent of the polygons, on the demo
//!   data and, when `TERRIENS_REALDATA` is set, on the real communes (as catchments), EPCI (as
//!   territories) and brownfields (as plots, points) of Le Havre Seine Métropole. Every tile
//!   that meets the extent is fetched from z8 to z16 (the real data: 8,210 tiles; the demo
//!   data: 14,824 at z16 alone; counts are printed).
//! - The tile of issue 13, item 12 (`/tiles/territories/10/513/349.mvt`), whose EPCI ring ran
//!   along x = −64 (the buffer edge) and back over itself.

use crate::common;
use crate::common::python;

use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

use common::server::{BIN, Server};
use common::wire;
use terriens::tiles::lonlat_to_world;

fn import(data: &Path, layer: &str, file: &Path, extra: &[&str]) {
    let out = Command::new(BIN)
        .args(["import", "--data"])
        .arg(data)
        .args(["--layer", layer])
        .arg(file)
        .args(extra)
        .output()
        .expect("terriens import runs");
    assert!(
        out.status.success(),
        "import {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The real communes, EPCI and brownfields in a data directory.
fn real_data_dir(real: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    import(
        data,
        "catchments",
        &real.join("communes_cu_le_havre_seine_metropole_l93.geojson"),
        &[],
    );
    import(
        data,
        "territories",
        &real.join("epci_cu_le_havre_seine_metropole_l93.geojson"),
        &[],
    );
    import(
        data,
        "plots",
        &real.join("cartofriches_76_wgs84.geojson"),
        &["--set", "brownfield=true"],
    );
    dir
}

fn get(addr: std::net::SocketAddr, path: &str) -> wire::Resp {
    wire::request(addr, "GET", path, &[], None).expect("an answer")
}

/// The lon/lat bounds of some layers, from their TileJSON.
fn bounds(addr: std::net::SocketAddr, layers: &str) -> [f64; 4] {
    let tj = get(addr, &format!("/tiles/{layers}.json")).json();
    let b: Vec<f64> = tj["bounds"]
        .as_array()
        .expect("bounds")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect();
    [b[0], b[1], b[2], b[3]]
}

/// Every tile of zoom `z` that meets the lon/lat box.
fn tiles_over(b: [f64; 4], z: u8) -> Vec<(u8, u32, u32)> {
    let n = f64::from(1u32 << z);
    let [x0, y0] = lonlat_to_world(b[0], b[3]);
    let [x1, y1] = lonlat_to_world(b[2], b[1]);
    let last = (1u32 << z) - 1;
    let cell = |v: f64| ((v * n).floor().max(0.0) as u32).min(last);
    let mut out = Vec::new();
    for x in cell(x0)..=cell(x1) {
        for y in cell(y0)..=cell(y1) {
            out.push((z, x, y));
        }
    }
    out
}

/// The pyramid: every tile from z8 to z16 that meets the extent.
fn pyramid(b: [f64; 4], what: &str) -> Vec<(u8, u32, u32)> {
    let mut out = Vec::new();
    for z in 8..=16u8 {
        let all = tiles_over(b, z);
        println!(
            "{what} z{z}: {} tiles meet the extent, all fetched",
            all.len()
        );
        out.extend(all);
    }
    out
}

/// Fetches tiles into a folder; returns how many had content.
fn fetch(addr: std::net::SocketAddr, layers: &str, tiles: &[(u8, u32, u32)], dir: &Path) -> usize {
    let mut with_content = 0;
    for &(z, x, y) in tiles {
        let r = get(addr, &format!("/tiles/{layers}/{z}/{x}/{y}.mvt"));
        match r.status {
            204 => {}
            200 => {
                std::fs::write(dir.join(format!("{layers}-{z}-{x}-{y}.mvt")), &r.body).unwrap();
                with_content += 1;
            }
            s => panic!("/tiles/{layers}/{z}/{x}/{y}.mvt: {s} {}", r.text()),
        }
    }
    with_content
}

/// Decodes and checks every tile of a folder.
fn geos_report(dir: &Path) -> Json {
    let out = python::run("validate_mvt.py", "shapely", &[dir]);
    serde_json::from_str(&out).expect("the validator's JSON")
}

fn assert_valid(report: &Json, what: &str) {
    println!("{what}: {report}");
    let invalid = report["invalid"].as_array().expect("invalid list");
    assert!(
        invalid.is_empty(),
        "{what}: {} invalid polygon features by GEOS, e.g. {}",
        invalid.len(),
        invalid[0]
    );
}

/// The pyramid over the extent of `extent_layers`, of `/tiles/all`, checked.
fn check_pyramid(server: &Server, extent_layers: &str, what: &str) {
    let b = bounds(server.addr, extent_layers);
    let tiles = pyramid(b, what);
    let dir = tempfile::tempdir().unwrap();
    let with_content = fetch(server.addr, "all", &tiles, dir.path());
    let report = geos_report(dir.path());
    assert_eq!(report["tiles"].as_u64(), Some(with_content as u64));
    assert!(report["features"].as_u64().unwrap_or(0) > 100, "{report}");
    assert_valid(&report, what);
}

#[test]
fn demo_tile_pyramid_is_valid_by_geos() {
    let server = Server::start(&[], &[]);
    check_pyramid(&server, "plots,buildings,catchments,territories", "demo");
}

#[test]
fn real_communes_epci_brownfields_pyramid_is_valid_by_geos() {
    let Some(real) = common::realdata("real_communes_epci_brownfields_pyramid_is_valid_by_geos")
    else {
        return;
    };
    let data = real_data_dir(&real);
    let server = Server::start(&["--data", data.path().to_str().unwrap()], &[]);
    check_pyramid(
        &server,
        "catchments,territories",
        "Le Havre communes, EPCI, brownfields",
    );
}

#[test]
fn issue_12_epci_tile_at_the_buffer_edge_is_valid_by_geos() {
    let Some(real) = common::realdata("issue_12_epci_tile_at_the_buffer_edge_is_valid_by_geos")
    else {
        return;
    };
    let data = real_data_dir(&real);
    let server = Server::start(&["--data", data.path().to_str().unwrap()], &[]);
    let dir = tempfile::tempdir().unwrap();
    for layers in ["territories", "catchments", "all"] {
        let n = fetch(server.addr, layers, &[(10, 513, 349)], dir.path());
        assert_eq!(n, 1, "/tiles/{layers}/10/513/349.mvt has content");
    }
    let report = geos_report(dir.path());
    assert_eq!(report["tiles"].as_u64(), Some(3));
    assert!(report["features"].as_u64().unwrap_or(0) >= 3, "{report}");
    assert_valid(
        &report,
        "/tiles/{territories,catchments,all}/10/513/349.mvt",
    );
}
