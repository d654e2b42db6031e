#!/usr/bin/env bash
# Living data under load, at scale N against scale 1 in the same run (issue 12): for each
# scale, a release server on a copy of `terriens-fixtures --scale S --format store` data, then
#   - start-up: seconds to a listening socket and to a ready `/health` (200), RSS when ready;
#   - acknowledged single-feature writes (append + fsync + publish before the 201): rate, p50,
#     p99 with 1 and 16 clients (examples/write_load.rs);
#   - warm tile throughput and p99 at zoom 14 with no writes, then while 100 writes/s land on
#     waste_deposits inside the tiles' area (examples/live_load.rs);
#   - a drive-time search (`/layers/waste_deposits/search?drive_from=..&drive_max_min=10`) in
#     steady state and right after each of N acknowledged writes;
#   - RSS at the end.
# A benchmark, not a test: figures depend on the machine; the load average is printed with
# each block, and the ratios scale N / scale 1 are what to compare.
#
#   scripts/live-bench.sh [--scale N]        (default 500)
# Environment: SECONDS_EACH (10), TILE_CLIENTS (4), WRITE_RATE (100), DRIVE_N (20),
#   LIVE_BENCH_DATA_DIR: a directory holding data-<scale>/ made earlier (generated there when
#   absent; kept, so a second run skips the generation), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=500
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    *) echo "usage: scripts/live-bench.sh [--scale N]" >&2; exit 2 ;;
  esac
done
SECONDS_EACH="${SECONDS_EACH:-10}"; TILE_CLIENTS="${TILE_CLIENTS:-4}"
WRITE_RATE="${WRITE_RATE:-100}"; DRIVE_N="${DRIVE_N:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --locked --quiet --bin terriens --example write_load --example live_load
  cargo build --release --locked --quiet -p terriens-demo --bin terriens-fixtures
fi
REL="$CARGO_TARGET_DIR/release"
BIN="$REL/terriens"
WORK="$(mktemp -d)"
DATA_HOME="${LIVE_BENCH_DATA_DIR:-$WORK}"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
rss_mb() { awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
now() { date +%s.%N; }
# The number at the end of the first match of a pattern (empty when none).
field() { echo "$1" | grep -o "$2" | head -1 | grep -o '[0-9.]*$' || true; }

declare -A RESULT
run_scale() {
  local scale="$1" src="$DATA_HOME/data-$1"
  if [ ! -d "$src" ]; then
    echo "== generating scale $scale data in $src"
    "$REL/terriens-fixtures" --scale "$scale" --format store --out "$src.tmp" >/dev/null
    mv "$src.tmp" "$src"
  fi
  rm -rf "$WORK/run"; cp -rL "$src" "$WORK/run"
  local key; key="$("$BIN" keys add --role editor --keys "$WORK/keys.toml" 2>/dev/null)"
  local log="$WORK/server-$scale.log" t0 t_listen="" t_ready="" addr=""
  echo "== scale $scale: $(du -sh "$WORK/run" | cut -f1) of data; load average $(load)"
  t0="$(now)"
  NO_COLOR=1 RUST_LOG=warn,terriens=info "$BIN" serve --data "$WORK/run" --keys "$WORK/keys.toml" \
    --addr 127.0.0.1:0 2>"$log" &
  PID=$!
  for _ in $(seq 1 6000); do
    if [ -z "$addr" ]; then
      addr="$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's#listening on http://##' || true)"
      [ -n "$addr" ] && t_listen="$(now)"
    fi
    if [ -n "$addr" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/health")" = 200 ]; then
      t_ready="$(now)"; break
    fi
    kill -0 "$PID" 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.02
  done
  [ -n "$t_ready" ] || { echo "not ready in 120 s"; cat "$log"; exit 1; }
  local listen ready rss0
  listen="$(python3 -c "print($t_listen - $t0)")"; ready="$(python3 -c "print($t_ready - $t0)")"
  rss0="$(rss_mb "$PID")"
  printf 'start-up: listening after %.2f s, ready after %.2f s; RSS when ready %s MB\n' "$listen" "$ready" "$rss0"
  RESULT[$scale,ready]="$(printf %.2f "$ready")"; RESULT[$scale,rss_ready]="$rss0"

  echo "-- writes (load average $(load))"
  local w1 w16
  w1="$("$REL/examples/write_load" "$addr" "$key" 1 "$SECONDS_EACH" 1)"; echo "$w1"
  w16="$("$REL/examples/write_load" "$addr" "$key" 16 "$SECONDS_EACH" 1)"; echo "$w16"
  RESULT[$scale,w1]="$(field "$w1" '^[^:]*: [0-9]*')"
  RESULT[$scale,w1p50]="$(field "$w1" 'p50 [0-9.]*')"
  RESULT[$scale,w1p99]="$(field "$w1" 'p99 [0-9.]*')"
  RESULT[$scale,w16]="$(field "$w16" '^[^:]*: [0-9]*')"
  RESULT[$scale,w16p50]="$(field "$w16" 'p50 [0-9.]*')"
  RESULT[$scale,w16p99]="$(field "$w16" 'p99 [0-9.]*')"

  # Tiles at zoom 14 around a deposit, and the box the writes land in (the same area).
  local first lon lat bbox
  first="$(curl -sf "http://$addr/layers/waste_deposits/search?limit=1")"
  lon="$(echo "$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["features"][0]["geometry"]["coordinates"][0])')"
  lat="$(echo "$first" | python3 -c 'import json,sys; print(json.load(sys.stdin)["features"][0]["geometry"]["coordinates"][1])')"
  bbox="$(python3 -c "print(f'{$lon-0.05},{$lat-0.03},{$lon+0.05},{$lat+0.03}')")"
  python3 - "$lon" "$lat" > "$WORK/paths.txt" <<'PY'
import math, sys
lon, lat = float(sys.argv[1]), float(sys.argv[2])
for z, r in ((14, 5), (12, 2), (10, 1)):
    k = 2 ** z
    x = int((lon + 180) / 360 * k)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k)
    for dx in range(-r, r + 1):
        for dy in range(-r, r + 1):
            print(f"/tiles/all/{z}/{x + dx}/{y + dy}.mvt")
