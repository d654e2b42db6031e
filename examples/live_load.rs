//! The client side of `scripts/live-bench.sh`: reads measured while writes land.
//!
//! ```text
//! live_load tiles ADDR PATHS SECONDS THREADS [WRITES_PER_S KEY BBOX]
//!     GET the tile paths of file PATHS round-robin from THREADS clients for SECONDS; with
//!     WRITES_PER_S > 0 a paced writer POSTs that many waste deposits per second at random
//!     points of BBOX (w,s,e,n) meanwhile. Prints tiles/s, p50, p99, writes/s.
//! live_load drive ADDR KEY PATH N BBOX
//!     GET the drive-time search PATH N times (steady state), then N times right after an
//!     acknowledged write of one deposit in BBOX. Prints p50/p99 of both and their ratio.
//! ```
//!
//! One connection per request (the blocking client of the tests): both arms of a comparison
//! pay the same connection cost, so ratios hold.

#[path = "../tests/common/wire.rs"]
mod http;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("tiles") if args.len() == 5 || args.len() == 8 => tiles(&args[1..]),
        Some("drive") if args.len() == 6 => drive(&args[1..]),
        _ => {
            eprintln!(
                "usage: live_load tiles ADDR PATHS SECONDS THREADS [WRITES_PER_S KEY BBOX]\n       live_load drive ADDR KEY PATH N BBOX"
            );
            std::process::exit(2);
        }
    }
}

/// Milliseconds at a percentile of sorted seconds.
fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).copied().unwrap_or(0.0) * 1000.0
}

fn bbox(s: &str) -> [f64; 4] {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.parse().expect("BBOX is w,s,e,n"))
        .collect();
    [v[0], v[1], v[2], v[3]]
}

/// A small xorshift: positions of the written deposits.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// POSTs one deposit at a random point of `b`; whether it was acknowledged.
fn write_one(addr: SocketAddr, auth: &str, b: [f64; 4], rng: &mut Rng, n: u64) -> bool {
    let lon = b[0] + (b[2] - b[0]) * rng.unit();
    let lat = b[1] + (b[3] - b[1]) * rng.unit();
    let body = format!(
        r#"{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{"name":"live bench {n}","material":"wood","quantity":{n}}}}}"#
    );
    http::request(
        addr,
        "POST",
        "/layers/waste_deposits/features",
        &[
            ("Authorization", auth),
            ("Content-Type", "application/geo+json"),
        ],
        Some(body.as_bytes()),
    )
    .is_ok_and(|r| r.status == 201)
}

fn get(addr: SocketAddr, path: &str) -> Option<u16> {
    http::request(addr, "GET", path, &[("Accept-Encoding", "gzip")], None)
        .ok()
        .map(|r| r.status)
}

fn tiles(a: &[String]) {
    let addr: SocketAddr = a[0].parse().expect("ADDR is host:port");
    let paths: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(&a[1])
            .expect("PATHS file")
            .lines()
            .map(str::to_string)
            .collect(),
    );
    let seconds: f64 = a[2].parse().expect("SECONDS");
    let threads: usize = a[3].parse().expect("THREADS");
    let rate: f64 = a.get(4).map_or(0.0, |r| r.parse().expect("WRITES_PER_S"));
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = (rate > 0.0).then(|| {
        let (stop, writes) = (stop.clone(), writes.clone());
        let auth = format!("Bearer {}", a[5]);
        let b = bbox(&a[6]);
        std::thread::spawn(move || {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let start = Instant::now();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let due = start + Duration::from_secs_f64(n as f64 / rate);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                n += 1;
                if write_one(addr, &auth, b, &mut rng, n) {
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    });
    let lat = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let clients: Vec<_> = (0..threads)
        .map(|t| {
            let (paths, lat, errors) = (paths.clone(), lat.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                let mut i = t;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    match get(addr, &paths[i % paths.len()]) {
                        Some(200 | 204) => mine.push(t0.elapsed().as_secs_f64()),
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += threads;
                }
                lat.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for c in clients {
        let _ = c.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if let Some(w) = writer {
        let _ = w.join();
    }
    let mut l = lat.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    println!(
        "tiles: {:.0} tiles/s, p50 {:.2} ms, p99 {:.2} ms ({} tiles, {} errors, {threads} clients, {:.0} s); writes {:.1}/s acknowledged",
        l.len() as f64 / elapsed,
        pct(&l, 0.5),
        pct(&l, 0.99),
        l.len(),
        errors.load(Ordering::Relaxed),
        elapsed,
        writes.load(Ordering::Relaxed) as f64 / elapsed,
    );
}

fn drive(a: &[String]) {
    let addr: SocketAddr = a[0].parse().expect("ADDR is host:port");
    let auth = format!("Bearer {}", a[1]);
    let path = &a[2];
    let n: usize = a[3].parse().expect("N");
    let b = bbox(&a[4]);
    let timed = || {
        let t0 = Instant::now();
        let status = get(addr, path);
        assert_eq!(status, Some(200), "GET {path}");
        t0.elapsed().as_secs_f64()
    };
    // One search first: the snaps of the current data are made before the steady arm.
    timed();
    let mut steady: Vec<f64> = (0..n).map(|_| timed()).collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut after: Vec<f64> = (0..n)
        .map(|i| {
            assert!(
                write_one(addr, &auth, b, &mut rng, i as u64),
                "a write was refused"
            );
            timed()
        })
        .collect();
    steady.sort_by(f64::total_cmp);
    after.sort_by(f64::total_cmp);
    println!(
        "drive-time search: steady p50 {:.1} ms p99 {:.1} ms; right after a write p50 {:.1} ms p99 {:.1} ms; ratio of p50 {:.2} ({n} each)",
        pct(&steady, 0.5),
        pct(&steady, 0.99),
        pct(&after, 0.5),
        pct(&after, 0.99),
        pct(&after, 0.5) / pct(&steady, 0.5).max(1e-9),
    );
}
