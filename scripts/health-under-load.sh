#!/usr/bin/env bash
# /health p99 while 64 connections hammer the heavy endpoints and 1,000 idle connections are
# held (issue 13), on a release build and the demo data. Prints p50/p99/max and PASS/FAIL
# against 50 ms. Env: SECONDS_=20 IDLE=1000 HAMMER=64 PORT=18093
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/terriens"
exec python3 scripts/health_under_load.py "$BIN" --seconds "${SECONDS_:-20}" \
  --idle "${IDLE:-1000}" --hammer "${HAMMER:-64}" --port "${PORT:-18093}"
