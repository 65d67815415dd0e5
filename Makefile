# Every target works on a fresh machine: what is missing is installed first.
SHELL := /bin/bash
CARGO ?= cargo
CLUSTER := $(CARGO) run -q -p supabase-operator-tests --bin cluster --
INSTALL := bash tests/scripts/install-control-plane.sh

.PHONY: test lint fmt crd control-plane

## test: every unit and integration test, against a real local control plane
test: control-plane
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

## control-plane: install etcd, kube-apiserver and kube-controller-manager (idempotent)
control-plane:
	$(INSTALL) >/dev/null
