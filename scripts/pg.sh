#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests, from Debian's `postgresql` package.
#
#   scripts/pg.sh start DIR          initdb (once) and start a cluster in DIR
#   scripts/pg.sh stop DIR           stop it (the data stays; start again works)
#   scripts/pg.sh url DIR [DB]       print the libpq URL of database DB (default: mandate)
#   scripts/pg.sh createdb DIR NAME  create database NAME (fresh: dropped first)
#   scripts/pg.sh destroy DIR        stop it and remove DIR
#   scripts/pg.sh with CMD [ARG...]  run CMD beside a cluster in a new temporary
#                                    directory, with MANDATE_TEST_PG_DIR and
#                                    MANDATE_TEST_PG_URL set; the cluster is
#                                    destroyed when CMD ends, also on failure
#
# The cluster listens only on a Unix socket in DIR (listen_addresses=''),
# trusts local connections and runs with settings fit for tests only
# (fsync=off), unless PG_DURABLE=1 (the benchmark: commits as durable as in
# production). When run as root, it runs as the unprivileged system user
# mandate-pg (created if missing), which owns DIR (so DIR's parents must be
# traversable by others, as /tmp is).
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

bindir() {
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir)
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return; }
    done
    die "initdb not found: install the postgresql package (scripts/deps.sh)"
}

PGUSER_SYS=mandate-pg

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PGUSER_SYS" -- "$@"
    else
        "$@"
    fi
}

owner_setup() {
    local dir=$1
    if [ "$(id -u)" = 0 ]; then
        # two runs at once may both find it missing: the loser's useradd fails, harmlessly
        id -u "$PGUSER_SYS" >/dev/null 2>&1 ||
            useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_SYS" 2>/dev/null ||
            id -u "$PGUSER_SYS" >/dev/null
        chown "$PGUSER_SYS": "$dir"
        chmod 0700 "$dir"
    fi
}

if [ "${1:-}" = with ]; then
    shift
    [ $# -gt 0 ] || die "usage: pg.sh with CMD [ARG...]"
    if ! bindir >/dev/null 2>&1; then
        echo "pg.sh: PostgreSQL is not installed (scripts/deps.sh installs it): running without it" >&2
        exec "$@"
    fi
    self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
    tmp=$(mktemp -d /tmp/mandate-pg-XXXXXX)
    trap '"$self" destroy "$tmp"' EXIT
    trap 'exit 130' INT TERM
    "$self" start "$tmp"
    MANDATE_TEST_PG_DIR=$tmp MANDATE_TEST_PG_URL=$("$self" url "$tmp" postgres) "$@"
    exit $?
fi

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: pg.sh start|stop|url|createdb|destroy DIR [NAME]"
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
data="$dir/data"
BIN=$(bindir)

psql_do() { # psql_do SQL: runs SQL in the postgres database
    as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -U postgres -d postgres \
        -c "SET client_min_messages=warning" -c "$1" >/dev/null
}

case "$cmd" in
start)
    mkdir -p "$dir"
    owner_setup "$dir"
    if [ ! -f "$data/PG_VERSION" ]; then
        as_owner "$BIN/initdb" -D "$data" -A trust -U postgres -E UTF8 --no-locale >/dev/null
        cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 32MB
log_min_messages = warning
EOF
        if [ "${PG_DURABLE:-0}" != 1 ]; then # tests: nothing here needs to survive a crash
            printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n' \
                >>"$data/postgresql.conf"
        fi
    fi
    if ! as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_owner "$BIN/pg_ctl" -D "$data" -l "$dir/log" -w -t 30 start >/dev/null
    fi
    psql_do "SELECT 1" || die "cluster in $dir does not answer"
    if ! as_owner "$BIN/psql" -X -h "$dir" -U postgres -d postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname='mandate'" | grep -q 1; then
        psql_do "CREATE DATABASE mandate"
    fi
    ;;
stop)
    as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1 || exit 0
    as_owner "$BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null
    ;;
url)
    echo "postgresql:///${3:-mandate}?host=$dir&user=postgres"
    ;;
createdb)
    name=${3:-}
    [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "createdb: a name of [a-z0-9_]"
    psql_do "DROP DATABASE IF EXISTS $name"
    psql_do "CREATE DATABASE $name"
    ;;
destroy)
    if [ -f "$data/postmaster.pid" ]; then
        as_owner "$BIN/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    die "unknown command $cmd"
    ;;
esac
