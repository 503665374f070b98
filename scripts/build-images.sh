#!/usr/bin/env bash
# Builds the test cluster's container images offline, from Debian's archive and this repository, into
# one OCI layout that containerd imports (scripts/test-cluster.sh). Test infrastructure: every image
# but hapress stands in for an official image the spec names by default (see images/ and README).
#
#   hapress.local/debian:bookworm             the Debian tree (local-path-provisioner's helper pods)
#   hapress.local/mariadb:10.11               Debian's MariaDB 10.11, the mariadb image's contract
#   hapress.local/wordpress:6.1-php8.2-apache Debian's WordPress 6.1, PHP 8.2, Apache on 80
#   hapress.local/nginx:bookworm              nginx for the page-cache container
#   hapress.local/curl:bookworm               curl as curl_user (100:101), for the cron job
#   hapress.local/pause:3.10                  the pod sandbox, compiled from Kubernetes' pause.c
#   hapress.local/coredns:1.15.0              the cluster DNS (scripts/build-node.sh)
#   hapress.local/hapress:dev                 the project's Dockerfile, FROM the Debian tree
#
# One tree, made by mmdebstrap with every package the images need, is every image's only layer; they
# differ in their configuration. It is rebuilt when its definition changes (this script, images/,
# the CoreDNS and Node versions), the hapress image when the source does. Output: $HAPRESS_CACHE/images/layout (default cache ~/.cache/hapress).
#   --print-dir  print the layout's folder last
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache_root=${HAPRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hapress}
images=$cache_root/images
mkdir -p "$images"
log=$images/build.log
: >"$log"
quietly() {
  "$@" >>"$log" 2>&1 || {
    echo "build-images: '$*' failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  }
}
for tool in mmdebstrap umoci buildah gcc python3; do
  command -v "$tool" >/dev/null || {
    echo "build-images: $tool is needed (bash scripts/install.sh --tests installs it)" >&2
    exit 1
  }
done

node_bin=$(bash scripts/build-node.sh --print-dir)
[[ -x /usr/local/go/bin/go ]] && PATH=$PATH:/usr/local/go/bin
kube_version=$(sed -n 's/^KUBE_VERSION=//p' scripts/build-control-plane.sh)
pause_source=$(go env GOMODCACHE)/k8s.io/kubernetes@$kube_version/build/pause/linux/pause.c
[[ -f $pause_source ]] || bash scripts/build-control-plane.sh >/dev/null

TREE_PACKAGES=(ca-certificates curl procps
  mariadb-server mariadb-client mariadb-backup
  apache2 libapache2-mod-php8.2 php8.2-cli php8.2-mysql php8.2-gd php8.2-xml php8.2-mbstring
  php8.2-curl php8.2-zip php8.2-intl wordpress wordpress-theme-twentytwentythree
  nginx-light libstdc++6)
MIRRORS=("deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main")

tree_key=$(
  {
    cat scripts/build-images.sh
    find images -type f | sort | xargs sha256sum
    cat "$node_bin/coredns.version"
    node --version
  } | sha256sum | cut -c1-16
)
tree=$images/tree-$tree_key
if [[ ! -f $tree/.complete ]]; then
  echo "test images: making the Debian tree (about a minute)" >&2
  start=$SECONDS
  rm -rf "$images"/tree-*
  mkdir -p "$tree"
  # mysql is 999 as in the official image: made before mariadb-server's package makes its own. /run
  # keeps what the hook made there (Apache's run-time folders), as the official images have them.
  IMAGES_DIR=$repo/images PAUSE_SOURCE=$pause_source COREDNS_BINARY=$node_bin/coredns quietly mmdebstrap \
    --variant=apt --include="$(
      IFS=,
      echo "${TREE_PACKAGES[*]}"
    )" \
    --essential-hook='chroot "$1" groupadd --system --gid 999 mysql' \
    --essential-hook='chroot "$1" useradd --system --uid 999 --gid 999 --home-dir /nonexistent --no-create-home --shell /bin/false mysql' \
    --customize-hook="$repo/images/setup-rootfs.sh \"\$1\"" --skip=cleanup/run \
    bookworm "$tree/rootfs.tar" "${MIRRORS[@]}"
  quietly umoci init --layout "$tree/layout"
  quietly umoci new --image "$tree/layout:debian"
  quietly umoci raw add-layer --image "$tree/layout:debian" "$tree/rootfs.tar"
  rm -f "$tree/rootfs.tar"
  path=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  configure() {
    local tag=$1
    shift
    quietly umoci config --image "$tree/layout:debian" --tag "$tag" "$@"
  }
  configure debian --config.env "$path" --config.cmd /bin/bash
  configure mariadb --config.env "$path" --config.user 999:999 --config.workingdir / \
    --config.entrypoint /usr/local/bin/docker-entrypoint.sh --config.cmd mariadbd \
    --config.volume /var/lib/mysql --config.exposedports 3306/tcp
  configure wordpress --config.env "$path" --config.workingdir /var/www/html \
    --config.entrypoint /usr/local/bin/wordpress-entrypoint.sh --config.cmd apache2-foreground \
    --config.exposedports 80/tcp --config.stopsignal SIGWINCH
  configure nginx --config.env "$path" --config.user 33:33 --config.stopsignal SIGQUIT --config.cmd nginx \
    --config.cmd=-g --config.cmd "daemon off;"
  configure curl --config.env "$path" --config.user 100:101 --config.entrypoint curl \
    --config.cmd --help
  configure pause --config.user 65535:65535 --config.entrypoint /pause
  configure coredns --config.user 65534:65534 --config.entrypoint /coredns
  quietly umoci gc --layout "$tree/layout"
  touch "$tree/.complete"
  echo "test images: Debian tree made in $((SECONDS - start)) s" >&2
