#!/usr/bin/env bash
# Before/after figures of single changes, measured in one run:
#   bench/steps.sh REV1 REV2 ...
# builds each git revision (one temporary `git worktree add --detach` under
# /tmp, moved from revision to revision so that each build recompiles only
# what changed; make BUILD=... OPT="-O3 -DNDEBUG -march=native"), then
# measures them interleaved (rev1, rev2, ..., rev1, rev2, ...; ROUNDS rounds)
# pinned as `make bench` measures: each revision's server on CPU 0 with a
# store of its own (initialised by its own binary), wrk -t1 -c32 on CPU 1,
# the server's CPU per token from /proc/PID/stat, and `openssl speed
# ecdsap256` on CPU 0 once per round. Rows: ES256 JWT token and opaque
# token (client_credentials, client_secret_basic), with the access log off;
# ACCESS_LOG=both measures them with it on too. Prints a Markdown table
# (median per revision, the range of the rounds beside it) to paste into
# bench/RESULTS.md. Bounded: every wrk, build and server start under
# timeout; the worktree, the builds and the servers removed on exit.
# Environment: DURATION (s per row, 5), ROUNDS (3), SPEED_SECONDS (2),
#   ACCESS_LOG (off | both), BUILD_TIMEOUT (s per revision, 900).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bench/steps.sh REV1 [REV2 ...]" >&2; exit 2; }
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
SPEED_SECONDS=${SPEED_SECONDS:-2}
ACCESS_LOG=${ACCESS_LOG:-off}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-900}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LUA="$ROOT/bench/token.lua"
WORK=$(mktemp -d /tmp/mandate-steps.XXXXXX)
TREE="$WORK/tree"
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    if [ -d "$TREE" ]; then git -C "$ROOT" worktree remove --force "$TREE" >/dev/null 2>&1 || true; fi
    git -C "$ROOT" worktree prune >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
say() { echo "steps: $*" >&2; }

# --- build every revision
REVS=() SUBJECTS=()
for rev in "$@"; do
    REVS+=("$(git -C "$ROOT" rev-parse --short "$rev^{commit}")")
    SUBJECTS+=("$(git -C "$ROOT" log -1 --format=%s "$rev" | cut -c1-72 | tr '|' '/')")
done
git -C "$ROOT" worktree add --detach "$TREE" "${REVS[0]}" >/dev/null 2>&1
for i in "${!REVS[@]}"; do
    say "building ${REVS[$i]}"
    git -C "$TREE" checkout -q --detach "${REVS[$i]}"
    rm -f "$WORK/build/libmandate.a" "$WORK/build/mandate"
    timeout "$BUILD_TIMEOUT" make -C "$TREE" -j2 --no-print-directory BUILD="$WORK/build" \
        OPT="-O3 -DNDEBUG -march=native" "$WORK/build/mandate" >"$WORK/build-$i.log" 2>&1 ||
        { say "build of ${REVS[$i]} failed:"; tail -20 "$WORK/build-$i.log" >&2; exit 1; }
    cp "$WORK/build/mandate" "$WORK/mandate-$i"
done
git -C "$ROOT" worktree remove --force "$TREE"

