//! Running the independent Python oracles (installed by `scripts/ensure-deps.sh --test`).

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Runs `python3 tests/py/<script> args...` and returns its standard output; panics with a
/// clear message when Python or the module is missing.
pub fn run(script: &str, module: &str, args: &[&Path]) -> String {
    let check = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output();
    match check {
        Ok(o) if o.status.success() => {}
        _ => panic!(
            "python3 with the `{module}` package is needed for this test (the independent \
             oracle): run scripts/ensure-deps.sh --test"
        ),
    }
    let script_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(script);
    let out = Command::new("python3")
        .arg(&script_path)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}
