#!/usr/bin/env bash
# The test image's entrypoint (scripts/build-images.sh): stands in for the official wordpress image's
# docker-entrypoint.sh with Debian's WordPress, PHP 8.2 and Apache. It keeps the contract our
# manifests rely on: run as root (Apache then serves as www-data) or as www-data (uid 33) itself; when
# /var/www/html holds no WordPress, copy /usr/src/wordpress in, keeping what wp-content already holds
# (the shared content volume: the official image skips a theme or plugin folder it already has, this
# one copies only the files it lacks); with WORDPRESS_* variables and no wp-config.php, write one from
# wp-config-docker.php, which reads them (or their _FILE twins) at run time.
set -euo pipefail
shopt -s nullglob

if [[ ${1:-} == apache2* || ${1:-} == php-fpm ]]; then
  cd /var/www/html
  if [[ ! -e index.php && ! -e wp-includes/version.php ]]; then
    if [[ $(id -u) -eq 0 ]]; then
      tar --create --file - --directory /usr/src/wordpress --owner www-data --group www-data . | tar --extract --file -
    else
      # As www-data, folders it does not own (the mounted content volume) keep their mode and times:
      # only what is missing is copied (GNU tar 1.34's --no-overwrite-dir still changes their mode
      # and fails). A theme or plugin file the content volume already has is never overwritten.
      cp -R -n /usr/src/wordpress/. .
    fi
    echo "WordPress copied to $PWD" >&2
  fi
  wordpress_variables=("${!WORDPRESS_@}")
  if [[ ! -s wp-config.php && ${#wordpress_variables[@]} -gt 0 ]]; then
    cp /usr/src/wordpress/wp-config-docker.php wp-config.php
  fi
fi
exec "$@"
