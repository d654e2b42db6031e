//! Item 3 of issue 13: a write log damaged in the middle is not a torn tail. A real server
//! refuses to start on it (naming the offset, every byte kept), `terriens log check` reports
//! it, `terriens log salvage` moves the damaged bytes to a new file and keeps the whole records,
//! and the server then starts with them. A torn last record is still cut automatically, into a
//! new file each time (an earlier one is never overwritten).
//!
//! The oracle for offsets is this file's own reading of the documented framing (8-byte header,
//! then `[len u32 LE][crc32 u32 LE][payload]`), not the server's code.

use crate::common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{BIN, Server, add_key};
use common::wire::request;
use serde_json::json;

fn deposit(name: &str, id: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "Feature", "id": id,
        "geometry": {"type": "Point", "coordinates": [0.2, 49.4]},
        "properties": {"name": name, "material": "wood", "quantity": 12.5, "holder": "Scierie"},
    }))
    .unwrap()
}

fn post(addr: SocketAddr, key: &str, name: &str, id: u64) {
    let auth = format!("Bearer {key}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/geo+json"),
    ];
    let body = deposit(name, id);
    let r = request(
        addr,
        "POST",
        "/layers/waste_deposits/features",
        &headers,
        Some(&body),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
}

/// The name of feature `id`, or None for a 404.
fn name_of(addr: SocketAddr, key: &str, id: u64) -> Option<String> {
    let auth = format!("Bearer {key}");
    let path = format!("/layers/waste_deposits/features/{id}");
    let r = request(addr, "GET", &path, &[("Authorization", &auth)], None).unwrap();
    match r.status {
        404 => None,
        200 => Some(r.json()["properties"]["name"].as_str().unwrap().to_string()),
        s => panic!("GET {id}: {s} {}", r.text()),
    }
}

/// Start offsets of the records of a log, by the documented framing.
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    assert_eq!(&bytes[..8], b"TRNWLOG1");
    let mut pos = 8;
    let mut out = Vec::new();
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        out.push(pos);
        pos += 8 + len;
    }
    assert_eq!(pos, bytes.len(), "whole records only");
    out
}

/// Runs the binary to its end (bounded wait: it must not hang); (exit ok, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("terriens {args:?} did not end within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Dir {
    _tmp: tempfile::TempDir,
    data: String,
    keys: String,
    key: String,
}

fn setup() -> Dir {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys.toml");
    let key = add_key(&keys, "admin", true);
    Dir {
        data: tmp.path().join("data").to_str().unwrap().to_string(),
        keys: keys.to_str().unwrap().to_string(),
        key,
        _tmp: tmp,
    }
}

impl Dir {
    fn serve(&self) -> Server {
        Server::start(&["--data", &self.data, "--keys", &self.keys], &[])
    }
    fn log(&self) -> std::path::PathBuf {
        Path::new(&self.data).join("writes.log")
    }
}

#[test]
fn damage_in_the_middle_stops_start_up_and_salvage_keeps_the_rest() {
    let d = setup();
    let mut server = d.serve();
    for (i, name) in ["first", "second", "third", "fourth"].iter().enumerate() {
        post(server.addr, &d.key, name, 100 + i as u64);
    }
    server.kill();
    let mut bytes = std::fs::read(d.log()).unwrap();
    let starts = record_starts(&bytes);
    assert_eq!(starts.len(), 4);
    // One flipped byte inside the second record's payload.
    bytes[starts[1] + 30] ^= 0x08;
    std::fs::write(d.log(), &bytes).unwrap();

    let (ok, _, err) = run(&["serve", "--addr", "127.0.0.1:0", "--data", &d.data]);
    assert!(!ok, "the server must not start on a damaged log:\n{err}");
    assert!(err.contains(&format!("offset {}", starts[1])), "{err}");
    assert!(err.contains("terriens log salvage"), "{err}");
    assert_eq!(std::fs::read(d.log()).unwrap(), bytes, "every byte is kept");

    let (ok, out, _) = run(&["log", "check", "--data", &d.data]);
    assert!(!ok, "check exits 1 on a log start-up refuses");
    assert!(out.contains(&format!("offset {}", starts[1])), "{out}");
    assert!(
        out.contains("3 whole records") && out.contains("DAMAGED"),
        "{out}"
    );

    let (ok, out, err) = run(&["log", "salvage", "--data", &d.data]);
    assert!(ok, "salvage: {out}\n{err}");
    assert!(err.contains("moved"), "salvage is logged: {err}");
    let aside = Path::new(&d.data).join("writes.log.damaged.1");
    assert_eq!(std::fs::read(aside).unwrap(), bytes[starts[1]..starts[2]]);
    let (ok, out, _) = run(&["log", "check", "--data", &d.data]);
    assert!(ok, "{out}");

    let server = d.serve();
    let names: Vec<_> = (100..104)
        .map(|id| name_of(server.addr, &d.key, id))
        .collect();
    assert_eq!(
        names,
        [
            Some("first".into()),
            None,
            Some("third".into()),
            Some("fourth".into())
        ]
    );
}

#[test]
fn a_torn_tail_is_cut_into_a_new_file_each_time() {
    let d = setup();
    let mut server = d.serve();
    post(server.addr, &d.key, "kept", 7);
    server.kill();
    let earlier = Path::new(&d.data).join("writes.log.torn.1");
    std::fs::write(&earlier, b"an earlier cut").unwrap();
    for (round, tail) in [&[0x30u8, 0, 0, 0, 1, 2, 3][..], b"\x05\x00"]
        .iter()
        .enumerate()
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(d.log())
            .unwrap();
        std::io::Write::write_all(&mut f, tail).unwrap();
        drop(f);
        let good = std::fs::read(d.log()).unwrap().len() - tail.len();
        let mut server = d.serve();
        assert!(server.log_text().contains("cut a torn last record"));
        assert_eq!(name_of(server.addr, &d.key, 7).as_deref(), Some("kept"));
        let cut = Path::new(&d.data).join(format!("writes.log.torn.{}", round + 2));
        assert_eq!(&std::fs::read(&cut).unwrap(), tail);
        assert_eq!(std::fs::read(d.log()).unwrap().len(), good);
        server.kill();
    }
    assert_eq!(std::fs::read(&earlier).unwrap(), b"an earlier cut");
}
