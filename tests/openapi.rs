//! `openapi.yaml` is the contract: every route of the router is documented there with its
//! method, and every documented path exists in the router.

#[path = "common/openapi_doc.rs"]
mod openapi_doc;

use std::collections::BTreeSet;

use openapi_doc::documented;

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
