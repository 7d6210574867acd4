#!/usr/bin/env bash
# Includes point one way (docs/ARCHITECTURE.md, Layers): a file under src/DIR
# may include headers of its own layer and of the layers below it, never
# above. Layers, lowest first; directories that do not exist yet say where
# that code will live. scripts/layers.allow lists the upward includes that
# exist today (FILE HEADER per line); that list only shrinks.
#
# Usage: scripts/layers.sh [SRC_DIR [ALLOW_FILE]]   (defaults: src, scripts/layers.allow)
#        scripts/layers.sh --self-test              plants an upward include in a copy
set -u
cd "$(dirname "$0")/.."

LAYERS=(
    "core"
    "store"
    "jose net audit"
    "app"
    "keys"
    "msg"
    "iga users"
    "policy"
    "oauth"
    "web pep admin"
    "http"
    "cli"
)

level_of() {
    local i
    for i in "${!LAYERS[@]}"; do
        for d in ${LAYERS[$i]}; do
            [ "$d" = "$1" ] && { echo "$i"; return; }
        done
    done
    echo -1
}

check() {
    local src=$1 allow=$2 bad=0 file dir hdr hdir from to
    while IFS=: read -r file hdr; do
        dir=${file#"$src"/}; dir=${dir%%/*}
        hdir=${hdr%%/*}
        [ "$dir" = "$hdir" ] && continue
        from=$(level_of "$dir"); to=$(level_of "$hdir")
        if [ "$from" -lt 0 ] || [ "$to" -lt 0 ]; then
            echo "layers: $file includes $hdr: '$dir' or '$hdir' is in no layer (scripts/layers.sh)"
            bad=1
        elif [ "$to" -gt "$from" ] && ! grep -qxF "${file#"$src"/} $hdr" "$allow" 2>/dev/null; then
            echo "layers: $file includes $hdr, a layer above its own ($dir < $hdir)"
            bad=1
        fi
    done < <(grep -rHoE '^#include "[a-z_]+/[a-z_0-9]+\.h"' "$src" --include='*.c' --include='*.h' |
             grep -v "^$src/main.c:" | sed -E 's/:#include "(.*)"$/:\1/')
    # a listed include that is gone: the list shrinks with it
    while read -r file hdr; do
        case "$file" in ''|'#'*) continue ;; esac
        grep -qxF "#include \"$hdr\"" "$src/$file" 2>/dev/null ||
            { echo "layers: $file no longer includes $hdr: remove the line from $allow"; bad=1; }
    done < <(cat "$allow" 2>/dev/null)
    return $bad
}

if [ "${1:-}" = "--self-test" ]; then
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/src/core" "$tmp/src/oauth"
    printf '#include "core/mdt.h"\n' > "$tmp/src/oauth/ok.c"
    check "$tmp/src" /dev/null >/dev/null || { echo "layers: self-test: a downward include was refused"; exit 1; }
    printf '#include "oauth/tokens.h"\n' > "$tmp/src/core/up.c"
    if check "$tmp/src" /dev/null >/dev/null; then
        echo "layers: self-test: an upward include (core -> oauth) was not caught"; exit 1
    fi
    echo "oauth/x.c web/page.h" > "$tmp/allow"
    printf '#include "web/page.h"\n' > "$tmp/src/oauth/x.c"
    rm "$tmp/src/core/up.c"
    check "$tmp/src" "$tmp/allow" >/dev/null || { echo "layers: self-test: a listed include was refused"; exit 1; }
    : > "$tmp/src/oauth/x.c"
    if check "$tmp/src" "$tmp/allow" >/dev/null; then
        echo "layers: self-test: a stale line of the list was not reported"; exit 1
    fi
    exit 0
fi
check "${1:-src}" "${2:-scripts/layers.allow}"
