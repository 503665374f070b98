#!/usr/bin/env bash
# The test image's entrypoint (scripts/build-images.sh): stands in for the official mariadb image's
# docker-entrypoint.sh, with Debian's mariadbd as the server. It keeps the behaviour our manifests rely on: with an
# empty data folder it initialises it, sets the root password (MARIADB_ROOT_PASSWORD or its _FILE) for
# MARIADB_ROOT_HOST only, creates MARIADB_DATABASE and MARIADB_USER, then processes
# /docker-entrypoint-initdb.d: a *.sh file that is executable is run as a program, any other *.sh is
# sourced (only then can it call docker_process_sql), *.sql is piped to the server; then the server
# runs in the foreground. The image listens on every address of the pod (the Debian default is 127.0.0.1).
# Like the official image it runs as root (then the server runs as mysql) or as the mysql user itself
# (uid 999, as the rendered pods run it), and arguments that are options go to mariadbd.
set -eo pipefail
shopt -s nullglob
DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
note() { printf '%s [Note] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*"; }

# As the image's file_env: VAR or VAR_FILE (a mounted secret), not both.
file_env() {
  local var=$1 file_var="${1}_FILE"
  if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
    echo "both $var and $file_var are set" >&2
    exit 1
  fi
  if [[ -n ${!file_var:-} ]]; then
    export "$var"="$(<"${!file_var}")"
    unset "$file_var"
  fi
}
file_env MARIADB_ROOT_PASSWORD
file_env MARIADB_PASSWORD

if [[ $# -eq 0 || $1 == -* ]]; then
  set -- mariadbd "$@"
fi

# As root the files are handed to mysql and the server drops to it; as mysql nothing is chowned.
as_mysql=()
mkdir -p /run/mysqld
if [[ $(id -u) -eq 0 ]]; then
  chown mysql:mysql /run/mysqld "$DATADIR"
  find "$DATADIR" \! -user mysql -exec chown mysql: '{}' +
  as_mysql=(--user=mysql)
fi

docker_process_sql() {
  mariadb --protocol=socket --socket="$SOCKET" -uroot --password="${MARIADB_ROOT_PASSWORD}" "$@"
}

if [[ ! -d $DATADIR/mysql ]]; then
  : "${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD is required to initialise the database}"
  note "initialising the database folder"
  mariadb-install-db "${as_mysql[@]}" --datadir="$DATADIR" --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  note "starting a temporary server"
  mariadbd "${as_mysql[@]}" --datadir="$DATADIR" --skip-networking --socket="$SOCKET" \
    --skip-slave-start --expire-logs-days=0 &
  temp=$!
  for _ in $(seq 1 300); do
    mariadb-admin --protocol=socket --socket="$SOCKET" -uroot ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  root_host=${MARIADB_ROOT_HOST:-%}
  mariadb --protocol=socket --socket="$SOCKET" -uroot --database=mysql <<SQL
SET @@SESSION.SQL_LOG_BIN=0;
DELETE FROM mysql.global_priv WHERE user NOT IN ('mariadb.sys', 'root') OR host NOT IN ('localhost');
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('${MARIADB_ROOT_PASSWORD}') OR unix_socket;
$([[ $root_host != localhost ]] && echo "CREATE USER 'root'@'${root_host}' IDENTIFIED BY '${MARIADB_ROOT_PASSWORD}'; GRANT ALL ON *.* TO 'root'@'${root_host}' WITH GRANT OPTION;")
FLUSH PRIVILEGES;
SQL
  if [[ -n ${MARIADB_DATABASE:-} ]]; then
    docker_process_sql --database=mysql <<<"CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE}\`;"
  fi
  if [[ -n ${MARIADB_USER:-} && -n ${MARIADB_PASSWORD:-} ]]; then
    docker_process_sql --database=mysql <<SQL
CREATE USER '${MARIADB_USER}'@'%' IDENTIFIED BY '${MARIADB_PASSWORD}';
$([[ -n ${MARIADB_DATABASE:-} ]] && echo "GRANT ALL ON \`${MARIADB_DATABASE}\`.* TO '${MARIADB_USER}'@'%';")
SQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh)
        if [[ -x $f ]]; then
          note "running $f"
          "$f"
        else
          note "sourcing $f"
          . "$f"
        fi
        ;;
      *.sql) note "running $f" && docker_process_sql <"$f" ;;
      *) note "ignoring $f" ;;
    esac
  done
  note "stopping the temporary server"
  kill "$temp"
  wait "$temp" || true
  note "initialisation done"
fi
if [[ $1 == mariadbd || $1 == mysqld ]]; then
  exec "$@" "${as_mysql[@]}" --bind-address=0.0.0.0
fi
exec "$@"