fi

# The hapress image: the project's Dockerfile with the Debian tree as its base, rebuilt when what the
# Dockerfile copies changes.
hapress_key=$(
  {
    echo "$tree_key"
    git ls-files -co --exclude-standard Dockerfile package.json package-lock.json tsconfig.json src bench bin |
      sort | xargs sha256sum
  } | sha256sum | cut -c1-16
)
layout=$images/layout
if [[ $(cat "$layout/.key" 2>/dev/null) != "$hapress_key" ]]; then
  echo "test images: building the hapress image from the Dockerfile" >&2
  start=$SECONDS
  rm -rf "$layout"
  # Blobs are shared with the tree's layout by hard links; the index is this layout's own.
  cp -al "$tree/layout" "$layout"
  cp --remove-destination "$tree/layout/index.json" "$layout/index.json"
  # buildah names the base after its path, which must be a valid lower-case image name ('.cache' is
  # not): the base is reached through a link in /tmp.
  link=/tmp/hapress-images-$$
  rm -rf "$link"
  mkdir -m 0700 "$link"
  trap 'rm -rf "$link"' EXIT
  ln -s "$layout" "$link/layout"
  storage=(--storage-driver vfs --root "$images/buildah/root" --runroot "$images/buildah/run")
  # npm behind this machine's TLS-inspecting proxy needs the host's CA bundle and npm settings.
  mounts=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  [[ -f /etc/npmrc ]] && mounts+=(-v /etc/npmrc:/root/.npmrc:ro)
  quietly buildah "${storage[@]}" bud --network host --layers=false "${mounts[@]}" \
    --build-arg BASE_IMAGE="oci:$link/layout:debian" -t hapress.local/hapress:dev -f Dockerfile .
  quietly buildah "${storage[@]}" push --quiet hapress.local/hapress:dev "oci:$link/layout:hapress"
  quietly buildah "${storage[@]}" rmi --all --force
  rm -rf "$link"
  trap - EXIT
  quietly python3 images/name-layout.py "$layout" \
    debian=hapress.local/debian:bookworm mariadb=hapress.local/mariadb:10.11 \
    wordpress=hapress.local/wordpress:6.1-php8.2-apache nginx=hapress.local/nginx:bookworm \
    curl=hapress.local/curl:bookworm pause=hapress.local/pause:3.10 \
    coredns=hapress.local/coredns:1.15.0 hapress=hapress.local/hapress:dev
  echo "$hapress_key" >"$layout/.key"
  echo "test images: hapress image built in $((SECONDS - start)) s" >&2
fi
[[ ${1:-} == --print-dir ]] && echo "$layout"
exit 0
