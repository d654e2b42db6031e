#!/usr/bin/env bash
# Side-by-side performance of terriens against PostGIS (search) and martin (tiles), on the same
# data, the same queries and the same machine, in one run. Not part of CI.
#
#   scripts/compare/run.sh [--scale 500] [--duration 20s] [--connections 32] [--threads 2]
#                          [--rounds 2] [--idle 5] [--limit 100] [--skip-install]
#                          [--only search|tiles]
#
# What it does:
#   1. installs what is missing: PostgreSQL + PostGIS, GDAL (ogr2ogr) and wrk from the
#      distribution's packages, martin 1.14.0 from crates.io;
#   2. generates the --scale data set (scale 500: 1,000,000 waste deposits, 201,100 plots,
#      200,000 buildings) as a terriens data directory, starts a private PostgreSQL cluster under
#      target/compare/pg (its own port, run by the `postgres` system user) and loads the same
#      FlatGeobuf files into it with ogr2ogr: geometry EPSG:4326 with a GiST index, a GiST
#      index on geography(geom), a GiST index on (material, geography(geom)) (btree_gist: the
#      fastest for the radius + material query), and a 3857 column with its GiST index for
#      martin;
#   3. runs the same workloads against both sides, alternating A/B, `--rounds` times, with
#      `--idle` seconds of rest before each measurement:
#      - radius 5 km + material filter, GeoJSON out, nearest first, first page of `--limit`
#        features with the match count: terriens over HTTP (wrk) vs PostGIS (`ST_DWithin` on
#        geography + `ST_AsGeoJSON`, pgbench, prepared statements), the same 1,000 centres;
#        PostGIS with JIT and parallel workers off (its best setting here) and with its
#        defaults (JIT on, 2 parallel workers per gather) for reference;
#      - kNN k=10: terriens vs `ORDER BY geom <-> point LIMIT 10` (pgbench, prepared; planar
#        distance in degrees, so its 10 may differ from the geodesic 10), and vs the same on
#        geography (`geom::geography <-> point`, the same answers as terriens);
#      - tiles plots + waste deposits in one tile (`/tiles/plots,waste_deposits/z/x/y` vs
#        martin's composite source `/plots,waste_deposits/z/x/y` on the PostGIS tables), two
#        zoom mixes (z6–z14 and z10–z14):
#          cold: the render cost, no tile cache: every tile holding data in the zoom range, in
#                random order (mostly z14, like a crawl): terriens restarted with
#                TERRIENS_TILES_CACHE_MB=0 (its tile cache off), martin with its tile cache off.
#                A terriens binary that ignores that variable (before 64b724e) still caches:
#                the list then holds distinct tiles, each requested once unless the run wraps
#                around it, which the table flags; use --cold-duration 4s there;
#          warm: a list of ~100 tiles per zoom, requested once on both sides first, then
#                measured (terriens' LRU cache, martin's tile cache of 1 GB);
#      - warm, gzip: terriens vs martin serving a PMTiles archive that `terriens
#        export-pmtiles` wrote of the same layers (the static-file ceiling);
#      - the first request of each distinct tile of the z6–z14 warm list, one at a time, both
#        sides cold: latency and size per zoom (martin does not generalise low zooms);
#   4. prints one table (markdown): requests/s, p50, p99 for each side and the ratio terriens /
#      other, best round of each side; raw outputs are kept in target/compare/run-*/.
#
# terriens is queried with a `reader --partners` API key (target/compare/keys.toml), so that it
# serves every deposit, confidential ones included, like PostGIS and martin; anonymous callers
# would not see `confidentiality=partners` deposits.
# Run as root or as a user with sudo (PostgreSQL itself runs as the `postgres` user).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
HERE="$ROOT/scripts/compare"

