#!/usr/bin/env bash
# Runs each cmocka test binary in its own process and prints one summary line.
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
    if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$t"); fi
done
echo "unit: ${pass} passed, ${fail} failed"
((fail == 0)) || { echo "failed: ${failed[*]}"; exit 1; }
