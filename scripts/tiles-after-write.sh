#!/usr/bin/env bash
# How long the first tile request after a write spends preparing tiles ("tiles prepared ms="
# in the server log), on a copy of a data directory: one full preparation at start, then
# WRITES single-feature writes to waste deposits and to plots, each followed by a tile request.
#
#   scripts/tiles-after-write.sh BIN DATA_DIR [WRITES]
#
# BIN is a release `terriens` binary (run it for a base build and for the working tree to
# compare). Prints the load average and each preparation's time.
set -euo pipefail
BIN="$1"
DATA="$2"
WRITES="${3:-10}"
WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT
cp -r "$DATA" "$WORK/data"
KEY="$("$BIN" keys add --role editor --keys "$WORK/keys.toml" 2>/dev/null)"
NO_COLOR=1 RUST_LOG=warn,terriens=info "$BIN" serve --data "$WORK/data" --keys "$WORK/keys.toml" \
  --addr 127.0.0.1:0 2>"$WORK/server.log" &
PID=$!
ADDR=""
for _ in $(seq 1 900); do
  ADDR="$(grep -o 'listening on http://[0-9.:]*' "$WORK/server.log" | head -1 | sed 's#listening on http://##' || true)"
  [ -n "$ADDR" ] && break
  sleep 0.2
done
[ -n "$ADDR" ] || { cat "$WORK/server.log"; exit 1; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
tile() { curl -s -o /dev/null -w '%{http_code} ' "http://$ADDR/tiles/all/$1"; }
tile 10/512/350
for i in $(seq 1 "$WRITES"); do
  lon="0.1$i"
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/geo+json' \
    "http://$ADDR/layers/waste_deposits/features" \
    -d "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[$lon,49.5]},\"properties\":{\"material\":\"wood\",\"quantity\":$i}}"
  tile 10/512/350
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/geo+json' \
    "http://$ADDR/layers/plots/features" \
    -d "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[$lon,49.5],[$lon,49.501],[0.2,49.501],[0.2,49.5],[$lon,49.5]]]},\"properties\":{\"name\":\"w$i\",\"status\":\"available\"}}"
  tile 10/512/350
done
echo
grep -o 'tiles prepared.*' "$WORK/server.log" | sed 's/\x1b\[[0-9;]*m//g'
