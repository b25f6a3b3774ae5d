#!/usr/bin/env bash
# Builds one or more flavours, warnings as errors (COALMON_WERROR):
#   release   build/           gcc RelWithDebInfo: the demo and the benchmarks
#   asan      build-asan/      gcc Debug, AddressSanitizer + UBSan: the test suite
#   clang     build-clang/     clang Release with Debian's hardening flags (dpkg-buildflags)
#   packager  build-packager/  gcc, build type None with dpkg-buildflags, as Debian's packaging builds
#   gcc-release build-gcc-release/  gcc Release (-O3)
#   tsan      build-tsan/      gcc RelWithDebInfo, ThreadSanitizer
#   packager-check  the three builds a packager may make (gcc-release, packager, clang) of every
#             program, each from an empty folder under build-check/; prints the warning count of
#             each and fails on any warning
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  echo "usage: scripts/build.sh [release|asan|clang|packager|gcc-release|tsan|packager-check]..." >&2
  exit 2
}

# Debian's flags: CMake does not read CPPFLAGS, so they go with CFLAGS (as debhelper does).
dpkg_flags() {
  command -v dpkg-buildflags >/dev/null || { echo "build: dpkg-buildflags missing (scripts/setup.sh)" >&2; exit 1; }
  cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
  ldflags=$(dpkg-buildflags --get LDFLAGS)
  flags=("-DCMAKE_C_FLAGS=$cflags" "-DCMAKE_EXE_LINKER_FLAGS=$ldflags" "-DCMAKE_SHARED_LINKER_FLAGS=$ldflags")
}

# Sets dir and extra for a flavour.
flavour_args() {
  local flags=()
  case "$1" in
    release) dir="$top/build"; extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
    asan) dir="$top/build-asan"; extra=(-DCMAKE_BUILD_TYPE=Debug -DCOALMON_SANITIZE=ON) ;;
    gcc-release) dir="$top/build-gcc-release"; extra=(-DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release) ;;
    packager) dpkg_flags; dir="$top/build-packager"
      extra=(-DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=None "${flags[@]}") ;;
    clang) dpkg_flags; dir="$top/build-clang"
      extra=(-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release "${flags[@]}") ;;
    tsan) dir="$top/build-tsan"; extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOALMON_TSAN=ON) ;;
    *) usage ;;
  esac
}

build() {
  flavour_args "$1"
  cmake -S "$top" -B "$dir" -DCOALMON_TESTS=ON -DCOALMON_WERROR=ON "${extra[@]}" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
  echo "build: $1 in $dir"
}

# Each packager build from an empty folder, warnings not errors so that all of them are
# counted; the check fails on any.
packager_check() {
  local failed=0 f log n
  mkdir -p "$top/build-check"
  for f in gcc-release packager clang; do
    flavour_args "$f"
    dir="$top/build-check/$f"
    log="$top/build-check/$f.log"
    rm -rf "$dir"
    if cmake -S "$top" -B "$dir" -DCOALMON_TESTS=ON -DCOALMON_WERROR=OFF "${extra[@]}" >"$log" 2>&1 &&
       cmake --build "$dir" -j "$(nproc)" >>"$log" 2>&1; then
      n=$(grep -Eci 'warning:|CMake Warning' "$log" || true)
      echo "packager-check: $f built, $n warnings (log $log)"
      [ "$n" -eq 0 ] || { grep -Ei 'warning:|CMake Warning' "$log" | head -20; failed=1; }
    else
      echo "packager-check: $f FAILED to build (log $log)"; tail -20 "$log"; failed=1
    fi
  done
  return $failed
}

[ $# -gt 0 ] || set -- release
for f in "$@"; do
  case "$f" in
    packager-check) packager_check ;;
    *) build "$f" ;;
  esac
done
