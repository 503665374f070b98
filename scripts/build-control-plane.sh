#!/usr/bin/env bash
# Builds the real Kubernetes control plane our Kubernetes tests run against: kube-apiserver,
# kube-controller-manager, kube-scheduler and kubectl from the k8s.io/kubernetes module at one pinned
# release, and etcd from the go.etcd.io/etcd/server/v3 module that release requires. Test
# infrastructure, not part of the product.
#
# Output: $HAPRESS_CACHE/kube/$KUBE_VERSION/bin (default cache ~/.cache/hapress), outside the source
# tree so later runs and CI on the same machine reuse it; a rebuild happens only when the pinned
# version changes or a binary is missing. Idempotent and quiet; prints one progress line per binary.
#
# Why a build module: k8s.io/kubernetes' own go.mod replaces its k8s.io/* staging modules with local
# paths, so `go install k8s.io/kubernetes/cmd/...@version` refuses it. A small module that requires
# it and pins every staging module to the published v0.x tag of the same release builds it.
set -euo pipefail

KUBE_VERSION=v1.34.4
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
cache_root=${HAPRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hapress}
out=$cache_root/kube/$KUBE_VERSION/bin
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

all_built() {
  local b
  for b in "${binaries[@]}"; do [[ -x $out/$b ]] || return 1; done
  [[ -f $out/.complete ]]
}

if all_built; then
  [[ ${1:-} == --print-dir ]] && echo "$out"
  exit 0
fi

# Go where these machines carry it, even when it is not on PATH.
[[ -x /usr/local/go/bin/go ]] && PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || {
  echo "build-control-plane: the Go toolchain (1.24 or newer) is needed to build the test control plane; go not found" >&2
  exit 1
}

work=$cache_root/kube/$KUBE_VERSION/build
mkdir -p "$work" "$out"
cd "$work"
log=$work/build.log
: >"$log"
# Quiet unless something fails: then the tail of Go's output says why.
quietly() {
  "$@" >>"$log" 2>&1 || {
    echo "build-control-plane: '$*' failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  }
}

# The build module: require the release, pin each staging module to its published tag.
if [[ ! -f go.mod ]]; then
  echo "control plane $KUBE_VERSION: fetching modules (first build only)" >&2
  quietly go mod download k8s.io/kubernetes@"$KUBE_VERSION"
  kube_dir=$(go mod download -json k8s.io/kubernetes@"$KUBE_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  {
    echo "module hapress.local/controlplane"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$kube_dir/go.mod"
    echo ")"
  } >go.mod.tmp
  mv go.mod.tmp go.mod
  echo 'package controlplane' >doc.go
fi

declare -A packages=(
  [etcd]=go.etcd.io/etcd/server/v3
  [kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
  [kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
  [kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
  [kubectl]=k8s.io/kubernetes/cmd/kubectl
)
# The version the binaries report (the release's own build sets these the same way).
minor=${KUBE_VERSION#v1.}
minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"

rm -f "$out/.complete"
for b in "${binaries[@]}"; do
  [[ -x $out/$b ]] && continue
  echo "control plane $KUBE_VERSION: building $b (the first build takes several minutes)" >&2
  start=$SECONDS
  GOFLAGS=-mod=mod CGO_ENABLED=0 quietly go build -trimpath -ldflags "$ldflags" -o "$out/$b.tmp" "${packages[$b]}"
  mv "$out/$b.tmp" "$out/$b"
  echo "control plane $KUBE_VERSION: $b built in $((SECONDS - start)) s" >&2
done
touch "$out/.complete"
[[ ${1:-} == --print-dir ]] && echo "$out"
exit 0
