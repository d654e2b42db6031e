//! Crash test: a real `terriens serve --data` process receives concurrent writes (single
//! creations, batches, replacements with If-Match, patches, deletions) and is killed with
//! SIGKILL at random moments, 50 times or more. After each restart, every acknowledged write is
//! present with its content and version, and each write that was in flight when the process
//! died is either wholly applied or not at all (a batch is all or nothing). Kills land inside
//! compactions too: the log is compacted constantly (a tiny size threshold), and an admin
//! client races `POST /admin/compact` calls against the kill (answered 200, or 503/507 with a
//! problem, never 500).
//!
//! The oracle is the clients' own record of what the server acknowledged, not the server.
//! `TERRIENS_CRASH_SEED` and `TERRIENS_CRASH_ROUNDS` replay or lengthen a run.

use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::server::{Server, add_key};
use common::wire::{Resp, request};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

const CLIENTS: u64 = 4;

/// What a client knows of one of its features.
#[derive(Debug, Clone, PartialEq)]
struct Content {
    name: String,
    quantity: f64,
    lon: f64,
    lat: f64,
    version: u64,
}

impl Content {
    fn feature(&self, id: Option<u64>) -> Value {
        let mut f = json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [self.lon, self.lat]},
            "properties": {"name": self.name, "material": "wood", "quantity": self.quantity,
                           "confidentiality": "partners", "holder": "Scierie test"},
        });
        if let Some(id) = id {
            f["id"] = json!(id);
        }
        f
    }
}

/// A client's features: id → content.
type Model = BTreeMap<u64, Content>;

/// A write whose answer never came: its effect on each id it touches (None: deleted).
#[derive(Debug, Clone)]
struct InFlight {
    what: &'static str,
    effects: Vec<(u64, Option<Content>)>,
}

struct Client {
    addr: SocketAddr,
    key: String,
    rng: ChaCha8Rng,
    model: Model,
    next_id: u64,
    ops: u64,
    tag: String,
}

enum Outcome {
    Acked,
    Died(InFlight),
}

impl Client {
    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        if_match: Option<u64>,
    ) -> Option<Resp> {
        let auth = format!("Bearer {}", self.key);
        let etag = if_match.map(|v| format!("\"{v}\""));
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/geo+json"),
        ];
        if let Some(e) = &etag {
            headers.push(("If-Match", e.as_str()));
        }
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        match request(self.addr, method, path, &headers, bytes.as_deref()) {
            // A 503 (writer stopped, queue full) may come from a dying server: not known.
            Ok(r) if r.status == 503 => None,
            Ok(r) => Some(r),
            Err(_) => None,
        }
    }

    fn content(&mut self) -> Content {
        self.ops += 1;
        Content {
            name: format!("{}-op{}", self.tag, self.ops),
            quantity: self.rng.random_range(0..1_000_000) as f64 / 8.0,
            lon: self.rng.random_range(0.0..1.0),
            lat: self.rng.random_range(49.0..49.9),
            version: 1,
        }
    }

    /// One random write; panics on an answer that contradicts the model.
    fn step(&mut self) -> Outcome {
        let roll = self.rng.random_range(0..100);
        let existing: Vec<u64> = self.model.keys().copied().collect();
        let pick = |rng: &mut ChaCha8Rng| existing[rng.random_range(0..existing.len())];
        if roll < 35 || existing.len() < 3 {
            let id = self.next_id;
            self.next_id += 1;
            let c = self.content();
            let r = self.send(
                "POST",
                "/layers/waste_deposits/features",
                Some(&c.feature(Some(id))),
                None,
            );
            let eff = vec![(id, Some(c.clone()))];
            match r {
                None => Outcome::Died(InFlight {
                    what: "create",
                    effects: eff,
                }),
                Some(r) => {
                    assert_eq!(r.status, 201, "create {id}: {}", r.text());
                    assert_eq!(r.json()["features"][0]["id"], json!(id));
                    self.model.insert(id, c);
                    Outcome::Acked
                }
            }
        } else if roll < 50 {
            let n = self.rng.random_range(2..=5);
            let mut feats = Vec::new();
            let mut eff = Vec::new();
            for _ in 0..n {
                let id = self.next_id;
                self.next_id += 1;
                let c = self.content();
                feats.push(c.feature(Some(id)));
                eff.push((id, Some(c)));
            }
            let body = json!({"type": "FeatureCollection", "features": feats});
            match self.send("POST", "/layers/waste_deposits/features", Some(&body), None) {
                None => Outcome::Died(InFlight {
                    what: "batch",
                    effects: eff,
                }),
                Some(r) => {
                    assert_eq!(r.status, 201, "batch: {}", r.text());
                    for (id, c) in eff {
                        self.model.insert(id, c.expect("created"));
                    }
                    Outcome::Acked
                }
            }
        } else if roll < 70 {
            let id = pick(&mut self.rng);
            let old = self.model[&id].version;
            let mut c = self.content();
            c.version = old + 1;
            let path = format!("/layers/waste_deposits/features/{id}");
            match self.send("PUT", &path, Some(&c.feature(Some(id))), Some(old)) {
                None => Outcome::Died(InFlight {
                    what: "replace",
                    effects: vec![(id, Some(c))],
                }),
                Some(r) => {
                    assert_eq!(r.status, 200, "replace {id}: {}", r.text());
                    assert_eq!(r.header("etag"), Some(format!("\"{}\"", old + 1).as_str()));
                    self.model.insert(id, c);
                    Outcome::Acked
                }
            }
        } else if roll < 85 {
            let id = pick(&mut self.rng);
            let mut c = self.model[&id].clone();
            c.version += 1;
            c.quantity = self.rng.random_range(0..1_000_000) as f64 / 4.0;
            let body = json!({"properties": {"quantity": c.quantity}});
            let path = format!("/layers/waste_deposits/features/{id}");
            match self.send("PATCH", &path, Some(&body), Some(c.version - 1)) {
                None => Outcome::Died(InFlight {
                    what: "patch",
                    effects: vec![(id, Some(c))],
                }),
                Some(r) => {
                    assert_eq!(r.status, 200, "patch {id}: {}", r.text());
                    self.model.insert(id, c);
                    Outcome::Acked
                }
            }
        } else {
            let id = pick(&mut self.rng);
            let path = format!("/layers/waste_deposits/features/{id}");
            match self.send("DELETE", &path, None, Some(self.model[&id].version)) {
                None => Outcome::Died(InFlight {
                    what: "delete",
                    effects: vec![(id, None)],
                }),
                Some(r) => {
                    assert_eq!(r.status, 200, "delete {id}: {}", r.text());
                    self.model.remove(&id);
                    Outcome::Acked
                }
            }
        }
    }
}

