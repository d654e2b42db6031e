#!/usr/bin/env bash
# Runs the whole test suite: unit, integration and doc tests, with the independent oracles
# (Python geographiclib, mapbox-vector-tile, pmtiles, networkx; headless Chromium).
# Tests on real data read the folder named by TERRIENS_REALDATA (../shared/realdata in CI);
# when it is unset they say so and skip.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh --test
if [ -z "${TERRIENS_REALDATA:-}" ]; then
  echo "terriens: TERRIENS_REALDATA is unset: tests on real data will be skipped" >&2
fi
# Unit, integration and doc tests. (Benches are not run here: they are measurements, not
# checks; `cargo bench` runs them.)
cargo test --locked
