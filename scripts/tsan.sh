#!/usr/bin/env bash
# ThreadSanitizer: builds build-tsan/ and runs the unit tests and the threaded integration
# tests (collector buses and pool, store writer, analytics runner, uplink senders, web loop
# and workers, alarm hooks). Any report fails the run; reports land in
# build-tsan/tsan-reports/ (the daemons the integration tests start report there too).
# Arguments go to ctest. CI (.ci/run) runs it after scripts/test.sh.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" tsan
logs="$top/build-tsan/tsan-reports"
rm -rf "$logs" && mkdir -p "$logs"
threaded='^unit/|integration/test_(collector_demo|collector_slow_neighbour|uplink|alarms_e2e|demo_live|dashboard_auth|intake_api)$'
status=0
(cd "$top/build-tsan" &&
  TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 log_path=$logs/tsan" \
  ctest --output-on-failure --timeout 600 -R "$threaded" "$@") || status=1
if compgen -G "$logs/tsan*" >/dev/null; then
  echo "tsan: reports in $logs:"
  grep -h "SUMMARY: ThreadSanitizer" "$logs"/tsan* | sort | uniq -c
  status=1
fi
[ $status -eq 0 ] && echo "tsan: clean"
exit $status
