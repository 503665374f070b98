#!/usr/bin/env bash
# mmdebstrap's customize hook for the test images' one Debian tree (scripts/build-images.sh): runs on
# the host with the tree's path as $1, after Debian's packages are installed. It lays the tree out
# as each image's contract wants it; the images differ only in their configuration (user,
# entrypoint, command), so one tree serves them all and containerd stores its layer once.
#   IMAGES_DIR      this folder (the entrypoints and configuration files)
#   PAUSE_SOURCE    Kubernetes' pause.c (build/pause/linux in the k8s.io/kubernetes module)
#   COREDNS_BINARY  the CoreDNS binary built by scripts/build-node.sh
set -euo pipefail
root=$1
: "${IMAGES_DIR:?}" "${PAUSE_SOURCE:?}" "${COREDNS_BINARY:?}"
in_tree() { chroot "$root" "$@"; }

# Node.js for the hapress image (its Dockerfile's build stage runs npm ci, its run stage runs node):
# the host's own Node 20 and npm, as no Node 20 is in Debian bookworm.
install -m 0755 "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# MariaDB as the official image has it: an empty data folder that the entrypoint initialises (Debian's
# package made one at install time), /docker-entrypoint-initdb.d, the run folder owned by mysql (999).
rm -rf "$root/var/lib/mysql"
install -d -o 999 -g 999 -m 0755 "$root/var/lib/mysql" "$root/run/mysqld"
install -d -m 0755 "$root/docker-entrypoint-initdb.d"
install -m 0755 "$IMAGES_DIR/mariadb/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"

# WordPress as the official image has it: the release in /usr/src/wordpress owned by www-data (33),
# copied to /var/www/html at start; Debian's copy has links to shared libraries, resolved here (in
# the tree: the links are absolute).
mkdir -p "$root/usr/src/wordpress"
in_tree cp -aL /usr/share/wordpress/. /usr/src/wordpress/
rm -f "$root/usr/src/wordpress/wp-config.php" "$root/usr/src/wordpress/.htaccess"
cat >"$root/usr/src/wordpress/.htaccess" <<'HTACCESS'
# BEGIN WordPress
<IfModule mod_rewrite.c>
RewriteEngine On
RewriteRule .* - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}]
RewriteBase /
RewriteRule ^index\.php$ - [L]
RewriteCond %{REQUEST_FILENAME} !-f
RewriteCond %{REQUEST_FILENAME} !-d
RewriteRule . /index.php [L]
</IfModule>
# END WordPress
HTACCESS
install -m 0644 "$IMAGES_DIR/wordpress/wp-config-docker.php" "$root/usr/src/wordpress/wp-config-docker.php"
chown -R 33:33 "$root/usr/src/wordpress"
rm -rf "$root/var/www/html"
install -d -o 33 -g 33 -m 0755 "$root/var/www/html"
install -m 0755 "$IMAGES_DIR/wordpress/docker-entrypoint.sh" "$root/usr/local/bin/wordpress-entrypoint.sh"
install -m 0755 "$IMAGES_DIR/wordpress/apache2-foreground" "$root/usr/local/bin/apache2-foreground"
install -m 0644 "$IMAGES_DIR/wordpress/site.conf" "$root/etc/apache2/sites-available/wordpress.conf"
in_tree a2dissite -q 000-default >/dev/null
in_tree a2ensite -q wordpress >/dev/null
in_tree a2enmod -q rewrite >/dev/null
echo "ServerName localhost" >"$root/etc/apache2/conf-available/server-name.conf"
in_tree a2enconf -q server-name >/dev/null
# Apache runs as www-data without root: its run-time folders are writable, its logs the container's.
# (/var/run and /var/lock are links to /run in the tree: named through /run, never through the links,
# which would resolve on the host.)
for dir in /run/lock/apache2 /run/apache2 /var/log/apache2; do
  install -d -o 33 -g 33 -m 1777 "$root$dir"
done
ln -sfT /dev/stderr "$root/var/log/apache2/error.log"
ln -sfT /dev/stdout "$root/var/log/apache2/access.log"
ln -sfT /dev/stdout "$root/var/log/apache2/other_vhosts_access.log"

# The curl image's user (curlimages/curl runs as curl_user, 100:101).
in_tree groupadd --gid 101 curl_group
in_tree useradd --uid 100 --gid 101 --home-dir /home/curl_user --create-home --shell /bin/sh curl_user

# The pod sandbox's pause process, from Kubernetes' own source, and CoreDNS.
gcc -Os -static -DVERSION=hapress-test -o "$root/pause" "$PAUSE_SOURCE"
install -m 0755 "$COREDNS_BINARY" "$root/coredns"

# Smaller and reproducible enough: no package lists or caches in the layer.
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/usr/share/doc" "$root/usr/share/man"
