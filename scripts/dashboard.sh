#!/usr/bin/env bash
# Fetches the dashboard's build-time npm packages (web/dashboard/package.json,
# pinned by its package-lock.json) and copies Apache ECharts into web/static/,
# where the build embeds it into coalmond: the mine's network has no internet,
# so the page must load nothing from outside. Run by CMake at configure time
# when the copy is missing or older than the lock file; safe to run again.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dash="$top/web/dashboard"
cd "$dash"
if ! command -v npm >/dev/null; then
  echo "dashboard: npm not found; run scripts/setup.sh (Debian packages nodejs and npm)" >&2
  exit 1
fi
if [ ! -f node_modules/echarts/dist/echarts.min.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "dashboard: npm ci in $dash"
  npm ci --no-audit --no-fund --loglevel=error
fi
src=node_modules/echarts/dist/echarts.min.js
dst="$top/web/static/echarts.min.js"
if ! cmp -s "$src" "$dst"; then
  cp "$src" "$dst.tmp.$$" && mv "$dst.tmp.$$" "$dst"
  echo "dashboard: ECharts $(node -p 'require("./node_modules/echarts/package.json").version') copied to web/static/"
fi
