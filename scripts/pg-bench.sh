#!/usr/bin/env bash
# Replicas of a PostgreSQL/PostGIS database (`terriens serve --source`), at scale N against
# scale 1 in the same run. For each scale, on a private PostgreSQL cluster with the durable
# defaults (fsync on, synchronous_commit=on), holding the `terriens-fixtures --scale S
# --format store` data imported with `terriens import --source`:
#   1. start-up of a replica: seconds from `serve --source` to a ready `/health` (200,
#      "status":"ready"), RSS (VmRSS) once ready; for both replicas A and B, one after the
#      other;
#   2. replication lag under 100 and 1,000 writes/s: an open-loop generator (threads,
#      keep-alive connections) posts single waste deposits to A at the target rate; for every
#      10th acknowledged write, the time from A's 201 to B's first 200 for that feature
#      (B polled every 2 ms); with the achieved rate and the write p50/p99 on A;
#   3. writes/s through A with 16 concurrent clients (closed loop, --duration s), p50/p99.
# Then a table scale 1 vs scale N with the ratios. A benchmark, not a test: the figures depend on
# the machine; the load average is printed before and after.
#
#   scripts/pg-bench.sh [--scale N] [--duration S]      (defaults 500 and 10)
# Environment:
#   TERRIENS_BIN_DIR   a directory holding release `terriens` and `terriens-fixtures` (then
#                      nothing is built); otherwise both are built (release) into
#                      $CARGO_TARGET_DIR/release (default target/release); SKIP_BUILD=1 skips that
#   PG_BENCH_DIR       work directory (default target/pg-bench): the fixtures' data-scale<S>/,
#                      the cluster pg/ and the imported databases are kept there, so a second run
#                      skips the generation and the import; each run writes into a fresh copy
#                      (CREATE DATABASE … TEMPLATE) of the imported database, and keeps its logs
#                      in run-<date>/
#   PG_BENCH_PORT      the cluster's port (18095)
#   RATES              the open-loop rates ("100 1000"); CLIENTS (16)
# Run as root or as a user with sudo: PostgreSQL refuses to run as root, so the cluster runs as
# the `postgres` system user (runuser); installs PostgreSQL + PostGIS when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SCALE=500; DURATION=10
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --duration) DURATION="${2%s}"; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "usage: scripts/pg-bench.sh [--scale N] [--duration S]" >&2; exit 2 ;;
  esac
