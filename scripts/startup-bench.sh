#!/usr/bin/env bash
# Start-up and drive-time-after-write figures of one or two `terriens` binaries on a copy of a
# data directory (default /work/data500): seconds to a listening socket and to the first 200 of
# /health, with and without persisted snaps (derived/), and the latency of
# /layers/waste_deposits/search?drive_from=..&drive_max_min=10 right after a POST to
# waste_deposits against steady state. Usage: startup-bench.sh BIN [BASELINE_BIN] [DATA]
set -euo pipefail
BIN=$1; BASE=${2:-}; SRC=${3:-/work/data500}
WORK=$(mktemp -d); D=$WORK/data; cp -r "$SRC" "$D"; rm -rf "$D/derived"
PORT=18931; ADDR=127.0.0.1:$PORT
KEY=$("$BIN" keys add --role editor --keys "$WORK/keys.toml" 2>/dev/null)
now() { date +%s.%N; }
run() { # label bin
  local label=$1 bin=$2 t0 tl= tr= code
  t0=$(now)
  "$bin" serve --data "$D" --keys "$WORK/keys.toml" --addr "$ADDR" 2>"$WORK/$label.log" &
  local pid=$!
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://$ADDR/health" || true)
    [ "$code" != 000 ] && [ -z "$tl" ] && tl=$(now)
    [ "$code" = 200 ] && { tr=$(now); break; }
    sleep 0.02
  done
  local c; c=$(curl -s "http://$ADDR/catalog" | python3 -c 'import json,sys; l=[x for x in json.load(sys.stdin)["layers"] if x["id"]=="waste_deposits"][0]; b=l["bounds"]; print((b[0]+b[2])/2, (b[1]+b[3])/2)')
  local lon=${c% *} lat=${c#* }
  local q="http://$ADDR/layers/waste_deposits/search?drive_from=$lon,$lat&drive_max_min=10&limit=10"
  curl -s -o /dev/null "$q"  # the first search after start (snaps ready or not)
  local steady=() after=()
  for i in 1 2 3 4 5; do steady+=("$(curl -s -o /dev/null -w '%{time_total}' "$q")"); done
  for i in 1 2 3; do
    curl -s -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: application/geo+json' \
      -d "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[$lon,$lat]},\"properties\":{\"name\":\"bench $i\",\"material\":\"wood\",\"quantity\":1,\"confidentiality\":\"public\",\"holder\":\"bench\"}}" \
      "http://$ADDR/layers/waste_deposits/features"
    after+=("$(curl -s -o /dev/null -w '%{time_total}' "$q")")
  done
  printf '%-22s listening %6.2f s  ready %6.2f s  steady search %s s  first search after a write %s s\n' \
    "$label" "$(echo "$tl - $t0" | bc)" "$(echo "$tr - $t0" | bc)" "${steady[*]}" "${after[*]}"
  # Let the background persisting finish before stopping.
  for _ in $(seq 1 300); do grep -q "feature snaps persisted\|snapped=0" "$WORK/$label.log" && break; sleep 0.1; done
  kill -TERM $pid; wait $pid || true
}
uptime
[ -n "$BASE" ] && run baseline "$BASE"
run "after, no snap files" "$BIN"
run "after, snap files" "$BIN"
uptime
grep -h "feature snaps ready\|tiles prepared" "$WORK"/*.log | cut -c1-200 || true
rm -rf "$WORK"
