#!/usr/bin/env bash
# Installs what the integration tests need: etcd, kube-apiserver and
# kube-controller-manager. Idempotent: a second run with everything in place
# prints the binary folder and does nothing else.
#
# Honours KUBEBUILDER_ASSETS (the envtest convention): when it names a folder
# holding etcd and kube-apiserver, those are used and nothing is installed.
#
# kube-apiserver and kube-controller-manager are not packaged as binaries in
# Debian, so they are built from Debian's `kubernetes` source package (1.20.2)
# and cached under ${SUPABASE_OPERATOR_CACHE:-~/.cache/supabase-operator}.
# Prints the folder holding the binaries on its last line of stdout.
set -euo pipefail

log() { echo "install-control-plane: $*" >&2; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ]; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

cache="${SUPABASE_OPERATOR_CACHE:-$HOME/.cache/supabase-operator}"
bin="$cache/bin"
mkdir -p "$bin"

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    sudo_ apt-get update -qq >&2
    apt_updated=1
  fi
}

need_pkgs=()
command -v etcd >/dev/null 2>&1 || need_pkgs+=(etcd-server)
command -v kubectl >/dev/null 2>&1 || need_pkgs+=(kubernetes-client)
command -v jq >/dev/null 2>&1 || need_pkgs+=(jq)
if [ ! -x "$bin/kube-apiserver" ] || [ ! -x "$bin/kube-controller-manager" ]; then
  command -v go >/dev/null 2>&1 || need_pkgs+=(golang-go)
  command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || need_pkgs+=(golang-github-modern-go-reflect2-dev)
  command -v dpkg-source >/dev/null 2>&1 || need_pkgs+=(dpkg-dev)
fi
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  log "installing Debian packages: ${need_pkgs[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq "${need_pkgs[@]}" >&2
fi
ln -sf "$(command -v etcd)" "$bin/etcd"

if [ ! -x "$bin/kube-apiserver" ] || [ ! -x "$bin/kube-controller-manager" ]; then
  # apt-get source needs a deb-src entry for bookworm main.
  if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    log "adding a deb-src entry for bookworm main"
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | sudo_ tee /etc/apt/sources.list.d/supabase-operator-src.sources >/dev/null
    apt_updated=0
  fi
  apt_update_once
  work="$cache/build"
  rm -rf "$work"
  mkdir -p "$work"
  log "fetching Debian's kubernetes source package"
  (cd "$work" && apt-get source -qq kubernetes >&2)
  src=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name 'kubernetes-*' | head -n 1)
  [ -n "$src" ] || { log "apt-get source kubernetes produced no tree"; exit 1; }
  # The vendored reflect2 1.0.1 crashes (fatal error: fault in mapiternext)
  # under Go 1.19 the first time the apiserver serves a custom resource.
  rm -rf "$src/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$src/vendor/github.com/modern-go/reflect2"
  rm -f "$src/vendor/github.com/modern-go/reflect2/go.mod"
  mkdir -p "$src/.go/src/k8s.io"
  ln -sfn "$src" "$src/.go/src/k8s.io/kubernetes"
  log "building kube-apiserver and kube-controller-manager (4-6 minutes on 2 cores)"
  (cd "$src/.go/src/k8s.io/kubernetes" && GOPATH="$src/.go" CGO_ENABLED=0 \
      make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >&2)
  out="$src/_output/local/bin/linux/$(go env GOARCH)"
  install -m 0755 "$out/kube-apiserver" "$bin/kube-apiserver"
  install -m 0755 "$out/kube-controller-manager" "$bin/kube-controller-manager"
  rm -rf "$work"
  log "built into $bin"
fi

echo "$bin"
