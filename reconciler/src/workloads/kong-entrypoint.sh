#!/bin/bash
# Kong reads its declarative config once, from a file. The template in the ConfigMap holds
# only placeholders; the API keys and dashboard credentials arrive as env vars from Secrets
# and are substituted here, escaped for a JSON string, into the pod's own emptyDir. Nothing
# secret is written into the ConfigMap, and no value is ever printed.
set -euo pipefail
# Bash 5.2 expands `&` in an unquoted replacement to the matched text (ours are quoted too).
shopt -u patsub_replacement 2>/dev/null || true

escape() {
  local v=$1
  case $v in
    *[[:cntrl:]]*)
      echo "kong-entrypoint: $2 contains a control character" >&2
      exit 1
      ;;
  esac
  v=${v//\\/\\\\}
  v=${v//\"/\\\"}
  printf '%s' "$v"
}

config=$(<"$SUPABASE_KONG_TEMPLATE")
for name in SUPABASE_ANON_KEY SUPABASE_SERVICE_KEY DASHBOARD_USERNAME DASHBOARD_PASSWORD; do
  if [[ -v $name ]]; then
    value=$(escape "${!name}" "$name")
    config=${config//"\${$name}"/"$value"}
  fi
done
case $config in
  *'${SUPABASE_'* | *'${DASHBOARD_'*)
    echo "kong-entrypoint: a placeholder of $SUPABASE_KONG_TEMPLATE has no env var" >&2
    exit 1
    ;;
esac
umask 077
printf '%s\n' "$config" >"$KONG_DECLARATIVE_CONFIG"

# The image's own entrypoint prepares the prefix and starts nginx in the foreground, as
# the user the container runs as (it never switches users): `/entrypoint.sh` in `kong/kong`
# images (Kong/kong build/dockerfiles/deb.Dockerfile @3.9.3), `/docker-entrypoint.sh` in the
# Docker Library's `kong` images.
entrypoint=/entrypoint.sh
[[ -x $entrypoint ]] || entrypoint=/docker-entrypoint.sh
exec "$entrypoint" "$@"
