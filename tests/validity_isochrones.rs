//! Every isochrone polygon terriens serves is valid, checked by an independent engine: GEOS,
//! through Python shapely (`tests/py/validate_polygons.py`), on the GeoJSON exactly as a real
//! `terriens serve` process writes it.
//!
//! - Volume: isochrones from random origins (a random usable node, jittered by up to ~50 m)
//!   with random contours, directions, `denoise` and `generalize`, on the demo network and,
//!   when `TERRIENS_REALDATA` is set, on the Le Havre and Monaco OSM extracts (over 500 in
//!   all); every polygon of every contour goes to one shapely process.
//! - The request of issue 13, item 11 (a `to` isochrone at the Le Havre seafront whose rounded
//!   rings had spikes that GEOS called self-intersections).
//! - Issue 13, item 13: no polygon point lies farther than the reported `offroad_bound_m` from
//!   a road point reached within the contour's time (brute force over every graph edge, with
//!   times from a separate unbounded search).

use crate::common;
use crate::common::python;

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value as Json, json};

use common::server::{BIN, Server};
use common::wire;
use terriens::geo_util::metres_per_degree;
use terriens::routing::{
    BuildOptions, Direction, IsochroneOptions, ProfileId, RawNetwork, RoadGraph, RoutingEngine,
    graph_file_name, read_graph,
};

/// A network served by a real server, and its graph (read from the same file) for origins.
struct Served {
    name: &'static str,
    server: Server,
    graph: RoadGraph,
    _dir: Option<tempfile::TempDir>,
}

