#!/bin/sh
# vendor-licences.sh -- print the licence of each npm package named, from
# node_modules, each under a line naming the package and its version: the
# licence file that goes beside a vendored file (make vendor).
# Usage: sh tools/vendor-licences.sh PKG...
set -e
for p in "$@"; do
    d=node_modules/$p
    v=$(node -p "require(\"./$d/package.json\").version")
    f=$(ls "$d" | grep -i -m 1 '^licen[cs]e')
    [ -n "$v" ] && [ -n "$f" ] || { echo "vendor-licences: no version or licence for $p" >&2; exit 1; }
    echo "==== $p $v ($f) ===="
    cat "$d/$f"
    echo
done
