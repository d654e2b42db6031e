//! Start-up of a real `terriens serve --data`: the port accepts at once, and until the data is
//! ready every answer is 503 — `/health` `{"status":"loading","progress":{…}}`, any other
//! route a problem with `Retry-After` — then 200 with the same data as a server that loaded
//! everything before answering. After a SIGKILL of a server that was writing, with a stale, a
//! truncated and a half-written derived snap file, start-up rebuilds them and serves the same
//! answers (catalog counts, drive-time searches) as a start with no derived file at all.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::{BIN, Server, add_key};
use common::wire::request;
use serde_json::{Value, json};

struct Fixture {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    keys: PathBuf,
    key: String,
}

/// The demo data set at scale 4 as a data directory, with the demo road graph (car).
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    terriens_demo::generate(
        &data,
        4,
        terriens_demo::DEFAULT_SEED,
        terriens_demo::OutputFormat::Store,
    )
    .unwrap();
    let roads = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/roads.osm.gz");
    let out = Command::new(BIN)
        .arg("import-roads")
        .arg(&roads)
        .args(["--profile", "car", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = tmp.path().join("keys.toml");
    let key = add_key(&keys, "admin", true);
    Fixture {
        _tmp: tmp,
        data,
        keys,
        key,
    }
}

impl Fixture {
    fn args(&self) -> Vec<String> {
        vec![
            "--data".into(),
            self.data.to_str().unwrap().into(),
            "--keys".into(),
            self.keys.to_str().unwrap().into(),
        ]
    }
    fn start(&self, ready: bool) -> Server {
        let args = self.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if ready {
            Server::start(&args, &[])
        } else {
            Server::start_listening(&args, &[])
        }
    }
    fn derived(&self) -> PathBuf {
        self.data.join("derived")
    }
}

fn get(s: &Server, path: &str, key: Option<&str>) -> (u16, Value) {
    let auth = key.map(|k| format!("Bearer {k}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let r = request(s.addr, "GET", path, &headers, None).unwrap();
    let body = if r.body.is_empty() {
        Value::Null
    } else {
        r.json()
    };
    if r.status == 503 {
        assert_eq!(r.header("retry-after"), Some("1"), "{path}: {body}");
    }
    (r.status, body)
}

/// What the test compares between two servers: catalog counts and drive-time searches, as a
/// partner sees them.
fn answers(s: &Server, key: &str) -> Value {
    let (status, catalog) = get(s, "/catalog", Some(key));
    assert_eq!(status, 200, "{catalog}");
    let counts: Vec<Value> = catalog["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!([l["id"], l["count"]]))
        .collect();
    let mut out = json!({"counts": counts});
    for path in [
        "/sites/search?drive_to=1.0,49.52&drive_max_min=10&limit=1000",
        "/layers/waste_deposits/search?drive_from=1.0,49.52&drive_max_min=10&limit=1000",
    ] {
        let (status, body) = get(s, path, Some(key));
        assert_eq!(status, 200, "{path}: {body}");
        let mut found: Vec<(u64, String)> = body["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["id"].as_u64().unwrap(),
                    f["properties"]["travel_time_min"].to_string(),
                )
            })
            .collect();
        found.sort();
        assert!(found.len() > 5, "{path}: {} found", found.len());
        out[path] = json!(found);
    }
    out
}

#[test]
fn health_says_loading_until_ready_then_every_route_works() {
    let f = fixture();
    // A first start writes the snap files; the one under test loads them.
    let mut s = f.start(true);
    let want = answers(&s, &f.key);
    assert!(s.stop());
    for _ in 0..2 {
        let mut s = f.start(false);
        let started = Instant::now();
        let (mut loading, mut problems) = (0, 0);
        loop {
            let (status, body) = get(&s, "/health", None);
            match status {
                503 => {
                    assert_eq!(body["status"], "loading", "{body}");
                    assert!(body["progress"]["step"].is_string(), "{body}");
                    loading += 1;
                    let (status, problem) = get(&s, "/catalog", Some(&f.key));
                    if status == 503 {
                        assert_eq!(
                            problem["type"].as_str().map(|t| t.ends_with("loading")),
                            Some(true),
                            "{problem}"
                        );
                        problems += 1;
                    }
                }
                200 => {
                    assert_eq!(body["status"], "ok", "{body}");
                    break;
                }
                other => panic!("/health answered {other}: {body}"),
            }
            assert!(started.elapsed() < Duration::from_secs(120), "never ready");
            std::thread::sleep(Duration::from_millis(5));
        }
        println!(
            "{loading} loading answers of /health, {problems} 503 problems, ready in {:?}",
            started.elapsed()
        );
        assert_eq!(answers(&s, &f.key), want);
        assert!(s.stop());
    }
}

fn post_deposit(s: &Server, key: &str, i: u64) -> bool {
    let body = json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [1.0 + (i % 50) as f64 * 0.001, 49.52 + (i / 50) as f64 * 0.001]},
        "properties": {"name": format!("live {i}"), "material": "wood", "quantity": 10.0 + i as f64,
                       "confidentiality": "public", "holder": "Scierie test"},
    });
    let bytes = serde_json::to_vec(&body).unwrap();
    let auth = format!("Bearer {key}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/geo+json"),
    ];
    matches!(request(s.addr, "POST", "/layers/waste_deposits/features", &headers, Some(&bytes)), Ok(r) if r.status == 201)
}

