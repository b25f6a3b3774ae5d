#!/usr/bin/env bash
# Builds one flavour: release (build/) or asan (build-asan/, AddressSanitizer + UBSan).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-release}
case "$flavour" in
  release) dir="$top/build"; extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOALMON_SANITIZE=OFF) ;;
  asan)    dir="$top/build-asan"; extra=(-DCMAKE_BUILD_TYPE=Debug -DCOALMON_SANITIZE=ON) ;;
  *) echo "usage: scripts/build.sh [release|asan]" >&2; exit 2 ;;
esac
cmake -S "$top" -B "$dir" -DCOALMON_TESTS=ON "${extra[@]}" >/dev/null
cmake --build "$dir" -j "$(nproc)"
echo "build: $flavour in $dir"
