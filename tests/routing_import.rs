//! Importing road data: `terriens import-roads` writes graph files that load back identical;
//! IGN BD TOPO `troncon_de_route` in Lambert-93 (Marseille 10e, with `TERRIENS_REALDATA`) is
//! read with the right counts, reprojected as an independent implementation of IGN's
//! Lambert-93 inverse formulas says, and its `sens_de_circulation` is honoured.

use crate::common;

use std::collections::HashMap;
use std::process::Command;

use serde_json::Value;
use terriens::routing::{
    BuildOptions, Direction, NO_EDGE, Oneway, ProfileId, RawNetwork, RoadGraph, WayAttrs,
    graph_file_name, read_graph, write_graph,
};

#[test]
fn import_roads_cli_writes_graphs_that_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/roads.osm.gz");
    let out = Command::new(env!("CARGO_BIN_EXE_terriens"))
        .args(["import-roads", fixture, "--profile", "car,hgv", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("car:") && stdout.contains("hgv:"),
        "{stdout}"
    );
    let net =
        RawNetwork::read_bytes(terriens::routing::EMBEDDED_ROADS, "roads.osm.gz", None).unwrap();
    for p in [ProfileId::Car, ProfileId::Hgv] {
        let loaded = read_graph(&dir.path().join(graph_file_name(p))).unwrap();
        let built = RoadGraph::build(&net, p, &BuildOptions::default()).unwrap();
        assert_eq!(loaded.profile(), p);
        assert_eq!(loaded.segments(), built.segments());
        assert_eq!(loaded.island_nodes(), built.island_nodes());
    }
    assert!(
        !dir.path()
            .join(graph_file_name(ProfileId::HgvHazmat))
            .exists()
    );
    // An unknown file type is refused with a hint.
    let bad = dir.path().join("roads.shp");
    std::fs::write(&bad, b"\0\0\x27\x0a").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_terriens"))
        .args(["import-roads"])
        .arg(&bad)
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".osm.pbf"));
}

/// IGN's Lambert-93 inverse (notes NTG_71 / ALG0004: conic conformal, GRS80), written from
/// the published constants, independent of PROJ.
fn lambert93_to_lonlat(x: f64, y: f64) -> (f64, f64) {
    let e: f64 = 0.081_819_191_042_815_8;
    let n = 0.725_607_765_053_267;
    let c = 11_754_255.426_096;
    let (xs, ys) = (700_000.0, 12_655_612.049_876);
    let lon0 = 3.0f64.to_radians();
    let r = ((x - xs).powi(2) + (y - ys).powi(2)).sqrt();
    let gamma = ((x - xs) / (ys - y)).atan();
    let lon = lon0 + gamma / n;
    let iso = -(r / c).abs().ln() / n;
    let mut phi = 2.0 * iso.exp().atan() - std::f64::consts::FRAC_PI_2;
    for _ in 0..20 {
        let es = e * phi.sin();
        phi = 2.0 * (((1.0 + es) / (1.0 - es)).powf(e / 2.0) * iso.exp()).atan()
            - std::f64::consts::FRAC_PI_2;
    }
    (lon.to_degrees(), phi.to_degrees())
}

#[test]
fn lambert93_formula_matches_a_known_point() {
    // IGN's reference: (700000, 6600000) is (3°E, 46.5°N), the projection's origin.
    let (lon, lat) = lambert93_to_lonlat(700_000.0, 6_600_000.0);
    assert!(
        (lon - 3.0).abs() < 1e-9 && (lat - 46.5).abs() < 1e-9,
        "{lon} {lat}"
    );
}