#[test]
fn after_a_sigkill_with_stale_and_damaged_derived_files_start_up_rebuilds_them() {
    let f = fixture();
    let mut s = f.start(true);
    // Wait for the snap files of the first start.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !s.log_text().contains("feature snaps persisted") {
        assert!(Instant::now() < deadline, "{}", s.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    // Writes land (the derived files are now stale), then a kill mid-writing.
    let mut acked = 0;
    for i in 0..40 {
        acked += post_deposit(&s, &f.key, i) as u32;
    }
    assert_eq!(acked, 40);
    let key = f.key.clone();
    let addr = s.addr;
    let writer = std::thread::spawn(move || {
        for i in 40..400u64 {
            let body = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [1.01, 49.53]},
                "properties": {"name": format!("late {i}"), "material": "wood", "quantity": 1.0,
                               "confidentiality": "public", "holder": "Scierie test"}});
            let bytes = serde_json::to_vec(&body).unwrap();
            let auth = format!("Bearer {key}");
            let h = [
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/geo+json"),
            ];
            if request(
                addr,
                "POST",
                "/layers/waste_deposits/features",
                &h,
                Some(&bytes),
            )
            .is_err()
            {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(150));
    s.kill();
    let _ = writer.join();
    // Damage: a truncated plots file, and a half-written temporary file beside the others.
    let derived = f.derived();
    let plots = derived.join("snaps-car-plots.bin");
    let len = std::fs::metadata(&plots).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&plots)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    std::fs::write(
        derived.join(".snaps-car-buildings.bin.1.0.tmp"),
        b"TRNSNAPShalf",
    )
    .unwrap();
    let mut restarted = f.start(true);
    let log = restarted.log_text();
    assert!(log.contains("snapping again"), "{log}");
    let got = answers(&restarted, &f.key);
    restarted.kill();
    // The oracle: a start with no derived file at all.
    std::fs::remove_dir_all(&derived).unwrap();
    let mut fresh = f.start(true);
    let want = answers(&fresh, &f.key);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fresh.log_text().contains("feature snaps persisted") {
        assert!(Instant::now() < deadline, "{}", fresh.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    fresh.kill();
    assert_eq!(got, want);
    // The files that start wrote are used by the next: nothing is snapped again.
    let mut third = f.start(true);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !third.log_text().contains("feature snaps ready") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = third.log_text();
    assert!(
        log.contains("snapped=0") && !log.contains("snapping again"),
        "{log}"
    );
    assert_eq!(answers(&third, &f.key), want);
    third.kill();
}
