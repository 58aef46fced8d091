#!/bin/sh
# deps.sh -- install what 'make run' or 'make test' needs and is missing.
#
# Debian packages: installed with apt-get when run as root, otherwise the
# exact command is printed and we stop. npm packages: 'npm ci' from the
# committed package-lock.json, only when node_modules is older than the lock.
# Usage: sh tools/deps.sh run|test|cluster
set -e
what=${1:-run}

# libpq-dev: the PostgreSQL store (storage/pg/) is linked into the one binary;
# the test list adds the server itself (postgresql: 15 on Debian 12, with
# pg_trgm) for the tests that start a throwaway one.
pkgs="gcc make pkg-config libwebsockets-dev libsqlite3-dev libjansson-dev libsodium-dev libcmark-dev libhiredis-dev libpq-dev"
if [ "$what" = cluster ]; then
    pkgs="$pkgs redis-server haproxy postgresql postgresql-client"
fi
if [ "$what" = test ]; then
    pkgs="$pkgs postgresql sqlite3 python3 python3-websockets nodejs npm chromium fonts-noto-cjk git openssl clang libclang-rt-14-dev redis-server haproxy"
fi
# The editor's colour emoji (web/look.css), checked by the browser tests.
[ "$what" = test ] && pkgs="$pkgs fonts-noto-color-emoji"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        # nodejs/npm may come from elsewhere (nodesource); a working binary is enough.
        case "$p" in
            nodejs) command -v node >/dev/null 2>&1 && continue ;;
            npm) command -v npm >/dev/null 2>&1 && continue ;;
        esac
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "deps: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || true
        apt-get install -y -qq $missing >/dev/null
    else
        echo "deps: missing Debian packages. Run as root:" >&2
        echo "  sudo apt-get install -y$missing" >&2
        exit 1
    fi
fi

if [ "$what" = test ] && [ -f package-lock.json ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        echo "deps: npm ci"
        npm ci --no-audit --no-fund --loglevel=error
    fi
fi
