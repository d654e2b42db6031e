//! Living tiles: after every write the tile engine updates its preparation from the changed
//! rows and drops only the cached tiles they touch. The oracle is a from-scratch preparation of
//! a `LayerData::build` of the same features (same rows, same order): after each step of a
//! seeded random sequence of writes (inserts, updates, moves across tile and cluster-cell
//! boundaries, deletes — of the same feature twice too —, confidential deposits toggled), the
//! tiles served through the engine (so through its cache, warmed before the write) must be
//! byte for byte those of the oracle, at clustered and unclustered zooms, for anonymous and
//! partner readers, single layers and composites. Tiles far from every change must stay cache
//! hits with the same ETag.

use std::sync::Arc;

use geo_types::{Coord, Geometry, LineString, Point, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use terriens::index::{LayerData, Snapshot};
use terriens::model::{
    Audience, BUILDING_STATUS, Feature, Layer, MATERIALS, PLOT_STATUS, Value, schema,
};
use terriens::request::Endpoint;
use terriens::tiles::{
    Encoding, LayerChange, Prepared, TileConfig, TileCoord, TileEngine, TileSet, lonlat_to_world,
    prepare, prepare_with_changes, render_tile,
};

/// Where writes happen (west) and where they never do (east, the far probes).
const WEST: [f64; 4] = [0.0, 49.3, 0.2, 49.6];
const EAST: [f64; 4] = [0.32, 49.3, 0.42, 49.6];
const ZOOMS: [u8; 6] = [2, 6, 9, 12, 14, 16];
const FAR_ZOOMS: [u8; 3] = [12, 14, 16];

fn set(props: &mut [Option<Value>], layer: Layer, field: &str, v: Value) {
    props[schema(layer).index_of(field)] = Some(v);
}

/// A polygon of `k` vertices (so that simplification has work at low zooms) of radius `r`°.
fn blob(rng: &mut ChaCha8Rng, lon: f64, lat: f64, r: f64) -> Geometry<f64> {
    let k = rng.random_range(4..14);
    let mut ring: Vec<Coord<f64>> = (0..k)
        .map(|i| {
            let a = std::f64::consts::TAU * f64::from(i) / f64::from(k);
            let rr = r * rng.random_range(0.7..1.0);
            Coord {
                x: lon + rr * a.cos(),
                y: lat + rr * a.sin() * 0.66,
            }
        })
        .collect();
    ring.push(ring[0]);
    Geometry::Polygon(Polygon::new(LineString(ring), vec![]))
}

fn place(rng: &mut ChaCha8Rng, area: [f64; 4]) -> (f64, f64) {
    (
        rng.random_range(area[0]..area[2]),
        rng.random_range(area[1]..area[3]),
    )
}

/// A random feature of `layer` with id `id` around (lon, lat).
fn feature(rng: &mut ChaCha8Rng, layer: Layer, id: u64, lon: f64, lat: f64) -> Feature {
    let mut props = vec![None; schema(layer).fields.len()];
    let r = [0.000_05, 0.000_5, 0.003, 0.02][rng.random_range(0..4)];
    let geometry = match layer {
        Layer::Plots => {
            let s = PLOT_STATUS[rng.random_range(0..PLOT_STATUS.len())];
            set(&mut props, layer, "status", Value::Text(s.into()));
            let a = rng.random_range(0.1..40.0);
            set(&mut props, layer, "area_ha", Value::Float(a));
            if rng.random_bool(0.7) {
                blob(rng, lon, lat, r)
            } else {
                Geometry::Point(Point::new(lon, lat))
            }
        }
        Layer::Buildings => {
            let s = BUILDING_STATUS[rng.random_range(0..BUILDING_STATUS.len())];
            set(&mut props, layer, "status", Value::Text(s.into()));
            let a = rng.random_range(50.0..20_000.0);
            set(&mut props, layer, "floor_area_m2", Value::Float(a));
            blob(rng, lon, lat, r.min(0.003))
        }
        _ => {
            let m = MATERIALS[rng.random_range(0..4)];
            set(&mut props, layer, "material", Value::Text(m.into()));
            let q = rng.random_range(0.5..500.0);
            set(&mut props, layer, "quantity", Value::Float(q));
            let c = if rng.random_bool(0.2) {
                "partners"
            } else {
                "public"
            };
            set(&mut props, layer, "confidentiality", Value::Text(c.into()));
            Geometry::Point(Point::new(lon, lat))
        }
    };
    Feature {
        id,
        version: 1,
        geometry,
        props,
        extra: Default::default(),
    }
}

const LAYERS: [Layer; 3] = [Layer::Plots, Layer::Buildings, Layer::WasteDeposits];

fn tile_at(z: u8, lon: f64, lat: f64) -> TileCoord {
    let [x, y] = lonlat_to_world(lon, lat);
    let n = f64::from(1u32 << z);
    TileCoord {
        z,
        x: ((x * n) as u32).min((1 << z) - 1),
        y: ((y * n) as u32).min((1 << z) - 1),
    }
}

/// A representative point of a geometry (its first coordinate).
fn point_of(g: &Geometry<f64>) -> (f64, f64) {
    match g {
        Geometry::Point(p) => (p.x(), p.y()),
        Geometry::Polygon(p) => (p.exterior().0[0].x, p.exterior().0[0].y),
        _ => (0.0, 0.0),
    }
}

/// The same features, built from scratch (rows in the same order).
fn rebuilt(snap: &Snapshot) -> Snapshot {
    Snapshot::new(
        snap.generation,
        LAYERS.map(|l| LayerData::build(l, snap.layer(l).features().collect())),
    )
}

fn tile_sets() -> Vec<TileSet> {
    vec![
        TileSet::new(&LAYERS, Audience::Public),
        TileSet::new(&LAYERS, Audience::Full),
        TileSet::new(&[Layer::WasteDeposits], Audience::Public),
        TileSet::new(&[Layer::WasteDeposits], Audience::Full),
        TileSet::new(&[Layer::Plots, Layer::Buildings], Audience::Public),
        // A filter: clusters are aggregated per request from the cells' members.
        TileSet::parse(
            "waste_deposits,plots",
            &[("material".to_string(), "wood,concrete".to_string())],
            &Endpoint::Tiles.reserved(),
            Audience::Full,
        )
        .expect("a valid filter"),
    ]
}

/// One write: puts and deletes on one layer, and the points it touches (old and new).
struct Write {
    layer: Layer,
    puts: Vec<Feature>,
    deletes: Vec<u64>,
    touched: Vec<(f64, f64)>,
}

fn random_write(
    rng: &mut ChaCha8Rng,
    snap: &Snapshot,
    next_id: &mut u64,
    deleted: &mut Vec<u64>,
) -> Write {
    let layer = LAYERS[rng.random_range(0..3)];
    let data = snap.layer(layer);
    let mut w = Write {
        layer,
        puts: Vec::new(),
        deletes: Vec::new(),
        touched: Vec::new(),
    };
    for _ in 0..rng.random_range(1..5) {
        let pick = (!data.is_empty()).then(|| rng.random_range(0..data.len()) as u32);
        let old = pick.map(|r| data.feature(r)).filter(|f| {
            let (lon, _) = point_of(&f.geometry);
            lon < WEST[2] + 0.01
        });
        match (rng.random_range(0..5), old) {
            (0, _) | (_, None) => {
                let (lon, lat) = place(rng, WEST);
                *next_id += 1;
                w.puts.push(feature(rng, layer, *next_id, lon, lat));
                w.touched.push((lon, lat));
            }
            (1, Some(f)) => {
                // Update in place: new attributes (for deposits, maybe confidentiality).
                let (lon, lat) = point_of(&f.geometry);
                let mut g = feature(rng, layer, f.id, lon, lat);
                g.geometry = f.geometry.clone();
                w.touched.push((lon, lat));
                w.puts.push(g);
            }
            (2, Some(f)) => {
                // A small move: across cluster cells and deep tiles.
                let (lon, lat) = point_of(&f.geometry);
                let (dx, dy) = (rng.random_range(-0.01..0.01), rng.random_range(-0.01..0.01));
                let (nl, nt) = ((lon + dx).clamp(WEST[0], WEST[2]), lat + dy);
                let mut g = feature(rng, layer, f.id, nl, nt);
                g.props = f.props.clone();
                w.touched.extend([(lon, lat), (nl, nt)]);
                w.puts.push(g);
            }
            (3, Some(f)) => {
                // A jump anywhere in the west.
                let (lon, lat) = point_of(&f.geometry);
                let (nl, nt) = place(rng, WEST);
                w.touched.extend([(lon, lat), (nl, nt)]);
                w.puts.push(feature(rng, layer, f.id, nl, nt));
            }
            (_, Some(f)) => {
                // A delete, listed twice; and, now and then, of an id already gone.
                w.touched.push(point_of(&f.geometry));
                w.deletes.extend([f.id, f.id]);
                if let Some(again) = deleted.last() {
                    w.deletes.push(*again);
                }
                deleted.push(f.id);
            }
        }
    }
    w
}

fn probes(rng: &mut ChaCha8Rng, touched: &[(f64, f64)]) -> (Vec<TileCoord>, Vec<TileCoord>) {
    let mut near = Vec::new();
    for &(lon, lat) in touched {
        for z in ZOOMS {
            near.push(tile_at(z, lon, lat));
        }
    }
    for z in ZOOMS {
        let (lon, lat) = place(rng, WEST);
        near.push(tile_at(z, lon, lat));
    }
    let mut far = Vec::new();
    for z in FAR_ZOOMS {
        for _ in 0..3 {
            let (lon, lat) = place(rng, EAST);
            far.push(tile_at(z, lon, lat));
        }
    }
    near.sort_by_key(|t| (t.z, t.x, t.y));
    near.dedup();
    far.sort_by_key(|t| (t.z, t.x, t.y));
    far.dedup();
    (near, far)
}

fn initial(rng: &mut ChaCha8Rng) -> Snapshot {
    let mut layers = Vec::new();
    for (i, layer) in LAYERS.into_iter().enumerate() {
        let n = [160, 80, 240][i];
        let feats = (0..n)
            .map(|k| {
                let area = if k % 3 == 0 { EAST } else { WEST };
                let (lon, lat) = place(rng, area);
                feature(rng, layer, (i as u64 + 1) * 10_000 + k, lon, lat)
            })
            .collect();
        layers.push(LayerData::build(layer, feats));
    }
    Snapshot::new(1, layers)
}

fn globals(p: &Prepared) -> Vec<(bool, Option<u8>, Option<u8>)> {
    LAYERS
        .map(|l| {
            let pl = p.layer(l);
            (
                pl.has_confidential,
                pl.complete_from,
                pl.complete_from_public,
            )
        })
        .to_vec()
}

#[test]
fn incremental_tiles_and_cache_match_a_rebuild_after_every_write() {
    let (hits, compared, updated) = live_sequence(TileConfig::default(), 12);
    assert!(
        updated > 100,
        "{updated} writes dropped only the tiles they touch"
    );
    assert!(hits > 1500, "{hits} far hits checked");
    assert!(compared > 8000, "{compared} tiles compared");
}

/// A small tile budget: tiles leave features out, and the zoom from which each layer fits
/// moves with the writes (kept per zoom, updated, compared with the rebuild's).
#[test]
fn with_a_tight_budget_too() {
    let cfg = TileConfig {
        budget_bytes: 3_000,
        ..TileConfig::default()
    };
    let (_, compared, _) = live_sequence(cfg, 7);
    assert!(compared > 8000, "{compared} tiles compared");
}

/// Runs 150 writes; returns how many far tiles were checked as hits, how many tiles were
/// compared with the rebuild, and how many writes dropped only the tiles they touch.
fn live_sequence(cfg: TileConfig, seed: u64) -> (usize, usize, usize) {
    let engine = TileEngine::new(cfg.clone());
    let sets = tile_sets();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut snap = initial(&mut rng);
    let mut next_id = 500_000;
    let mut deleted = Vec::new();
    let mut prepared = engine.prepared(&snap);
    let (mut hits_checked, mut near_checked, mut updated) = (0, 0, 0);
    for step in 0..150 {
        let w = random_write(&mut rng, &snap, &mut next_id, &mut deleted);
        let (near, far) = probes(&mut rng, &w.touched);
        // Warm the cache with every probe, from the current preparation.
        let mut etags = Vec::new();
        for set in &sets {
            for t in near.iter().chain(&far) {
                let tile = engine
                    .tile(&prepared, set, *t, Encoding::Identity)
                    .expect("renders");
                etags.push(TileEngine::etag(&tile, Encoding::Identity));
            }
        }
        let before = engine.cache().stats();
        let data = snap.layer(w.layer).with_changes(w.puts, &w.deletes);
        let old = Arc::clone(&prepared);
        snap = snap.with_layer(Arc::new(data));
        prepared = engine.prepared(&snap);
        // The engine updated the layer from the changed rows (not a full preparation).
        let (_, changes) = prepare_with_changes(&snap, Some(&old), &cfg);
        match &changes[w.layer.index()] {
            LayerChange::Rows(_) => updated += 1,
            LayerChange::Everything => {}
            LayerChange::Same => panic!("step {step}: the layer changed"),
        }
        let fresh = prepare(&rebuilt(&snap), None, &cfg);
        assert_eq!(globals(&prepared), globals(&fresh), "step {step}");
        let same_globals = globals(&old) == globals(&prepared);
        // A request still on the old preparation renders a touched tile after the write:
        // what it caches must not be served.
        for set in &sets {
            for t in &near {
                let _ = engine.tile(&old, set, *t, Encoding::Identity);
            }
        }
        let mut i = 0;
        for set in &sets {
            for t in near.iter().chain(&far) {
                let is_far = far.contains(t);
                let cached = engine.cached(set, *t, Encoding::Identity);
                if is_far && same_globals {
                    let hit = cached.as_ref().expect("untouched tile stays cached");
                    assert_eq!(
                        TileEngine::etag(hit, Encoding::Identity),
                        etags[i],
                        "step {step} {t:?}"
                    );
                    hits_checked += 1;
                }
                let want = render_tile(&fresh, set, *t, &cfg).bytes;
                if let Some(c) = cached {
                    let c = c.body.as_ref();
                    assert!(
                        c == &want[..],
                        "cached, step {step} {t:?} {}",
                        set.canonical()
                    );
                }
                let got = engine
                    .tile(&prepared, set, *t, Encoding::Identity)
                    .expect("renders");
                let g = got.body.as_ref();
                assert!(g == &want[..], "step {step} {t:?} {}", set.canonical());
                let gz = engine
                    .tile(&prepared, set, *t, Encoding::Gzip)
                    .expect("renders");
                assert_eq!(gz.hash, got.hash);
                near_checked += 1;
                i += 1;
            }
        }
        let after = engine.cache().stats();
        if same_globals {
            assert!(after.hits - before.hits >= (far.len() * sets.len()) as u64);
        }
    }
    (hits_checked, near_checked, updated)
}
