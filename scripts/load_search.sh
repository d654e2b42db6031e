#!/usr/bin/env bash
# Load test of the search API over loopback with wrk: requests/s, p50 and p99 of
#   1. GET /health (baseline: the server's floor, no search), and
#   2. a radius search returning 20 features (`material=wood`, `limit=20`) around a deposit,
# on the demo data at `--scale` (default 500: 1,000,000 waste deposits, 200,000+ plots), then
# the search figures as a ratio of the baseline.
#
# Usage: scripts/load_search.sh            (SCALE=1 for the small demo set)
# Env:   SCALE=500 DURATION=15s CONNECTIONS=64 THREADS=1 PORT=18080 DATA=<data dir>
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE="${SCALE:-500}"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-1}"
PORT="${PORT:-18080}"
DATA="${DATA:-target/loadtest-data-scale$SCALE}"
BASE="http://127.0.0.1:$PORT"

if ! command -v wrk >/dev/null; then
  echo "load_search: installing wrk" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi
command -v curl >/dev/null || { echo "load_search: curl is needed" >&2; exit 1; }

cargo build --release --locked --quiet
cargo build --release --locked --quiet -p terriens-demo --bin terriens-fixtures
BIN=target/release/terriens
if [ ! -f "$DATA/waste_deposits.fgb" ]; then
  echo "load_search: generating the demo data at scale $SCALE into $DATA" >&2
  target/release/terriens-fixtures --scale "$SCALE" --format store --out "$DATA" >&2
fi

"$BIN" serve --data "$DATA" --addr "127.0.0.1:$PORT" 2>/tmp/terriens-load-$PORT.log &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -fs "$BASE/health" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { echo "load_search: server died; see /tmp/terriens-load-$PORT.log" >&2; exit 1; }
  sleep 0.5
done

# A centre where the data is: the first deposit of the layer. Grow the radius until the page
# holds 20 features, then narrow it down so the search matches not many more than 20.
read -r LON LAT < <(curl -fs "$BASE/layers/waste_deposits/search?limit=1" \
  | python3 -c 'import json,sys; c=json.load(sys.stdin)["features"][0]["geometry"]["coordinates"]; print(c[0], c[1])')
RADIUS=250
while :; do
  URL="$BASE/layers/waste_deposits/search?lon=$LON&lat=$LAT&radius_m=$RADIUS&material=wood&limit=20"
  N=$(curl -fs "$URL" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberReturned"])')
  [ "$N" -ge 20 ] && break
  RADIUS=$((RADIUS * 2))
  [ "$RADIUS" -le 200000 ] || { echo "load_search: no radius gives 20 wood deposits" >&2; exit 1; }
done
returned() { curl -fs "$BASE/layers/waste_deposits/search?lon=$LON&lat=$LAT&radius_m=$1&material=wood&limit=20" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberReturned"])'; }
LO=$((RADIUS / 2)); HI=$RADIUS
for _ in 1 2 3 4 5 6 7 8; do
  MID=$(((LO + HI) / 2))
  if [ "$(returned "$MID")" -ge 20 ]; then HI=$MID; else LO=$MID; fi
done
RADIUS=$HI
URL="$BASE/layers/waste_deposits/search?lon=$LON&lat=$LAT&radius_m=$RADIUS&material=wood&limit=20"
MATCHED=$(curl -fs "$URL" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')
BYTES=$(curl -fs "$URL" | wc -c)

run() { # name url → "rps p50 p99"
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$2")
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  if grep -q "Non-2xx" <<<"$out"; then echo "load_search: $1 had errors:" >&2; echo "$out" >&2; exit 1; fi
  echo "$rps $p50 $p99"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores; data: scale $SCALE"
echo "search: $URL"
echo "        20 of $MATCHED matches per response, $BYTES bytes"
read -r H_RPS H_P50 H_P99 < <(run health "$BASE/health")
read -r S_RPS S_P50 S_P99 < <(run search "$URL")
printf '%-34s %12s %10s %10s\n' "endpoint" "requests/s" "p50" "p99"
printf '%-34s %12s %10s %10s\n' "GET /health (baseline)" "$H_RPS" "$H_P50" "$H_P99"
printf '%-34s %12s %10s %10s\n' "radius search, 20 features" "$S_RPS" "$S_P50" "$S_P99"
python3 -c "print(f'search throughput = {float($S_RPS)/float($H_RPS):.2f} x baseline')"
