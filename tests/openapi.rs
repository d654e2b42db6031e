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
