#!/usr/bin/env bash
# Runs the workspace's tests (inside `cluster run`, so they share one cluster).
# cargo-nextest when present (one process per test, parallel), else cargo test.
set -euo pipefail
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-tests=warn "$@"
  cargo test --workspace --doc -q
else
  echo "run-tests: cargo-nextest not found; using cargo test" >&2
  cargo test --workspace "$@"
fi
