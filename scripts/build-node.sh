#!/usr/bin/env bash
# Builds the Go parts of the test cluster's node (scripts/test-cluster.sh): the kubelet and kube-proxy
# from the same k8s.io/kubernetes release as the control plane (scripts/build-control-plane.sh, whose
# build module and Go cache they share), CoreDNS, kube-router (its firewall alone: NetworkPolicy
# enforcement) and local-path-provisioner (dynamic volumes). Test infrastructure, not part of the product; the
# container runtime (containerd, runc) and the CNI plugins are Debian packages.
#
# Output: $HAPRESS_CACHE/node/bin (default cache ~/.cache/hapress); each binary carries a stamp of the
# version it was built from, so a changed pin rebuilds that binary only. Quiet unless it builds.
set -euo pipefail
cd "$(dirname "$0")/.."

COREDNS_VERSION=v1.15.0
LOCAL_PATH_VERSION=v0.0.30
# NetworkPolicy enforcement: kube-router's firewall alone (iptables and ipsets). kube-network-policies
# cannot run on this kernel: it judges connections through nftables' `queue` statement, and the
# kernel lacks CONFIG_NFT_QUEUE (every rule sync fails with ENOENT). v2.1.0 is the only version the
# module proxy serves here, and security flaws are reported against it: acceptable for a test node
# whose pod traffic never leaves the machine, where only its firewall runs.
KUBE_ROUTER_VERSION=v2.1.0
KUBE_VERSION=$(sed -n 's/^KUBE_VERSION=//p' scripts/build-control-plane.sh)

cache_root=${HAPRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hapress}
out=$cache_root/node/bin
print_dir=false
[[ ${1:-} == --print-dir ]] && print_dir=true

declare -A versions=(
  [kubelet]=$KUBE_VERSION
  [kube-proxy]=$KUBE_VERSION
  [coredns]=$COREDNS_VERSION
  [local-path-provisioner]=$LOCAL_PATH_VERSION
  [kube-router]=$KUBE_ROUTER_VERSION
)
binaries=(kubelet kube-proxy coredns local-path-provisioner kube-router)

current() { [[ -x $out/$1 && $(cat "$out/$1.version" 2>/dev/null) == "${versions[$1]}" ]]; }

missing=()
for b in "${binaries[@]}"; do current "$b" || missing+=("$b"); done
if ((${#missing[@]} == 0)); then
  $print_dir && echo "$out"
  exit 0
fi

[[ -x /usr/local/go/bin/go ]] && PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || {
  echo "build-node: the Go toolchain (1.26 or newer, for CoreDNS) is needed; go not found" >&2
  exit 1
}
mkdir -p "$out"
log=$cache_root/node/build.log
: >"$log"
quietly() {
  "$@" >>"$log" 2>&1 || {
    echo "build-node: '$*' failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  }
}

# The kubelet and kube-proxy come from the control plane's build module: build it first if needed.
kube_module=$(dirname "$(bash scripts/build-control-plane.sh --print-dir)")/build
minor=${KUBE_VERSION#v1.}
minor=${minor%%.*}
kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"

build() {
  local name=$1
  case $name in
    kubelet | kube-proxy)
      (cd "$kube_module" && GOFLAGS=-mod=mod CGO_ENABLED=0 quietly go build -trimpath \
        -ldflags "$kube_ldflags" -o "$out/$name.tmp" "k8s.io/kubernetes/cmd/$name")
      ;;
    coredns) install_module github.com/coredns/coredns "$COREDNS_VERSION" coredns "$name" ;;
    kube-router)
      install_module github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "$KUBE_ROUTER_VERSION" kube-router "$name"
      ;;
    local-path-provisioner)
      install_module github.com/rancher/local-path-provisioner "$LOCAL_PATH_VERSION" local-path-provisioner "$name"
      ;;
  esac
  mv "$out/$name.tmp" "$out/$name"
  echo "${versions[$name]}" >"$out/$name.version"
}

# `go install module@version` into a scratch GOBIN, then renamed (its binary is named after the path).
install_module() {
  local package=$1 version=$2 produced=$3 name=$4 bin
  bin=$(mktemp -d)
  CGO_ENABLED=0 GOBIN=$bin quietly go install -trimpath -ldflags "-s -w" "$package@$version"
  mv "$bin/$produced" "$out/$name.tmp"
  rm -rf "$bin"
}

for name in "${missing[@]}"; do
  echo "test cluster node: building $name ${versions[$name]} (minutes the first time)" >&2
  start=$SECONDS
  build "$name"
  echo "test cluster node: $name built in $((SECONDS - start)) s" >&2
done
$print_dir && echo "$out"
exit 0