PY
  while read -r p; do curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://$addr$p"; done < "$WORK/paths.txt"
  echo "-- tiles: $(wc -l < "$WORK/paths.txt") tiles at zooms 10–14, $TILE_CLIENTS clients (load average $(load))"
  local t_quiet t_busy
  t_quiet="$("$REL/examples/live_load" tiles "$addr" "$WORK/paths.txt" "$SECONDS_EACH" "$TILE_CLIENTS")"; echo "no writes:        $t_quiet"
  t_busy="$("$REL/examples/live_load" tiles "$addr" "$WORK/paths.txt" "$SECONDS_EACH" "$TILE_CLIENTS" "$WRITE_RATE" "$key" "$bbox")"; echo "$WRITE_RATE writes/s: $t_busy"
  RESULT[$scale,tq]="$(field "$t_quiet" 'tiles: [0-9]*')"
  RESULT[$scale,tb]="$(field "$t_busy" 'tiles: [0-9]*')"
  RESULT[$scale,tqp99]="$(field "$t_quiet" 'p99 [0-9.]*')"
  RESULT[$scale,tbp99]="$(field "$t_busy" 'p99 [0-9.]*')"

  echo "-- drive-time search (load average $(load))"
  local d
  d="$("$REL/examples/live_load" drive "$addr" "$key" "/layers/waste_deposits/search?drive_from=$lon,$lat&drive_max_min=10&limit=10" "$DRIVE_N" "$bbox")"
  echo "$d"
  RESULT[$scale,drive]="$(field "$d" 'ratio of p50 [0-9.]*')"
  RESULT[$scale,rss_end]="$(rss_mb "$PID")"
  echo "RSS at the end: ${RESULT[$scale,rss_end]} MB"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

echo "live-bench: $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GB, scales 1 and $SCALE"
run_scale 1
run_scale "$SCALE"

ratio() { python3 -c "a,b=float('$1' or 0),float('$2' or 0); print(f'{a/b:.2f}' if b else 'n/a')"; }
echo
echo "| what | scale 1 | scale $SCALE | ratio |"
echo "|---|---|---|---|"
row() { echo "| $1 | ${RESULT[1,$2]} | ${RESULT[$SCALE,$2]} | $(ratio "${RESULT[$SCALE,$2]}" "${RESULT[1,$2]}") |"; }
row "writes/s, 1 client" w1
row "write p50 ms, 1 client" w1p50
row "write p99 ms, 1 client" w1p99
row "writes/s, 16 clients" w16
row "write p50 ms, 16 clients" w16p50
row "write p99 ms, 16 clients" w16p99
row "tiles/s, no writes" tq
row "tile p99 ms, no writes" tqp99
row "tiles/s, $WRITE_RATE writes/s" tb
row "tile p99 ms, $WRITE_RATE writes/s" tbp99
row "drive search after a write / steady (p50)" drive
row "ready after start, s" ready
row "RSS when ready, MB" rss_ready
row "RSS at the end, MB" rss_end
for s in 1 "$SCALE"; do
  echo "scale $s: tiles under writes keep $(ratio "${RESULT[$s,tb]}" "${RESULT[$s,tq]}") of their throughput"
done
