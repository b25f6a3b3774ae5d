#!/usr/bin/env bash
# The test command: install what is missing, build, and run
#   - every test (unit, integration, browser) on the ASan + UBSan build (build-asan/);
#   - the unit tests on clang Release with Debian's hardening flags (build-clang/): what a
#     packager builds is what CI checked.
# Arguments go to the ASan run's ctest (e.g. -R PATTERN). The ThreadSanitizer run is
# scripts/tsan.sh (CI, .ci/run, runs both).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
# gcc -O2 (release) and clang -O2 see warnings (-Werror) that the Debug build does not.
"$top/scripts/build.sh" release asan clang
status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "test: asan (all tests)"
(cd "$top/build-asan" && ctest --output-on-failure --timeout 600 "$@") || status=1
# Unit tests run in-process and in seconds: two at a time.
echo "test: clang Release + dpkg-buildflags (unit tests)"
(cd "$top/build-clang" && ctest --output-on-failure --timeout 300 -j 2 -L unit) || status=1
exit $status
