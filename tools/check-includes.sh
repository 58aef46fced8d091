#!/bin/sh
# check-includes.sh -- the rooms of the C code include only downwards.
#
# Every room has a rank; a file may include a header of its own room or of
# a room ranked lower, never of a room at its rank or above:
#
#   ot 0 < storage 1 < server/base 2 < server/auth, server/history,
#     server/bus 3
#     < server/collab 4 < server/net, server/api 5 < server/cli 6
#
# So ot/ stays pure, storage/ knows nothing of the server, the document
# session (collab/) knows nothing of lws or HTTP (net/, api/), and net/ and
# api/ meet only in cli/serve.c, which wires them. docs/architecture.md
# explains each room. Prints one line per wrong include, then one line per
# room ("ok ROOM" or "FAIL ROOM") and "N passed, N failed" (rooms).
cd "$(dirname "$0")/.." || exit 1

rank() {
    case "$1" in
        ot) echo 0 ;;
        storage) echo 1 ;;
        server/base) echo 2 ;;
        server/auth|server/history|server/bus) echo 3 ;;
        server/collab) echo 4 ;;
        server/net|server/api) echo 5 ;;
        server/cli) echo 6 ;;
        *) echo "" ;;
    esac
}

# room FILE-OR-HEADER-PATH: the room a path lives in ("" if none)
room() {
    case "$1" in
        ot/*) echo ot ;;
        storage/*) echo storage ;;
        server/*/*) echo "$1" | cut -d/ -f1-2 ;;
        *) echo "" ;;
    esac
}

passed=0 failed=0
for r in ot storage server/base server/auth server/history server/bus \
         server/collab \
         server/net server/api server/cli; do
    [ -d "$r" ] || continue
    bad=0
    mine=$(rank "$r")
    # storage/pg/ (the PostgreSQL backend) is part of the storage room
    sub=""
    [ "$r" = storage ] && sub="storage/pg/*.c storage/pg/*.h"
    for f in "$r"/*.c "$r"/*.h $sub; do
        [ -f "$f" ] || continue
        for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
            to=$(room "$inc")
            if [ -z "$to" ]; then
                case "$inc" in
                    server/*) echo "$f: includes $inc, which is in no room"; bad=1 ;;
                esac
                continue
            fi
            [ "$to" = "$r" ] && continue
            theirs=$(rank "$to")
            if [ -z "$theirs" ] || [ "$theirs" -ge "$mine" ]; then
                echo "$f: includes $inc ($to may not be seen from $r)"
                bad=1
            fi
        done
    done
    if [ $bad = 0 ]; then echo "ok   $r"; passed=$((passed + 1))
    else echo "FAIL $r"; failed=$((failed + 1)); fi
done
# every file of server/ lives in a room
loose=$(ls server/*.c server/*.h 2>/dev/null)
if [ -n "$loose" ]; then
    echo "in no room: $loose"
    echo "FAIL server/"; failed=$((failed + 1))
else
    echo "ok   server/ (every file in a room)"; passed=$((passed + 1))
fi
echo "$passed passed, $failed failed"
[ $failed = 0 ]
