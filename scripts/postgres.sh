#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the end-to-end suites (MESHWORK_TEST_POSTGRES). It
# listens only on a Unix socket in DIR, never on TCP: a socket file crosses into the tests'
# network namespace (scripts/in-netns.sh), a TCP port would not. Durability is off (fsync,
# synchronous_commit, full_page_writes): the cluster is thrown away whole. Runs as root; the
# server itself runs as the `postgres` user, since PostgreSQL refuses to run as root.
#
# Usage: scripts/postgres.sh start DIR   creates DIR, starts the cluster (if not running) and
#                                        prints DIR, the socket directory, on stdout
#        scripts/postgres.sh stop DIR    stops it at once and removes DIR
# PGPORT (default 5432) only names the socket file (DIR/.s.PGSQL.<port>); no TCP port is
# opened, so it clashes with nothing.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$(realpath -m -- "$2")
port=${PGPORT:-5432}
# Written by `start`; `stop` removes only a DIR that has it.
marker="$dir/.meshwork-postgres"

as_postgres() {
  # From /, which postgres can enter whatever the caller's working directory is.
  (cd / && runuser -u postgres -- "$@")
}

running() {
  [ -f "$dir/data/PG_VERSION" ] && as_postgres pg_ctl -D "$dir/data" status >/dev/null 2>&1
}

case "$cmd" in
  start)
    case "$dir" in
      *[[:space:]\'\\]*)
        echo "$0: DIR must not contain whitespace, quotes or backslashes: $dir" >&2
        exit 2
        ;;
    esac
    # sun_path holds 107 bytes: DIR plus "/.s.PGSQL.<port>" must fit.
    socket="$dir/.s.PGSQL.$port"
    if [ "${#socket}" -gt 107 ]; then
      echo "$0: socket path too long for a Unix socket (${#socket} > 107): $socket" >&2
      exit 2
    fi
    if running; then
      echo "$dir"
      exit 0
    fi
    mkdir -p -- "$dir"
    touch -- "$marker"
    chown postgres: -- "$dir"
    if ! as_postgres test -w "$dir"; then
      echo "$0: the postgres user cannot write to $dir (is a parent directory closed to it?)" >&2
      exit 1
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_postgres initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-instructions \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
      }
    fi
    if ! as_postgres pg_ctl -D "$dir/data" -l "$dir/log" -w -o "-p $port \
-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=500 \
-c shared_buffers=64MB" start >/dev/null; then
      echo "$0: the cluster in $dir did not start; its log:" >&2
      tail -n 30 -- "$dir/log" >&2 || true
      exit 1
    fi
    echo "$dir"
    ;;
  stop)
    if [ ! -e "$dir" ]; then
      exit 0
    fi
    if [ ! -f "$marker" ]; then
      echo "$0: $dir was not made by '$0 start'; not touching it" >&2
      exit 1
    fi
    if running; then
      as_postgres pg_ctl -D "$dir/data" -m immediate -w stop >/dev/null
    fi
    rm -rf -- "$dir"
    ;;
  *)
    usage
    ;;
esac
