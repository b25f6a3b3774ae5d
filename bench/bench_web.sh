#!/usr/bin/env bash
# HTTP throughput of the dashboard's API with wrk on loopback (issue #8):
# requests per second for GET /api/v1/live (the wall screen's poll) and for a
# year-long series (GET /api/v1/reports/rpt1/output?period=day over 365 days),
# each against GET /api/v1/session (anonymous: a small JSON answer touching
# no database — the HTTP server's own ceiling on this machine) measured in the
# same run as the baseline.
# Runs `coalmond --demo` from $COALMON_BIN (bench/run.sh: the release build).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${COALMON_BIN:-$top/build/bin}
duration=${BENCH_SECONDS:-5}
command -v wrk >/dev/null || { echo "bench_web: wrk not installed (scripts/setup.sh)" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d /tmp/coalmon-bench-web-XXXXXX)
log="$data/coalmond.log"
"$bin/coalmond" --demo --port "$port" --data "$data" --log-level warn >"$log" 2>&1 &
pid=$!
cleanup() {
  if ! kill -0 "$pid" 2>/dev/null; then echo "bench_web: coalmond died:"; tail -20 "$log"; fi
  kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT
base="http://127.0.0.1:$port"
get() { python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=60).read().decode())' "$1"; }
for _ in $(seq 1 300); do
  grep -q "serving $base/" "$log" 2>/dev/null && get "$base/api/v1/live" 2>/dev/null | grep -q '"value":[0-9]' && break
  sleep 0.1
done
grep -q "serving $base/" "$log" || { echo "bench_web: coalmond did not start:"; cat "$log"; exit 1; }
from=$(date -u -d '@'$(( $(date +%s) + 8 * 3600 - 365 * 86400 )) +%Y-%m-%d)
year="$base/api/v1/reports/rpt1/output?period=day&from=$from"
# The demo first fills a month of history and fits the models on start-up;
# measure the steady state a wall screen sees, not that burst.
for _ in $(seq 1 240); do
  get "$base/api/v1/models/current" 2>/dev/null | grep -q '"transport":{' && break
  sleep 0.5
done
# ...and the start-up work (history, first evaluations) keeps the loop busy
# for a while: wait, at most 2 min, until a lone client is answered quickly.
for _ in $(seq 1 60); do
  quick=$(wrk -t1 -c1 -d1s "$base/api/v1/session" | awk '/Requests\/sec/ {print int($2)}')
  [ "${quick:-0}" -gt 1000 ] && break
  sleep 1
done
get "$year" >/dev/null # the first query warms the page cache, as a screen would

rps() { # URL -> requests per second (wrk, 2 threads, 16 connections)
  wrk -t2 -c16 -d"${duration}s" --latency "$1" | awk '/Requests\/sec/ {print $2} /Non-2xx/ {print "ERR " $0 > "/dev/stderr"}'
}
p50() { wrk -t1 -c1 -d2s --latency "$1" | awk '$1 == "50%" {print $2}'; }
health=$(rps "$base/api/v1/session")
live=$(rps "$base/api/v1/live")
series=$(rps "$year")
printf "%-44s %10s req/s  p50 %s\n" "GET /api/v1/session (baseline)" "$health" "$(p50 "$base/api/v1/session")"
printf "%-44s %10s req/s  p50 %s  (%.3f of baseline)\n" "GET /api/v1/live ($(get "$base/api/v1/live" | grep -o '"value"' | wc -l) points)" "$live" "$(p50 "$base/api/v1/live")" "$(awk -v a="$live" -v b="$health" 'BEGIN {print a / b}')"
printf "%-44s %10s req/s  p50 %s  (%.3f of baseline)\n" "GET rpt1 output, 365 days by day" "$series" "$(p50 "$year")" "$(awk -v a="$series" -v b="$health" 'BEGIN {print a / b}')"
echo "(wrk -t2 -c16 -d${duration}s on loopback; wrk and coalmond share $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg))"
