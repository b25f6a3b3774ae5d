#!/usr/bin/env bash
# The test command: install what is missing, build with AddressSanitizer and
# UndefinedBehaviorSanitizer, and run every test (unit and integration).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
# The release flavour first: the demo runs it, and optimised builds see
# warnings (-Werror) that the Debug build does not.
"$top/scripts/build.sh" release
"$top/scripts/build.sh" asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$top/build-asan"
ctest --output-on-failure --timeout 600 "$@"
