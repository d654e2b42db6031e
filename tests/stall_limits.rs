//! No input can stall the server (issue 13), against a real `terriens serve` process on the
//! demo data:
//! - a huge polygon is refused (413 `too-many-vertices`) and a large valid one is validated
//!   quickly enough to answer, while `/health` keeps answering;
//! - half-sent and idle connections are closed after the header-read timeout, one connection
//!   above the cap is answered 503 with Retry-After, and `/health` answers while 1,000 idle
//!   connections are held;
//! - a body above the limit is 413 on search and isochrone routes, a body that never arrives
//!   is 408 after the body-read timeout (not a 503 after the request timeout);
//! - timed-out heavy requests stop their work: the heavy computations running never exceed
//!   the cap and drop to 0 shortly after the requests stop.
//!
//! The expected answers come from how the inputs are built (a regular polygon is simple; two
//! swapped vertices of it make crossing chords), never from terriens.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::server::Server;
use common::wire::{Resp, request};

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// A regular polygon of `n` vertices around Le Havre (simple by construction); with `cross`,
/// vertices 10 and n/2 swapped: chords (9, n/2) and (n/2 − 1, 10) interleave, so they cross.
fn ring_body(n: usize, cross: bool) -> Vec<u8> {
    let mut pts: Vec<[f64; 2]> = (0..n)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / n as f64;
            [0.1 + 0.05 * a.cos(), 49.5 + 0.03 * a.sin()]
        })
        .collect();
    if cross {
        pts.swap(10, n / 2);
    }
    pts.push(pts[0]);
    serde_json::to_vec(&serde_json::json!({"type": "Polygon", "coordinates": [pts]})).unwrap()
}

fn health_ok(addr: SocketAddr, within: Duration) -> bool {
    let t = Instant::now();
    let ok = request(addr, "GET", "/health", &[], None).is_ok_and(|r| r.status == 200);
    ok && t.elapsed() < within
}

fn problem_type(r: &Resp) -> String {
    r.json()["type"].as_str().unwrap_or("").to_string()
}

#[test]
fn huge_polygons_are_refused_and_large_ones_validated_without_stalling() {
    let server = Server::start(&[], &[("TERRIENS_LIMITS_MAX_VERTICES", "60000")]);
    let addr = server.addr;
    let path = "/layers/plots/search";
    let over = request(
        addr,
        "POST",
        path,
        &[JSON],
        Some(&ring_body(100_000, false)),
    )
    .unwrap();
    assert_eq!(over.status, 413, "{}", over.text());
    assert!(problem_type(&over).ends_with("too-many-vertices"));
    assert!(
        over.text().contains("60000"),
        "the limit is named: {}",
        over.text()
    );
    // Two 50,000-vertex requests at once (the old check took minutes for one) while /health
    // is asked: the valid one answers 200, the crossed one 422 naming the self-intersection.
    let valid = std::thread::spawn(move || {
        request(addr, "POST", path, &[JSON], Some(&ring_body(50_000, false))).unwrap()
    });
    let crossed = std::thread::spawn(move || {
        request(addr, "POST", path, &[JSON], Some(&ring_body(50_000, true))).unwrap()
    });
    assert!(health_ok(addr, Duration::from_secs(5)), "/health stalls");
    let valid = valid.join().unwrap();
    assert_eq!(valid.status, 200, "{}", valid.text());
    let crossed = crossed.join().unwrap();
    assert_eq!(crossed.status, 422, "{}", crossed.text());
    assert!(
        crossed.text().contains("self-intersection"),
        "{}",
        crossed.text()
    );
}

/// Whether the server closes `s` (EOF or reset) within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap()
}

