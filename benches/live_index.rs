//! What one change of a million-row layer costs, and what the structures that make it cheap
//! cost the reads: the demo generator at `--scale 500` (1,000,000 waste deposits; seed 76).
//!
//! Groups:
//! - `with_changes_1m`: one feature put (same place, new quantity), moved (to the other end of
//!   the territory), inserted (a new id), deleted; each from the same built layer;
//! - `get_by_id`: `LayerData::row_of` for 64 ids vs a `std::collections::HashMap` of the same
//!   ids built here (the baseline in the same command);
//! - `queries`: radius 5 km with `material=wood`, kNN k = 10, a 0.1° box, a filter scan of
//!   every row (`material=wood`) — to compare with the same bench on the previous code;
//! - `build_1m`: `LayerData::build` of the deposits (bulk path).
//!
//! The resident memory after generating the demo data is printed first (`VmRSS`).
//!
//! Run: `cargo bench --bench live_index` (TERRIENS_BENCH_SCALE overrides the scale).

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use geo_types::{Geometry, Point};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use terriens::index::{Filter, LayerData};
use terriens::model::{Access, Feature, Layer, Value};
use terriens::query::{Selector, knn, radius};

fn scale() -> u32 {
    std::env::var("TERRIENS_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn benches(c: &mut Criterion) {
    let snap = terriens_demo::generate_snapshot(scale(), terriens_demo::DEFAULT_SEED)
        .expect("demo data is valid");
    let deposits = snap.layer(Layer::WasteDeposits);
    eprintln!(
        "{} deposits; VmRSS after generation: {:.0} MiB",
        deposits.len(),
        rss_mib()
    );
    let n = deposits.len() as u32;
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let sample: Vec<u32> = (0..64).map(|_| rng.random_range(0..n)).collect();
    let quantity = deposits.schema().index_of("quantity");
    let far = deposits.feature(sample[1]).geometry;
    let one = |row: u32, moved: bool| -> Feature {
        let mut f = deposits.feature(row);
        f.version += 1;
        f.props[quantity] = Some(Value::Float(12.5));
        if moved {
            f.geometry = far.clone();
        }
        f
    };

    let mut g = c.benchmark_group("with_changes_1m");
    let put = one(sample[0], false);
    g.bench_function("put_one", |b| {
        b.iter_batched(
            || put.clone(),
            |f| deposits.with_changes([f], &[]),
            BatchSize::LargeInput,
        )
    });
    let moved = one(sample[0], true);
    g.bench_function("move_one", |b| {
        b.iter_batched(
            || moved.clone(),
            |f| deposits.with_changes([f], &[]),
            BatchSize::LargeInput,
        )
    });
    let mut new = one(sample[2], false);
    new.id = deposits.ids().iter().max().copied().unwrap_or(0) + 1;
    g.bench_function("insert_one", |b| {
        b.iter_batched(
            || new.clone(),
            |f| deposits.with_changes([f], &[]),
            BatchSize::LargeInput,
        )
    });
    let gone = [deposits.id(sample[3])];
    g.bench_function("delete_one", |b| {
        b.iter_batched(
            || (),
            |()| deposits.with_changes([], &gone),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let ids: Vec<u64> = sample.iter().map(|r| deposits.id(*r)).collect();
    let std_map: HashMap<u64, u32> = deposits
        .ids()
        .iter()
        .enumerate()
        .map(|(r, id)| (*id, r as u32))
        .collect();
    let mut g = c.benchmark_group("get_by_id");
    g.bench_function("layer_row_of_64", |b| {
        b.iter(|| {
            ids.iter()
                .filter_map(|id| deposits.row_of(*id))
                .sum::<u32>()
        })
    });
    g.bench_function("baseline_std_hashmap_64", |b| {
        b.iter(|| ids.iter().filter_map(|id| std_map.get(id)).sum::<u32>())
    });
    g.finish();

    let pairs = vec![("material".to_string(), "wood".to_string())];
    let wood = Filter::parse(Layer::WasteDeposits, &pairs, &[]).expect("filter");
    let full = snap.view(&Access::PARTNER);
    let sel = Selector::new(full.layer(Layer::WasteDeposits).filter(&wood));
    let all_rows = Filter::all(Layer::WasteDeposits);
    let all = Selector::new(full.layer(Layer::WasteDeposits).filter(&all_rows));
    let centres: Vec<Point<f64>> = sample
        .iter()
        .filter_map(|r| match deposits.geometry(*r) {
            Geometry::Point(p) => Some(*p),
            _ => None,
        })
        .collect();
    let mut i = 0usize;
    let mut next = || {
        i = (i + 1) % centres.len();
        centres[i]
    };
    let mut g = c.benchmark_group("queries");
    g.bench_function("radius_5km_wood", |b| {
        b.iter(|| black_box(radius(&sel, next(), 5_000.0).len()))
    });
    g.bench_function("knn_10", |b| {
        b.iter(|| black_box(knn(&all, next(), 10, None).len()))
    });
    g.bench_function("knn_10_wood", |b| {
        b.iter(|| black_box(knn(&sel, next(), 10, None).len()))
    });
    g.bench_function("bbox_0.1deg", |b| {
        b.iter(|| {
            let p = next();
            let bbox = [p.x() - 0.05, p.y() - 0.05, p.x() + 0.05, p.y() + 0.05];
            black_box(deposits.rows_in_envelope(bbox).count())
        })
    });
    g.sample_size(20);
    g.bench_function("filter_scan_wood_all_rows", |b| {
        b.iter(|| black_box((0..n).filter(|r| wood.matches(deposits, *r)).count()))
    });
    g.finish();

    let feats: Vec<Feature> = deposits.features().collect();
    let mut g = c.benchmark_group("build_1m");
    g.sample_size(10);
    g.bench_function("layer_data_build", |b| {
        b.iter_batched(
            || feats.clone(),
            |f| LayerData::build(Layer::WasteDeposits, f),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches_group, benches);
criterion_main!(benches_group);
