//! A hand-drawn road map with known answers (after Valhalla's gurka tests):
//!
//! ```text
//!   A ------- B ======> C        A–B, B–D, C–E two-way; B→C one-way (oneway=yes);
//!   :  \      |         |        D→E one-way, drawn E to D with oneway=-1;
//!   :   \     |         |        A~~C a ferry (skipped); A–D private (excluded);
//!   :    \    D ======> E        B–D limited to 3.5 t (no lorries).
//! ```
//!
//! Every road is tagged `maxspeed=50`, driven at 45 km/h. Expected times come from Karney
//! geodesic lengths (`geo::Geodesic`), not from terriens' own lengths.

use geo::{Distance, Geodesic};
use geo_types::point;
use terriens::routing::{
    BuildOptions, Direction, ProfileId, RawNetwork, RoadGraph, RoutingEngine, RoutingError,
};

const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="0.01" lon="0.00"/>
 <node id="2" lat="0.01" lon="0.01"/>
 <node id="3" lat="0.01" lon="0.02"/>
 <node id="4" lat="0.00" lon="0.01"/>
 <node id="5" lat="0.00" lon="0.02"/>
 <way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/><tag k="maxspeed" v="50"/></way>
 <way id="2"><nd ref="2"/><nd ref="3"/><tag k="highway" v="residential"/><tag k="maxspeed" v="50"/><tag k="oneway" v="yes"/></way>
 <way id="3"><nd ref="3"/><nd ref="5"/><tag k="highway" v="residential"/><tag k="maxspeed" v="50"/></way>
 <way id="4"><nd ref="5"/><nd ref="4"/><tag k="highway" v="residential"/><tag k="maxspeed" v="50"/><tag k="oneway" v="-1"/></way>
 <way id="5"><nd ref="4"/><nd ref="2"/><tag k="highway" v="residential"/><tag k="maxspeed" v="50"/><tag k="maxweight" v="3.5"/></way>
 <way id="6"><nd ref="1"/><nd ref="3"/><tag k="route" v="ferry"/><tag k="motor_vehicle" v="yes"/></way>
 <way id="7"><nd ref="1"/><nd ref="4"/><tag k="highway" v="residential"/><tag k="maxspeed" v="50"/><tag k="access" v="private"/></way>
</osm>"#;

const A: [f64; 2] = [0.00, 0.01];
const B: [f64; 2] = [0.01, 0.01];
const C: [f64; 2] = [0.02, 0.01];
const D: [f64; 2] = [0.01, 0.00];
const E: [f64; 2] = [0.02, 0.00];

/// Seconds to drive between two points at 45 km/h, from the geodesic length.
fn secs(p: [f64; 2], q: [f64; 2]) -> f64 {
    Geodesic.distance(point!(x: p[0], y: p[1]), point!(x: q[0], y: q[1])) / (45.0 / 3.6)
}

fn engine(profile: ProfileId, island_max_nodes: usize) -> RoutingEngine {
    let net = RawNetwork::read_bytes(XML.as_bytes(), "tiny.osm", None).unwrap();
    let opts = BuildOptions { island_max_nodes };
    RoutingEngine::new(RoadGraph::build(&net, profile, &opts).unwrap())
}

/// Travel time between two points (snapped), seconds.
fn time(e: &RoutingEngine, from: [f64; 2], to: [f64; 2], direction: Direction) -> Option<f64> {
    let (origin, target) = match direction {
        Direction::From => (from, to),
        Direction::To => (to, from),
    };
    let times = e.travel_times(&[origin], direction, 3600.0).unwrap();
    times.time_at(&e.snap(target[0], target[1]).unwrap())
}

fn close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: unreachable, expected {want:.3} s"));
    // Each segment's weight is rounded to the millisecond.
    assert!(
        (got - want).abs() < 0.005,
        "{what}: {got:.4} s, expected {want:.4} s"
    );
}

#[test]
fn one_ways_ferry_and_private_roads_forwards() {
    let e = engine(ProfileId::Car, 0);
    let (h, v) = (secs(A, B), secs(B, D));
    assert!((h - 89.055).abs() < 0.01, "{h}");
    close(time(&e, A, B, Direction::From), h, "A→B");
    // Not the 2.2 km ferry: the road through B.
    close(time(&e, A, C, Direction::From), h + secs(B, C), "A→C");
    // Not the private diagonal.
    close(time(&e, A, D, Direction::From), h + v, "A→D");
    close(time(&e, A, E, Direction::From), h + v + secs(D, E), "A→E");
    // C to A: B→C is one-way and D→E too; there is no way back.
    assert_eq!(time(&e, C, A, Direction::From), None, "C→A");
    assert_eq!(time(&e, E, B, Direction::From), None, "E→B");
    close(time(&e, D, A, Direction::From), v + h, "D→A");
}

