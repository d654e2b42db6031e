#!/usr/bin/env bash
# Warm tile throughput on loopback with wrk: serves a data directory with the release build,
# renders a set of tiles once (so they are cached), then replays them for a fixed time.
#   DATA_DIR   data directory (<layer>.fgb), or `demo` for the embedded demo data. Default:
#              generated with `terriens-fixtures --scale $SCALE` and imported; or write the
#              bench data with TERRIENS_BENCH_WRITE_DATA=DIR cargo bench --bench tiles
#   ZOOM (14), TILES (2000), DURATION (20s), CONNECTIONS (64), THREADS (1), PORT (18080)
# Bounded: wrk stops after DURATION; the server is stopped on exit. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
ZOOM="${ZOOM:-14}"; TILES="${TILES:-2000}"; DURATION="${DURATION:-20s}"
CONNECTIONS="${CONNECTIONS:-64}"; THREADS="${THREADS:-1}"; PORT="${PORT:-18080}"; SCALE="${SCALE:-500}"
command -v wrk >/dev/null || { echo "load-tiles: wrk is missing (apt-get install wrk)" >&2; exit 1; }
cargo build --release --locked --quiet
cargo build --release --locked --quiet -p terriens-demo --bin terriens-fixtures
bin=target/release/terriens
work="$(mktemp -d)"
if [ -z "${DATA_DIR:-}" ]; then
  DATA_DIR="$work/data"
  echo "load-tiles: generating --scale $SCALE data" >&2
  target/release/terriens-fixtures --scale "$SCALE" --out "$work/geojson"
  for layer in territories catchments plots buildings waste_deposits; do
    "$bin" import --layer "$layer" --data "$DATA_DIR" --replace "$work/geojson/$layer.geojson"
  done
fi
if [ "$DATA_DIR" = demo ]; then
  "$bin" serve --addr "127.0.0.1:$PORT" >"$work/server.log" 2>&1 &
else
  "$bin" serve --data "$DATA_DIR" --addr "127.0.0.1:$PORT" >"$work/server.log" 2>&1 &
fi
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 1
done
# Tiles over the data's bounds at ZOOM, at most TILES of them, from the centre out.
curl -sf "http://127.0.0.1:$PORT/tiles/all.json" | python3 -c '
import json, math, sys
tj = json.load(sys.stdin); z = int(sys.argv[1]); limit = int(sys.argv[2])
w, s, e, n = tj["bounds"]
def tile(lon, lat):
    k = 2 ** z
    x = int((lon + 180) / 360 * k)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k)
    return x, y
x0, y0 = tile(w, n); x1, y1 = tile(e, s)
cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
tiles = sorted(((x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)),
               key=lambda t: (t[0] - cx) ** 2 + (t[1] - cy) ** 2)[:limit]
for x, y in tiles:
    print(f"/tiles/all/{z}/{x}/{y}.mvt")
' "$ZOOM" "$TILES" > "$work/paths.txt"
echo "load-tiles: $(wc -l < "$work/paths.txt") tiles at zoom $ZOOM; warming the cache" >&2
while read -r p; do curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT$p"; done < "$work/paths.txt"
cat > "$work/paths.lua" <<LUA
local paths = {}
for line in io.lines("$work/paths.txt") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Accept-Encoding"] = "gzip" })
end
LUA
wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency -s "$work/paths.lua" "http://127.0.0.1:$PORT"