#[test]
fn bdtopo_marseille_lambert93_import() {
    let Some(dir) = common::realdata("bdtopo_marseille_lambert93_import") else {
        return;
    };
    let path = dir.join("bdtopo_troncon_de_route_marseille10_l93.geojson");
    let net = RawNetwork::read_file(&path, None).unwrap();
    let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let features = doc["features"].as_array().unwrap();
    assert_eq!(features.len(), 2936);
    assert_eq!(net.ways.len() + net.ways_skipped, 2936);
    // Paths, stairs, cycle tracks and closed or private sections are not roads.
    let mut roads = 0;
    for f in features {
        let p = f["properties"].as_object().unwrap();
        let nature = p["nature"].as_str().unwrap();
        let access = p["acces_vehicule_leger"].as_str().unwrap_or("");
        let open = !matches!(nature, "Sentier" | "Escalier" | "Piste cyclable" | "Chemin")
            && !matches!(
                access,
                "Physiquement impossible" | "Restreint aux ayants droit"
            )
            && p["etat_de_l_objet"].as_str() == Some("En service");
        roads += usize::from(open);
    }
    assert_eq!(net.ways.len(), roads);
    println!(
        "BD TOPO Marseille 10e: {} of 2936 sections are roads, {} nodes",
        roads,
        net.lonlat.len()
    );

    // Reprojection: the README's box, and IGN's formulas for the first and last vertex of
    // every section.
    for p in &net.lonlat {
        assert!(
            (5.38..5.47).contains(&p[0]) && (43.25..43.30).contains(&p[1]),
            "{p:?}"
        );
    }
    let mut way = 0;
    let mut worst = 0.0f64;
    for f in features {
        if WayAttrs::from_bdtopo(f["properties"].as_object().unwrap()).is_none() {
            continue;
        }
        let coords = f["geometry"]["coordinates"].as_array().unwrap();
        let w = &net.ways[way];
        way += 1;
        for (c, node) in [
            (&coords[0], w.nodes[0]),
            (&coords[coords.len() - 1], w.nodes[w.nodes.len() - 1]),
        ] {
            let (lon, lat) = lambert93_to_lonlat(c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            let got = net.lonlat[node as usize];
            worst = worst.max((got[0] - lon).abs()).max((got[1] - lat).abs());
        }
    }
    assert!(
        worst < 2e-7,
        "reprojection differs from IGN's formulas by {worst}°"
    );

    // sens_de_circulation: a one-way section has a forward edge and no backward edge between
    // its first two vertices.
    let g = RoadGraph::build(&net, ProfileId::Car, &BuildOptions::default()).unwrap();
    let key = |p: [f64; 2]| ((p[0] * 1e7).round() as i64, (p[1] * 1e7).round() as i64);
    let by_pos: HashMap<(i64, i64), u32> = (0..g.node_count() as u32)
        .map(|v| (key(g.lonlat(v)), v))
        .collect();
    let has_edge = |a: u32, b: u32| g.edges(a, Direction::From).iter().any(|e| e.head == b);
    let (mut direct, mut inverse) = (0, 0);
    for w in &net.ways {
        let (a, b) = (
            by_pos[&key(net.lonlat[w.nodes[0] as usize])],
            by_pos[&key(net.lonlat[w.nodes[1] as usize])],
        );
        match w.attrs.oneway {
            Oneway::Forward => {
                direct += 1;
                assert!(has_edge(a, b), "Sens direct section lost its forward edge");
                assert!(
                    !has_edge(b, a) || parallel(&net, w.nodes[0], w.nodes[1]),
                    "Sens direct section drivable backwards"
                );
            }
            Oneway::Backward => {
                inverse += 1;
                assert!(
                    has_edge(b, a),
                    "Sens inverse section lost its backward edge"
                );
                assert!(
                    !has_edge(a, b) || parallel(&net, w.nodes[0], w.nodes[1]),
                    "Sens inverse section drivable forwards"
                );
            }
            Oneway::Both => assert!(has_edge(a, b) && has_edge(b, a)),
        }
    }
    println!("{direct} Sens direct and {inverse} Sens inverse road sections checked");
    assert!(direct > 100 && inverse > 50);

    // Lorries: height and weight limits close sections; the graph file round-trips.
    let hgv = RoadGraph::build(&net, ProfileId::Hgv, &BuildOptions::default()).unwrap();
    assert!(hgv.segment_count() < g.segment_count());
    let closed: usize = hgv
        .segments()
        .iter()
        .filter(|s| s.weight_ms == [NO_EDGE, NO_EDGE])
        .count();
    assert_eq!(closed, 0);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("roads-hgv.graph");
    write_graph(&hgv, &file).unwrap();
    assert_eq!(read_graph(&file).unwrap().segments(), hgv.segments());
}

/// Whether another section joins the same two nodes (then both directions may exist).
fn parallel(net: &RawNetwork, a: u32, b: u32) -> bool {
    net.ways
        .iter()
        .flat_map(|w| w.nodes.windows(2))
        .filter(|p| (p[0] == a && p[1] == b) || (p[0] == b && p[1] == a))
        .count()
        > 1
}
