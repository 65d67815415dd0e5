#!/usr/bin/env bash
# `make demo`: on a machine with no cluster, start a local control plane, the
# webhook and the reconciler, and show what the operator does with plain kubectl.
#
#   DEMO_DIR     where everything lives (default: .demo in the checkout)
#   DEMO_PAUSE   seconds to pause between steps (default 0)
#
# Everything keeps running afterwards; `make demo-down` stops it and removes DEMO_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
dir=${DEMO_DIR:-$root/.demo}
pause=${DEMO_PAUSE:-0}
bin=${CARGO_TARGET_DIR:-$root/target}/debug

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
step_pause() { [ "$pause" = 0 ] || sleep "$pause"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url seconds
  for _ in $(seq 1 $((${2} * 10))); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: $1 did not answer; logs in $dir" >&2; return 1
}

bash tests/scripts/demo-down.sh "$dir" >/dev/null 2>&1 || true
mkdir -p "$dir"

say "Installing what is missing (etcd, kube-apiserver; first run only)"
bash tests/scripts/install-control-plane.sh >/dev/null
cargo build -q -p supabase-operator-tests -p supabase-webhook -p supabase-reconciler -p supabase-certs

say "Starting a local control plane (etcd + kube-apiserver + garbage collector)"
setsid "$bin/cluster" serve --dir "$dir/cluster" >"$dir/cluster.log" 2>&1 < /dev/null &
echo $! >"$dir/cluster.pid"
for _ in $(seq 1 600); do [ -f "$dir/cluster/ready-kubeconfig" ] && break; sleep 0.2; done
[ -f "$dir/cluster/ready-kubeconfig" ] || { echo "demo: control plane did not start; see $dir/cluster.log" >&2; exit 1; }
export KUBECONFIG=$dir/cluster/ready-kubeconfig
kubectl() { command kubectl "$@" 2> >(grep -v 'version skew\|Warning: version difference' >&2); }

say "Installing the CRD"
kubectl apply --server-side -f crds/supabaseproject.yaml >/dev/null
for _ in $(seq 1 100); do
  established=$(kubectl get crd supabaseprojects.supabase-operator.io \
    -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null || true)
  [ "$established" = True ] && break
  sleep 0.2
done

say "Generating the webhook's CA and serving certificate (certgen)"
"$bin/certgen" --out "$dir/certs" --ip 127.0.0.1

webhook_port=$(free_port); webhook_health=$(free_port); reconciler_health=$(free_port)
say "Starting the webhook on https://127.0.0.1:$webhook_port and the reconciler"
setsid "$bin/webhook" --listen "127.0.0.1:$webhook_port" --health-listen "127.0.0.1:$webhook_health" \
  --tls-cert "$dir/certs/tls.crt" --tls-key "$dir/certs/tls.key" --kubeconfig "$KUBECONFIG" \
  --log-format text >"$dir/webhook.log" 2>&1 < /dev/null &
echo $! >"$dir/webhook.pid"
setsid "$bin/reconciler" --health-addr "127.0.0.1:$reconciler_health" --kubeconfig "$KUBECONFIG" \
  --lease-namespace default --log-format text >"$dir/reconciler.log" 2>&1 < /dev/null &
echo $! >"$dir/reconciler.pid"
wait_http "http://127.0.0.1:$webhook_health/readyz" 30
wait_http "http://127.0.0.1:$reconciler_health/healthz" 30

say "Registering the webhook configurations (pointing at 127.0.0.1:$webhook_port)"
# The same configurations as config/webhook, calling a URL instead of the in-cluster
# Service (1.20 namespaces lack the kubernetes.io/metadata.name label, so no selector).
"$bin/cluster" local-webhooks --url "https://127.0.0.1:$webhook_port" --ca "$dir/certs/ca.crt" \
  | kubectl apply -f - >/dev/null
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo create secret generic demo-db --from-literal=host=postgres.example.internal \
  --from-literal=port=5432 --from-literal=database=postgres --from-literal=password='demo-password-not-real' \
  --dry-run=client -o yaml | kubectl apply -f - >/dev/null
step_pause

say "1. kubectl apply -f config/samples/minimal.yaml  (only the required fields)"
sed -n '/^apiVersion/,$p' config/samples/minimal.yaml
kubectl -n demo apply -f config/samples/minimal.yaml
say "   Stored with every default filled in by the webhook:"
kubectl -n demo get supabaseproject demo -o yaml | sed -n '/^spec:/,/^status:/p' | grep -v '^status:'
step_pause

say "2. An invalid project is refused at apply time, every problem named:"
invalid=$(cat <<'YAML'
apiVersion: supabase-operator.io/v1alpha1
kind: SupabaseProject
metadata:
  name: broken
spec:
  apiExternalUrl: not-a-url
  database:
    secretRef:
      name: no-such-secret
  components:
    kong:
      replicas: 50
      image: kong/kong:latest
YAML
)
echo "$invalid"
if out=$(echo "$invalid" | command kubectl -n demo apply -f - 2>&1); then
  echo "demo: the invalid project was accepted" >&2; exit 1
