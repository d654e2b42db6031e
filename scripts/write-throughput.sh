#!/usr/bin/env bash
# Measures acknowledged write throughput (each write appended to the log and fsynced before its
# 201) on a fresh data directory: single-feature writes with 1 and 16 concurrent clients (group
# commit), and batches of 100.
#
#   scripts/write-throughput.sh [SECONDS] [SCALE]
#
# SCALE > 0 starts from `terriens-fixtures --scale SCALE --format store` instead of an empty
# directory: every group commit rebuilds the waste_deposits layer, so throughput then depends
# on the layer's size.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-10}"
SCALE="${2:-0}"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin terriens --example write_load
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p terriens-demo --bin terriens-fixtures
BIN=target/release/terriens
WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
if [ "$SCALE" -gt 0 ]; then
  target/release/terriens-fixtures --scale "$SCALE" --format store --out "$WORK/data" >/dev/null
fi
KEY="$("$BIN" keys add --role editor --keys "$WORK/keys.toml" 2>/dev/null)"
NO_COLOR=1 RUST_LOG=warn,terriens=info "$BIN" serve --data "$WORK/data" --keys "$WORK/keys.toml" \
  --addr 127.0.0.1:0 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 1 600); do
  ADDR="$(grep -o 'listening on http://[0-9.:]*' "$WORK/server.log" | head -1 | sed 's#listening on http://##' || true)"
  [ -n "$ADDR" ] && break
  sleep 0.2
done
[ -n "$ADDR" ] || { cat "$WORK/server.log"; exit 1; }
echo "server at $ADDR, data in $WORK/data (scale $SCALE), $(nproc) cores, filesystem $(df -T "$WORK" | awk 'NR==2{print $2}')"
for cfg in "1 1" "16 1" "64 1" "4 100"; do
  set -- $cfg
  target/release/examples/write_load "$ADDR" "$KEY" "$1" "$SECONDS_EACH" "$2"
done
curl -s "http://$ADDR/metrics" 2>/dev/null | grep -E '^terriens_(write|writes|written|compactions)' || true
