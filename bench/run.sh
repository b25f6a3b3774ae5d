#!/usr/bin/env bash
# Builds the release flavour and runs every benchmark: the compiled ones
# (bench/bench_*.c → build/bench/bench_*) and the scripted ones (bench/bench_*.sh,
# bench/bench_*.py, bench/bench_*.mjs with node). Each prints its figures against a baseline measured in the
# same run. `bench/run.sh NAME` runs only benchmarks whose name contains NAME.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh" >/dev/null
"$top/scripts/build.sh" release >/dev/null
export COALMON_BIN="$top/build/bin" COALMON_SOURCE="$top"
filter=${1:-}
for b in "$top"/build/bench/bench_* "$top"/bench/bench_*.sh "$top"/bench/bench_*.py "$top"/bench/bench_*.mjs; do
  [ -e "$b" ] || continue
  name=$(basename "$b")
  [[ -z "$filter" || "$name" == *"$filter"* ]] || continue
  echo "=== $name"
  case "$b" in
    *.py) python3 "$b" ;;
    *.mjs) node "$b" ;;
    *.sh) bash "$b" ;;
    *) "$b" ;;
  esac
  echo
done
