//! Search hot paths at benchmark scale: the demo generator at `--scale 500` (1,000,000 waste
//! deposits, 201,100 plots, 200,000 buildings; seed 76). Query centres are 64 deposits drawn
//! with a fixed seed, so every query lands where the data is.
//!
//! Groups (each with a baseline run in the same command, to read the figures as ratios):
//! - `radius`: 5 km around a deposit with `material=wood` — R-tree + Andoyer–Lambert (the
//!   engine) vs R-tree + Karney for every candidate vs a linear scan of all deposits;
//!   and the full search (sort, page of 50) at the radius that gives ~50 results;
//! - `knn`: k = 10 nearest deposits, unfiltered and with `material=wood`, vs rstar's planar
//!   nearest-neighbour iterator (not geodesic, so only a speed reference);
//! - `site_search`: plots and buildings within 10 km, 1–20 ha, available, flood zones excluded,
//!   largest first, page of 20;
//! - `near_waste`: sites within 5 km of a centre with ≥ 1,000 t of wood or plastic within 1 km.
//!
//! After criterion, a latency table (p50, p99 over single queries) is printed.
//!
//! Run: `cargo bench --bench search` (TERRIENS_BENCH_SCALE overrides the scale).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use geo_types::{Geometry, Point};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use terriens::geo_util::{andoyer_distance_m, geodesic_distance_m};
use terriens::index::{Filter, Snapshot};
use terriens::model::{Access, Layer};
use terriens::query::{
    LayerQuery, NearWasteQuery, PageRequest, Scope, Selector, SiteFilter, SiteQuery, SiteSort,
    WasteSort, knn, near_waste, radius, search, site_search,
};

