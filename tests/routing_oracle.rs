//! Travel times against independent shortest-path implementations: `petgraph::algo::dijkstra`
//! (100 random origins) and Python networkx (30 origins, to keep the suite quick; it also
//! re-measures every segment with GeographicLib), on an edge list exported from our graph.
//! Forwards and backwards, every node's time must be equal within 1e-6 s and the reachable
//! sets identical; on the demo network always, on Le Havre (PBF and XML) and Monaco when
//! `TERRIENS_REALDATA` is set. Seeds are printed.

use crate::common;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use terriens::routing::{
    BuildOptions, Direction, NO_EDGE, ProfileId, RawNetwork, RoadGraph, SearchState, search,
};

const ORIGINS: usize = 100;
const NETWORKX_ORIGINS: usize = 30;

fn graph_of(bytes: &[u8], name: &str, profile: ProfileId) -> RoadGraph {
    let net = RawNetwork::read_bytes(bytes, name, None).expect("road data reads");
    RoadGraph::build(&net, profile, &BuildOptions::default()).expect("graph builds")
}

fn demo_graph() -> RoadGraph {
    graph_of(
        terriens::routing::EMBEDDED_ROADS,
        "roads.osm.gz",
        ProfileId::Car,
    )
}

fn real_graph(test: &str, file: &str) -> Option<RoadGraph> {
    let dir = common::realdata(test)?;
    let bytes = std::fs::read(dir.join(file)).expect("real data file");
    Some(graph_of(&bytes, file, ProfileId::Car))
}

fn origins(g: &RoadGraph, seed: u64, n: usize) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| rng.random_range(0..g.node_count() as u32))
        .collect()
}

/// Our times (ms) from (or to) an origin, every node, no limit.
fn ours(g: &RoadGraph, state: &mut SearchState, o: u32, direction: Direction) -> Vec<Option<u32>> {
    search(g, state, &[(o, 0)], direction, NO_EDGE - 1);
    (0..g.node_count() as u32)
        .map(|v| state.time_ms(v))
        .collect()
}

fn assert_same(
    name: &str,
    o: u32,
    direction: Direction,
    got: &[Option<u32>],
    want: &HashMap<u32, u64>,
) {
    let reached = got.iter().filter(|t| t.is_some()).count();
    assert_eq!(
        reached,
        want.len(),
        "{name}: origin {o} {direction}: reachable sets differ in size"
    );
    for (v, t) in got.iter().enumerate() {
        match (t, want.get(&(v as u32))) {
            (Some(a), Some(&b)) => {
                let (a_s, b_s) = (f64::from(*a) / 1000.0, b as f64 / 1000.0);
                assert!(
                    (a_s - b_s).abs() <= 1e-6,
                    "{name}: origin {o} {direction}: node {v}: {a_s} s here, {b_s} s in the oracle"
                );
            }
            (None, None) => {}
            (a, b) => {
                panic!("{name}: origin {o} {direction}: node {v}: {a:?} here, {b:?} in the oracle")
            }
        }
    }
}

fn check_petgraph(name: &str, g: &RoadGraph, seed: u64) {
    println!(
        "{name}: petgraph oracle, seed {seed}, {} nodes",
        g.node_count()
    );
    let mut pg: DiGraph<(), u64> = DiGraph::with_capacity(g.node_count(), g.edge_count());
    for _ in 0..g.node_count() {
        pg.add_node(());
    }
    for (a, b, w) in g.edge_list() {
        pg.add_edge(
            NodeIndex::new(a as usize),
            NodeIndex::new(b as usize),
            u64::from(w),
        );
    }
    let mut state = SearchState::new(g.node_count());
    for o in origins(g, seed, ORIGINS) {
        let start = NodeIndex::new(o as usize);
        let fwd = petgraph::algo::dijkstra(&pg, start, None, |e| *e.weight());
        let fwd: HashMap<u32, u64> = fwd
            .into_iter()
            .map(|(k, v)| (k.index() as u32, v))
            .collect();
        assert_same(
            name,
            o,
            Direction::From,
            &ours(g, &mut state, o, Direction::From),
            &fwd,
        );
        let rev = petgraph::visit::Reversed(&pg);
        let bwd = petgraph::algo::dijkstra(rev, start, None, |e| *e.weight());
        let bwd: HashMap<u32, u64> = bwd
            .into_iter()
            .map(|(k, v)| (k.index() as u32, v))
            .collect();
        assert_same(
            name,
            o,
            Direction::To,
            &ours(g, &mut state, o, Direction::To),
            &bwd,
        );
    }
}

