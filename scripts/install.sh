#!/usr/bin/env bash
# Installs what hapress needs on Debian (bookworm): the Debian packages of the local target,
# the npm dependencies, and the compiled CLI. Idempotent and quiet: it only installs what is missing.
# With --tests it also installs what only the tests need: Chromium (browser test), the real
# Kubernetes control plane and node parts built from source with Go (scripts/build-control-plane.sh,
# scripts/build-node.sh: about 5 and 4 minutes the first time on 2 cores) and the test cluster's images
# (scripts/build-images.sh: about 2 minutes), all reused from ~/.cache/hapress afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

for_tests=false
case "${1:-}" in
  --tests) for_tests=true ;;
  "") ;;
  *)
    echo "usage: bash scripts/install.sh [--tests]" >&2
    exit 2
    ;;
esac

DEBIAN_PACKAGES=(mariadb-server mariadb-client mariadb-backup haproxy
  php-fpm php-mysql php-gd php-xml php-mbstring php-curl php-zip php-intl nginx-light
  wordpress wordpress-theme-twentytwentythree prometheus-mysqld-exporter)
# Tests only: the browser test, iproute2 (ip, for the test cluster's bridge), util-linux, openssl (the
# control plane's certificates), nftables (the chaos partitions); systemd for
# `systemd-analyze verify` of the service unit (present on any machine that runs systemd); prometheus
# (the metrics test scrapes a site with a real Prometheus; promtool checks the alert rules).
$for_tests && DEBIAN_PACKAGES+=(chromium iproute2 util-linux openssl systemd nftables prometheus)
# Tests only: the real test cluster's node (scripts/test-cluster.sh): the container runtime, the CNI
# plugins, what the kubelet and kube-proxy call, and the offline image tools (scripts/build-images.sh).
$for_tests && DEBIAN_PACKAGES+=(containerd runc containernetworking-plugins iptables conntrack ethtool
  socat ipset mmdebstrap umoci buildah)

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "hapress needs these Debian packages: ${missing[*]}" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    # Asked only on a terminal: a script or CI gets the line above and a non-zero exit, never a prompt.
    answer=""
    if [[ -t 0 ]] && command -v sudo >/dev/null; then
      read -r -p "run that now with sudo? [y/N] " answer
    fi
    if [[ $answer != [yY]* ]]; then
      echo "install them as root, then run this script again" >&2
      exit 1
    fi
    sudo apt-get update -qq >/dev/null
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    missing=()
  fi
fi

if ((${#missing[@]} > 0)); then
  echo "installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # The packages' own services are not wanted: hapress runs its own instances on loopback.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

npx tsc -p tsconfig.json

if $for_tests; then
  bash scripts/build-control-plane.sh
  bash scripts/build-node.sh
  bash scripts/build-images.sh
fi