fn scale() -> u32 {
    std::env::var("TERRIENS_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

struct World {
    snap: Snapshot,
    centres: Vec<Point<f64>>,
    wood: Filter,
    /// Radius (m) at which `material=wood` gives ~50 results on average.
    r50: f64,
}

fn world() -> World {
    let scale = scale();
    eprintln!("generating the demo data at scale {scale} (seed 76)…");
    let t = Instant::now();
    let snap = terriens_demo::generate_snapshot(scale, terriens_demo::DEFAULT_SEED)
        .expect("demo data is valid");
    eprintln!(
        "{} deposits, {} plots, {} buildings in {:.1} s",
        snap.layer(Layer::WasteDeposits).len(),
        snap.layer(Layer::Plots).len(),
        snap.layer(Layer::Buildings).len(),
        t.elapsed().as_secs_f64()
    );
    let deposits = snap.layer(Layer::WasteDeposits);
    let full = snap.view(&Access::PARTNER);
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let centres: Vec<Point<f64>> = (0..64)
        .filter_map(
            |_| match deposits.geometry(rng.random_range(0..deposits.len() as u32)) {
                Geometry::Point(p) => Some(*p),
                _ => None,
            },
        )
        .collect();
    let wood =
        Filter::parse(Layer::WasteDeposits, &pairs(&[("material", "wood")]), &[]).expect("filter");
    // Bisect the radius that gives ~50 wood deposits on average.
    let mean_count = |r: f64| -> f64 {
        let sel = Selector::new(full.layer(Layer::WasteDeposits).filter(&wood));
        centres
            .iter()
            .map(|c| radius(&sel, *c, r).len())
            .sum::<usize>() as f64
            / centres.len() as f64
    };
    let (mut lo, mut hi): (f64, f64) = (10.0, 20_000.0);
    for _ in 0..30 {
        let mid: f64 = (lo * hi).sqrt();
        if mean_count(mid) < 50.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let r50 = (lo + hi) / 2.0;
    eprintln!(
        "radius 5 km + wood: {:.0} results on average; ~50 results at {r50:.0} m",
        mean_count(5_000.0)
    );
    World {
        snap,
        centres,
        wood,
        r50,
    }
}

fn layer_query(w: &World, c: Point<f64>, radius_m: f64, limit: usize) -> LayerQuery {
    LayerQuery {
        layer: Layer::WasteDeposits,
        scope: Scope::Radius {
            centre: c,
            radius_m,
        },
        filter: w.wood.clone(),
        origin: None,
        sort: Vec::new(),
        page: PageRequest::first(limit),
    }
}

fn site_query(c: Point<f64>) -> SiteQuery {
    SiteQuery {
        sites: SiteFilter::parse(
            &pairs(&[
                ("area_ha", "1..20"),
                ("status", "available"),
                ("exclude", "flood_zone"),
            ]),
            &[],
        )
        .expect("site filter"),
        scope: Scope::Radius {
            centre: c,
            radius_m: 10_000.0,
        },
        origin: None,
        sort: SiteSort::Area { desc: true },
        page: PageRequest::first(20),
    }
}

fn waste_query(c: Point<f64>) -> NearWasteQuery {
    let materials = vec!["wood", "plastic"];
    NearWasteQuery {
        sites: SiteFilter::all(),
        scope: Scope::Radius {
            centre: c,
            radius_m: 5_000.0,
        },
        deposits: Filter::parse(
            Layer::WasteDeposits,
            &pairs(&[("material", "wood,plastic")]),
            &[],
        )
        .expect("filter"),
        unit: "t",
        materials,
        within_m: 1_000.0,
        min_total: 1_000.0,
        sort: WasteSort::Total,
        deposits_limit: 20,
        page: PageRequest::first(20),
    }
}

fn benches(c: &mut Criterion) {
    let w = world();
    let deposits = w.snap.layer(Layer::WasteDeposits);
    let full = w.snap.view(&Access::PARTNER);
    let sel = Selector::new(full.layer(Layer::WasteDeposits).filter(&w.wood));
    let material = deposits.schema().index_of("material");
    let mut i = 0usize;
    let mut next = |n: usize| {
        i = (i + 1) % n;
        i
    };

    let mut g = c.benchmark_group("radius");
    g.bench_function("5km_wood/engine_andoyer", |b| {
        b.iter(|| black_box(radius(&sel, w.centres[next(64)], 5_000.0).len()))
    });
    g.bench_function("5km_wood/baseline_rtree_karney", |b| {
        b.iter(|| {
            let c = w.centres[next(64)];
            let env = terriens::geo_util::radius_envelope(c.x(), c.y(), 5_000.0);
            let n = deposits
                .rows_in_envelope(env)
                .filter(|r| w.wood.matches(deposits, *r))
                .filter(|r| match deposits.geometry(*r) {
                    Geometry::Point(p) => geodesic_distance_m(c, *p) <= 5_000.0,
                    _ => false,
                })
                .count();
            black_box(n)
        })
    });
    g.sample_size(10);
    g.bench_function("5km_wood/baseline_linear_scan_andoyer", |b| {
        b.iter(|| {
            let c = w.centres[next(64)];
            let n = (0..deposits.len() as u32)
                .filter(|r| {
                    matches!(
                        deposits.value(*r, material),
                        Some(terriens::index::ValueRef::Text("wood"))
                    )
                })
                .filter(|r| match deposits.geometry(*r) {
                    Geometry::Point(p) => andoyer_distance_m(c, *p) <= 5_000.0,
                    _ => false,
                })
                .count();
            black_box(n)
        })
    });
    g.sample_size(100);
    g.bench_function("search_50_results_page_50", |b| {
        b.iter(|| {
            let q = layer_query(&w, w.centres[next(64)], w.r50, 50);
            black_box(search(&w.snap.view(&Access::PARTNER), &q, None).map(|p| p.items.len()))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("knn");
    let all = Filter::all(Layer::WasteDeposits);
    let sel_all = Selector::new(full.layer(Layer::WasteDeposits).filter(&all));
    g.bench_function("k10/engine", |b| {
        b.iter(|| black_box(knn(&sel_all, w.centres[next(64)], 10, None).len()))
    });
    g.bench_function("k10_wood/engine", |b| {
        b.iter(|| black_box(knn(&sel, w.centres[next(64)], 10, None).len()))
    });
    // One rstar tree of the same entries (the layer's index is a forest of them).
    let planar = rstar::RTree::bulk_load(deposits.forest().iter().cloned().collect());
    g.bench_function("k10/baseline_rstar_planar", |b| {
        b.iter(|| {
            let c = w.centres[next(64)];
            black_box(
                planar
                    .nearest_neighbor_iter(&[c.x(), c.y()])
                    .take(10)
                    .count(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("site_search");
    g.bench_function("10km_1-20ha_available_no_flood_top20", |b| {
        b.iter(|| {
            black_box(
                site_search(
                    &w.snap.view(&Access::PARTNER),
                    &site_query(w.centres[next(64)]),
                    None,
                )
                .map(|p| p.matched),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("near_waste");
    g.sample_size(20);
    g.bench_function("sites_5km_wood_plastic_1km_min1000t", |b| {
        b.iter(|| {
            black_box(
                near_waste(
                    &w.snap.view(&Access::PARTNER),
                    &waste_query(w.centres[next(64)]),
                    None,
                    None,
                )
                .map(|p| p.matched),
            )
        })
    });
    g.finish();

    latency_table(&w);
}

/// CPU time of this thread, µs: unlike wall time, not inflated when other processes share
/// the cores.
fn thread_cpu_us() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own; CLOCK_THREAD_CPUTIME_ID is
    // supported on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e6 + ts.tv_nsec as f64 / 1e3
}

/// p50 and p99 of single queries, wall and CPU time (criterion reports means of batches).
fn latency_table(w: &World) {
    let full = w.snap.view(&Access::PARTNER);
    let sel = Selector::new(full.layer(Layer::WasteDeposits).filter(&w.wood));
    let all = Filter::all(Layer::WasteDeposits);
    let sel_all = Selector::new(full.layer(Layer::WasteDeposits).filter(&all));
    type Row = (String, Vec<f64>, Vec<f64>, f64);
    let mut rows: Vec<Row> = Vec::new();
    let mut run = |name: &str, n: usize, f: &mut dyn FnMut(Point<f64>) -> usize| {
        let mut wall = Vec::with_capacity(n);
        let mut cpu = Vec::with_capacity(n);
        let mut results = 0;
        for k in 0..n {
            let c = w.centres[k % w.centres.len()];
            let (start, cpu0) = (Instant::now(), thread_cpu_us());
            results += black_box(f(c));
            cpu.push(thread_cpu_us() - cpu0);
            wall.push(start.elapsed().as_secs_f64() * 1e6);
        }
        wall.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        rows.push((name.to_string(), wall, cpu, results as f64 / n as f64));
    };
    run(
        &format!("radius core, wood, {:.0} m (~50 results)", w.r50),
        5_000,
        &mut |c| radius(&sel, c, w.r50).len(),
    );
    run(
        &format!("search(): radius {:.0} m, sort, page 50", w.r50),
        5_000,
        &mut |c| {
            search(
                &w.snap.view(&Access::PARTNER),
                &layer_query(w, c, w.r50, 50),
                None,
            )
            .map_or(0, |p| p.items.len())
        },
    );
    run("radius core, wood, 5 km", 2_000, &mut |c| {
        radius(&sel, c, 5_000.0).len()
    });
    run("knn k=10", 5_000, &mut |c| knn(&sel_all, c, 10, None).len());
    run("knn k=10, wood", 5_000, &mut |c| {
        knn(&sel, c, 10, None).len()
    });
    run("site search 10 km, top 20", 500, &mut |c| {
        site_search(&w.snap.view(&Access::PARTNER), &site_query(c), None).map_or(0, |p| p.matched)
    });
    run("near-waste join, sites within 5 km", 100, &mut |c| {
        near_waste(&w.snap.view(&Access::PARTNER), &waste_query(c), None, None)
            .map_or(0, |p| p.matched)
    });
    println!("\nlatency of single queries (µs), scale {}:", scale());
    println!(
        "{:<46} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "query", "wall p50", "wall p99", "cpu p50", "cpu p99", "results"
    );
    for (name, wall, cpu, mean) in rows {
        let p = |t: &[f64], q: f64| t[((t.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "{name:<46} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {mean:>9.1}",
            p(&wall, 0.5),
            p(&wall, 0.99),
            p(&cpu, 0.5),
            p(&cpu, 0.99)
        );
    }
}

criterion_group!(search_benches, benches);
criterion_main!(search_benches);
