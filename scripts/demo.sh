#!/usr/bin/env bash
# The demo command: install what is missing, build, start coalmond --demo.
# Open http://127.0.0.1:8080/ ; Ctrl-C stops everything.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/setup.sh"
"$top/scripts/build.sh" release
exec "$top/build/bin/coalmond" --demo "$@"
