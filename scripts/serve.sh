#!/usr/bin/env bash
# Builds terriens and serves the embedded synthetic demo data on http://127.0.0.1:8080
# (extra arguments go to `terriens serve`, e.g. --addr 0.0.0.0:8080 or --data DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-deps.sh
exec cargo run --release --locked -- serve "$@"
