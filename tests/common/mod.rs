//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The real data folder named by `TERRIENS_REALDATA`, or `None` after saying clearly why the
/// calling test is skipped.
pub fn realdata(test: &str) -> Option<PathBuf> {
    match std::env::var_os("TERRIENS_REALDATA") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("README.md").exists(),
                "TERRIENS_REALDATA={} does not hold the real data (no README.md)",
                dir.display()
            );
            Some(dir)
        }
        _ => {
            eprintln!(
                "TERRIENS_REALDATA unset: skipping {test} (set it to the real data folder, e.g. ../shared/realdata)"
            );
            None
        }
    }
}
