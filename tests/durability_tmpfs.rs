//! Items 1, 2 and 4 of issue 13, on a real file system that runs out: a small tmpfs (few inodes,
//! little space) mounted for the test (root only; skipped with a message where mounting is
//! refused), a real `terriens serve` process on it, SIGKILL and restart.
//!
//! 1. A compaction that cannot create the fresh log (no inode left) answers 507 with
//!    Retry-After, and loses nothing: the writes after it, and after the next compaction once
//!    inodes are back, are all there after SIGKILL + restart.
//! 2. Writes refused because the log cannot grow (no space left) leave no trace: after a
//!    SIGKILL and a restart the layer holds exactly the acknowledged features; and once space
//!    is back the writer takes writes again without a restart.
//!
//! The oracle is the clients' record of what was answered 201.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{Server, add_key};
use common::wire::{Resp, request};
use serde_json::json;

/// A tmpfs mounted on a temporary directory, unmounted on drop (also when the test fails).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// None (after saying why) where mounting is refused.
    fn mount(test: &str, options: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "skipped {test}: cannot mount a tmpfs (needs root): {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped {test}: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

struct Client {
    addr: SocketAddr,
    auth: String,
}

impl Client {
    fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Resp {
        let headers = [
            ("Authorization", self.auth.as_str()),
            ("Content-Type", "application/geo+json"),
        ];
        request(self.addr, method, path, &headers, body.as_deref()).expect("an answer")
    }

    fn create(&self, name: &str) -> Resp {
        let body = json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [0.3, 49.3]},
            "properties": {"name": name, "material": "wood", "quantity": 3.0, "holder": "Scierie"},
        });
        let body = serde_json::to_vec(&body).unwrap();
        self.send("POST", "/layers/waste_deposits/features", Some(body))
    }

    /// Creates and returns the new id; panics unless 201.
    fn created(&self, name: &str) -> u64 {
        let r = self.create(name);
        assert_eq!(r.status, 201, "create {name}: {}", r.text());
        r.json()["features"][0]["id"].as_u64().unwrap()
    }

    fn name_of(&self, id: u64) -> Option<String> {
        let r = self.send(
            "GET",
            &format!("/layers/waste_deposits/features/{id}"),
            None,
        );
        match r.status {
            404 => None,
            200 => Some(r.json()["properties"]["name"].as_str().unwrap().into()),
            s => panic!("GET {id}: {s} {}", r.text()),
        }
    }

    fn count(&self) -> u64 {
        let r = self.send("GET", "/catalog", None);
        r.json()["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == "waste_deposits")
            .and_then(|l| l["count"].as_u64())
            .unwrap()
    }
}

/// What is wrong with an answer meant to be the problem of a full file system (507,
/// problem+json, Retry-After), if anything. Wrong answers are gathered and asserted after the
/// data is checked, so that a lost write is reported as such.
fn no_space_problem(r: &Resp, what: &str) -> Option<String> {
    let ok = r.status == 507
        && r.header("content-type") == Some("application/problem+json")
        && r.header("retry-after").is_some()
        && r.json()["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("insufficient-storage"));
    (!ok).then(|| format!("{what}: {} {}", r.status, r.text()))
}

struct Setup {
    _keys_dir: tempfile::TempDir,
    args: Vec<String>,
    key: String,
}

fn setup(data: &Path) -> Setup {
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = keys_dir.path().join("keys.toml");
    let key = add_key(&keys, "admin", true);
    let args = vec![
        "--data".to_string(),
        data.to_str().unwrap().to_string(),
        "--keys".to_string(),
        keys.to_str().unwrap().to_string(),
    ];
    Setup {
        _keys_dir: keys_dir,
        args,
        key,
    }
}

impl Setup {
    fn serve(&self) -> (Server, Client) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let server = Server::start(&args, &[]);
        let client = Client {
            addr: server.addr,
            auth: format!("Bearer {}", self.key),
        };
        (server, client)
    }
}

/// Open files of a process that were deleted (`/proc/PID/fd` links ending in "(deleted)").
fn deleted_open_files(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .map(|p| p.display().to_string())
                .filter(|p| p.ends_with("(deleted)"))
                .collect()
        })
        .unwrap_or_default()
}

/// Creates empty files in `dir` until the file system refuses one; returns them.
fn fill_inodes(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut made = Vec::new();
    for i in 0.. {
        let p = dir.join(format!("f{i}"));
        if std::fs::File::create(&p).is_err() {
            break;
        }
        made.push(p);
    }
    made
}

