//! Tile generation on the `--scale` data size (1M waste deposits, 200k plots, 40k buildings;
//! synthetic, fixed seed): cold tiles (rendered, cache bypassed) at zooms 6, 10 and 14 with
//! p50/p99 and sizes over many tiles, and the same for a baseline in the same run — the
//! R-tree query of the tile box alone — so figures can be read as ratios.
//!
//! `cargo bench --bench tiles` (set TERRIENS_BENCH_SCALE=small for a quick run;
//! TERRIENS_BENCH_WRITE_DATA=DIR also writes the data as a data directory for
//! `scripts/load-tiles.sh`).

#[path = "../tests/common/world.rs"]
mod world;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use terriens::model::{Audience, Layer};
use terriens::tiles::{TileConfig, TileCoord, TileEngine, TileSet, lonlat_to_world, render_tile};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn bench(c: &mut Criterion) {
    let counts = if std::env::var("TERRIENS_BENCH_SCALE").as_deref() == Ok("small") {
        world::Counts::SMALL
    } else {
        world::Counts::LARGE
    };
    let t0 = Instant::now();
    let snap = world::world(76, counts);
    let built = t0.elapsed();
    if let Ok(dir) = std::env::var("TERRIENS_BENCH_WRITE_DATA") {
        // For scripts/load-tiles.sh until `terriens-fixtures --scale` writes this size.
        let dir = terriens::store::DataDir::open(&dir).expect("data dir");
        for l in Layer::ALL {
            dir.save_layer(snap.layer(l)).expect("write layer");
        }
        println!("wrote the bench data to {}", dir.path().display());
    }
    let cfg = TileConfig::default();
    let engine = TileEngine::new(cfg.clone());
    let t1 = Instant::now();
    let prepared = engine.prepared(&snap);
    let prep = t1.elapsed();
    println!(
        "data: {} plots, {} buildings, {} waste deposits; built in {:.1} s, tiles prepared in {:.1} s",
        snap.layer(Layer::Plots).len(),
        snap.layer(Layer::Buildings).len(),
        snap.layer(Layer::WasteDeposits).len(),
        built.as_secs_f64(),
        prep.as_secs_f64()
    );
    let all = TileSet::new(&Layer::ALL, Audience::Full);

    // Tiles where the data is: those holding randomly drawn waste deposits.
    let deposits = snap.layer(Layer::WasteDeposits);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let anchors: Vec<[f64; 2]> = (0..400)
        .map(|_| {
            let row = rng.random_range(0..deposits.len() as u32);
            let r = geo::BoundingRect::bounding_rect(deposits.geometry(row)).expect("point");
            lonlat_to_world(r.min().x, r.min().y)
        })
        .collect();
    for z in [6u8, 10, 14] {
        let n = f64::from(1u32 << z);
        let mut tiles: Vec<TileCoord> = anchors
            .iter()
            .map(|a| TileCoord {
                z,
                x: (a[0] * n) as u32,
                y: (a[1] * n) as u32,
            })
            .collect();
        tiles.sort();
        tiles.dedup();
        let mut times = Vec::new();
        let mut base_times = Vec::new();
        let mut sizes = Vec::new();
        let mut left_out = 0;
        // Repeat small sets of tiles so percentiles rest on at least 200 renders.
        let rounds = (200 / tiles.len()).max(1);
        for _ in 0..rounds {
            for t in &tiles {
                let s = Instant::now();
                let r = render_tile(&prepared, &all, *t, &cfg);
                times.push(s.elapsed());
                sizes.push(r.bytes.len());
                left_out += r.left_out;
                // Baseline: the R-tree query of the buffered box in every layer, nothing else.
                let s = Instant::now();
                let mut k = 0usize;
                for l in Layer::ALL {
                    k += snap
                        .layer(l)
                        .rows_in_envelope(t.lonlat_bounds(64.0, 4096.0))
                        .count();
                }
                black_box(k);
                base_times.push(s.elapsed());
            }
        }
        times.sort();
        base_times.sort();
        sizes.sort();
        let p50 = percentile(&times, 0.5);
        let b50 = percentile(&base_times, 0.5);
        println!(
            "cold z{z:<2} all layers over {} tiles x{rounds}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; \
             size p50 {} B, max {} B; left out {left_out}; baseline (R-tree query only) p50 {:.3} ms; ratio p50/baseline {:.1}",
            tiles.len(),
            p50.as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
            sizes[sizes.len() / 2],
            sizes.last().copied().unwrap_or(0),
            b50.as_secs_f64() * 1e3,
            p50.as_secs_f64() / b50.as_secs_f64().max(1e-9),
        );
        // The busiest tile of the zoom, under criterion.
        let busiest = *tiles
            .iter()
            .max_by_key(|t| render_tile(&prepared, &all, **t, &cfg).bytes.len())
            .expect("a tile");
        let per_layer: Vec<String> = Layer::ALL
            .iter()
            .map(|l| {
                let one = TileSet::new(&[*l], Audience::Full);
                let s = Instant::now();
                let r = render_tile(&prepared, &one, busiest, &cfg);
                format!(
                    "{l} {:.2} ms {} B ({} features)",
                    s.elapsed().as_secs_f64() * 1e3,
                    r.bytes.len(),
                    r.features
                )
            })
            .collect();
        println!(
            "busiest z{z} tile {busiest} by layer: {}",
            per_layer.join("; ")
        );
        c.bench_function(&format!("cold tile z{z} busiest ({busiest})"), |b| {
            b.iter(|| black_box(render_tile(&prepared, &all, busiest, &cfg)))
        });
    }
    // Warm: the cache path the server takes for a repeated tile.
    let t = TileCoord {
        z: 14,
        x: (anchors[0][0] * 16384.0) as u32,
        y: (anchors[0][1] * 16384.0) as u32,
    };
    let enc = terriens::tiles::Encoding::Gzip;
    let _ = engine.tile(&prepared, &all, t, enc);
    c.bench_function("warm tile z14 (cache hit, gzip)", |b| {
        b.iter(|| black_box(engine.cached(&all, t, enc)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