fi
echo "$out" | grep -v 'version skew\|Warning: version difference'
step_pause

say "3. The rollout, one component at a time. There is no kubelet here, so the demo"
echo "   marks each Deployment ready itself (as a kubelet and the deployment controller would),"
echo "   and answers the database preflight Job for a database that has everything Supabase needs."
# preflight.sql's answer for such a database, as the Job's pod would report it.
facts='{"version":"15.8","versionNum":150008,"walLevel":"logical","slotsMax":10,"slotsUsed":0,"user":"supabase_admin","superuser":true,"createRole":true,"createInDatabase":true,"extensions":{"pg_graphql":"installed","pgcrypto":"installed","uuid-ossp":"installed","pg_net":"installed","pgsodium":"installed","supabase_vault":"installed","pg_cron":"installed"},"roles":{"anon":{"login":false,"memberOf":[]},"authenticated":{"login":false,"memberOf":[]},"service_role":{"login":false,"memberOf":[]},"authenticator":{"login":true,"memberOf":["anon","authenticated","service_role"]},"supabase_auth_admin":{"login":true,"memberOf":[]},"supabase_storage_admin":{"login":true,"memberOf":["anon","authenticated","service_role"]},"supabase_admin":{"login":true,"memberOf":[]}}}'
answer_preflight() {
  for job in $(kubectl -n demo get jobs -l app.kubernetes.io/component=db-preflight -o name 2>/dev/null); do
    [ -n "$(kubectl -n demo get "$job" -o jsonpath='{.status.succeeded}')" ] && continue
    name=${job#job.batch/}
    echo "   answering the database preflight Job $name (as its pod would)"
    # Pods need their service account; the controller that creates it does not run here.
    kubectl -n demo create serviceaccount default >/dev/null 2>&1 || true
    kubectl -n demo get "$job" -o json \
      | jq --arg n "$name-demo" '{apiVersion: "v1", kind: "Pod", metadata: {name: $n, labels: .spec.template.metadata.labels}, spec: .spec.template.spec}' \
      | kubectl -n demo apply -f - >/dev/null
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    jq -n --arg m "$facts" --arg t "$now" '{status: {phase: "Succeeded", containerStatuses: [{name: "psql", image: "postgres", imageID: "", ready: false, restartCount: 0, state: {terminated: {exitCode: 0, reason: "Completed", message: $m, startedAt: $t, finishedAt: $t}}}]}}' \
      | kubectl -n demo patch pod "$name-demo" --subresource=status --type=merge --patch-file=/dev/stdin >/dev/null
    kubectl -n demo patch "$job" --subresource=status --type=merge \
      -p '{"status":{"succeeded":1,"conditions":[{"type":"Complete","status":"True"}]}}' >/dev/null
  done
}
show_status() {
  kubectl -n demo get supabaseproject demo \
    -o jsonpath='   phase={.status.phase}  ready={.status.readyComponents}  message={.status.message}{"\n"}'
}
for _ in $(seq 1 120); do
  phase=$(kubectl -n demo get supabaseproject demo -o jsonpath='{.status.phase}')
  [ "$phase" = Running ] && break
  answer_preflight
  for d in $(kubectl -n demo get deployments -o name 2>/dev/null); do
    ready=$(kubectl -n demo get "$d" -o jsonpath='{.status.readyReplicas}')
    if [ -z "$ready" ]; then
      replicas=$(kubectl -n demo get "$d" -o jsonpath='{.spec.replicas}')
      generation=$(kubectl -n demo get "$d" -o jsonpath='{.metadata.generation}')
      echo "   marking ${d#deployment.apps/} ready ($replicas/$replicas)"
      kubectl -n demo patch "$d" --subresource=status --type=merge -p "{\"status\":{\"observedGeneration\":$generation,\"replicas\":$replicas,\"updatedReplicas\":$replicas,\"readyReplicas\":$replicas,\"availableReplicas\":$replicas,\"conditions\":[{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"MinimumReplicasAvailable\"}]}}" >/dev/null
      sleep 0.5
      show_status
    fi
  done
  sleep 0.5
done
kubectl -n demo get supabaseproject demo
[ "$(kubectl -n demo get supabaseproject demo -o jsonpath='{.status.phase}')" = Running ] || { echo "demo: not Running; see $dir/reconciler.log" >&2; exit 1; }

say "Everything is still running. To explore:"
echo "   export KUBECONFIG=$KUBECONFIG"
echo "   kubectl -n demo get supabaseproject,deployments,services,secrets"
echo "   logs: $dir/webhook.log $dir/reconciler.log"
echo "   stop: make demo-down"
