#!/bin/sh
# tests/pg.sh -- a throwaway PostgreSQL 15 for the tests.
#
#   sh tests/pg.sh start     initdb + pg_ctl in a new temporary directory
#                            (owned by the postgres user: PostgreSQL refuses
#                            to run as root), on a free loopback port, the
#                            socket in that directory; prints two lines:
#                            the directory, then the URL of its 'postgres'
#                            database (postgresql://postgres@127.0.0.1:P/postgres)
#   sh tests/pg.sh stop DIR  stop it (fast shutdown) and remove DIR
#   sh tests/pg.sh restart DIR [SECONDS]
#                            stop it (fast: sessions are cut), stay down
#                            SECONDS (default 0), start it again, same port
#
# Exits 77 (and says "skipped: ...") when PostgreSQL is not installed.
set -e
BIN=/usr/lib/postgresql/15/bin
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$1" in
start)
    if [ ! -x "$BIN/initdb" ]; then
        echo "skipped: PostgreSQL 15 is not installed ($BIN/initdb)" >&2
        exit 77
    fi
    dir=$(mktemp -d /tmp/chorus-pg-XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_pg "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2; exit 1; }
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "$dir"
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    dir=$2
    case "$dir" in /tmp/chorus-pg-*) ;; *) echo "not a test directory: $dir" >&2; exit 2 ;; esac
    as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
restart)
    dir=$2
    case "$dir" in /tmp/chorus-pg-*) ;; *) echo "not a test directory: $dir" >&2; exit 2 ;; esac
    opts=$(sed -n 's/^[^ ]* "-D" "[^"]*" //p' "$dir/data/postmaster.opts" | tr -d '"')
    as_pg "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    sleep "${3:-0}"
    as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "$opts" start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    ;;
*)
    echo "usage: sh tests/pg.sh start | stop DIR | restart DIR [SECONDS]" >&2
    exit 2
    ;;
esac
