#!/usr/bin/env bash
# Installs what the database tests need: PostgreSQL 15 with pg_cron and wal2json from
# Debian, and the npm package of postgres-meta pinned in tests/meta/package-lock.json.
# Idempotent: with everything in place it changes nothing and only prints the folder
# holding PostgreSQL's binaries (its last line of stdout).
set -euo pipefail

log() { echo "install-postgres: $*" >&2; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pg_bin=/usr/lib/postgresql/15/bin
pg_lib=/usr/share/postgresql/15/extension

need_pkgs=()
[ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/postgres" ] || need_pkgs+=(postgresql-15)
command -v psql >/dev/null 2>&1 || need_pkgs+=(postgresql-client-15)
[ -f "$pg_lib/pg_cron.control" ] || need_pkgs+=(postgresql-15-cron)
[ -f /usr/lib/postgresql/15/lib/wal2json.so ] || need_pkgs+=(postgresql-15-wal2json)
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  sudo_ apt-get update -qq >&2
  # The package's own cluster is not wanted: the tests start their own servers.
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

# postgres-meta at exactly the catalog's version, as pinned by the committed lock file.
# `npm ci` runs again only when the lock file is newer than the installed tree.
meta="$here/meta"
stamp="$meta/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$meta/package-lock.json" -nt "$stamp" ]; then
  log "npm ci in tests/meta"
  (cd "$meta" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
echo "$pg_bin"