#[test]
fn idle_and_half_sent_connections_are_closed_and_the_cap_refuses_clearly() {
    let server = Server::start(
        &[],
        &[
            ("TERRIENS_LIMITS_HEADER_READ_TIMEOUT_MS", "1000"),
            ("TERRIENS_LIMITS_MAX_CONNECTIONS", "40"),
        ],
    );
    let addr = server.addr;
    let mut idle: Vec<TcpStream> = (0..10).map(|_| connect(addr)).collect();
    let mut half: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    // A keep-alive connection that got its answer, then stays idle.
    let mut kept = connect(addr);
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    assert!(health_ok(addr, Duration::from_secs(5)));
    for s in idle.iter_mut().chain(half.iter_mut()).chain([&mut kept]) {
        assert!(
            closed_within(s, Duration::from_secs(10)),
            "a connection stays open past the header-read timeout"
        );
    }
    // 40 open connections: the 41st is answered 503 with Retry-After, problem+json.
    let held: Vec<TcpStream> = (0..40).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let over = request(addr, "GET", "/health", &[], None).unwrap();
    assert_eq!(over.status, 503, "{}", over.text());
    assert!(over.header("retry-after").is_some());
    assert_eq!(
        over.header("content-type"),
        Some("application/problem+json")
    );
    assert!(problem_type(&over).ends_with("too-many-connections"));
    drop(held);
    let t = Instant::now();
    while !health_ok(addr, Duration::from_secs(5)) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "/health never answers again"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn bodies_over_the_limit_are_413_and_stalled_bodies_408() {
    let server = Server::start(
        &[],
        &[
            ("TERRIENS_LIMITS_MAX_BODY_BYTES", "10000"),
            ("TERRIENS_LIMITS_BODY_READ_TIMEOUT_MS", "1000"),
        ],
    );
    let addr = server.addr;
    let big = ring_body(2_000, false);
    assert!(big.len() > 10_000);
    for path in ["/layers/plots/search", "/sites/search", "/isochrone"] {
        let r = request(addr, "POST", path, &[JSON], Some(&big)).unwrap();
        assert_eq!(r.status, 413, "{path}: {}", r.text());
        assert!(problem_type(&r).ends_with("body-too-large"), "{path}");
    }
    // Content-Length says 1,000 bytes, 10 are sent: 408 after the body-read timeout.
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = "POST /layers/plots/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"type\":\"P";
    s.write_all(head.as_bytes()).unwrap();
    let t = Instant::now();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("body-timeout"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
}

/// `terriens_heavy_running` from /metrics.
fn heavy_running(addr: SocketAddr) -> Option<usize> {
    let m = request(addr, "GET", "/metrics", &[], None).ok()?.text();
    m.lines()
        .find_map(|l| l.strip_prefix("terriens_heavy_running "))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn timed_out_heavy_requests_stop_their_work_and_idle_connections_do_not_stall_health() {
    let server = Server::start(
        &[],
        &[
            ("TERRIENS_LIMITS_REQUEST_TIMEOUT_MS", "1000"),
            ("TERRIENS_LIMITS_HEAVY_CONCURRENCY", "2"),
        ],
    );
    let addr = server.addr;
    let idle: Vec<TcpStream> = (0..1000).map(|_| connect(addr)).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let timeouts = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (stop, timeouts) = (stop.clone(), timeouts.clone());
            std::thread::spawn(move || {
                let path = "/sites/near-waste?materials=wood&max_drive_min=120";
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) = request(addr, "GET", path, &[], None)
                        && r.status == 503
                        && r.text().contains("timed out")
                    {
                        timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let t = Instant::now();
    let mut most = 0;
    while t.elapsed() < Duration::from_secs(8) {
        if let Some(n) = heavy_running(addr) {
            most = most.max(n);
        }
        assert!(health_ok(addr, Duration::from_secs(5)), "/health stalls");
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert!(
        timeouts.load(Ordering::Relaxed) > 0,
        "no request outlasted the timeout"
    );
    assert!(most >= 1, "no heavy computation was seen running");
    assert!(
        most <= 2,
        "{most} heavy computations ran at once, the cap is 2"
    );
    let t = Instant::now();
    while heavy_running(addr) != Some(0) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "heavy work goes on after its requests"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(idle);
}
