//! `openapi.yaml` is the contract: every route of the router is documented there with its
//! method, and every documented path exists in the router.

use std::collections::BTreeSet;

/// (METHOD, path) pairs under `paths:` of openapi.yaml. The file keeps the usual layout: a path
/// indented by 2 spaces, its methods by 4.
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml is readable");
    let mut out = BTreeSet::new();
    let mut in_paths = false;
    let mut path = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end().trim_end_matches(':')));
        } else if let Some(m) = line.strip_prefix("    ")
            && !m.starts_with(' ')
        {
            let m = m.trim_end().trim_end_matches(':');
            if ["get", "post", "put", "patch", "delete", "head", "options"].contains(&m) {
                let p = path.clone().expect("a method under a path");
                out.insert((m.to_ascii_uppercase(), p));
            }
        }
    }
    out
}

#[test]
fn router_and_openapi_agree() {
    let routed: BTreeSet<(String, String)> = terriens::api::routes()
        .iter()
        .map(|r| (r.method.as_str().to_string(), r.path.to_string()))
        .collect();
    let documented = documented();
    assert!(!documented.is_empty());
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        missing.is_empty(),
        "openapi.yaml documents routes the router lacks: {missing:?}"
    );
}

/// The contract is a valid OpenAPI 3.1 document, checked by an independent validator
/// (`openapi-spec-validator`, installed by `scripts/ensure-deps.sh --test`).
#[test]
fn openapi_yaml_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let check = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output();
    assert!(
        matches!(check, Ok(ref o) if o.status.success()),
        "python3 with openapi-spec-validator is needed (run scripts/ensure-deps.sh --test)"
    );
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", path])
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        out.status.success(),
        "openapi.yaml is not a valid OpenAPI document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