fn check_networkx(name: &str, g: &RoadGraph, seed: u64) {
    println!(
        "{name}: networkx oracle, seed {seed}, {} nodes",
        g.node_count()
    );
    let has_python = Command::new("python3")
        .args(["-c", "import networkx, geographiclib"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_python,
        "python3 with networkx and geographiclib is needed for this oracle: run scripts/ensure-deps.sh --test"
    );
    let dir = tempfile::tempdir().unwrap();
    let write = |file: &str, f: &dyn Fn(&mut dyn Write)| {
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.path().join(file)).unwrap());
        f(&mut w);
        w.flush().unwrap();
    };
    write("nodes.tsv", &|w| {
        for v in 0..g.node_count() as u32 {
            let [lon, lat] = g.lonlat(v);
            writeln!(w, "{v}\t{lon:.7}\t{lat:.7}").unwrap();
        }
    });
    common::write_segments(g, &dir.path().join("segments.tsv"));
    let os = origins(g, seed, NETWORKX_ORIGINS);
    write("origins.txt", &|w| {
        for o in &os {
            writeln!(w, "{o}").unwrap();
        }
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/oracle_dijkstra.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir.path())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    println!("{name}: {summary}");
    // Lengths: a local ellipsoid scale per segment against Karney's geodesics.
    let max_err = summary["max_length_error_m"].as_f64().unwrap();
    assert!(
        max_err < 0.01,
        "{name}: segment lengths differ from GeographicLib by up to {max_err} m"
    );
    for direction in [Direction::From, Direction::To] {
        let text =
            std::fs::read_to_string(dir.path().join(format!("times_{direction}.tsv"))).unwrap();
        let mut by_origin: HashMap<u32, HashMap<u32, u64>> = HashMap::new();
        for line in text.lines() {
            let mut it = line.split('\t').map(|x| x.parse::<u64>().unwrap());
            let (o, v, ms) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
            by_origin.entry(o as u32).or_default().insert(v as u32, ms);
        }
        let mut state = SearchState::new(g.node_count());
        for &o in &os {
            let want = by_origin.get(&o).expect("oracle answered for every origin");
            assert_same(name, o, direction, &ours(g, &mut state, o, direction), want);
        }
    }
}

#[test]
fn demo_network_matches_petgraph() {
    check_petgraph("demo", &demo_graph(), 501);
}

#[test]
fn demo_network_matches_networkx() {
    check_networkx("demo", &demo_graph(), 502);
}

#[test]
fn demo_hgv_network_matches_petgraph() {
    let g = graph_of(
        terriens::routing::EMBEDDED_ROADS,
        "roads.osm.gz",
        ProfileId::HgvHazmat,
    );
    check_petgraph("demo hgv_hazmat", &g, 503);
}

#[test]
fn le_havre_pbf_and_xml_give_the_same_graph_and_match_petgraph() {
    let Some(pbf) = real_graph("le_havre_pbf", "osm_lehavre_centre_2023-02-19.osm.pbf") else {
        return;
    };
    let Some(xml) = real_graph("le_havre_xml", "osm_lehavre_centre_2023-02-19.osm.xml.gz") else {
        return;
    };
    assert_eq!(pbf.node_count(), xml.node_count());
    assert_eq!(
        pbf.segments(),
        xml.segments(),
        "the PBF and XML readers disagree"
    );
    check_petgraph("Le Havre (PBF)", &pbf, 511);
    check_petgraph("Le Havre (XML)", &xml, 512);
}

#[test]
fn le_havre_matches_networkx() {
    if let Some(g) = real_graph("le_havre_networkx", "osm_lehavre_centre_2023-02-19.osm.pbf") {
        check_networkx("Le Havre (PBF)", &g, 513);
    }
}

#[test]
fn monaco_matches_petgraph_and_networkx() {
    if let Some(g) = real_graph("monaco", "osm_monaco_osrm_testdata_2016.osm.pbf") {
        check_petgraph("Monaco", &g, 521);
        check_networkx("Monaco", &g, 522);
    }
}
