//! Routing hot paths, with fixed seeds:
//! - graph build (read + profile + CSR + islands) for the demo network, the real OSM networks
//!   (with `TERRIENS_REALDATA`) and a synthetic graph of 1,002,500 nodes
//!   (`routing::synthetic`, seed 1); memory is printed (graph arrays and snap index);
//! - loading a graph file and building its snap index (what `serve --data` does);
//! - travel times only (one bounded Dijkstra, snapping included) and full isochrone polygons
//!   for 10, 30 and 60 minutes, from 8 fixed origins in turn, on the 1M-node graph and on the
//!   demo network.
//!
//! Run: `cargo bench --bench routing` (`TERRIENS_BENCH_SIDE` changes the synthetic grid side,
//! 1000 by default, 100 when run as a test). Medians are in
//! `target/criterion/<group>/<name>/new/estimates.json`.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use terriens::routing::{
    BuildOptions, Direction, IsochroneOptions, ProfileId, RawNetwork, RoadGraph, RoutingEngine,
    read_graph, synthetic::synthetic_network, write_graph,
};

/// The synthetic grid side: 1000 under `cargo bench`, 100 when `cargo test --all-targets` runs
/// the benchmarks once as tests (criterion's test mode, without `--bench`).
fn side() -> usize {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    std::env::var("TERRIENS_BENCH_SIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if benchmarking { 1000 } else { 100 })
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn report(name: &str, g: &RoadGraph, e: &RoutingEngine) {
    eprintln!(
        "{name}: {} nodes, {} segments, {} directed edges, {} island nodes; graph arrays {:.1} MB, snap index ~{:.1} MB",
        g.node_count(),
        g.segment_count(),
        g.edge_count(),
        g.island_nodes(),
        mb(g.heap_bytes()),
        mb(e.snap_index_bytes()),
    );
}

/// Origins: random usable nodes in the middle half of the graph's box.
fn origins(e: &RoutingEngine, seed: u64) -> Vec<[f64; 2]> {
    let g = e.graph();
    let [x0, y0, x1, y1] = g.bbox();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    while out.len() < 8 {
        let v = rng.random_range(0..g.node_count() as u32);
        let [x, y] = g.lonlat(v);
        let central = (x - (x0 + x1) / 2.0).abs() < (x1 - x0) / 4.0
            && (y - (y0 + y1) / 2.0).abs() < (y1 - y0) / 4.0;
        if central && !g.is_island(v) {
            out.push([x, y]);
        }
    }
    out
}

fn searches(c: &mut Criterion, name: &str, e: &RoutingEngine) {
    let os = origins(e, 42);
    for minutes in [10.0, 30.0, 60.0] {
        let settled: usize = os
            .iter()
            .map(|o| {
                e.travel_times(&[*o], Direction::From, minutes * 60.0)
                    .unwrap()
                    .settled_nodes()
                    .len()
            })
            .sum::<usize>()
            / os.len();
        let opts = IsochroneOptions {
            contours_min: vec![minutes],
            ..IsochroneOptions::default()
        };
        let cell: f64 = os
            .iter()
            .map(|o| {
                e.isochrone(&[*o], Direction::From, &opts)
                    .unwrap()
                    .cell_size_m
            })
            .sum::<f64>()
            / os.len() as f64;
        eprintln!(
            "{name} {minutes} min: {settled} nodes settled on average; isochrone cells of {cell:.0} m"
        );
        let mut g = c.benchmark_group(format!("{name}_travel_times"));
        g.sample_size(40).measurement_time(Duration::from_secs(8));
        let mut i = 0;
        g.bench_function(format!("{minutes}min"), |b| {
            b.iter(|| {
                i = (i + 1) % os.len();
                let t = e
                    .travel_times(&[os[i]], Direction::From, minutes * 60.0)
                    .unwrap();
                t.settled_nodes().len()
            })
        });
        g.finish();
        let mut g = c.benchmark_group(format!("{name}_isochrone"));
        g.sample_size(30).measurement_time(Duration::from_secs(10));
        let mut i = 0;
        g.bench_function(format!("{minutes}min"), |b| {
            b.iter(|| {
                i = (i + 1) % os.len();
                e.isochrone(&[os[i]], Direction::From, &opts)
                    .unwrap()
                    .contours
                    .len()
            })
        });
        g.finish();
    }
}

fn routing(c: &mut Criterion) {
    let opts = BuildOptions::default();

    // Demo network.
    let demo = terriens::routing::EMBEDDED_ROADS;
    let mut g = c.benchmark_group("build");
    g.sample_size(20);
    g.bench_function("demo_read_and_build", |b| {
        b.iter(|| {
            let net = RawNetwork::read_bytes(demo, "roads.osm.gz", None).unwrap();
            RoadGraph::build(&net, ProfileId::Car, &opts).unwrap()
        })
    });
    // Real networks.
    let real = std::env::var_os("TERRIENS_REALDATA").map(std::path::PathBuf::from);
    if real.is_none() {
        eprintln!("TERRIENS_REALDATA unset: skipping the real networks");
    }
    for (name, file) in [
        ("le_havre_pbf", "osm_lehavre_centre_2023-02-19.osm.pbf"),
        (
            "le_havre_xml_gz",
            "osm_lehavre_centre_2023-02-19.osm.xml.gz",
        ),
        ("monaco_pbf", "osm_monaco_osrm_testdata_2016.osm.pbf"),
    ] {
        let Some(dir) = &real else { continue };
        let bytes = std::fs::read(dir.join(file)).expect("real data file");
        g.bench_function(format!("{name}_read_and_build"), |b| {
            b.iter(|| {
                let net = RawNetwork::read_bytes(&bytes, file, None).unwrap();
                RoadGraph::build(&net, ProfileId::Car, &opts).unwrap()
            })
        });
        let net = RawNetwork::read_bytes(&bytes, file, None).unwrap();
        let graph = RoadGraph::build(&net, ProfileId::Car, &opts).unwrap();
        let e = RoutingEngine::new(graph.clone());
        report(name, &graph, &e);
    }
    g.finish();

    // The 1M-node synthetic graph.
    let side = side();
    eprintln!("generating the synthetic {side}×{side} network (seed 1)…");
    let net = synthetic_network(side, 1);
    let mut g = c.benchmark_group("build");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    g.bench_function(format!("synthetic_{}_nodes", net.lonlat.len()), |b| {
        b.iter(|| RoadGraph::build(&net, ProfileId::Car, &opts).unwrap())
    });
    let graph = RoadGraph::build(&net, ProfileId::Car, &opts).unwrap();
    drop(net);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roads-car.graph");
    write_graph(&graph, &file).unwrap();
    eprintln!(
        "synthetic graph file: {:.1} MB",
        mb(std::fs::metadata(&file).unwrap().len() as usize)
    );
    g.bench_function("synthetic_load_file_and_snap_index", |b| {
        b.iter(|| RoutingEngine::new(read_graph(&file).unwrap()))
    });
    g.finish();
    let e = RoutingEngine::new(graph);
    report("synthetic", e.graph(), &e);

    searches(c, "synthetic", &e);
    drop(e);
    let demo_net = RawNetwork::read_bytes(demo, "roads.osm.gz", None).unwrap();
    let demo_engine =
        RoutingEngine::new(RoadGraph::build(&demo_net, ProfileId::Car, &opts).unwrap());
    report("demo", demo_engine.graph(), &demo_engine);
    searches(c, "demo", &demo_engine);
}

criterion_group!(benches, routing);
criterion_main!(benches);