#[test]
fn reverse_searches_give_the_same_trips() {
    let e = engine(ProfileId::Car, 0);
    // Direction::To from a target answers "how long from X to the target".
    for (x, y) in [
        (A, B),
        (A, C),
        (A, D),
        (A, E),
        (C, A),
        (E, B),
        (D, A),
        (D, C),
        (B, E),
    ] {
        let fwd = time(&e, x, y, Direction::From);
        let bwd = time(&e, x, y, Direction::To);
        match (fwd, bwd) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 0.002, "{x:?}→{y:?}: {a} vs {b}"),
            (None, None) => {}
            other => panic!("{x:?}→{y:?}: {other:?}"),
        }
    }
    // To A: from B and D only.
    let times = e.travel_times(&[A], Direction::To, 3600.0).unwrap();
    let reach: Vec<bool> = [B, C, D, E]
        .iter()
        .map(|p| times.time_at(&e.snap(p[0], p[1]).unwrap()).is_some())
        .collect();
    assert_eq!(reach, vec![true, false, true, false]);
}

#[test]
fn positions_along_segments() {
    let e = engine(ProfileId::Car, 0);
    let h = secs(A, B);
    let mid_ab = [0.005, 0.0101]; // ~11 m north of the middle of A–B
    let mid_ce = [0.0201, 0.005];
    // From the middle of A–B to the middle of C–E: through B and C.
    close(
        time(&e, mid_ab, mid_ce, Direction::From),
        h / 2.0 + secs(B, C) + secs(C, E) / 2.0,
        "mid AB→mid CE",
    );
    // Both on A–B: straight along the segment, either way.
    let q = [0.008, 0.01];
    close(time(&e, mid_ab, q, Direction::From), 0.3 * h, "along A–B");
    close(
        time(&e, q, mid_ab, Direction::From),
        0.3 * h,
        "back along A–B",
    );
    // Both on the one-way B→C: forwards only.
    let (p1, p2) = ([0.0125, 0.01], [0.0175, 0.01]);
    close(
        time(&e, p1, p2, Direction::From),
        0.5 * secs(B, C),
        "along B→C",
    );
    close(
        time(&e, p1, p2, Direction::To),
        0.5 * secs(B, C),
        "along B→C, backwards search",
    );
    assert_eq!(time(&e, p2, p1, Direction::From), None, "against B→C");
    assert_eq!(
        time(&e, p2, p1, Direction::To),
        None,
        "against B→C, backwards search"
    );
}

#[test]
fn lorries_keep_off_the_weight_limit() {
    let e = engine(ProfileId::Hgv, 0);
    let h = secs(A, B);
    // B–D is closed to lorries, and D→E leads away from D: D is out of reach from A.
    let times = e.travel_times(&[A], Direction::From, 3600.0).unwrap();
    let d = e.snap(D[0], D[1]).unwrap();
    assert_eq!(times.time_at(&d), None, "D by lorry");
    // HGV residential cap 25 km/h applies under the 45 km/h of the limit.
    let lorry = |p: [f64; 2], q: [f64; 2]| secs(p, q) * 45.0 / 25.0;
    close(
        time(&e, A, E, Direction::From),
        lorry(A, B) + lorry(B, C) + lorry(C, E),
        "A→E by lorry",
    );
    assert!(h < lorry(A, B));
}

#[test]
fn islands_are_not_snapped_to() {
    // With the default threshold {C, E}, which a car can enter but never leave, is an island:
    // a point nearest to C–E (445 m) snaps to B–D (667 m) instead.
    let p = [0.016, 0.005];
    let e = engine(ProfileId::Car, 200);
    assert_eq!(e.graph().island_nodes(), 2);
    let s = e.snap(p[0], p[1]).unwrap();
    assert!(
        (s.lonlat[0] - 0.01).abs() < 1e-9,
        "snapped to {:?}",
        s.lonlat
    );
    let e = engine(ProfileId::Car, 0);
    let s = e.snap(p[0], p[1]).unwrap();
    assert!(
        (s.lonlat[0] - 0.02).abs() < 1e-9,
        "snapped to {:?}",
        s.lonlat
    );
}

#[test]
fn far_points_are_rejected_with_the_distance() {
    let e = engine(ProfileId::Car, 0);
    // 5 km south of D.
    let err = e
        .travel_times(&[[0.01, -0.0452]], Direction::From, 600.0)
        .unwrap_err();
    match err {
        RoutingError::TooFarFromRoad {
            distance_m, max_m, ..
        } => {
            assert!((distance_m - 4998.0).abs() < 10.0, "{distance_m}");
            assert_eq!(max_m, 1000.0);
        }
        other => panic!("{other}"),
    }
}
