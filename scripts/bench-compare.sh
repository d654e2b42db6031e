#!/usr/bin/env bash
# Before/after figures for a change, in one command: runs the criterion benches of a base
# revision (default: main's merge base with HEAD's first parent, or $1) and then of the working
# tree, in the same target directory, so criterion prints each benchmark's change against the
# base ("change: [...]", "No change in performance detected", "Performance has regressed").
#
#   scripts/bench-compare.sh [BASE_REV] [BENCH...]     (default benches: search tiles)
#
# TERRIENS_BENCH_SCALE sets the data size of both runs (the benches' default is 500; `small`
# for the tile bench, or e.g. 100 for search, gives a quicker run). The load average before each
# run is printed: figures taken on a busy machine are not comparable. BENCH_FILTER passes a
# criterion filter (a benchmark name pattern) to both runs.
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-HEAD~1}"
shift || true
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(search tiles)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
work="$(mktemp -d)"
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/base" "$base" >/dev/null
args=()
for b in "${benches[@]}"; do args+=(--bench "$b"); done

echo "== base $(git rev-parse --short "$base"); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$work/base" && cargo bench --locked "${args[@]}" -- ${BENCH_FILTER:+"$BENCH_FILTER"} --save-baseline before)
echo "== working tree ($(git rev-parse --short HEAD)$(git diff --quiet || echo ', with changes')); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo bench --locked "${args[@]}" -- ${BENCH_FILTER:+"$BENCH_FILTER"} --baseline before
