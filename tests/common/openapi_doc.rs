//! The routes `openapi.yaml` documents, for tests that check they cover every route.
#![allow(dead_code)]

use std::collections::BTreeSet;

/// (METHOD, path) pairs under `paths:` of openapi.yaml. The file keeps the usual layout: a path
/// indented by 2 spaces, its methods by 4.
pub fn documented() -> BTreeSet<(String, String)> {
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