/// `terriens import-roads PBF --data DIR`, then `terriens serve --data DIR`.
fn serve_osm(name: &'static str, pbf: &Path) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("import-roads")
        .arg(pbf)
        .arg("--data")
        .arg(dir.path())
        .output()
        .expect("terriens import-roads runs");
    assert!(
        out.status.success(),
        "import-roads {}: {}",
        pbf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let graph = read_graph(&dir.path().join(graph_file_name(ProfileId::Car))).unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let server = Server::start(&["--data", &data], &[]);
    Served {
        name,
        server,
        graph,
        _dir: Some(dir),
    }
}

/// `terriens serve` on the embedded demo data and road network.
fn serve_demo() -> Served {
    let net =
        RawNetwork::read_bytes(terriens::routing::EMBEDDED_ROADS, "roads.osm.gz", None).unwrap();
    let graph = RoadGraph::build(&net, ProfileId::Car, &BuildOptions::default()).unwrap();
    Served {
        name: "demo",
        server: Server::start(&[], &[]),
        graph,
        _dir: None,
    }
}

/// A random origin: a usable node, moved by up to ~50 m.
fn random_origin(g: &RoadGraph, rng: &mut ChaCha8Rng) -> [f64; 2] {
    loop {
        let v = rng.random_range(0..g.node_count() as u32);
        if !g.is_island(v) {
            let p = g.lonlat(v);
            return [
                p[0] + rng.random_range(-7e-4..7e-4),
                p[1] + rng.random_range(-4.5e-4..4.5e-4),
            ];
        }
    }
}

/// GET a path, retrying while the heavy-request gate answers 503.
fn get(addr: std::net::SocketAddr, path: &str) -> wire::Resp {
    for _ in 0..50 {
        let r = wire::request(addr, "GET", path, &[], None).expect("an answer");
        if r.status != 503 {
            return r;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{path}: still 503 after 50 tries");
}

/// The polygon features of an isochrone answer, named for the report.
fn polygons_of(body: &Json, query: &str, out: &mut Vec<Json>) -> usize {
    let mut n = 0;
    for f in body["features"].as_array().expect("features") {
        if f["properties"]["kind"] == "snapped_location" {
            continue;
        }
        let t = f["geometry"]["type"].as_str().unwrap_or("");
        assert!(matches!(t, "Polygon" | "MultiPolygon"), "{query}: {t}");
        out.push(json!({
            "name": format!("{query} contour {}", f["properties"]["contour_min"]),
            "geometry": f["geometry"],
        }));
        n += 1;
    }
    n
}

/// Requests `n` isochrones from random origins and adds their polygons to `out`.
fn random_isochrones(s: &Served, n: usize, seed: u64, minutes: &[u32], out: &mut Vec<Json>) {
    println!("{}: seed {seed}", s.name);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut done, mut too_far) = (0, 0);
    while done < n {
        let p = random_origin(&s.graph, &mut rng);
        let mut set: Vec<u32> = minutes
            .iter()
            .copied()
            .filter(|_| rng.random_bool(0.6))
            .collect();
        if set.is_empty() {
            set.push(minutes[rng.random_range(0..minutes.len())]);
        }
        let contours = set.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let direction = if rng.random_bool(0.5) { "from" } else { "to" };
        let generalize = [0, 0, 10, 30][rng.random_range(0..4)];
        let denoise = [0.0, 0.0, 0.05, 0.5][rng.random_range(0..4)];
        let query = format!(
            "/isochrone?lon={:.6}&lat={:.6}&contours_min={contours}&direction={direction}&profile=car&generalize={generalize}&denoise={denoise}",
            p[0], p[1]
        );
        let r = get(s.server.addr, &query);
        if r.status == 422 && r.text().contains("too-far-from-road") {
            too_far += 1;
            assert!(too_far < n, "{}: too many origins far from roads", s.name);
            continue;
        }
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        polygons_of(&r.json(), &format!("{} {query}", s.name), out);
        done += 1;
    }
}

/// Runs shapely over `items`; returns its report.
fn geos_report(items: &[Json]) -> Json {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("polygons.json");
    std::fs::write(&path, serde_json::to_vec(items).unwrap()).unwrap();
    let out = python::run("validate_polygons.py", "shapely", &[&path]);
    serde_json::from_str(&out).expect("the validator's JSON")
}

fn assert_valid(report: &Json, what: &str) {
    println!("{what}: {report}");
    let invalid = report["invalid"].as_array().expect("invalid list");
    assert!(
        invalid.is_empty(),
        "{what}: {} invalid by GEOS, e.g. {}",
        invalid.len(),
        invalid[0]
    );
}

#[test]
fn isochrones_from_random_origins_are_valid_by_geos() {
    let mut items = Vec::new();
    let demo = serve_demo();
    random_isochrones(&demo, 160, 1301, &[5, 10, 15, 20], &mut items);
    let mut isochrones = 160;
    if let Some(dir) = common::realdata(
        "the Le Havre and Monaco part of isochrones_from_random_origins_are_valid_by_geos",
    ) {
        let lh = serve_osm(
            "Le Havre",
            &dir.join("osm_lehavre_centre_2023-02-19.osm.pbf"),
        );
        random_isochrones(&lh, 200, 1302, &[2, 3, 5, 8], &mut items);
        let monaco = serve_osm("Monaco", &dir.join("osm_monaco_osrm_testdata_2016.osm.pbf"));
        random_isochrones(&monaco, 160, 1303, &[3, 6, 10], &mut items);
        isochrones += 360;
    }
    let report = geos_report(&items);
    assert_eq!(report["checked"].as_u64(), Some(items.len() as u64));
    assert_valid(
        &report,
        &format!("{isochrones} isochrones, {} contours", items.len()),
    );
}

#[test]
fn issue_11_seafront_isochrone_is_valid_by_geos() {
    let Some(dir) = common::realdata("issue_11_seafront_isochrone_is_valid_by_geos") else {
        return;
    };
    let lh = serve_osm(
        "Le Havre",
        &dir.join("osm_lehavre_centre_2023-02-19.osm.pbf"),
    );
    let query = "/isochrone?lon=0.096195&lat=49.498488&contours_min=3,5,8&profile=car&direction=to";
    let r = get(lh.server.addr, query);
    assert_eq!(r.status, 200, "{}", r.text());
    let mut items = Vec::new();
    assert_eq!(polygons_of(&r.json(), query, &mut items), 3);
    let report = geos_report(&items);
    assert_eq!(report["checked"], json!(3));
    assert!(report["empty"].as_array().is_some_and(Vec::is_empty));
    assert_valid(&report, query);
}

/// Distance in metres from `p` to the segment `a`–`b`, in a local flat frame (metres per
/// degree at `p`), enough for distances of a few hundred metres.
fn segment_distance_m(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (m_lat, m_lon) = metres_per_degree(p[1]);
    let (ax, ay) = ((a[0] - p[0]) * m_lon, (a[1] - p[1]) * m_lat);
    let (bx, by) = ((b[0] - p[0]) * m_lon, (b[1] - p[1]) * m_lat);
    let (dx, dy) = (bx - ax, by - ay);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (ax + t * dx).hypot(ay + t * dy)
}

/// Road pieces reached within `t_s`: each edge leaving a node reached in time, up to where the
/// time runs out; and the origins' own segments.
fn reached_pieces(
    e: &RoutingEngine,
    loc: [f64; 2],
    direction: Direction,
    t_s: f64,
) -> Vec<([f64; 2], [f64; 2])> {
    let g = e.graph();
    let times = e.travel_times(&[loc], direction, 1e7).unwrap();
    let mut out = Vec::new();
    for o in times.origins() {
        let seg = g.segment(o.seg);
        out.push((o.lonlat, g.lonlat(seg.nodes[0])));
        out.push((o.lonlat, g.lonlat(seg.nodes[1])));
    }
    for u in 0..g.node_count() as u32 {
        let Some(tu) = times.node_time_ms(u).map(|ms| f64::from(ms) / 1000.0) else {
            continue;
        };
        if tu > t_s {
            continue;
        }
        let pu = g.lonlat(u);
        for edge in g.edges(u, direction) {
            let w = f64::from(edge.weight_ms.max(1)) / 1000.0;
            let s = ((t_s - tu) / w).min(1.0);
            let q = g.lonlat(edge.head);
            out.push((pu, [pu[0] + s * (q[0] - pu[0]), pu[1] + s * (q[1] - pu[1])]));
        }
    }
    out
}

/// The farthest polygon vertex of each contour from the reached road pieces, by brute force.
fn farthest_from_roads(e: &RoutingEngine, loc: [f64; 2], direction: Direction, gen_m: f64) {
    let opts = IsochroneOptions {
        contours_min: vec![3.0, 8.0],
        generalize_m: gen_m,
        ..IsochroneOptions::default()
    };
    let iso = e.isochrone(&[loc], direction, &opts).unwrap();
    assert!(iso.offroad_bound_m > 150.0 && iso.offroad_bound_m < 150.0 + 10.0 * iso.cell_size_m);
    for c in &iso.contours {
        let pieces = reached_pieces(e, loc, direction, c.minutes * 60.0);
        let mut worst = 0.0f64;
        for poly in &c.geometry.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for v in &ring.0 {
                    let p = [v.x, v.y];
                    let d = pieces
                        .iter()
                        .map(|(a, b)| segment_distance_m(p, *a, *b))
                        .fold(f64::INFINITY, f64::min);
                    worst = worst.max(d);
                }
            }
        }
        println!(
            "{loc:?} {direction} {} min, generalize {gen_m} m: farthest vertex {worst:.0} m from a reached road (bound {:.0} m, cell {:.0} m)",
            c.minutes, iso.offroad_bound_m, iso.cell_size_m
        );
        assert!(
            worst <= iso.offroad_bound_m,
            "{loc:?} {} min: a vertex {worst:.0} m from the roads, over the bound {:.0} m",
            c.minutes,
            iso.offroad_bound_m
        );
    }
}

#[test]
fn offroad_spread_is_bounded_at_the_le_havre_seafront() {
    let Some(dir) = common::realdata("offroad_spread_is_bounded_at_the_le_havre_seafront") else {
        return;
    };
    let bytes = std::fs::read(dir.join("osm_lehavre_centre_2023-02-19.osm.pbf")).unwrap();
    let net = RawNetwork::read_bytes(&bytes, "le_havre.osm.pbf", None).unwrap();
    let g = RoadGraph::build(&net, ProfileId::Car, &BuildOptions::default()).unwrap();
    let e = RoutingEngine::new(g);
    // The seafront point of issue 13 (items 11 and 13), and the city hall.
    farthest_from_roads(&e, [0.096195, 49.498488], Direction::To, 0.0);
    farthest_from_roads(&e, [0.096195, 49.498488], Direction::From, 30.0);
    farthest_from_roads(&e, [0.1079, 49.4944], Direction::From, 0.0);
}
