//! Drive times to features and workforce shares against independent computations on the demo
//! data: a feature's time from a site must equal the time from the feature to the site
//! computed by a reverse search started at the feature (another code path: other sources,
//! reverse adjacency); catchment shares must match reachable street length measured by
//! sampling every street at 200 points, with a ray-casting point-in-polygon of the test's own.

use std::collections::HashMap;
use std::sync::Arc;

use geo_types::{Geometry, LineString};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use terriens::index::LayerData;
use terriens::model::Layer;
use terriens::routing::{Direction, ProfileId, RoadClass, Snap, travel_times_to_features};

fn demo() -> (terriens::index::Snapshot, terriens::routing::Routing) {
    let snap = terriens::store::embedded_snapshot().unwrap();
    let routing = terriens::routing::embedded_routing().unwrap();
    (snap, routing)
}

#[test]
fn drive_times_to_features_match_reverse_searches() {
    let (snap, routing) = demo();
    let engine = routing.engine(ProfileId::Car).unwrap();
    let site = [1.0, 49.52];
    let limit_s = 15.0 * 60.0;
    for layer in [Layer::Plots, Layer::WasteDeposits] {
        let data = snap.layer(layer);
        for direction in [Direction::From, Direction::To] {
            let got: HashMap<u32, f64> =
                travel_times_to_features(engine, data, &[site], direction, limit_s)
                    .unwrap()
                    .into_iter()
                    .collect();
            assert!(
                got.len() > 20,
                "{layer}: {} features within 15 min",
                got.len()
            );
            let site_snap = engine.snap(site[0], site[1]).unwrap();
            let snaps = engine.feature_snaps(data);
            let seed = 707;
            println!(
                "{layer} {direction}: {} within 15 min; sample seed {seed}",
                got.len()
            );
            let mut rows: Vec<u32> = (0..data.len() as u32)
                .filter(|&r| snaps[r as usize].is_some())
                .collect();
            rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            for &row in rows.iter().take(120) {
                let Some(fs) = snaps[row as usize] else {
                    continue;
                };
                // The reverse question, asked from the feature.
                let reverse = match direction {
                    Direction::From => Direction::To,
                    Direction::To => Direction::From,
                };
                let times = engine.travel_times_from(vec![fs], reverse, 2.0 * limit_s);
                let want = times.time_at(&site_snap);
                match (got.get(&row), want) {
                    (Some(a), Some(b)) => {
                        assert!((a - b).abs() <= 0.002, "{layer} row {row}: {a} s vs {b} s")
                    }
                    (None, Some(b)) => {
                        assert!(b > limit_s - 0.002, "{layer} row {row}: missing, {b} s")
                    }
                    (Some(a), None) => {
                        panic!("{layer} row {row}: {a} s, unreachable the other way")
                    }
                    (None, None) => {}
                }
            }
        }
    }
}

#[test]
fn feature_snaps_are_cached_per_layer_snapshot() {
    let (snap, routing) = demo();
    let engine = routing.engine(ProfileId::Car).unwrap();
    let plots = snap.layer(Layer::Plots);
    let a = engine.feature_snaps(plots);
    let b = engine.feature_snaps(plots);
    assert!(Arc::ptr_eq(&a, &b), "the second call reuses the snaps");
    let snapped = a.iter().filter(|s| s.is_some()).count();
    println!("{snapped} of {} plots within 1 km of a road", plots.len());
    assert!(snapped > plots.len() / 2);
    // The snaps are keyed by the layer's serial: a copy (same serial, same rows) shares them.
    let copy: Arc<LayerData> = Arc::new((**plots).clone());
    assert!(Arc::ptr_eq(&a, &engine.feature_snaps(&copy)));
    // A layer made by a change has its own snaps (updated from the old ones), equal to a
    // fresh snapping, and cached in turn.
    let first = plots.feature(0);
    let changed: Arc<LayerData> = Arc::new(plots.with_changes([], &[first.id]));
    let c = engine.feature_snaps(&changed);
    assert!(!Arc::ptr_eq(&a, &c));
    let fresh = terriens::routing::snap_features(engine, &changed);
    assert!(c.iter().eq(fresh.iter()));
    assert!(Arc::ptr_eq(&c, &engine.feature_snaps(&changed)));
}

/// Even–odd ray casting over every ring.
fn inside(g: &Geometry<f64>, x: f64, y: f64) -> bool {
    let ring_crossings = |l: &LineString<f64>| {
        l.0.windows(2)
            .filter(|w| {
                let (a, b) = (w[0], w[1]);
                (a.y > y) != (b.y > y) && x < a.x + (y - a.y) * (b.x - a.x) / (b.y - a.y)
            })
            .count()
    };
    let polys: Vec<&geo_types::Polygon<f64>> = match g {
        Geometry::Polygon(p) => vec![p],
        Geometry::MultiPolygon(mp) => mp.0.iter().collect(),
        _ => vec![],
    };
    polys.iter().any(|p| {
        let n =
            ring_crossings(p.exterior()) + p.interiors().iter().map(ring_crossings).sum::<usize>();
        n % 2 == 1
    })
}

#[test]
fn workforce_shares_match_sampled_street_length() {
    let (snap, routing) = demo();
    let engine = routing.engine(ProfileId::Car).unwrap();
    let catchments = snap.layer(Layer::Catchments);
    let (site, minutes) = ([1.0, 49.52], 18.0);
    let wf = engine
        .workforce(catchments, site[0], site[1], minutes, Direction::To)
        .unwrap();
    let times = engine
        .travel_times(&[site], Direction::To, minutes * 60.0)
        .unwrap();
    let g = engine.graph();
    let mut street = vec![0.0f64; catchments.len()];
    let mut reached = vec![0.0f64; catchments.len()];
    for (i, s) in g.segments().iter().enumerate() {
        if !matches!(
            s.class,
            RoadClass::Primary
                | RoadClass::Secondary
                | RoadClass::Tertiary
                | RoadClass::Unclassified
                | RoadClass::Residential
                | RoadClass::LivingStreet
                | RoadClass::Road
        ) {
            continue;
        }
        let (a, b) = (g.lonlat(s.nodes[0]), g.lonlat(s.nodes[1]));
        let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        let Some(c) =
            (0..catchments.len() as u32).find(|&r| inside(catchments.geometry(r), mid[0], mid[1]))
        else {
            continue;
        };
        let len = f64::from(s.length_m);
        street[c as usize] += len;
        const K: usize = 200;
        let ok = (0..K)
            .filter(|k| {
                let frac = (*k as f64 + 0.5) / K as f64;
                let p = Snap {
                    seg: i as u32,
                    frac,
                    lonlat: a,
                    distance_m: 0.0,
                };
                times.time_at(&p).is_some()
            })
            .count();
        reached[c as usize] += len * ok as f64 / K as f64;
    }
    let by_row: HashMap<u32, f64> = wf.catchments.iter().map(|c| (c.row, c.share)).collect();
    let mut compared = 0;
    for r in 0..catchments.len() {
        if street[r] == 0.0 {
            continue;
        }
        let want = reached[r] / street[r];
        let got = by_row.get(&(r as u32)).copied().unwrap_or(0.0);
        assert!(
            (got - want).abs() < 0.01,
            "catchment row {r}: share {got}, sampled {want}"
        );
        compared += 1;
    }
    assert!(compared > 30);
    let partial = wf.catchments.iter().filter(|c| c.share < 0.99).count();
    assert!(
        partial > 0,
        "18 minutes should reach some catchments only in part"
    );
}