#[test]
fn compaction_without_inodes_loses_nothing() {
    let Some(fs) = Tmpfs::mount(
        "compaction_without_inodes_loses_nothing",
        "size=30m,nr_inodes=40",
    ) else {
        return;
    };
    let data = fs.path().join("data");
    let s = setup(&data);
    let (mut server, c) = s.serve();
    let mut acked = vec![(c.created("before"), "before".to_string())];
    let filler = fill_inodes(&fs.path().join("fill"));
    assert!(!filler.is_empty());
    let mut wrong = Vec::new();
    let r = c.send("POST", "/admin/compact", None);
    wrong.extend(no_space_problem(&r, "compaction without an inode"));
    acked.push((c.created("between"), "between".into()));
    for p in &filler {
        std::fs::remove_file(p).unwrap();
    }
    let r = c.send("POST", "/admin/compact", None);
    if r.status != 200 {
        wrong.push(format!("compaction once inodes are back: {}", r.text()));
    }
    for name in ["after-1", "after-2", "after-3"] {
        acked.push((c.created(name), name.to_string()));
    }
    let deleted = deleted_open_files(server.child.id());
    if deleted.iter().any(|p| p.contains("writes.log")) {
        wrong.push(format!("the server holds a deleted log open: {deleted:?}"));
    }
    server.kill();
    let (_server, c) = s.serve();
    for (id, name) in &acked {
        assert_eq!(
            c.name_of(*id).as_ref(),
            Some(name),
            "acknowledged feature {id} after SIGKILL + restart (also: {wrong:?})"
        );
    }
    assert_eq!(c.count(), acked.len() as u64);
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Fills the file system's space with one file; returns it.
fn fill_space(dir: &Path) -> PathBuf {
    let p = dir.join("ballast");
    let mut f = std::fs::File::create(&p).unwrap();
    let block = vec![0u8; 4096];
    while std::io::Write::write_all(&mut f, &block).is_ok() {}
    p
}

#[test]
fn writes_refused_for_want_of_space_leave_no_trace() {
    let Some(fs) = Tmpfs::mount(
        "writes_refused_for_want_of_space_leave_no_trace",
        "size=2m,nr_inodes=200",
    ) else {
        return;
    };
    let data = fs.path().join("data");
    let s = setup(&data);
    let (mut server, c) = s.serve();
    let first = c.created("first");
    let ballast = fill_space(fs.path());
    // Concurrent writers, so that group commits hold several requests: the log's last page
    // takes some of a group's records, not all.
    let addr = c.addr;
    let auth = c.auth.clone();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = Client {
                addr,
                auth: auth.clone(),
            };
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for i in 0..8 {
                    let name = format!("t{t}-{i}-{}", "x".repeat(200));
                    let r = c.create(&name);
                    out.push((name, r));
                }
                out
            })
        })
        .collect();
    let mut acked = vec![(first, "first".to_string())];
    let mut refused = 0;
    let mut wrong = Vec::new();
    for t in threads {
        for (name, r) in t.join().unwrap() {
            match r.status {
                201 => acked.push((r.json()["features"][0]["id"].as_u64().unwrap(), name)),
                _ => {
                    wrong.extend(no_space_problem(&r, "a write the log cannot take"));
                    refused += 1;
                }
            }
        }
    }
    eprintln!(
        "full disk: {} writes acknowledged, {refused} refused",
        acked.len() - 1
    );
    assert!(
        refused > 0,
        "the file system was full: some writes must be refused"
    );
    // Space back: the writer goes on, no restart needed.
    std::fs::remove_file(&ballast).unwrap();
    let r = c.create("after");
    match r.status {
        201 => acked.push((
            r.json()["features"][0]["id"].as_u64().unwrap(),
            "after".into(),
        )),
        _ => wrong.push(format!(
            "a write once space is back: {} {}",
            r.status,
            r.text()
        )),
    }
    server.kill();
    let (_server, c) = s.serve();
    assert_eq!(
        c.count(),
        acked.len() as u64,
        "exactly the acknowledged features ({refused} refused ones must have left no trace; \
         also: {wrong:?})"
    );
    for (id, name) in &acked {
        assert_eq!(c.name_of(*id).as_ref(), Some(name), "feature {id}");
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