SCALE=500; DURATION=20s; COLD_DURATION=""; CONNECTIONS=32; THREADS=2; ROUNDS=2; IDLE=5; LIMIT=100
INSTALL=1; ONLY=all
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --duration) DURATION="$2"; shift 2 ;;
    --cold-duration) COLD_DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --idle) IDLE="$2"; shift 2 ;;
    --limit) LIMIT="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --skip-install) INSTALL=0; shift ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "compare: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$DURATION" in *s) ;; *) DURATION="${DURATION}s" ;; esac
COLD_DURATION="${COLD_DURATION:-$DURATION}"
case "$COLD_DURATION" in *s) ;; *) COLD_DURATION="${COLD_DURATION}s" ;; esac

WORK="$ROOT/target/compare"
DATA="$WORK/data-scale$SCALE"
PGDATA="$WORK/pg"
OUT="$WORK/run-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK" "$OUT"
PGPORT=18093
PGDB="terriens_compare_$SCALE"
TPORT=18090   # terriens
MPORT=18091   # martin on PostGIS
PPORT=18092   # martin on PMTiles
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
say() { echo "compare: $(date -u +%H:%M:%S) $*" >&2; }
py() { COMPARE_THREADS="$THREADS" python3 "$HERE/compare.py" "$@"; }

