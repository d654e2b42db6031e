//! Times polygon validation: geo's quadratic `Validation` against terriens' O(n log n) check
//! (same verdicts), on regular polygons of 10k, 30k, 100k and 1M vertices, valid and with one
//! crossing. geo's check is timed up to 30k vertices only (68 s at 100k).
//!
//! `cargo run --release --example polygon_validation`

use std::time::Instant;

use geo::Validation;
use geo_types::{LineString, Polygon};
use terriens::ingest::validity::polygon_problem;

fn ring(n: usize, cross: bool) -> Polygon<f64> {
    let mut pts: Vec<(f64, f64)> = (0..n)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / n as f64;
            (0.1 + 0.05 * a.cos(), 49.5 + 0.03 * a.sin())
        })
        .collect();
    if cross {
        pts.swap(10, n / 2);
    }
    pts.push(pts[0]);
    Polygon::new(LineString::from(pts), vec![])
}

fn main() {
    for n in [10_000, 30_000, 100_000, 1_000_000] {
        for cross in [false, true] {
            let p = ring(n, cross);
            let t = Instant::now();
            let fast = polygon_problem(&p).map(|e| e.map(|e| e.to_string()));
            let fast_s = t.elapsed().as_secs_f64();
            let old = (n <= 30_000).then(|| {
                let t = Instant::now();
                let v = p.validation_errors().first().map(ToString::to_string);
                (v, t.elapsed().as_secs_f64())
            });
            let old_txt = old.as_ref().map_or("not run".to_string(), |(v, s)| {
                format!("{s:.3} s ({})", v.as_deref().unwrap_or("valid"))
            });
            let same = old.as_ref().is_none_or(|(v, _)| Ok(v.clone()) == fast);
            println!(
                "{n:>9} vertices, crossed {cross:5}: terriens {fast_s:.4} s ({:?}), geo {old_txt}, same verdict: {same}",
                fast.as_ref().map(|e| e.as_deref().unwrap_or("valid"))
            );
        }
    }
}
