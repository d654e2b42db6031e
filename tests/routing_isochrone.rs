//! Isochrone polygons agree with the travel times they are drawn from: at least 98 % of the
//! graph nodes reached within T lie inside the T polygon, at most 2 % of the nodes with a time
//! above 1.25 T do, and the contours of one request nest. (Nodes that cannot be reached at all
//! have no time; how many of them fall inside is printed, not checked.) Times come from a
//! separate unbounded search; the test is run on the demo network (both directions) and, when
//! `TERRIENS_REALDATA` is set, on Le Havre and Monaco. Seeds are printed.

use crate::common;

use std::sync::Arc;

use geo::{BooleanOps, BoundingRect, Intersects};
use geo_types::{MultiPolygon, Point, Rect};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use terriens::geo_util::area_ha;
use terriens::routing::{
    BuildOptions, Direction, IsochroneOptions, ProfileId, RawNetwork, RoadGraph, RoutingEngine,
};

fn engine_of(bytes: &[u8], name: &str) -> Arc<RoutingEngine> {
    let net = RawNetwork::read_bytes(bytes, name, None).unwrap();
    let g = RoadGraph::build(&net, ProfileId::Car, &BuildOptions::default()).unwrap();
    Arc::new(RoutingEngine::new(g))
}

/// Random usable node positions.
fn random_locations(e: &RoutingEngine, seed: u64, n: usize) -> Vec<[f64; 2]> {
    println!("locations seed {seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let g = e.graph();
    let mut out = Vec::new();
    while out.len() < n {
        let v = rng.random_range(0..g.node_count() as u32);
        if !g.is_island(v) {
            out.push(g.lonlat(v));
        }
    }
    out
}

struct Indexed {
    parts: Vec<(Rect<f64>, geo_types::Polygon<f64>)>,
}

impl Indexed {
    fn new(mp: &MultiPolygon<f64>) -> Indexed {
        Indexed {
            parts: mp
                .0
                .iter()
                .filter_map(|p| Some((p.bounding_rect()?, p.clone())))
                .collect(),
        }
    }
    fn contains(&self, p: [f64; 2]) -> bool {
        let pt = Point::new(p[0], p[1]);
        self.parts.iter().any(|(r, poly)| {
            p[0] >= r.min().x
                && p[0] <= r.max().x
                && p[1] >= r.min().y
                && p[1] <= r.max().y
                && poly.intersects(&pt)
        })
    }
}

fn check(
    name: &str,
    e: &RoutingEngine,
    location: [f64; 2],
    direction: Direction,
    contours_min: &[f64],
) {
    let opts = IsochroneOptions {
        contours_min: contours_min.to_vec(),
        ..IsochroneOptions::default()
    };
    let iso = e.isochrone(&[location], direction, &opts).unwrap();
    let times = e.travel_times(&[location], direction, 1e7).unwrap();
    let g = e.graph();
    for c in &iso.contours {
        let t = c.minutes * 60.0;
        let poly = Indexed::new(&c.geometry);
        let (mut within, mut within_in, mut beyond, mut beyond_in) =
            (0usize, 0usize, 0usize, 0usize);
        let mut unreachable_in = 0usize;
        let mut island_in = 0usize;
        for v in 0..g.node_count() as u32 {
            let tv = times.node_time_ms(v).map(|ms| f64::from(ms) / 1000.0);
            match tv {
                Some(s) if s <= t => {
                    within += 1;
                    within_in += usize::from(poly.contains(g.lonlat(v)));
                }
                Some(s) if s <= 1.25 * t => {}
                Some(_) => {
                    beyond += 1;
                    beyond_in += usize::from(poly.contains(g.lonlat(v)));
                }
                None => {
                    let inside = poly.contains(g.lonlat(v));
                    unreachable_in += usize::from(inside);
                    island_in += usize::from(inside && g.is_island(v));
                }
            }
        }
        let inside_share = within_in as f64 / within.max(1) as f64;
        let beyond_share = beyond_in as f64 / beyond.max(1) as f64;
        println!(
            "{name} {direction} {} min: {within} nodes within, {:.2} % inside; {beyond} beyond 1.25 T, {:.2} % inside; unreachable inside: {unreachable_in} ({island_in} on islands); {} parts, {:.0} ha, cell {:.0} m",
            c.minutes,
            inside_share * 100.0,
            beyond_share * 100.0,
            c.geometry.0.len(),
            c.area_ha,
            iso.cell_size_m
        );
        assert!(
            within > 0,
            "{name}: nothing reached within {} min",
            c.minutes
        );
        assert!(
            inside_share >= 0.98,
            "{name} {direction} {} min: only {:.2} % of the nodes reached in time are inside",
            c.minutes,
            inside_share * 100.0
        );
        assert!(
            beyond_share <= 0.02,
            "{name} {direction} {} min: {:.2} % of the nodes beyond 1.25 T are inside",
            c.minutes,
            beyond_share * 100.0
        );
        assert!(
            (c.area_ha - area_ha(&geo_types::Geometry::MultiPolygon(c.geometry.clone()))).abs()
                < 1e-6
        );
    }
    for pair in iso.contours.windows(2) {
        let (inner, outer) = (&pair[0].geometry, &pair[1].geometry);
        let outside = inner.difference(outer);
        let stray = area_ha(&geo_types::Geometry::MultiPolygon(outside));
        assert!(
            stray <= 1e-6 * pair[0].area_ha + 1e-6,
            "{name}: {} min contour sticks out of the {} min one by {stray} ha",
            pair[0].minutes,
            pair[1].minutes
        );
        assert!(pair[0].area_ha <= pair[1].area_ha);
    }
}

#[test]
fn demo_polygons_agree_with_times_and_nest() {
    let e = engine_of(terriens::routing::EMBEDDED_ROADS, "roads.osm.gz");
    let mut locations = vec![[1.0, 49.52]];
    locations.extend(random_locations(&e, 601, 2));
    for (i, &loc) in locations.iter().enumerate() {
        for direction in [Direction::From, Direction::To] {
            check(
                &format!("demo #{i}"),
                &e,
                loc,
                direction,
                &[10.0, 20.0, 30.0],
            );
        }
    }
}

#[test]
fn demo_polygons_have_holes_where_nothing_is_reachable() {
    let e = engine_of(terriens::routing::EMBEDDED_ROADS, "roads.osm.gz");
    let opts = IsochroneOptions {
        contours_min: vec![30.0],
        ..IsochroneOptions::default()
    };
    let iso = e
        .isochrone(&[[1.0, 49.52]], Direction::From, &opts)
        .unwrap();
    let holes: usize = iso.contours[0]
        .geometry
        .0
        .iter()
        .map(|p| p.interiors().len())
        .sum();
    assert!(
        holes > 0,
        "a 30 min isochrone over towns and fields has holes"
    );
    // Denoise 1 keeps only the largest polygon; generalising removes vertices.
    let count = |mp: &MultiPolygon<f64>| mp.0.iter().map(|p| p.exterior().0.len()).sum::<usize>();
    let opts2 = IsochroneOptions {
        contours_min: vec![30.0],
        denoise: 1.0,
        generalize_m: 100.0,
    };
    let clean = e
        .isochrone(&[[1.0, 49.52]], Direction::From, &opts2)
        .unwrap();
    assert_eq!(clean.contours[0].geometry.0.len(), 1);
    assert!(count(&clean.contours[0].geometry) < count(&iso.contours[0].geometry));
}

#[test]
fn le_havre_polygons_agree_with_times_and_nest() {
    let Some(dir) = common::realdata("le_havre_isochrones") else {
        return;
    };
    let bytes = std::fs::read(dir.join("osm_lehavre_centre_2023-02-19.osm.pbf")).unwrap();
    let e = engine_of(&bytes, "le_havre.osm.pbf");
    // The city hall (the README's reference point), then random nodes.
    let mut locations = vec![[0.1079, 49.4944]];
    locations.extend(random_locations(&e, 611, 2));
    for (i, &loc) in locations.iter().enumerate() {
        check(
            &format!("Le Havre #{i}"),
            &e,
            loc,
            Direction::From,
            &[2.0, 5.0, 8.0],
        );
    }
    check("Le Havre #0", &e, locations[0], Direction::To, &[2.0, 5.0]);
}

#[test]
fn monaco_polygons_agree_with_times_and_nest() {
    let Some(dir) = common::realdata("monaco_isochrones") else {
        return;
    };
    let bytes = std::fs::read(dir.join("osm_monaco_osrm_testdata_2016.osm.pbf")).unwrap();
    let e = engine_of(&bytes, "monaco.osm.pbf");
    for (i, loc) in random_locations(&e, 621, 2).into_iter().enumerate() {
        check(
            &format!("Monaco #{i}"),
            &e,
            loc,
            Direction::From,
            &[3.0, 6.0, 10.0],
        );
    }
}
