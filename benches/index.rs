//! Index build and load time at benchmark scale: bulk-loading the R-tree and columns of
//! 1,000,000 waste deposits (points) and 200,000+ plots (polygons), and loading them from the
//! FlatGeobuf store. Fixed seed; the data comes from the demo generator at `--scale 500`.
//!
//! Run: `cargo bench --bench index` (TERRIENS_BENCH_SCALE overrides the scale).

use criterion::{Criterion, criterion_group, criterion_main};
use terriens::index::LayerData;
use terriens::model::Layer;
use terriens::store::DataDir;

fn scale() -> u32 {
    std::env::var("TERRIENS_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

fn index(c: &mut Criterion) {
    let scale = scale();
    eprintln!("generating the demo data at scale {scale} (seed 76)…");
    let snap = terriens_demo::generate_snapshot(scale, terriens_demo::DEFAULT_SEED)
        .expect("demo data is valid");
    let deposits: Vec<_> = snap.layer(Layer::WasteDeposits).features().collect();
    let plots: Vec<_> = snap.layer(Layer::Plots).features().collect();
    eprintln!("{} deposits, {} plots", deposits.len(), plots.len());

    let mut g = c.benchmark_group("index_build");
    g.sample_size(10);
    // Baseline: rstar alone bulk-loading the same envelopes, so the cost of our columns and
    // id map reads as a ratio.
    let envelopes: Vec<_> = snap
        .layer(Layer::WasteDeposits)
        .forest()
        .iter()
        .cloned()
        .collect();
    g.bench_function(
        format!("baseline_rstar_bulk_load_{}_points", envelopes.len()),
        |b| {
            b.iter_batched(
                || envelopes.clone(),
                rstar::RTree::bulk_load,
                criterion::BatchSize::LargeInput,
            )
        },
    );
    g.bench_function(format!("bulk_load_{}_points", deposits.len()), |b| {
        b.iter_batched(
            || deposits.clone(),
            |f| LayerData::build(Layer::WasteDeposits, f),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function(format!("bulk_load_{}_polygons", plots.len()), |b| {
        b.iter_batched(
            || plots.clone(),
            |f| LayerData::build(Layer::Plots, f),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();

    let dir = tempfile::tempdir().expect("temp dir");
    let store = DataDir::open(dir.path()).expect("store");
    store
        .save_layer(snap.layer(Layer::WasteDeposits))
        .expect("save");
    store.save_layer(snap.layer(Layer::Plots)).expect("save");
    let mut g = c.benchmark_group("store_load");
    g.sample_size(10);
    g.bench_function(format!("load_{}_points", deposits.len()), |b| {
        b.iter(|| store.load_layer(Layer::WasteDeposits).expect("load"))
    });
    g.bench_function(format!("load_{}_polygons", plots.len()), |b| {
        b.iter(|| store.load_layer(Layer::Plots).expect("load"))
    });
    g.finish();
}

criterion_group!(benches, index);
criterion_main!(benches);
