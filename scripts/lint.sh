#!/usr/bin/env bash
# Bans functions that have no place in this code base.
set -u
cd "$(dirname "$0")/.."
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|rand|srand|random|tmpnam)\s*\('
if grep -rnE "$banned" src tests/unit --include='*.c' --include='*.h'; then
    echo "lint: banned function used (see scripts/lint.sh)"
    exit 1
fi
exit 0
