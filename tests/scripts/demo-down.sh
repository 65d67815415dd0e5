#!/usr/bin/env bash
# `make demo-down`: stop what `make demo` started and remove its folder.
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-${DEMO_DIR:-$PWD/.demo}}
[ -d "$dir" ] || exit 0
for name in webhook reconciler cluster; do
  pid_file="$dir/$name.pid"
  [ -f "$pid_file" ] || continue
  pid=$(cat "$pid_file")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
done
rm -rf "$dir"
echo "demo: stopped and removed $dir"
