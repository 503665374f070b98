#!/usr/bin/env bash
# The test image's entrypoint (scripts/build-images.sh): stands in for the official wordpress image's
# docker-entrypoint.sh with Debian's WordPress, PHP 8.2 and Apache. It keeps the contract our
# manifests rely on: run as root (Apache then serves as www-data) or as www-data (uid 33) itself; when
# /var/www/html holds no WordPress, copy /usr/src/wordpress in, keeping what wp-content already holds
# (the shared content volume); with WORDPRESS_* variables and no wp-config.php, write one from
# wp-config-docker.php, which reads them (or their _FILE twins) at run time.
set -euo pipefail
shopt -s nullglob

if [[ ${1:-} == apache2* || ${1:-} == php-fpm ]]; then
  cd /var/www/html
  owner=(--owner "$(id -u)" --group "$(id -g)")
  [[ $(id -u) -eq 0 ]] && owner=(--owner www-data --group www-data)
  if [[ ! -e index.php && ! -e wp-includes/version.php ]]; then
    source_args=(--create --file - --directory /usr/src/wordpress "${owner[@]}")
    target_args=(--extract --file -)
    # As non-root, tar may not set the times or modes of folders it did not make (the mounted volume).
    [[ $(id -u) -ne 0 ]] && target_args+=(--no-overwrite-dir)
    # A theme or plugin that the content volume already has is its own: never overwritten.
    for content in /usr/src/wordpress/.htaccess /usr/src/wordpress/wp-content/*/*/; do
      content=${content%/}
      [[ -e $content ]] || continue
      content=${content#/usr/src/wordpress/}
      if [[ -e $PWD/$content ]]; then
        source_args+=(--exclude "./$content")
      fi
    done
    tar "${source_args[@]}" . | tar "${target_args[@]}"
    echo "WordPress copied to $PWD" >&2
  fi
  wordpress_variables=("${!WORDPRESS_@}")
  if [[ ! -s wp-config.php && ${#wordpress_variables[@]} -gt 0 ]]; then
    cp /usr/src/wordpress/wp-config-docker.php wp-config.php
  fi
fi
exec "$@"
