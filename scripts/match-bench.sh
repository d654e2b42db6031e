#!/usr/bin/env bash
# Matching a project at scale N against scale 1 in the same run (issue 15): for each scale, a
# release server on `terriens-fixtures --scale S --format store` data, then the project of the
# issue (5–20 ha, ≥ 2 MVA, 500 t/yr of wood within 30 min by HGV, 20 maintenance technicians
# (BMO D1X33) within a 30-minute commute) posted REQUESTS times in a row to `POST /match?limit=20`
# (the top 20 exact matches, each with its criteria, reasons and impact): p50, p90 and max of
# the answer time, sites passing the constraints, the best score. Then the reverse lookup:
# PROJECTS_STORED projects stored (the issue's project and variants of it: other materials,
# drives, profiles, occupations), and `GET /sites/{layer}/{id}/projects` for the best and the
# 20th site of the match, REQUESTS times each. The data directory is used
# through hard links (layer files are replaced by rename, never written in place), so the
# stored projects do not stay in it.
# A benchmark, not a test: figures depend on the machine; the load average is printed with each
# block, and the ratio scale N / scale 1 is what to compare.
#
#   scripts/match-bench.sh [--scale N]        (default 500)
# Environment: REQUESTS (20), PROJECTS_STORED (20), MATCH_BENCH_DATA_DIR: a directory holding data-<scale>/ made
#   earlier (generated there when absent and kept), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=500
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    *) echo "usage: scripts/match-bench.sh [--scale N]" >&2; exit 2 ;;
  esac
done
REQUESTS="${REQUESTS:-20}"
PROJECTS_STORED="${PROJECTS_STORED:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --locked --quiet --bin terriens
  cargo build --release --locked --quiet -p terriens-demo --bin terriens-fixtures
fi
REL="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d)"
DATA_HOME="${MATCH_BENCH_DATA_DIR:-$WORK}"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PROJECT='{"naf_code":"16.10A","land_min_ha":5,"land_max_ha":20,"power_min_mva":2,
  "materials":[{"material":"wood","tonnes_per_year":500,"max_drive_min":30,"profile":"hgv"}],
  "occupations":[{"code":"D1X33","headcount":20,"max_commute_min":30}]}'

declare -A P50
run_scale() {
  local scale="$1" src="$DATA_HOME/data-$1"
  if [ ! -d "$src" ]; then
    echo "== generating scale $scale data in $src"
    "$REL/terriens-fixtures" --scale "$scale" --format store --out "$src.tmp" >/dev/null
    mv "$src.tmp" "$src"
  fi
  local port; port="$(free_port)"
  rm -rf "$WORK/data-$scale" && cp -al "$src" "$WORK/data-$scale"
  rm -f "$WORK/keys.toml"
  KEY="$("$REL/terriens" keys add --role editor --partners --keys "$WORK/keys.toml" 2>/dev/null)"
  NO_COLOR=1 RUST_LOG=warn "$REL/terriens" serve --data "$WORK/data-$scale" \
    --keys "$WORK/keys.toml" --addr "127.0.0.1:$port" \
    >"$WORK/server-$scale.log" 2>&1 &
  PID=$!
  for _ in $(seq 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/health")" = 200 ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/server-$scale.log"; exit 1; }
    sleep 0.5
  done
  local url="127.0.0.1:$port/match?limit=20"
  # One answer kept, to report what was matched (and to warm the engines' caches).
  curl -sf -X POST -H 'content-type: application/json' "$url" -d "$PROJECT" >"$WORK/answer.json"
  python3 - "$WORK/answer.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
f = a["features"]
print(f"   {a['numberMatched']} sites pass the constraints; {len(f)} listed; best score "
      f"{f[0]['properties']['score'] if f else '-'}, 20th {f[-1]['properties']['score'] if f else '-'}")
PY
  echo "   load average before: $(load)"
  : >"$WORK/times"
  for _ in $(seq "$REQUESTS"); do
    curl -sf -o /dev/null -w '%{time_total}\n' -X POST -H 'content-type: application/json' \
      "$url" -d "$PROJECT" >>"$WORK/times"
  done
  local stats; stats="$(stats)"
  P50[$scale]="$(sort -n "$WORK/times" | awk '{t[NR]=$1} END {print t[int((NR+1)/2)]}')"
  echo "== scale $scale, POST /match?limit=20, $REQUESTS requests: $stats; load average $(load)"
  reverse "$port"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

# p50, p90 and max of the times in $WORK/times.
stats() {
  sort -n "$WORK/times" | awk '{t[NR]=$1} END {
    printf "p50 %.3f s, p90 %.3f s, max %.3f s", t[int((NR+1)/2)], t[int(NR*0.9+0.5)], t[NR] }'
}

# The reverse lookup on the running server: store the projects, then ask for two sites.
reverse() {
  local base="127.0.0.1:$1"
  python3 - "$base" "$KEY" "$PROJECTS_STORED" "$PROJECT" <<'PY'
import json, sys, urllib.request
base, key, n, project = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
materials = ["wood", "plastic", "metal", "organic", "paper_cardboard"]
codes = ["D1X33", "G0A40", "C0X30", "J0X31"]
for i in range(n):
    needs = json.loads(json.dumps(project))
    m = needs["materials"][0]
    m["material"] = materials[i % len(materials)]
    m["max_drive_min"] = [30, 20, 45, 15][i % 4]
    m["profile"] = ["hgv", "car"][i % 2]
    needs["occupations"][0]["code"] = codes[i % len(codes)]
    needs["occupations"][0]["max_commute_min"] = [30, 20][i % 2]
    needs["land_min_ha"] = [5, 1, 10, 2][i % 4]
    doc = {"name": f"Projet {i}", "confidentiality": ["partners", "public"][i % 2], "needs": needs}
    req = urllib.request.Request(f"http://{base}/projects", data=json.dumps(doc).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
    urllib.request.urlopen(req).read()
PY
  local best last
  best="$(python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["features"][0]; print(f["properties"]["site_layer"]+"/"+str(f["id"]))' "$WORK/answer.json")"
  last="$(python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["features"][-1]; print(f["properties"]["site_layer"]+"/"+str(f["id"]))' "$WORK/answer.json")"
  for site in "$best" "$last"; do
    local url="$base/sites/$site/projects"
    curl -sf -H "authorization: Bearer $KEY" "$url" >"$WORK/rev.json"
    python3 - "$WORK/rev.json" "$site" "$PROJECTS_STORED" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
print(f"   site {sys.argv[2]}: {a['numberMatched']} of {sys.argv[3]} stored projects suited"
      f" (skipped {len(a['skipped'])}); best score {a['projects'][0]['score'] if a['projects'] else '-'}")
PY
    : >"$WORK/times"
    for _ in $(seq "$REQUESTS"); do
      curl -sf -o /dev/null -w '%{time_total}\n' -H "authorization: Bearer $KEY" "$url" >>"$WORK/times"
    done
    echo "== GET /sites/$site/projects ($PROJECTS_STORED projects stored), $REQUESTS requests: $(stats); load average $(load)"
  done
}

run_scale 1
run_scale "$SCALE"
python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'== p50 scale $SCALE / scale 1: {b/a:.1f}x')" \
  "${P50[1]}" "${P50[$SCALE]}"
