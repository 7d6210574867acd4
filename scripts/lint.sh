#!/usr/bin/env bash
# Bans functions that have no place in this code base, and includes that go
# up the layers (scripts/layers.sh).
set -u
cd "$(dirname "$0")/.."
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|rand|srand|random|tmpnam)\s*\('
if grep -rnE "$banned" src tests/unit --include='*.c' --include='*.h'; then
    echo "lint: banned function used (see scripts/lint.sh)"
    exit 1
fi
# includes point one way; the check first proves it catches an upward include
scripts/layers.sh --self-test && scripts/layers.sh || exit 1
exit 0
