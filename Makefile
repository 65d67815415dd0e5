# Every target works on a fresh machine: what is missing is installed first.
SHELL := /bin/bash
CARGO ?= cargo
CLUSTER := $(CARGO) run -q -p supabase-operator-tests --bin cluster --
INSTALL := bash tests/scripts/install-control-plane.sh

.PHONY: test lint fmt crd control-plane postgres

## test: every unit and integration test, against a real local control plane
test: control-plane postgres
	$(CARGO) build --workspace --all-targets
	$(CLUSTER) run -- bash tests/scripts/run-tests.sh

## lint: formatting and clippy with warnings as errors
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## crd: regenerate the committed CRD from the Rust types
crd:
	$(CARGO) run -q -p supabase-crds --bin crdgen > crds/supabaseproject.yaml

## postgres: install PostgreSQL 15 (+ pg_cron, wal2json) and the pinned postgres-meta for the database tests (idempotent)
postgres:
	bash tests/scripts/install-postgres.sh >/dev/null

## control-plane: install etcd, kube-apiserver and kube-controller-manager (idempotent)
control-plane:
	$(INSTALL) >/dev/null

.PHONY: demo demo-down self-signed-certs

## demo: a local control plane, the webhook and the reconciler, and what they do (no cluster needed)
demo:
	bash tests/scripts/demo.sh

## demo-down: stop the demo and remove its files
demo-down:
	bash tests/scripts/demo-down.sh

## self-signed-certs: CA + serving certificate for config/self-signed (reuses an existing CA)
self-signed-certs:
	$(CARGO) run -q -p supabase-certs --bin certgen -- --out config/self-signed/generated \
	  --dns supabase-operator-webhook.supabase-operator-system.svc \
	  --dns supabase-operator-webhook.supabase-operator-system.svc.cluster.local

.PHONY: bench-webhook

## bench-webhook: webhook vs bare server over TLS, and the apiserver's view (prints figures)
bench-webhook: control-plane
	$(CARGO) build --release -p supabase-webhook -p supabase-operator-tests
	target/release/bench-webhook $(BENCH_ARGS)

.PHONY: bench-reconciler

## bench-reconciler: PROJECTS (default 200) to Running vs two bare server-side-apply clients, ordered and unordered (prints figures and the README row)
bench-reconciler: control-plane
	$(CARGO) build --release -p supabase-reconciler -p supabase-operator-tests
	target/release/bench-reconciler $(BENCH_ARGS)

.PHONY: fuzz

FUZZ_CASES ?= 170000

## fuzz: the webhook's property-based fuzzing, FUZZ_CASES per property (6 properties), release build; prints the total
fuzz:
	@set -o pipefail; start=$$(date +%s); \
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test --release -p supabase-webhook --test fuzz -- --nocapture 2>&1 \
	  | tee /tmp/supabase-fuzz.log | grep -E '^(fuzz:|test result)'; \
	grep '^fuzz:' /tmp/supabase-fuzz.log | awk -v t=$$(( $$(date +%s) - start )) \
	  '{ n += $$3 } END { printf "fuzz: %d cases in total, %d s wall (build included)\n", n, t }'