done
RATES="${RATES:-100 1000}"; CLIENTS="${CLIENTS:-16}"
WORK="${PG_BENCH_DIR:-$ROOT/target/pg-bench}"
PGDATA="$WORK/pg"
PGPORT="${PG_BENCH_PORT:-18095}"
OUT="$WORK/run-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$WORK" "$OUT"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
say() { echo "pg-bench: $(date -u +%H:%M:%S) $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
rss_mb() { awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
now() { date +%s.%N; }
py() { python3 "$ROOT/scripts/pg_bench.py" "$@"; }
# The value of key=VALUE in a line of pg_bench.py's output.
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# ---------------------------------------------------------------------------------- install
pkgs=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || pkgs+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || pkgs+=(postgresql-postgis)
if [ ${#pkgs[@]} -gt 0 ]; then
  say "installing ${pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
PGUSER_OS=postgres
id "$PGUSER_OS" >/dev/null 2>&1 || $SUDO useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$PGUSER_OS"
as_pg() { if [ "$(id -un)" = "$PGUSER_OS" ]; then "$@"; else $SUDO runuser -u "$PGUSER_OS" -- "$@"; fi; }

# ---------------------------------------------------------------------------------- terriens
if [ -n "${TERRIENS_BIN_DIR:-}" ]; then
  REL="$TERRIENS_BIN_DIR"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
  if [ -z "${SKIP_BUILD:-}" ]; then
    say "building terriens and terriens-fixtures (release, $CARGO_TARGET_DIR)"
    cargo build --release --locked --quiet -p terriens -p terriens-demo --bins
  fi
  REL="$CARGO_TARGET_DIR/release"
fi
BIN="$REL/terriens"
[ -x "$BIN" ] && [ -x "$REL/terriens-fixtures" ] || { say "no terriens / terriens-fixtures in $REL"; exit 1; }
REV="$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo '+changes')"

# ---------------------------------------------------------------------------------- PostgreSQL
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  say "creating a private PostgreSQL cluster in $PGDATA"
  $SUDO install -d -o "$PGUSER_OS" -m 700 "$PGDATA"
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
PG_STARTED=""
if ! as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  say "starting PostgreSQL on port $PGPORT (fsync on, synchronous_commit=on)"
  # Durable: fsync, full_page_writes and synchronous_commit keep their defaults (on). Only
  # memory and the checkpoint distance are raised (max_wal_size: fewer checkpoints during the
  # import; no effect on durability).
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -o "-p $PGPORT \
    -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PGDATA -c max_connections=100 \
    -c shared_buffers=1GB -c maintenance_work_mem=512MB -c max_wal_size=8GB \
    -c synchronous_commit=on" start >/dev/null
  PG_STARTED=1
fi
psql_() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
url() { echo "postgresql://postgres@127.0.0.1:$PGPORT/$1"; }

APID=""; BPID=""
cleanup() {
  for p in $APID $BPID; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$PG_STARTED" ]; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# The imported database of a scale, made once: the fixtures' .fgb files imported in order
# (territories, catchments, plots, buildings, waste_deposits), then VACUUM ANALYZE; marked done
# in public.pg_bench_meta. A run writes into a copy of it. Sets TPL to its name.
imported_db() {
  local scale="$1" data="$WORK/data-scale$1" db="pg_bench_$1"
  if [ ! -f "$data/waste_deposits.fgb" ]; then
    say "generating the scale-$scale data set into $data"
    rm -rf "$data.tmp"
    "$REL/terriens-fixtures" --scale "$scale" --format store --out "$data.tmp" >/dev/null 2>&1
    mv "$data.tmp" "$data"
  fi
  local done_
  done_="$(psql_ -At -d "$db" -c "select scale from pg_bench_meta" 2>/dev/null || true)"
  if [ "$done_" != "$scale" ]; then
    say "importing the scale-$scale data into PostGIS (database $db)"
    psql_ -d postgres -c "set client_min_messages=warning" -c "drop database if exists $db" -c "create database $db"
    psql_ -d "$db" -c "create extension postgis"
    "$BIN" pg init --source "$(url "$db")" > "$WORK/import-scale$scale.log" 2>&1
    local layer t0
    for layer in territories catchments plots buildings waste_deposits; do
      t0="$(now)"
      "$BIN" import --layer "$layer" "$data/$layer.fgb" --source "$(url "$db")" \
        >> "$WORK/import-scale$scale.log" 2>&1 || { tail -20 "$WORK/import-scale$scale.log" >&2; exit 1; }
      echo "import $layer: $(python3 -c "print(round($(now) - $t0, 1))") s" | tee -a "$WORK/import-scale$scale.log" >&2
    done
    psql_ -d "$db" -c "vacuum analyze"
    psql_ -d "$db" -c "create table pg_bench_meta as select $scale as scale, now() as imported"
  fi
  TPL="$db"
}

declare -A R
# Starts a replica of database $2 (variable name $1 gets its pid), waits for it to be ready;
# sets ADDR, READY_S, RSS_MB.
start_replica() {
  local name="$1" db="$2" log="$OUT/$1-scale$3.log" t0 addr="" code body
  t0="$(now)"
  NO_COLOR=1 RUST_LOG=info "$BIN" serve --source "$(url "$db")" --roads "$WORK/data-scale$3" \
    --keys "$OUT/keys.toml" --addr 127.0.0.1:0 2>"$log" &
  local pid=$!
  eval "${name}PID=$pid"
  for _ in $(seq 1 60000); do
    [ -z "$addr" ] && addr="$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's#listening on http://##' || true)"
    if [ -n "$addr" ]; then
      body="$(curl -s -w ' %{http_code}' "http://$addr/health" || true)"
      code="${body##* }"
      if [ "$code" = 200 ] && echo "$body" | grep -q '"status":"ready"'; then
        READY_S="$(python3 -c "print(f'{$(now) - $t0:.2f}')")"; break
      fi
    fi
    kill -0 "$pid" 2>/dev/null || { say "replica $name exited"; tail -30 "$log" >&2; exit 1; }
    sleep 0.02
  done
  [ -n "$READY_S" ] || { say "replica $name not ready after 20 minutes"; exit 1; }
  ADDR="$addr"; RSS_MB="$(rss_mb "$pid")"
}

run_scale() {
  local scale="$1" db="pg_bench_run_$1"
  imported_db "$scale"
  psql_ -d postgres -c "set client_min_messages=warning" -c "drop database if exists $db" \
    -c "create database $db template $TPL strategy file_copy"
  local counts
  counts="$("$BIN" pg init --source "$(url "$db")" 2>"$OUT/pg-init-scale$scale.log" | sed -n 's/^ *terriens\.\([a-z_]*\): \([0-9]*\) rows/\1 \2/p' | tr '\n' ' ')"
  echo "== scale $scale: database $db ($(psql_ -At -d "$db" -c "select pg_size_pretty(pg_database_size(current_database()))")): $counts; load average $(load)"
  rm -f "$OUT/keys.toml"
  local key; key="$("$BIN" keys add --role editor --partners --keys "$OUT/keys.toml" 2>/dev/null | head -1)"

  READY_S=""; start_replica A "$db" "$scale"; local a="$ADDR"
  R[$scale,ready_a]="$READY_S"; R[$scale,rss_a]="$RSS_MB"
  echo "replica A: ready after $READY_S s, RSS $RSS_MB MB (load average $(load))"
  READY_S=""; start_replica B "$db" "$scale"; local b="$ADDR"
  R[$scale,ready_b]="$READY_S"; R[$scale,rss_b]="$RSS_MB"
  echo "replica B: ready after $READY_S s, RSS $RSS_MB MB (load average $(load))"

  local rate out
  for rate in $RATES; do
    sleep 2
    out="$(py lag "$a" "$b" "$key" "$rate" "$DURATION")"
    echo "open loop, $rate writes/s on A, lag to B (load average $(load)): $out"
    for k in achieved write_p50 write_p99 lag_p50 lag_p99 lag_max samples errors; do R[$scale,$rate,$k]="$(kv "$out" "$k")"; done
  done
  sleep 2
  out="$(py closed "$a" "$key" "$CLIENTS" "$DURATION")"
  echo "closed loop, $CLIENTS clients on A (load average $(load)): $out"
  for k in writes_s p50 p99 errors; do R[$scale,closed,$k]="$(kv "$out" "$k")"; done
  R[$scale,rss_a_end]="$(rss_mb "$APID")"
  echo "RSS of A at the end: ${R[$scale,rss_a_end]} MB"
  kill "$APID" "$BPID"; wait "$APID" "$BPID" 2>/dev/null || true; APID=""; BPID=""
  psql_ -d postgres -c "drop database $db"
}

echo "pg-bench: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/Mem/{print $2}') GB; terriens $REV; $("$PGBIN/psql" -X -At -d postgres -c "select split_part(version(), ' on ', 1)"); scales 1 and $SCALE, $DURATION s each"
echo "load average before: $(load)"
run_scale 1
[ "$SCALE" = 1 ] || run_scale "$SCALE"
echo "load average after: $(load)"

ratio() { python3 -c "a,b='$1','$2'
try: print(f'{float(a)/float(b):.2f}')
except Exception: print('n/a')"; }
{
  echo
  echo "| what | scale 1 | scale $SCALE | ratio |"
  echo "|---|---|---|---|"
  row() { echo "| $1 | ${R[1,$2]:-} | ${R[$SCALE,$2]:-} | $(ratio "${R[$SCALE,$2]:-}" "${R[1,$2]:-}") |"; }
  row "replica A ready after start, s" ready_a
  row "replica A RSS when ready, MB" rss_a
  row "replica B ready after start, s" ready_b
  row "replica B RSS when ready, MB" rss_b
  for rate in $RATES; do
    row "$rate writes/s: achieved writes/s" "$rate,achieved"
    row "$rate writes/s: write p50 ms on A" "$rate,write_p50"
    row "$rate writes/s: write p99 ms on A" "$rate,write_p99"
    row "$rate writes/s: lag A→B p50 ms" "$rate,lag_p50"
    row "$rate writes/s: lag A→B p99 ms" "$rate,lag_p99"
    row "$rate writes/s: lag A→B max ms" "$rate,lag_max"
    row "$rate writes/s: lag samples" "$rate,samples"
  done
  row "$CLIENTS clients: writes/s" closed,writes_s
  row "$CLIENTS clients: write p50 ms" closed,p50
  row "$CLIENTS clients: write p99 ms" closed,p99
  row "RSS of A at the end, MB" rss_a_end
} | tee "$OUT/table.md"
echo "command: scripts/pg-bench.sh --scale $SCALE --duration $DURATION; logs in $OUT"