# --- a store per revision, set up by its own binary
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
URL=http://127.0.0.1:$port
json() { python3 -c 'import json,sys;print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
basic_of() { printf '%s:%s' "$(json "$1" client_id)" "$(json "$1" client_secret)" | base64 -w0; }
declare -A JWT_BASIC OPAQUE_BASIC
for i in "${!REVS[@]}"; do
    d="$WORK/store-$i"
    mkdir -p "$d"
    for log in false true; do
        cat >"$d/access-$log.conf" <<CONF
[server]
listen = 127.0.0.1:$port
issuer = $URL
[storage]
database = sqlite:$d/var/mandate.db
data_dir = $d/var
[log]
access_log = $log
level = warn
CONF
    done
    M() { "$WORK/mandate-$i" --config "$d/access-false.conf" "$@"; }
    M init >/dev/null
    M scope create bench --description "benchmark" >/dev/null
    JWT_BASIC[$i]=$(basic_of "$(echo '{"client_name":"bench","scope":"bench","resources":["https://api.bench.example"]}' |
                                M client create --json)")
    OPAQUE_BASIC[$i]=$(basic_of "$(echo '{"client_name":"bench-opaque","scope":"bench","resources":["https://api.bench.example"],"access_token_format":"opaque"}' |
                                   M client create --json)")
done

# --- interleaved, pinned runs
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TCK=$(getconf CLK_TCK)
RAW="$WORK/raw"   # rev_index access_log row cpu_us
SPEEDS="$WORK/speeds"
logs=(false)
[ "$ACCESS_LOG" = both ] && logs=(false true)
row() { # row I LOG NAME BASIC: prints nothing, appends to $RAW
    local i=$1 log=$2 name=$3 basic=$4 t0 t1 out req
    MANDATE_BASIC=$basic timeout 30 taskset -c 1 wrk -t1 -c32 -d1s -s "$LUA" "$URL/token" >/dev/null
    t0=$(ticks)
    out=$(MANDATE_BASIC=$basic timeout $((DURATION + 30)) taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" \
          --timeout 5s -s "$LUA" "$URL/token")
    t1=$(ticks)
    req=$(sed -n 's/^RESULT requests=\([0-9]*\) .* errors=\([0-9]*\) .*/\1 \2/p' <<<"$out")
    read -r req errs <<<"$req"
    [ "${errs:-1}" = 0 ] && [ "${req:-0}" -gt 0 ] || { say "${REVS[$i]} $name: wrk failed: $out"; exit 1; }
    echo "$i $log $name $(( (t1 - t0) * 1000000 / TCK * 10 / req ))" >>"$RAW"
}
for round in $(seq 1 "$ROUNDS"); do
    say "round $round of $ROUNDS"
    taskset -c 0 openssl speed -seconds "$SPEED_SECONDS" ecdsap256 2>/dev/null |
        awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1); exit}' >>"$SPEEDS"
    for i in "${!REVS[@]}"; do
        for log in "${logs[@]}"; do
            d="$WORK/store-$i"
            (cd "$d" && exec taskset -c 0 "$WORK/mandate-$i" --config "$d/access-$log.conf" serve) \
                >/dev/null 2>"$d/server-$log.log" &
            PID=$!
            for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
            row "$i" "$log" token "${JWT_BASIC[$i]}"
            row "$i" "$log" opaque "${OPAQUE_BASIC[$i]}"
            kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
        done
    done
done

# --- the table
{
    printf '%s\n' "${REVS[@]}" >"$WORK/revs"
    printf '%s\n' "${SUBJECTS[@]}" >"$WORK/subjects"
}
python3 - "$RAW" "$SPEEDS" "$WORK/revs" "$WORK/subjects" "$ACCESS_LOG" "$DURATION" <<'PY'
import statistics, sys
raw, speeds, revs, subjects, access, duration = sys.argv[1:]
revs = open(revs).read().split("\n")[:-1]
subjects = open(subjects).read().split("\n")[:-1]
sign = [float(x) for x in open(speeds).read().split()]
sign_us = 1e6 / max(sign)
runs = {}
for line in open(raw):
    i, log, name, cpu10 = line.split()
    runs.setdefault((int(i), log, name), []).append(int(cpu10) / 10)
logs = ["false", "true"] if access == "both" else ["false"]
def cell(v):
    return f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})"
head = ["revision", "change"]
for log in logs:
    suffix = ", access log on" if log == "true" else ""
    head += [f"ES256 token µs{suffix}", f"÷ one sign{suffix}", f"opaque token µs{suffix}",
             f"opaque ÷ JWT{suffix}"]
print(f"Server CPU per token, pinned (server on CPU 0, wrk -t1 -c32 on CPU 1, {duration} s per row), "
      f"median of {len(sign)} interleaved rounds (range in brackets); one ES256 sign = {sign_us:.1f} µs "
      f"(`openssl speed ecdsap256` on CPU 0, best of {len(sign)}: " +
      ", ".join(f"{s:,.0f}" for s in sign) + " signs/s).\n")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for i, (rev, subj) in enumerate(zip(revs, subjects)):
    cells = [f"`{rev}`", subj]
    for log in logs:
        t, o = runs[(i, log, "token")], runs[(i, log, "opaque")]
        tm, om = statistics.median(t), statistics.median(o)
        cells += [cell(t), f"{tm / sign_us:.2f}", cell(o), f"{om / tm:.2f}"]
    print("| " + " | ".join(cells) + " |")
PY