# ---------------------------------------------------------------------------------- install
if [ "$INSTALL" = 1 ]; then
  pkgs=()
  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || pkgs+=(postgresql)
  ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || pkgs+=(postgis)
  command -v ogr2ogr >/dev/null || pkgs+=(gdal-bin)
  command -v wrk >/dev/null || pkgs+=(wrk)
  if [ ${#pkgs[@]} -gt 0 ]; then
    say "installing ${pkgs[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
  fi
  if [ "$ONLY" != search ] && ! command -v martin >/dev/null && [ ! -x "$HOME/.cargo/bin/martin" ]; then
    if pgrep -f "cargo install martin" >/dev/null; then
      say "waiting for the martin install already running"
      while pgrep -f "cargo install martin" >/dev/null; do sleep 10; done
    else
      say "installing martin 1.14.0 from crates.io (a few minutes)"
      cargo install martin@1.14.0 --locked --no-default-features --features postgres,pmtiles
    fi
  fi
fi
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
export PATH="$PATH:$PGBIN:$HOME/.cargo/bin"
[ "$ONLY" = search ] || command -v martin >/dev/null || { say "martin is not installed"; exit 1; }
# PostgreSQL refuses to run as root: a system user runs the server, clients connect over TCP.
PGUSER_OS=postgres
id "$PGUSER_OS" >/dev/null 2>&1 || $SUDO useradd --system --home-dir "$PGDATA" --shell /usr/sbin/nologin "$PGUSER_OS"
as_pg() { if [ "$(id -un)" = "$PGUSER_OS" ]; then "$@"; else $SUDO runuser -u "$PGUSER_OS" -- "$@"; fi; }

# ---------------------------------------------------------------------------------- terriens
say "building terriens (release)"
cargo build --release --locked --quiet
cargo build --release --locked --quiet -p terriens-demo --bin terriens-fixtures
BIN="$ROOT/target/release/terriens"
REV="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo '+changes')"
if [ ! -f "$DATA/waste_deposits.fgb" ]; then
  say "generating the scale-$SCALE data set into $DATA"
  "$ROOT/target/release/terriens-fixtures" --scale "$SCALE" --format store --out "$DATA" 2>&1 | grep -v '^roads' >&2
fi

if [ ! -s "$WORK/key.txt" ] || [ ! -s "$WORK/keys.toml" ]; then
  rm -f "$WORK/keys.toml"
  (umask 077; "$BIN" keys add --role reader --partners --keys "$WORK/keys.toml" 2>/dev/null | head -1 > "$WORK/key.txt")
fi
export COMPARE_TERRIENS_KEY; COMPARE_TERRIENS_KEY="$(cat "$WORK/key.txt")"

# ---------------------------------------------------------------------------------- PostGIS
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  say "creating a private PostgreSQL cluster in $PGDATA"
  $SUDO install -d -o "$PGUSER_OS" -m 700 "$PGDATA"
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  say "starting PostgreSQL on port $PGPORT"
  # A read-only benchmark: durability off for the load. JIT and parallel workers off by
  # default (the best setting for these short queries on 2 cores); the radius workload also
  # runs with the PostgreSQL defaults through PGOPTIONS.
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -o "-p $PGPORT \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PGDATA -c max_connections=120 \
    -c shared_buffers=2GB -c work_mem=32MB -c maintenance_work_mem=1GB -c effective_cache_size=8GB \
    -c random_page_cost=1.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    -c jit=off -c max_parallel_workers_per_gather=0" start >/dev/null
fi
psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
want_rows="$(py rows "$DATA")"
have_rows="$(psql_ -At -d "$PGDB" -c "select rows from compare_meta" 2>/dev/null || echo none)"
if [ "$have_rows" != "$want_rows" ]; then
  say "loading the data into PostGIS ($want_rows deposits/plots)"
  psql_ -d postgres -c "drop database if exists $PGDB" -c "create database $PGDB"
  psql_ -d "$PGDB" -c "create extension postgis"
  for layer in waste_deposits plots; do
    nlt=POINT; [ "$layer" = plots ] && nlt=PROMOTE_TO_MULTI
    ogr2ogr -f PostgreSQL "PG:dbname=$PGDB host=$PGHOST port=$PGPORT user=postgres" \
      "$DATA/$layer.fgb" -nln "$layer" -nlt "$nlt" -lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=NONE \
      -lco FID=ogc_fid -lco PRECISION=NO --config PG_USE_COPY YES
  done
  psql_ -d "$PGDB" -f "$HERE/prepare.sql"
  psql_ -d "$PGDB" -c "create table compare_meta as select '$want_rows'::text as rows"
fi

psql_ -d "$PGDB" -f "$HERE/indexes.sql"

# The same centres on both sides: 1,000 deposits picked with a fixed order (md5 of the id).
psql_ -d "$PGDB" -c "drop table if exists centres" -c "create table centres as
  select row_number() over (order by md5(fid::text)) as i, ST_X(geom) lon, ST_Y(geom) lat,
         geom::geography as g, geom
  from waste_deposits order by md5(fid::text) limit 1000" \
  -c "alter table centres add primary key (i)" -c "analyze centres"
psql_ -At -F ' ' -d "$PGDB" -c "select lon, lat from centres order by i" > "$OUT/centres.txt"
# Tiles with data: the z14 tiles holding a deposit or a plot's point on surface.
psql_ -At -F ' ' -d "$PGDB" -c "
  with p as (select geom3857 g from waste_deposits
             union all select ST_Transform(ST_PointOnSurface(geom), 3857) from plots)
  select distinct floor((ST_X(g) + 20037508.342789244) / (40075016.68557849 / 16384))::int,
                  floor((20037508.342789244 - ST_Y(g)) / (40075016.68557849 / 16384))::int from p
  order by 1, 2" > "$OUT/z14.txt"
py lists "$OUT" "$LIMIT"

# ---------------------------------------------------------------------------------- servers
TPID=""; MPID=""; PMPID=""
cleanup() {
  for p in $TPID $MPID $PMPID; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
wait_http() {
  for _ in $(seq 1 1200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.5; done
  say "no answer from $1"; exit 1
}
stop_pid() { if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
start_terriens() { # $1 = cold|warm
  stop_pid "$TPID"
  local env=(); [ "$1" = cold ] && env=(TERRIENS_TILES_CACHE_MB=0)
  local t0; t0=$(date +%s.%N)
  env "${env[@]}" RUST_LOG=warn "$BIN" serve --data "$DATA" --addr "127.0.0.1:$TPORT" \
    --keys "$WORK/keys.toml" >> "$OUT/terriens.log" 2>&1 &
  TPID=$!
  wait_http "http://127.0.0.1:$TPORT/health"
  echo "terriens start ($1): $(python3 -c "import time;print(round(time.time()-$t0,1))") s" >> "$OUT/startup.txt"
}
start_martin() { # $1 = tile cache MB (0 = off)
  stop_pid "$MPID"
  sed -e "s/@PORT@/$MPORT/; s/@PGPORT@/$PGPORT/; s/@DB@/$PGDB/; s/@CACHE@/$1/" \
    "$HERE/martin.yaml" > "$OUT/martin-$1.yaml"
  RUST_LOG=warn martin --config "$OUT/martin-$1.yaml" >> "$OUT/martin.log" 2>&1 &
  MPID=$!
  wait_http "http://127.0.0.1:$MPORT/health"
}

# ---------------------------------------------------------------------------------- runs
RESULTS="$OUT/results.tsv"; : > "$RESULTS"
rest() { sleep "$IDLE"; }
wrk_run() { # name side lua port [list length, for the wrap check] [duration]
  local out="$OUT/$1.$2.r$round.wrk"
  rest
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${6:-$DURATION}" --timeout 120s --latency -s "$3" \
    "http://127.0.0.1:$4" > "$out" 2>&1 || true
  py wrk "$1" "$2" "$out" "${5:-0}" >> "$RESULTS"
  say "  $1 $2: $(tail -1 "$RESULTS" | cut -f3) req/s"
}
pgbench_run() { # name side sqlfile [PGOPTIONS]
  local log="$OUT/$1.$2.r$round.pgbench" dir="$OUT/$1.$2.r$round.pgbench.d"
  rest
  rm -rf "$dir"; mkdir -p "$dir"
  (cd "$dir" && PGOPTIONS="${4:-}" pgbench -n -M prepared -c "$CONNECTIONS" -j "$THREADS" \
     -T "${DURATION%s}" -D limit="$LIMIT" -l --log-prefix=tx -f "$3" "$PGDB" > "$log" 2>&1) || true
  py pgbench "$1" "$2" "$log" "$dir" >> "$RESULTS"
  rm -rf "$dir"
  say "  $1 $2: $(tail -1 "$RESULTS" | cut -f3) tps"
}

if [ "$ONLY" != search ]; then
  PMT="$WORK/compare-scale$SCALE.pmtiles"
  if [ ! -f "$PMT" ] || [ "$BIN" -nt "$PMT" ] || [ "$DATA/waste_deposits.fgb" -nt "$PMT" ]; then
    say "exporting the PMTiles archive (plots + waste deposits, z0–z14)"
    t0=$(date +%s)
    "$BIN" export-pmtiles --data "$DATA" --out "$PMT.tmp" --minzoom 0 --maxzoom 14 \
      --layers plots,waste_deposits > "$WORK/pmtiles-scale$SCALE.log" 2>&1
    mv "$PMT.tmp" "$PMT"
    echo "export-pmtiles: $(( $(date +%s) - t0 )) s" >> "$WORK/pmtiles-scale$SCALE.log"
  fi
  echo "PMTiles archive: $(stat -c %s "$PMT") bytes; $(tail -1 "$WORK/pmtiles-scale$SCALE.log")" >> "$OUT/startup.txt"
  ln -sf "$PMT" "$OUT/compare.pmtiles"
fi

# One answer per side, compared before measuring: the same features, the same order.
start_terriens warm
py check "$OUT" "http://127.0.0.1:$TPORT" "$PGDB" "$LIMIT" >> "$OUT/check.txt" || true

for round in $(seq 1 "$ROUNDS"); do
  if [ "$ONLY" != tiles ]; then
    start_terriens warm
    say "round $round/$ROUNDS: radius 5 km + material"
    wrk_run radius terriens "$OUT/radius.lua" "$TPORT"
    pgbench_run radius postgis "$HERE/radius.sql" "-c jit=off -c max_parallel_workers_per_gather=0"
    pgbench_run radius postgis_defaults "$HERE/radius.sql" "-c jit=on -c max_parallel_workers_per_gather=2"
    say "round $round/$ROUNDS: kNN k=10"
    wrk_run knn terriens "$OUT/knn.lua" "$TPORT"
    pgbench_run knn postgis "$HERE/knn.sql" "-c jit=off -c max_parallel_workers_per_gather=0"
    pgbench_run knn postgis_geography "$HERE/knn_geography.sql" "-c jit=off -c max_parallel_workers_per_gather=0"
  fi
  [ "$ONLY" = search ] && continue

  say "round $round/$ROUNDS: cold tiles"
  start_martin 0
  for mix in z10_14 z6_14; do
    start_terriens cold
    wrk_run "tiles_cold_$mix" terriens "$OUT/cold_$mix.terriens.lua" "$TPORT" "$(wc -l < "$OUT/cold_$mix.txt")" "$COLD_DURATION"
    wrk_run "tiles_cold_$mix" martin "$OUT/cold_$mix.martin.lua" "$MPORT"
  done

  say "round $round/$ROUNDS: warm tiles (filling the caches first)"
  start_terriens warm
  start_martin 1024
  for mix in z10_14 z6_14; do
    py warm "$OUT/warm_$mix.txt" "http://127.0.0.1:$TPORT/tiles/plots,waste_deposits" "http://127.0.0.1:$MPORT/plots,waste_deposits" >> "$OUT/warm.txt"
    wrk_run "tiles_warm_$mix" terriens "$OUT/warm_$mix.terriens.lua" "$TPORT"
    wrk_run "tiles_warm_$mix" martin "$OUT/warm_$mix.martin.lua" "$MPORT"
  done
  stop_pid "$MPID"; MPID=""

  say "round $round/$ROUNDS: warm tiles, gzip, against martin on the PMTiles archive"
  if [ -z "$PMPID" ]; then
    RUST_LOG=warn martin --listen-addresses "127.0.0.1:$PPORT" "$OUT/compare.pmtiles" >> "$OUT/martin-pmtiles.log" 2>&1 &
    PMPID=$!
    wait_http "http://127.0.0.1:$PPORT/health"
  fi
  for mix in z10_14 z6_14; do
    py warm "$OUT/warm_$mix.txt" "http://127.0.0.1:$TPORT/tiles/plots,waste_deposits" "http://127.0.0.1:$PPORT/compare" gzip >> "$OUT/warm.txt"
    wrk_run "tiles_gzip_$mix" terriens "$OUT/warm_$mix.terriens_gzip.lua" "$TPORT"
    wrk_run "tiles_gzip_$mix" martin_pmtiles "$OUT/warm_$mix.pmtiles_gzip.lua" "$PPORT"
  done
  stop_pid "$PMPID"; PMPID=""
done

if [ "$ONLY" != search ]; then
  say "first-request latency and size per zoom (the distinct tiles of the z6–z14 warm list, one at a time)"
  start_terriens cold
  start_martin 0
  rest
  py zooms "$OUT" "http://127.0.0.1:$TPORT/tiles/plots,waste_deposits" "http://127.0.0.1:$MPORT/plots,waste_deposits" > "$OUT/zooms.md"
fi

{
  echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/{print $2}') GB RAM"
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "command: scripts/compare/run.sh --scale $SCALE --duration $DURATION --cold-duration $COLD_DURATION --connections $CONNECTIONS --threads $THREADS --rounds $ROUNDS --idle $IDLE --limit $LIMIT"
  echo "data: $want_rows deposits/plots; terriens $REV; $(martin --version 2>&1 | head -1); $(psql -X -At -d "$PGDB" -c "select split_part(version(), ' on ', 1) || ', PostGIS ' || postgis_lib_version()")"
  cat "$OUT/startup.txt" 2>/dev/null || true
  cat "$OUT/check.txt" 2>/dev/null || true
} > "$OUT/conditions.txt"
py table "$RESULTS" > "$OUT/table.md"
[ -f "$OUT/zooms.md" ] && { echo; cat "$OUT/zooms.md"; } >> "$OUT/table.md"
cat "$OUT/conditions.txt" "$OUT/table.md"
say "raw outputs in $OUT"