/// The feature as the server has it now (None: 404).
fn observe(addr: SocketAddr, key: &str, id: u64) -> Option<Content> {
    let auth = format!("Bearer {key}");
    let path = format!("/layers/waste_deposits/features/{id}");
    let r = request(addr, "GET", &path, &[("Authorization", &auth)], None).expect("GET answers");
    if r.status == 404 {
        return None;
    }
    assert_eq!(r.status, 200, "GET {id}: {}", r.text());
    let f = r.json();
    let version = r
        .header("etag")
        .and_then(|e| e.trim_matches('"').parse().ok())
        .expect("an ETag with the version");
    Some(Content {
        name: f["properties"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        quantity: f["properties"]["quantity"].as_f64().unwrap(),
        lon: f["geometry"]["coordinates"][0].as_f64().unwrap(),
        lat: f["geometry"]["coordinates"][1].as_f64().unwrap(),
        version,
    })
}

fn catalog_count(addr: SocketAddr, key: &str) -> u64 {
    let auth = format!("Bearer {key}");
    let r = request(addr, "GET", "/catalog", &[("Authorization", &auth)], None).unwrap();
    r.json()["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == "waste_deposits")
        .and_then(|l| l["count"].as_u64())
        .unwrap()
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let seed: u64 = std::env::var("TERRIENS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let rounds: usize = std::env::var("TERRIENS_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
        .max(50);
    eprintln!("crash test: seed {seed} (TERRIENS_CRASH_SEED={seed} replays it), {rounds} kills");
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys.toml");
    let key = add_key(&keys, "editor", true);
    let admin = add_key(&keys, "admin", false);
    let data = tmp.path().join("data");
    let data_arg = data.to_str().unwrap().to_string();
    let keys_arg = keys.to_str().unwrap().to_string();
    let args = ["--data", data_arg.as_str(), "--keys", keys_arg.as_str()];
    // Compact every ~4 kB of log (a few requests), so that kills also hit compactions.
    let env = [("TERRIENS_WRITES_COMPACT_AFTER_BYTES", "4000")];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut models: Vec<Model> = vec![Model::new(); CLIENTS as usize];
    let mut next_ids: Vec<u64> = (0..CLIENTS).map(|c| 1 + c * 1_000_000_000).collect();
    let mut acked_total = 0u64;
    let mut in_flight_applied = 0;
    let mut in_flight_lost = 0;
    let mut pending: Vec<(usize, InFlight)> = Vec::new();
    let mut compactions = 0;
    let mut asked_compactions = 0;
    let mut kills_in_compaction = 0;
    for round in 0..=rounds {
        let mut server = Server::start(&args, &env);
        let addr = server.addr;
        // The writes in flight at the kill: each applied whole, or not at all.
        for (c, in_flight) in pending.drain(..) {
            let model = &mut models[c];
            let before: Vec<Option<Content>> = in_flight
                .effects
                .iter()
                .map(|(id, _)| model.get(id).cloned())
                .collect();
            let now: Vec<Option<Content>> = in_flight
                .effects
                .iter()
                .map(|(id, _)| observe(addr, &key, *id))
                .collect();
            let after: Vec<Option<Content>> =
                in_flight.effects.iter().map(|(_, e)| e.clone()).collect();
            if now == after && now != before {
                in_flight_applied += 1;
                for (id, e) in in_flight.effects {
                    match e {
                        Some(content) => model.insert(id, content),
                        None => model.remove(&id),
                    };
                }
            } else {
                assert_eq!(
                    now, before,
                    "round {round}, client {c}: the in-flight {} is half applied or altered (seed {seed}); applied it would be {after:?}",
                    in_flight.what
                );
                in_flight_lost += 1;
            }
        }
        // Every acknowledged write is there, and nothing else.
        let expected: usize = models.iter().map(Model::len).sum();
        assert_eq!(
            catalog_count(addr, &key) as usize,
            expected,
            "round {round}: the layer holds exactly the acknowledged features (seed {seed})"
        );
        let check_all = round == rounds || round % 5 == 0;
        for model in &models {
            for (id, c) in model {
                if check_all || rng.random_range(0..100) < 10 {
                    assert_eq!(
                        observe(addr, &key, *id).as_ref(),
                        Some(c),
                        "round {round}: feature {id} (seed {seed})"
                    );
                }
            }
        }
        if round == rounds {
            // Last: a graceful stop flushes and compacts; everything is still there after it.
            assert!(
                server.stop(),
                "graceful shutdown exits 0:\n{}",
                server.log_text()
            );
            let log_len = std::fs::metadata(data.join("writes.log"))
                .map(|m| m.len())
                .unwrap_or(0);
            assert!(
                log_len <= 8,
                "the log is compacted at shutdown ({log_len} bytes):\n{}",
                server.log_text()
            );
            let server = Server::start(&args, &env);
            assert_eq!(catalog_count(server.addr, &key) as usize, expected);
            break;
        }
        // Concurrent writers until the kill.
        let kill_after = Duration::from_millis(rng.random_range(80..700));
        let handles: Vec<_> = (0..CLIENTS as usize)
            .map(|c| {
                let mut client = Client {
                    addr,
                    key: key.clone(),
                    rng: ChaCha8Rng::seed_from_u64(seed ^ (((round as u64) << 8) | c as u64)),
                    model: std::mem::take(&mut models[c]),
                    next_id: next_ids[c],
                    ops: 0,
                    tag: format!("r{round}c{c}"),
                };
                std::thread::spawn(move || {
                    let mut acked = 0u64;
                    let in_flight = loop {
                        match client.step() {
                            Outcome::Acked => acked += 1,
                            Outcome::Died(f) => break f,
                        }
                    };
                    (client.model, client.next_id, acked, in_flight)
                })
            })
            .collect();
        let compacter = {
            let (admin, seed) = (admin.clone(), seed ^ round as u64);
            std::thread::spawn(move || compact_until_killed(addr, &admin, seed))
        };
        std::thread::sleep(kill_after);
        server.kill();
        let (asked, killed_inside) = compacter.join().expect("compacter thread");
        asked_compactions += asked;
        kills_in_compaction += usize::from(killed_inside);
        compactions += server.log_text().matches("compacted the write log").count();
        for (c, h) in handles.into_iter().enumerate() {
            let (model, next_id, acked, in_flight) = h.join().expect("client thread");
            acked_total += acked;
            models[c] = model;
            next_ids[c] = next_id;
            pending.push((c, in_flight));
        }
    }
    eprintln!(
        "crash test: {rounds} SIGKILLs ({kills_in_compaction} during a POST /admin/compact), {acked_total} acknowledged writes all present; in-flight writes: {in_flight_applied} applied whole, {in_flight_lost} not applied; {compactions} compactions finished between kills ({asked_compactions} asked by POST /admin/compact); {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        compactions > 0 && kills_in_compaction > 0,
        "the test is meant to kill inside compactions too"
    );
}

/// `POST /admin/compact` again and again, a few milliseconds apart, until the server dies.
/// Returns the compactions answered 200, and whether the kill cut one short (no answer).
fn compact_until_killed(addr: SocketAddr, admin: &str, seed: u64) -> (usize, bool) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let auth = format!("Bearer {admin}");
    let mut done = 0;
    loop {
        std::thread::sleep(Duration::from_millis(rng.random_range(0..30)));
        match request(
            addr,
            "POST",
            "/admin/compact",
            &[("Authorization", &auth)],
            None,
        ) {
            Ok(r) if r.status == 200 => done += 1,
            // A full queue, a failed or refused compaction: a problem with Retry-After.
            Ok(r) if r.status == 503 || r.status == 507 => {
                assert!(r.header("retry-after").is_some(), "{}", r.text());
            }
            Ok(r) => panic!("POST /admin/compact: {} {}", r.status, r.text()),
            // Refused at connect: the server was already dead; otherwise the kill cut it.
            Err(e) => return (done, e.kind() != std::io::ErrorKind::ConnectionRefused),
        }
    }
}
