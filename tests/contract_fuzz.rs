//! `openapi.yaml` against a real server, by a second implementation of the contract:
//! Schemathesis (4.32.5) generates requests from the document — valid ones that must be
//! accepted and invalid ones that must be refused — and checks every answer's status, media
//! type, headers and body against it. Reads run as an anonymous caller, writes with an editor
//! key (partners right) on a scratch data directory; then the server is stopped (SIGTERM
//! compacts the write log into the layer files) and started again on what the fuzzing wrote,
//! so a write that was acknowledged but cannot be read back fails here.
//!
//! Settings, and the few narrowings with their reasons: `tests/py/schemathesis.toml` and
//! `tests/py/schemathesis_hooks.py`. `TERRIENS_SCHEMATHESIS_SEED` and
//! `TERRIENS_SCHEMATHESIS_EXAMPLES` (default 25 per operation) change the run.

use crate::common;

use common::server::{BIN, Server, add_key};
use common::wire::request;
use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `st run` of openapi.yaml against `addr` with extra arguments; panics with the report when
/// it finds anything.
fn schemathesis(addr: std::net::SocketAddr, scratch: &Path, what: &str, args: &[&str]) {
    let py = Path::new(ROOT).join("tests/py");
    let seed = std::env::var("TERRIENS_SCHEMATHESIS_SEED").unwrap_or_else(|_| "2026".into());
    let examples = std::env::var("TERRIENS_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "25".into());
    let out = Command::new("python3")
        .args(["-m", "schemathesis.cli", "--no-color", "--config-file"])
        .arg(py.join("schemathesis.toml"))
        .arg("run")
        .arg(Path::new(ROOT).join("openapi.yaml"))
        .args(["--url", &format!("http://{addr}"), "--checks", "all"])
        .args(["--seed", &seed, "--max-examples", &examples])
        .args(args)
        // Its cache (`.schemathesis/`) goes to the scratch directory, not the checkout.
        .current_dir(scratch)
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", &py)
        .env("TERRIENS_OPENAPI", Path::new(ROOT).join("openapi.yaml"))
        .output()
        .expect("python3 -m schemathesis.cli runs (scripts/ensure-deps.sh --test installs it)");
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: String = report
        .lines()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("schemathesis, {what}:\n{summary}");
    assert!(
        out.status.success(),
        "schemathesis found contract breaks ({what}, seed {seed}):\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        report.contains("Test cases:")
            || report.contains("warnings in")
            || report.contains("passed"),
        "schemathesis ran no test ({what}):\n{report}"
    );
}

/// Feature counts per layer, as `/catalog` gives them to a partner.
fn counts(addr: std::net::SocketAddr, key: &str) -> Vec<(String, u64)> {
    let auth = format!("Bearer {key}");
    let r = request(addr, "GET", "/catalog", &[("Authorization", &auth)], None).unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_string(),
                l["count"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

#[test]
fn schemathesis_finds_no_contract_break_and_what_it_wrote_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    terriens_demo::generate(
        &data,
        1,
        terriens_demo::DEFAULT_SEED,
        terriens_demo::OutputFormat::Store,
    )
    .expect("the demo data set is written");
    let roads = Path::new(ROOT).join("fixtures/roads.osm.gz");
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
    let editor = add_key(&keys, "editor", true);
    let (data_s, keys_s) = (data.to_str().unwrap(), keys.to_str().unwrap());
    let mut server = Server::start(&["--data", data_s, "--keys", keys_s], &[]);

    // Reads, anonymous. `Allow` is per caller (an anonymous caller may only read), so the
    // Allow check belongs to the editor's run below. No stateful phase here: it follows the
    // `tiles` URL template of TileJSON as a link and asks for `/tiles/all/{z}/{x}/{y}.mvt`
    // literally, path parameters the schema types as integers; the write run keeps it.
    schemathesis(
        server.addr,
        tmp.path(),
        "reads, anonymous",
        &[
            "--exclude-method",
            "POST",
            "--exclude-method",
            "PUT",
            "--exclude-method",
            "PATCH",
            "--exclude-method",
            "DELETE",
            "--exclude-checks",
            "allow_header_conformance",
            "--phases",
            "examples,coverage,fuzzing",
        ],
    );
    // Writes (and OPTIONS) with the editor key. On an item id that holds no feature, `Allow`
    // is `PUT, OPTIONS` (create it): right for the resource, narrower than the documented
    // methods, so that one operation is left out here (tests/ogc_options.rs checks it).
    let auth = format!("Authorization: Bearer {editor}");
    schemathesis(
        server.addr,
        tmp.path(),
        "writes, editor key",
        &[
            "--include-method",
            "POST",
            "--include-method",
            "PUT",
            "--include-method",
            "PATCH",
            "--include-method",
            "DELETE",
            "--include-method",
            "OPTIONS",
            "--exclude-name",
            "OPTIONS /ogc/collections/{layer}/items/{id}",
            "-H",
            &auth,
        ],
    );

    // What the fuzzing wrote survives a stop and a start: the compaction writes layer files
    // the next start reads, with the same features.
    let before = counts(server.addr, &editor);
    assert!(server.stop(), "the server stops cleanly");
    let server = Server::start(&["--data", data_s, "--keys", keys_s], &[]);
    assert_eq!(
        counts(server.addr, &editor),
        before,
        "the layers after a restart differ from what was served before it"
    );
}
