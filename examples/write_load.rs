//! Write throughput against a running server: N client threads POST waste deposits (one per
//! request, or batches) for a while and count acknowledged (fsynced, visible) writes.
//!
//! `cargo run --release --example write_load -- ADDR KEY THREADS SECONDS BATCH`
//! (`scripts/write-throughput.sh` starts a server on a fresh data directory and runs the usual
//! configurations.)

#[path = "../tests/common/wire.rs"]
mod http;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 5 {
        eprintln!("usage: write_load ADDR KEY THREADS SECONDS BATCH");
        std::process::exit(2);
    }
    let addr: SocketAddr = args[0].parse().expect("ADDR is host:port");
    let key = args[1].clone();
    let threads: usize = args[2].parse().expect("THREADS");
    let seconds: f64 = args[3].parse().expect("SECONDS");
    let batch: usize = args[4].parse().expect("BATCH");
    let requests = Arc::new(AtomicU64::new(0));
    let features = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (requests, features, errors, latencies, key) = (
                requests.clone(),
                features.clone(),
                errors.clone(),
                latencies.clone(),
                key.clone(),
            );
            std::thread::spawn(move || {
                let auth = format!("Bearer {key}");
                let mut n = 0u64;
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let feats: Vec<String> = (0..batch)
                        .map(|i| {
                            n += 1;
                            let lon = 0.05 + (t as f64 * 0.01) + (n % 1000) as f64 * 1e-5;
                            format!(
                                r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon},49.5]}},"properties":{{"name":"load t{t} n{n} i{i}","material":"wood","quantity":{n}}}}}"#
                            )
                        })
                        .collect();
                    let body = if batch == 1 {
                        feats[0].clone()
                    } else {
                        format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, feats.join(","))
                    };
                    let t0 = Instant::now();
                    match http::request(
                        addr,
                        "POST",
                        "/layers/waste_deposits/features",
                        &[("Authorization", &auth), ("Content-Type", "application/geo+json")],
                        Some(body.as_bytes()),
                    ) {
                        Ok(r) if r.status == 201 => {
                            lat.push(t0.elapsed().as_secs_f64());
                            requests.fetch_add(1, Ordering::Relaxed);
                            features.fetch_add(batch as u64, Ordering::Relaxed);
                        }
                        Ok(r) => {
                            if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("status {}: {}", r.status, r.text());
                            }
                        }
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("error: {e}");
                            }
                        }
                    }
                }
                latencies.lock().unwrap().extend(lat);
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0.0)
            * 1000.0
    };
    let r = requests.load(Ordering::Relaxed);
    let f = features.load(Ordering::Relaxed);
    println!(
        "threads={threads} batch={batch}: {:.0} acknowledged requests/s, {:.0} features/s ({r} requests in {elapsed:.1} s; latency p50 {:.1} ms, p99 {:.1} ms; {} errors)",
        r as f64 / elapsed,
        f as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        errors.load(Ordering::Relaxed)
    );
}
