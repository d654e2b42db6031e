//! terriens replicas following a real PostgreSQL + PostGIS database (`serve --source`): a
//! private cluster per test (`common::pg`, never the system's cluster, never a mock), the
//! schema made by `terriens pg init`, the demo layers loaded by `terriens import --source`, and
//! real `terriens serve` processes in front of it. The database is the oracle: after every
//! run, what each replica serves is compared with its rows, feature by feature.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value as Json, json};

use crate::common;
use common::pg::PgCluster;
use common::server::{BIN, Server, add_key};
use common::wire::{Resp, request};

/// The replica tests start clusters and servers and measure visibility: one at a time, so
/// they do not compete with each other for the two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const LAYERS: [&str; 5] = [
    "territories",
    "catchments",
    "plots",
    "buildings",
    "waste_deposits",
];

/// A database made by `pg init` and loaded with the demo layers, and the keys of the tests.
struct Db {
    pg: PgCluster,
    dir: tempfile::TempDir,
    /// Editor with the partners right.
    editor: String,
}

impl Db {
    fn new(test: &str) -> Db {
        let pg = PgCluster::require(test);
        let dir = tempfile::tempdir().unwrap();
        run(&["pg", "init", "--source", &pg.url()]);
        import_fixtures("--source", &pg.url());
        let editor = add_key(&dir.path().join("keys.toml"), "editor", true);
        Db { pg, dir, editor }
    }

    fn keys(&self) -> String {
        self.dir.path().join("keys.toml").display().to_string()
    }

    /// A replica of the database (`extra`: more flags).
    fn replica(&self, extra: &[&str]) -> Server {
        self.replica_with(extra, &[])
    }

    /// A replica with environment variables (configuration overrides).
    fn replica_with(&self, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let (url, keys) = (self.pg.url(), self.keys());
        let mut args = vec!["--source", url.as_str(), "--keys", keys.as_str()];
        args.extend_from_slice(extra);
        Server::start(&args, env)
    }

