//! Road snaps of living data against from-scratch oracles: after random puts, moves and
//! deletes (`LayerData::with_changes`), the engine's incrementally updated snaps equal a fresh
//! `snap_features` row by row, and drive times to features equal those on a `LayerData::build`
//! of the same features, asked of another engine (compared as sets of (feature id, seconds)).
//! Then the snaps persisted beside the layer files: a matching file is used and gives the same
//! snaps; a stale, truncated or damaged one is rebuilt and gives the right answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use geo::Translate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use terriens::index::{LayerData, Snapshot};
use terriens::model::{Feature, Layer};
use terriens::routing::{
    Direction, ProfileId, Routing, RoutingEngine, SnapKey, graph_file_name, read_snaps,
    snap_features, snap_file_path, travel_times_to_features, write_graph,
};

fn demo() -> (Snapshot, Routing) {
    let snap = terriens::store::embedded_snapshot().unwrap();
    let routing = terriens::routing::embedded_routing().unwrap();
    (snap, routing)
}

/// A random change to a layer: some puts (new features, moved or rewritten ones) and deletes,
/// sometimes of the same feature in one step.
fn random_change(layer: &LayerData, rng: &mut ChaCha8Rng, next_id: &mut u64) -> LayerData {
    let mut puts: Vec<Feature> = Vec::new();
    let mut deletes = Vec::new();
    for _ in 0..rng.random_range(1..6) {
        let row = rng.random_range(0..layer.len() as u32);
        match rng.random_range(0..4) {
            0 => {
                // A new feature: a copy of one moved by up to ~1.5 km.
                let mut f = layer.feature(row);
                f.id = *next_id;
                *next_id += 1;
                f.version = 1;
                let (dx, dy) = (rng.random_range(-0.02..0.02), rng.random_range(-0.01..0.01));
                f.geometry = f.geometry.translate(dx, dy);
                puts.push(f);
            }
            1 => {
                // A move, possibly far (across the area).
                let mut f = layer.feature(row);
                f.version += 1;
                let (dx, dy) = (rng.random_range(-0.1..0.1), rng.random_range(-0.05..0.05));
                f.geometry = f.geometry.translate(dx, dy);
                puts.push(f);
            }
            2 => deletes.push(layer.id(row)),
            _ => {
                // Put and delete of the same feature in one step: the delete wins.
                let f = layer.feature(row);
                deletes.push(f.id);
                puts.push(f);
            }
        }
    }
    layer.with_changes(puts, &deletes)
}

/// Drive times as a map of feature id → milliseconds (rounded: the two layers hold the same
/// features in other row orders, so the sums run in the same order per feature).
fn times_by_id(
    engine: &RoutingEngine,
    layer: &Arc<LayerData>,
    origin: [f64; 2],
    direction: Direction,
) -> BTreeMap<u64, u64> {
    travel_times_to_features(engine, layer, &[origin], direction, 900.0)
        .unwrap()
        .into_iter()
        .map(|(row, s)| (layer.id(row), (s * 1000.0).round() as u64))
        .collect()
}

#[test]
fn incremental_snaps_equal_a_fresh_snapping_after_random_changes() {
    let (snap, routing) = demo();
    let (_, oracle_routing) = demo();
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let origin = [1.0, 49.52];
    for kind in [Layer::WasteDeposits, Layer::Plots] {
        let engine = routing.engine(ProfileId::Car).unwrap();
        let oracle = oracle_routing.engine(ProfileId::Car).unwrap();
        let mut layer = snap.layer(kind).clone();
        engine.feature_snaps(&layer);
        let mut next_id = layer.ids().iter().max().copied().unwrap_or(0) + 1;
        for step in 0..40 {
            layer = Arc::new(random_change(&layer, &mut rng, &mut next_id));
            let got = engine.feature_snaps(&layer);
            let want = snap_features(engine, &layer);
            assert_eq!(got.len(), layer.len(), "{kind} step {step}");
            for row in 0..layer.len() {
                assert_eq!(got[row], want[row], "{kind} step {step} row {row}");
            }
            if step % 8 == 7 {
                let built = Arc::new(LayerData::build(kind, layer.features().collect()));
                for direction in [Direction::From, Direction::To] {
                    let a = times_by_id(engine, &layer, origin, direction);
                    let b = times_by_id(oracle, &built, origin, direction);
                    assert!(a.len() > 10, "{kind}: {} features reached", a.len());
                    assert_eq!(a, b, "{kind} step {step} {direction}");
                }
            }
        }
    }
}

#[test]
fn readers_of_an_older_layer_and_of_another_lineage_get_their_own_snaps() {
    let (snap, routing) = demo();
    let engine = routing.engine(ProfileId::Hgv).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let base = snap.layer(Layer::WasteDeposits).clone();
    let mut next_id = 1 << 40;
    let a = Arc::new(random_change(&base, &mut rng, &mut next_id));
    let b = Arc::new(random_change(&a, &mut rng, &mut next_id));
    let c = Arc::new(random_change(&b, &mut rng, &mut next_id));
    // A branch from `a` (not a descendant of `c`).
    let branch = Arc::new(random_change(&a, &mut rng, &mut next_id));
    for l in [&a, &b, &c, &branch, &base, &a] {
        let got = engine.feature_snaps(l);
        let want = snap_features(engine, l);
        assert!(got.iter().eq(want.iter()));
    }
}