    /// Every deposit row: id → (version, quantity, lon, lat).
    fn rows(&self) -> BTreeMap<u64, Row> {
        self.pg
            .psql(
                "select id, version, coalesce(quantity::text, ''), st_x(geom), st_y(geom) \
                 from terriens.waste_deposits order by id;",
            )
            .lines()
            .map(|l| {
                let c: Vec<&str> = l.split('|').collect();
                (
                    c[0].parse().unwrap(),
                    Row {
                        version: c[1].parse().unwrap(),
                        quantity: c[2].parse().ok(),
                        lon: c[3].parse().unwrap(),
                        lat: c[4].parse().unwrap(),
                    },
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Row {
    version: u64,
    quantity: Option<f64>,
    lon: f64,
    lat: f64,
}

/// `terriens import` of every demo layer into `--source URL` or `--data DIR`.
fn import_fixtures(flag: &str, target: &str) {
    for layer in LAYERS {
        let file = fixture(layer);
        run(&[
            "import",
            "--layer",
            layer,
            file.to_str().unwrap(),
            flag,
            target,
        ]);
    }
}

fn fixture(layer: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{layer}.geojson"))
}

/// `terriens ARGS…`, which must succeed.
fn run(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("terriens runs");
    assert!(
        out.status.success(),
        "terriens {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn auth(key: &str) -> String {
    format!("Bearer {key}")
}

fn get(addr: SocketAddr, path: &str, key: Option<&str>) -> Resp {
    let a = key.map(auth);
    let headers: Vec<(&str, &str)> = a.iter().map(|a| ("Authorization", a.as_str())).collect();
    request(addr, "GET", path, &headers, None).unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: &str,
    body: Option<&Json>,
) -> std::io::Result<Resp> {
    let a = auth(key);
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    request(
        addr,
        method,
        path,
        &[
            ("Authorization", a.as_str()),
            ("Content-Type", "application/geo+json"),
        ],
        bytes.as_deref(),
    )
}

fn deposit(lon: f64, lat: f64, quantity: f64, holder: &str) -> Json {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"material": "wood", "quantity": quantity, "holder": holder,
                       "confidentiality": "public"},
    })
}

fn created_id(r: &Resp) -> u64 {
    r.json()["features"][0]["id"].as_u64().expect("an id")
}

/// A point of the demo territory.
fn somewhere(rng: &mut ChaCha8Rng) -> (f64, f64) {
    (rng.random_range(0.70..1.30), rng.random_range(49.36..49.68))
}

fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor()
        as u32;
    (x, y)
}

/// Every deposit a replica serves to the partners key: id → (version, quantity, lon, lat),
/// read page by page through OGC API – Features.
fn served(addr: SocketAddr, key: &str) -> BTreeMap<u64, Row> {
    let mut out = BTreeMap::new();
    let mut path = "/ogc/collections/waste_deposits/items?limit=1000".to_string();
    loop {
        let r = get(addr, &path, Some(key));
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let page = r.json();
        for f in page["features"].as_array().unwrap() {
            let c = &f["geometry"]["coordinates"];
            out.insert(
                f["id"].as_u64().unwrap(),
                Row {
                    version: 0,
                    quantity: f["properties"]["quantity"].as_f64(),
                    lon: c[0].as_f64().unwrap(),
                    lat: c[1].as_f64().unwrap(),
                },
            );
        }
        match common::next_href(&page) {
            Some(href) => {
                let i = href.find("/ogc/").unwrap();
                path = href[i..].to_string();
            }
            None => break,
        }
    }
    out
}

/// The rows of the database without versions (OGC items do not carry them; the versions are
/// checked through ETags in [`versions_agree`]).
fn without_versions(rows: &BTreeMap<u64, Row>) -> BTreeMap<u64, Row> {
    rows.iter()
        .map(|(id, r)| (*id, Row { version: 0, ..*r }))
        .collect()
}

/// Waits until `replica` serves exactly the database's deposits (or panics after `within`).
fn agrees(db: &Db, replica: SocketAddr, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let want = without_versions(&db.rows());
        let have = served(replica, &db.editor);
        if want == have {
            return;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = want
                .keys()
                .filter(|k| !have.contains_key(k))
                .take(10)
                .collect();
            let extra: Vec<_> = have
                .keys()
                .filter(|k| !want.contains_key(k))
                .take(10)
                .collect();
            let differ: Vec<_> = want
                .iter()
                .filter(|(k, v)| have.get(k).is_some_and(|h| h != *v))
                .take(5)
                .collect();
            panic!(
                "replica {replica} does not hold the database's {} deposits (it serves {}): \
                 missing {missing:?}, extra {extra:?}, different {differ:?}",
                want.len(),
                have.len()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The ETag (version) of a sample of features equals the database's version, on a replica.
fn versions_agree(db: &Db, replica: SocketAddr, ids: &[u64]) {
    let rows = db.rows();
    for id in ids {
        let r = get(
            replica,
            &format!("/layers/waste_deposits/features/{id}"),
            Some(&db.editor),
        );
        match rows.get(id) {
            Some(row) => {
                assert_eq!(r.status, 200, "feature {id}");
                assert_eq!(
                    r.header("etag"),
                    Some(format!("\"{}\"", row.version).as_str()),
                    "version of feature {id} on {replica}"
                );
            }
            None => assert_eq!(r.status, 404, "feature {id} is gone from the database"),
        }
    }
}

fn health(addr: SocketAddr) -> Json {
    get(addr, "/health", None).json()
}

fn metric(addr: SocketAddr, name: &str) -> f64 {
    let text = get(addr, "/metrics", None).text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

#[test]
fn private_cluster_runs_postgis() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pg = PgCluster::require("private_cluster_runs_postgis");
    assert_eq!(
        pg.url(),
        format!("postgresql://postgres@127.0.0.1:{}/terriens", pg.port())
    );
    let version = pg.psql("select postgis_lib_version();");
    assert!(!version.trim().is_empty(), "postgis_lib_version() is empty");
    pg.restart();
    let again = pg.psql("select postgis_lib_version();");
    assert_eq!(again.trim(), version.trim(), "PostGIS after the restart");
    let dir = pg.dir().to_path_buf();
    drop(pg);
    assert!(!dir.exists(), "the cluster's directory is removed on drop");
}

/// `pg init` makes the schema, is idempotent, and names a table that lacks columns; the
/// import loads every demo feature with the importer's report.
#[test]
fn pg_init_and_import_make_a_checked_schema() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::new("pg_init_and_import_make_a_checked_schema");
    let again = run(&["pg", "init", "--source", &db.pg.url()]);
    assert!(
        again.contains("terriens.waste_deposits: 2000 rows"),
        "{again}"
    );
    assert!(again.contains("terriens.plots: 1500 rows"), "{again}");
    let cols = db.pg.psql(
        "select data_type from information_schema.columns \
         where table_schema = 'terriens' and table_name = 'waste_deposits' \
         and column_name in ('quantity', 'material', 'geom') order by column_name;",
    );
    assert_eq!(
        cols.lines().collect::<Vec<_>>(),
        ["USER-DEFINED", "text", "double precision"],
        "geom, material, quantity"
    );
    db.pg
        .psql("alter table terriens.buildings drop column floor_area_m2;");
    let out = Command::new(BIN)
        .args(["pg", "init", "--source", &db.pg.url()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("terriens.buildings lacks the columns floor_area_m2"),
        "{err}"
    );
}

/// A write through replica A is visible through replica B within a second (p99 over 1,000
/// writes): as a feature, in a radius search, as an OGC item and in the tile that holds it.
#[test]
fn a_write_through_one_replica_shows_on_the_other_within_a_second() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::new("a_write_through_one_replica_shows_on_the_other_within_a_second");
    let a = db.replica(&[]);
    let b = db.replica(&[]);
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut seen = Vec::new();
    let mut searched = Vec::new();
    for i in 0..1000 {
        let (lon, lat) = somewhere(&mut rng);
        let (x, y) = tile_of(lon, lat, 14);
        let tile_path = format!("/tiles/waste_deposits/14/{x}/{y}");
        let sample = i % 50 == 0;
        let tile_before = sample.then(|| get(b.addr, &tile_path, None).body);
        let r = send(
            a.addr,
            "POST",
            "/layers/waste_deposits/features",
            &db.editor,
            Some(&deposit(lon, lat, 1.0 + i as f64, "visibility")),
        )
        .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        let acked = Instant::now();
        let id = created_id(&r);
        let item = format!("/layers/waste_deposits/features/{id}");
        while get(b.addr, &item, None).status != 200 {
            assert!(
                acked.elapsed() < Duration::from_secs(10),
                "feature {id} never reached replica B"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        seen.push(acked.elapsed());
        if let Some(before) = tile_before {
            // Once the feature shows, so do the other answers: they are read from the same
            // published snapshot.
            let search = get(
                b.addr,
                &format!("/layers/waste_deposits/search?lon={lon}&lat={lat}&radius_m=5&limit=10"),
                None,
            )
            .json();
            let ids: Vec<u64> = search["features"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["id"].as_u64())
                .collect();
            assert!(ids.contains(&id), "radius search on B: {ids:?} lacks {id}");
            let ogc = get(
                b.addr,
                &format!("/ogc/collections/waste_deposits/items/{id}"),
                None,
            );
            assert_eq!(ogc.status, 200, "OGC item {id} on B");
            assert_eq!(ogc.json()["properties"]["quantity"], json!(1.0 + i as f64));
            let tile = get(b.addr, &tile_path, None);
            assert_eq!(tile.status, 200);
            assert_ne!(
                tile.body, before,
                "tile {tile_path} on B after feature {id}"
            );
            searched.push(acked.elapsed());
        }
    }
    let p = p99(seen.clone());
    eprintln!(
        "visibility on the other replica: p50 {:?}, p99 {p:?}, max {:?}",
        {
            let mut s = seen.clone();
            s.sort();
            s[s.len() / 2]
        },
        seen.iter().max().unwrap()
    );
    assert!(p <= Duration::from_secs(1), "p99 {p:?} over 1,000 writes");
    assert!(
        searched.iter().all(|d| *d <= Duration::from_secs(1)),
        "search, OGC item and tile: {searched:?}"
    );
    assert_eq!(health(b.addr)["status"], "ready");
}

/// One client's record of what it was told.
#[derive(Default)]
struct Told {
    /// Features this client created and was answered for: id → quantity it last wrote and
    /// was acknowledged (`None`: acknowledged deletion).
    mine: BTreeMap<u64, Option<f64>>,
    /// Ids whose last write got no answer (the process was killed): their state is the
    /// database's, whatever it is.
    unsure: BTreeSet<u64>,
    /// Creations without an answer.
    unsure_creates: usize,
    /// Acknowledged updates of the shared features: id → count.
    shared_updates: BTreeMap<u64, u64>,
}

/// 8 clients write 10,000 changes across two replicas (creations, replacements, patches,
/// deletions, and concurrent replacements of the same shared features); replica B is killed
/// with SIGKILL halfway and started again. Afterwards the database and both replicas hold the
/// same deposits, feature by feature; every acknowledged write is there and none twice.
#[test]
fn eight_clients_and_a_killed_replica_agree_with_postgis() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let db = Arc::new(Db::new(
        "eight_clients_and_a_killed_replica_agree_with_postgis",
    ));
    let before = db.rows();
    let a = db.replica(&[]);
    let b = db.replica(&[]);
    let addrs = Arc::new(RwLock::new([a.addr, b.addr]));
    let done = Arc::new(AtomicUsize::new(0));
    const CLIENTS: usize = 8;
    const CHANGES: usize = 10_000;
    let shared: Vec<u64> = (1..=20).collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (db, addrs, done, shared) =
                (db.clone(), addrs.clone(), done.clone(), shared.clone());
            std::thread::spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(100 + c as u64);
                let mut told = Told::default();
                let holder = format!("client-{c}");
                for n in 0..CHANGES / CLIENTS {
                    let addr = addrs.read().unwrap()[n % 2];
                    let live: Vec<u64> = told
                        .mine
                        .iter()
                        .filter(|(id, q)| q.is_some() && !told.unsure.contains(id))
                        .map(|(id, _)| *id)
                        .collect();
                    let roll: f64 = rng.random();
                    let q = rng.random_range(1.0..1000.0_f64).round();
                    let (lon, lat) = somewhere(&mut rng);
                    if live.len() < 3 || roll < 0.35 {
                        let r = send(
                            addr,
                            "POST",
                            "/layers/waste_deposits/features",
                            &db.editor,
                            Some(&deposit(lon, lat, q, &holder)),
                        );
                        match r {
                            Ok(r) if r.status == 201 => {
                                let id = created_id(&r);
                                assert!(
                                    told.mine.insert(id, Some(q)).is_none(),
                                    "id {id} given twice"
                                );
                            }
                            Ok(r) => assert_retryable(&r),
                            Err(_) => told.unsure_creates += 1,
                        }
                    } else if roll < 0.45 {
                        let id = shared[rng.random_range(0..shared.len())];
                        let body = json!({"properties": {"quantity": q}});
                        let r = send(
                            addr,
                            "PATCH",
                            &format!("/layers/waste_deposits/features/{id}"),
                            &db.editor,
                            Some(&body),
                        );
                        match r {
                            Ok(r) if r.status == 200 => {
                                *told.shared_updates.entry(id).or_default() += 1;
                            }
                            Ok(r) => assert_retryable(&r),
                            // No answer (the replica was killed): the update may or may not
                            // be in; the version check below allows for it.
                            Err(_) => {}
                        }
                    } else {
                        let id = live[rng.random_range(0..live.len())];
                        let path = format!("/layers/waste_deposits/features/{id}");
                        let (method, body, after) = if roll < 0.7 {
                            ("PUT", Some(deposit(lon, lat, q, &holder)), Some(q))
                        } else if roll < 0.9 {
                            (
                                "PATCH",
                                Some(json!({"properties": {"quantity": q}})),
                                Some(q),
                            )
                        } else {
                            ("DELETE", None, None)
                        };
                        match send(addr, method, &path, &db.editor, body.as_ref()) {
                            Ok(r) if r.status == 200 || r.status == 204 => {
                                told.mine.insert(id, after);
                            }
                            Ok(r) => assert_retryable(&r),
                            Err(_) => {
                                told.unsure.insert(id);
                            }
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                told
            })
        })
        .collect();
    // Halfway: SIGKILL replica B, start it again; clients write on through A meanwhile.
    while done.load(Ordering::Relaxed) < CHANGES / 2 && !clients.iter().any(|c| c.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut b = b;
    b.kill();
    {
        let mut w = addrs.write().unwrap();
        w[1] = a.addr;
    }
    let b = db.replica(&[]);
    addrs.write().unwrap()[1] = b.addr;
    let told: Vec<Told> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(done.load(Ordering::Relaxed), CHANGES);

    agrees(&db, a.addr, Duration::from_secs(20));
    agrees(&db, b.addr, Duration::from_secs(20));
    let rows = db.rows();
    // Nothing lost, nothing doubled.
    for (c, t) in told.iter().enumerate() {
        let holder = format!("client-{c}");
        for (id, q) in &t.mine {
            if t.unsure.contains(id) {
                continue;
            }
            match q {
                Some(q) => assert_eq!(
                    rows.get(id).and_then(|r| r.quantity),
                    Some(*q),
                    "{holder}'s feature {id}"
                ),
                None => assert!(!rows.contains_key(id), "{holder} deleted {id}"),
            }
        }
        let held: usize = db
            .pg
            .psql(&format!(
                "select count(*) from terriens.waste_deposits where holder = '{holder}';"
            ))
            .trim()
            .parse()
            .unwrap();
        let acked = t.mine.values().filter(|q| q.is_some()).count();
        let unsure = t.unsure.len() + t.unsure_creates;
        assert!(
            held >= acked.saturating_sub(t.unsure.len()) && held <= acked + unsure,
            "{holder}: the database holds {held} of its deposits; acknowledged {acked}, \
             unanswered {unsure}"
        );
    }
    for id in (1..=20).collect::<Vec<u64>>() {
        let acked: u64 = told.iter().filter_map(|t| t.shared_updates.get(&id)).sum();
        assert!(
            rows[&id].version >= before[&id].version + acked,
            "shared feature {id}: version {} after {acked} acknowledged updates from {}",
            rows[&id].version,
            before[&id].version
        );
    }
    let sample: Vec<u64> = rows.keys().copied().step_by(97).chain(1..=20).collect();
    versions_agree(&db, a.addr, &sample);
    versions_agree(&db, b.addr, &sample);
}

/// An answer other than success to a write during the tests: only a retryable 503 with
/// `Retry-After` (busy, contended, database unavailable) is expected.
fn assert_retryable(r: &Resp) {
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.header("retry-after").is_some(), "503 without Retry-After");
}

/// PostgreSQL restarted while clients write through both replicas: writes during the outage
/// answer 503 with `Retry-After`; a replica configured with `max_lag_s` answers reads 503
/// once it is that far behind; the replicas reconnect and resume; every acknowledged write
/// is in the database and on both replicas.
#[test]
fn a_database_restart_under_load_loses_no_acknowledged_write() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let db = Arc::new(Db::new(
        "a_database_restart_under_load_loses_no_acknowledged_write",
    ));
    let a = db.replica_with(&[], &[("TERRIENS_SOURCE_MAX_LAG_S", "1")]);
    let b = db.replica(&[]);
    assert_eq!(get(a.addr, "/catalog", None).status, 200);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (db, stop, addrs) = (db.clone(), stop.clone(), [a.addr, b.addr]);
            std::thread::spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(c);
                let (mut acked, mut refused, mut n) = (Vec::new(), 0, 0);
                while !stop.load(Ordering::Relaxed) {
                    let (lon, lat) = somewhere(&mut rng);
                    n += 1;
                    let r = send(
                        addrs[n % 2],
                        "POST",
                        "/layers/waste_deposits/features",
                        &db.editor,
                        Some(&deposit(lon, lat, n as f64, "restart")),
                    )
                    .expect("the replicas stay up");
                    match r.status {
                        201 => acked.push((created_id(&r), n as f64)),
                        _ => {
                            assert_retryable(&r);
                            refused += 1;
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
                (acked, refused)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    db.pg.stop();
    std::thread::sleep(Duration::from_secs(2));
    let during = get(a.addr, "/health", None);
    let read = get(a.addr, "/catalog", None);
    let on_b = get(b.addr, "/catalog", None);
    db.pg.start_again();
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let results: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let refused: usize = results.iter().map(|r| r.1).sum();
    assert!(
        refused > 0,
        "no write was refused while the database was down"
    );
    assert_eq!(during.status, 503, "{}", during.text());
    assert_eq!(during.json()["status"], "catching_up");
    assert!(during.json()["source"]["lag_s"].as_f64().unwrap() > 1.0);
    assert_eq!(
        read.status,
        503,
        "a read on A, beyond its max_lag_s: {}",
        read.text()
    );
    assert_eq!(read.json()["type"], "https://terriens.dev/problems/lagging");
    assert!(read.header("retry-after").is_some());
    assert_eq!(
        on_b.status, 200,
        "B has no max_lag_s: it serves what it holds"
    );
    assert_eq!(
        get(a.addr, "/catalog", None).status,
        200,
        "A caught up again"
    );
    agrees(&db, a.addr, Duration::from_secs(20));
    agrees(&db, b.addr, Duration::from_secs(20));
    let rows = db.rows();
    let mut total = 0;
    for (acked, _) in &results {
        for (id, q) in acked {
            assert_eq!(
                rows.get(id).and_then(|r| r.quantity),
                Some(*q),
                "acknowledged {id}"
            );
            total += 1;
        }
    }
    assert!(
        total > 20,
        "only {total} writes acknowledged around the restart"
    );
    for r in [&a, &b] {
        assert!(metric(r.addr, "terriens_source_reconnects_total") >= 1.0);
        assert_eq!(health(r.addr)["status"], "ready");
    }
}

/// Changes made in SQL by another tool (`UPDATE`, `DELETE`, `COPY`) reach the replicas like
/// any other; a row that breaks the layer's rules is refused and counted, the rest applied;
/// a confidential row stays hidden from callers without the partners right.
#[test]
fn changes_made_in_sql_reach_the_replicas() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::new("changes_made_in_sql_reach_the_replicas");
    let a = db.replica(&[]);
    let b = db.replica(&[]);
    let v5: u64 = db
        .pg
        .psql("select version from terriens.waste_deposits where id = 5;")
        .trim()
        .parse()
        .unwrap();
    db.pg.psql(
        "update terriens.waste_deposits set quantity = 4242 where id = 5;
         delete from terriens.waste_deposits where id = 6;
         copy terriens.waste_deposits (id, material, quantity, holder, confidentiality, geom) from stdin;
9000001\twood\t11\tcopied\tpublic\tSRID=4326;POINT(1.0 49.5)
9000002\tplastic\t12\tcopied\tpartners\tSRID=4326;POINT(1.01 49.51)
\\.
update terriens.waste_deposits set material = 'unobtainium' where id = 7;",
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    for r in [&a, &b] {
        loop {
            let f5 = get(
                r.addr,
                "/layers/waste_deposits/features/5",
                Some(&db.editor),
            );
            let copied = get(r.addr, "/layers/waste_deposits/features/9000001", None);
            if f5.json()["properties"]["quantity"] == json!(4242.0) && copied.status == 200 {
                assert_eq!(
                    f5.header("etag"),
                    Some(format!("\"{}\"", v5 + 1).as_str()),
                    "an UPDATE that does not set the version bumps it"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the SQL changes did not reach {}",
                r.addr
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            get(
                r.addr,
                "/layers/waste_deposits/features/6",
                Some(&db.editor)
            )
            .status,
            404
        );
        // The confidential row: for partners only.
        assert_eq!(
            get(r.addr, "/layers/waste_deposits/features/9000002", None).status,
            404
        );
        let hidden = get(
            r.addr,
            "/layers/waste_deposits/features/9000002",
            Some(&db.editor),
        );
        assert_eq!(hidden.status, 200);
        assert_eq!(hidden.json()["properties"]["unit"], "t");
        // The invalid row: refused, the replica keeps what it held.
        let f7 = get(
            r.addr,
            "/layers/waste_deposits/features/7",
            Some(&db.editor),
        )
        .json();
        assert_ne!(f7["properties"]["material"], "unobtainium");
        assert!(metric(r.addr, "terriens_source_rejected_rows_total") >= 1.0);
    }
    // A new id from a replica after the COPY's explicit ids: never one of them.
    let r = send(
        a.addr,
        "POST",
        "/layers/waste_deposits/features",
        &db.editor,
        Some(&deposit(1.0, 49.5, 3.0, "after-copy")),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(![9000001, 9000002].contains(&created_id(&r)));
}

/// A replica answers as the embedded server does on the same data: radius and nearest
/// searches, tiles at several zooms (bytes), and isochrones.
#[test]
fn a_replica_answers_as_the_embedded_server() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::new("a_replica_answers_as_the_embedded_server");
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    import_fixtures("--data", dir);
    let roads = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/roads.osm.gz");
    run(&[
        "import-roads",
        roads.to_str().unwrap(),
        "--profile",
        "car",
        "--data",
        dir,
    ]);
    let embedded = Server::start(&["--data", dir, "--keys", &db.keys()], &[]);
    let replica = db.replica(&["--roads", dir]);
    let strip = |mut v: Json| {
        if let Some(o) = v.as_object_mut() {
            o.remove("links");
            o.remove("timeStamp");
        }
        v
    };
    let (lon, lat) = (1.0, 49.52);
    for path in [
        format!(
            "/layers/waste_deposits/search?lon={lon}&lat={lat}&radius_m=5000&material=wood&limit=1000"
        ),
        format!("/layers/plots/search?lon={lon}&lat={lat}&k=25"),
        format!("/sites/search?lon={lon}&lat={lat}&radius_m=8000&limit=1000"),
        format!("/isochrone?lon={lon}&lat={lat}&contours_min=5,10"),
    ] {
        for key in [None, Some(db.editor.as_str())] {
            let want = get(embedded.addr, &path, key);
            let have = get(replica.addr, &path, key);
            assert_eq!(want.status, 200, "{path}: {}", want.text());
            assert_eq!(
                strip(have.json()),
                strip(want.json()),
                "{path} (key: {})",
                key.is_some()
            );
        }
    }
    for z in [6, 10, 12, 14] {
        let (x, y) = tile_of(lon, lat, z);
        for layers in ["all", "waste_deposits", "plots"] {
            let path = format!("/tiles/{layers}/{z}/{x}/{y}");
            for key in [None, Some(db.editor.as_str())] {
                let want = get(embedded.addr, &path, key);
                let have = get(replica.addr, &path, key);
                assert_eq!(want.status, 200, "{path}");
                assert!(!want.body.is_empty(), "{path} is empty: pick another tile");
                assert!(
                    have.body == want.body,
                    "{path} (key: {}): the replica's {} bytes differ from the embedded server's {}",
                    key.is_some(),
                    have.body.len(),
                    want.body.len()
                );
            }
        }
    }
}

/// Stored projects written through one replica show on the other (with their confidentiality),
/// as does an OGC API – Features Part 4 write, and a layer replaced whole (`import --replace`: a `TRUNCATE`, then the rows) reaches the
/// replicas as one change.
#[test]
fn projects_and_a_replaced_layer_follow_the_database() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let db = Db::new("projects_and_a_replaced_layer_follow_the_database");
    let a = db.replica(&[]);
    let b = db.replica(&[]);
    let needs =
        json!({"land_min_ha": 2, "materials": [{"material": "wood", "tonnes_per_year": 300}]});
    let secret = json!({"name": "Panneaux bois", "confidentiality": "partners", "kind": "prospect", "needs": needs});
    let r = send(a.addr, "POST", "/projects", &db.editor, Some(&secret)).unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let location = r.header("location").unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(2);
    while get(b.addr, &location, Some(&db.editor)).status != 200 {
        assert!(Instant::now() < deadline, "{location} never reached B");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        get(b.addr, &location, None).status,
        404,
        "confidential on B"
    );
    let mut renamed = secret.clone();
    renamed["name"] = json!("Panneaux bois v2");
    let a2 = auth(&db.editor);
    let r = request(
        b.addr,
        "PUT",
        &location,
        &[
            ("Authorization", a2.as_str()),
            ("Content-Type", "application/json"),
            ("If-Match", "\"1\""),
        ],
        Some(&serde_json::to_vec(&renamed).unwrap()),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // Read-your-writes on B, then A follows.
    assert_eq!(
        get(b.addr, &location, Some(&db.editor)).json()["name"],
        "Panneaux bois v2"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while get(a.addr, &location, Some(&db.editor)).json()["name"] != "Panneaux bois v2" {
        assert!(Instant::now() < deadline, "the new name never reached A");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        db.pg
            .psql("select version, doc->>'name' from terriens.projects;")
            .trim(),
        "2|Panneaux bois v2"
    );

    // OGC API – Features Part 4 through a replica: a transaction like any other write.
    let r = send(
        b.addr,
        "POST",
        "/ogc/collections/waste_deposits/items",
        &db.editor,
        Some(&deposit(1.02, 49.52, 21.0, "ogc")),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let item = r.header("location").unwrap().to_string();
    let item = &item[item.find("/ogc/").unwrap()..];
    assert_eq!(get(b.addr, item, None).status, 200, "read-your-writes on B");
    let deadline = Instant::now() + Duration::from_secs(2);
    while get(a.addr, item, None).status != 200 {
        assert!(Instant::now() < deadline, "{item} never reached A");
        std::thread::sleep(Duration::from_millis(5));
    }
    let id: u64 = item.rsplit('/').next().unwrap().parse().unwrap();
    assert_eq!(
        db.pg
            .psql(&format!(
                "select holder, quantity from terriens.waste_deposits where id = {id};"
            ))
            .trim(),
        "ogc|21"
    );

    // A whole layer emptied in SQL, then imported again with --replace.
    let count = |addr| -> u64 {
        get(addr, "/catalog", None).json()["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == "catchments")
            .unwrap()["count"]
            .as_u64()
            .unwrap()
    };
    let wait_count = |addr, want: u64| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while count(addr) != want {
            assert!(
                Instant::now() < deadline,
                "catchments on {addr}: {}",
                count(addr)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(count(a.addr), 40);
    db.pg.psql("truncate terriens.catchments;");
    wait_count(a.addr, 0);
    wait_count(b.addr, 0);
    let file = fixture("catchments");
    run(&[
        "import",
        "--layer",
        "catchments",
        file.to_str().unwrap(),
        "--source",
        &db.pg.url(),
        "--replace",
    ]);
    wait_count(a.addr, 40);
    wait_count(b.addr, 40);
}