/// A data directory with the demo's road graphs written as files, and routing loaded from it.
fn graph_dir() -> (tempfile::TempDir, Snapshot) {
    let (snap, routing) = demo();
    let dir = tempfile::tempdir().unwrap();
    for p in routing.profiles() {
        let g = routing.engine(p).unwrap().graph();
        write_graph(g, &dir.path().join(graph_file_name(p))).unwrap();
    }
    (dir, snap)
}

fn loaded(dir: &std::path::Path) -> Routing {
    Routing::load_dir(dir).unwrap().unwrap()
}

/// Every snap of every profile and layer equals a fresh snapping of a fresh engine.
fn assert_fresh(routing: &Routing, snap: &Snapshot) {
    let fresh = loaded_fresh();
    for p in routing.profiles() {
        let e = routing.engine(p).unwrap();
        let f = fresh.engine(p).unwrap();
        for layer in snap.layers() {
            let got = e.cached_snaps(layer).expect("prepared");
            assert!(
                got.iter().eq(snap_features(f, layer).iter()),
                "{p} {}",
                layer.layer()
            );
        }
    }
}

fn loaded_fresh() -> Routing {
    demo().1
}

fn prepare(
    routing: &Routing,
    dir: &std::path::Path,
    snap: &Snapshot,
) -> BTreeMap<(ProfileId, Layer), bool> {
    routing
        .prepare_from(Some(dir), snap, &|_| {})
        .into_iter()
        .map(|p| ((p.profile, p.layer), p.from_file))
        .collect()
}

#[test]
fn persisted_snaps_are_used_when_they_match_and_rebuilt_otherwise() {
    let (dir, snap) = graph_dir();
    let d = dir.path();
    // First start: nothing persisted; everything snapped, then written.
    let first = loaded(d);
    let got = prepare(&first, d, &snap);
    assert!(got.values().all(|f| !f), "{got:?}");
    let written = first.persist_snaps(d, &snap, &Layer::ALL);
    assert_eq!(written, got.len());
    // A start on the same data: every file used, the snaps those of a fresh snapping.
    let second = loaded(d);
    let got = prepare(&second, d, &snap);
    assert!(got.values().all(|f| *f), "{got:?}");
    assert_fresh(&second, &snap);
    let origin = [1.0, 49.52];
    let deposits = snap.layer(Layer::WasteDeposits);
    let fresh = loaded_fresh();
    for p in second.profiles() {
        assert_eq!(
            times_by_id(second.engine(p).unwrap(), deposits, origin, Direction::From),
            times_by_id(fresh.engine(p).unwrap(), deposits, origin, Direction::From),
        );
    }

    // The same features in another row order (as a compacted layer file loads): still used,
    // each snap put back on its feature's row.
    let mut reversed: Vec<Feature> = deposits.features().collect();
    reversed.reverse();
    let reordered = snap.with_layer(Arc::new(LayerData::build(Layer::WasteDeposits, reversed)));
    let again = loaded(d);
    let got = prepare(&again, d, &reordered);
    assert!(got.values().all(|f| *f), "{got:?}");
    assert_fresh(&again, &reordered);

    // Stale: the deposits changed (one moved) since the files were written.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut next_id = 1 << 40;
    let changed = Arc::new(random_change(deposits, &mut rng, &mut next_id));
    let stale_snap = snap.with_layer(changed.clone());
    let third = loaded(d);
    let got = prepare(&third, d, &stale_snap);
    for ((_, layer), from_file) in &got {
        assert_eq!(*from_file, *layer != Layer::WasteDeposits, "{got:?}");
    }
    assert_fresh(&third, &stale_snap);

    // Truncated, flipped bytes in the body, flipped bytes in the header: each rebuilt.
    let truncated = snap_file_path(d, ProfileId::Car, Layer::Plots);
    let len = std::fs::metadata(&truncated).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let body = snap_file_path(d, ProfileId::Hgv, Layer::WasteDeposits);
    let mut bytes = std::fs::read(&body).unwrap();
    let at = bytes.len() - 17;
    bytes[at] ^= 0x5a;
    std::fs::write(&body, &bytes).unwrap();
    let header = snap_file_path(d, ProfileId::Car, Layer::Buildings);
    let mut bytes = std::fs::read(&header).unwrap();
    bytes[40] ^= 0x01;
    std::fs::write(&header, &bytes).unwrap();
    let fourth = loaded(d);
    let got = prepare(&fourth, d, &snap);
    let bad = [
        (ProfileId::Car, Layer::Plots),
        (ProfileId::Hgv, Layer::WasteDeposits),
        (ProfileId::Car, Layer::Buildings),
    ];
    for (pair, from_file) in &got {
        assert_eq!(*from_file, !bad.contains(pair), "{pair:?}: {got:?}");
    }
    assert_fresh(&fourth, &snap);
    // Reading a damaged file directly is refused, never trusted.
    let e = fourth.engine(ProfileId::Hgv).unwrap();
    let graph_id = terriens::routing::GraphIdentity::of_file(
        &d.join(graph_file_name(ProfileId::Hgv)),
        e.graph().node_count(),
        e.graph().segment_count(),
        e.max_snap_m(),
    )
    .unwrap();
    let key = SnapKey::new(ProfileId::Hgv, graph_id, snap.layer(Layer::WasteDeposits));
    assert!(read_snaps(&body, &key, snap.layer(Layer::WasteDeposits)).is_err());
    // Rewritten, it is good again.
    fourth.persist_snaps(d, &snap, &[Layer::WasteDeposits]);
    assert!(read_snaps(&body, &key, snap.layer(Layer::WasteDeposits)).is_ok());
}
