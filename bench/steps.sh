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
# ecdsap256` on CPU 0 once per round. Rows (ROWS, a list; "token opaque"
# unless set), as `make bench` has them:
#   token       client_credentials, client_secret_basic, ES256 JWT  ÷ one sign
#   opaque      the same, opaque token                               ÷ the JWT token
#   pkjwt       client_credentials, private_key_jwt (fresh assertions,
#               bench/gen-assertions.mjs, made before each run)     ÷ verify + sign
#   dpop        client_credentials, client_secret_basic, a fresh DPoP proof
#               each (bench/gen-token-proofs.mjs, made before each run)
#                                                                    ÷ verify + sign
#   introspect  introspection of ES256 JWTs, each once (bench/gen-tokens.mjs,
#               made before each run)                                ÷ one verify
#   healthz     GET /healthz, the HTTP floor                         (µs only)
# with the access log off; ACCESS_LOG=both measures them with it on too.
# Prints a Markdown table (median per revision, the range of the rounds
# beside it) to paste into bench/RESULTS.md. Bounded: every wrk, build and
# server start under timeout; the worktree, the builds and the servers
# removed on exit.
# Environment: ROWS, DURATION (s per row, 5), ROUNDS (3), SPEED_SECONDS (2),
#   ACCESS_LOG (off | both), BUILD_TIMEOUT (s per revision, 900).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bench/steps.sh REV1 [REV2 ...]" >&2; exit 2; }
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
SPEED_SECONDS=${SPEED_SECONDS:-2}
ACCESS_LOG=${ACCESS_LOG:-off}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-900}
ROWS=${ROWS:-token opaque}
for r in $ROWS; do
    case $r in token|opaque|pkjwt|dpop|introspect|healthz) ;; *) echo "steps: unknown row $r" >&2; exit 2 ;; esac
done
has_row() { [[ " $ROWS " == *" $1 "* ]]; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
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
declare -A JWT_BASIC OPAQUE_BASIC PK_CID
if has_row pkjwt; then # one key for every revision's private_key_jwt client
    openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
        openssl pkcs8 -topk8 -nocrypt -out "$WORK/key.pem"
    jwk=$(node -e 'const c=require("crypto");const k=c.createPublicKey(require("fs").readFileSync(process.argv[1]));
      console.log(JSON.stringify({...k.export({format:"jwk"}),kid:"bench",alg:"ES256",use:"sig"}))' "$WORK/key.pem")
fi
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
    if has_row pkjwt; then
        PK_CID[$i]=$(json "$(echo "{\"client_name\":\"bench-pkjwt\",\"scope\":\"bench\",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[$jwk]}}" |
                           M client create --json)" client_id)
    fi
done

# --- interleaved, pinned runs
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TCK=$(getconf CLK_TCK)
RAW="$WORK/raw"   # rev_index access_log row cpu_us
SPEEDS="$WORK/speeds"
logs=(false)
[ "$ACCESS_LOG" = both ] && logs=(false true)
# row I LOG NAME LUA PATH: prints nothing, appends to $RAW; MANDATE_BASIC,
# MANDATE_BODY, MANDATE_LINES, MANDATE_PREFIX as the script wants them; 1 s
# of warm-up unless NOWARM is set
row() {
    local i=$1 log=$2 name=$3 lua=$4 path=$5 t0 t1 out req
    [ -n "${NOWARM:-}" ] || timeout 30 taskset -c 1 wrk -t1 -c32 -d1s -s "$lua" "$URL$path" >/dev/null
    t0=$(ticks)
    out=$(timeout $((DURATION + 30)) taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" \
          --timeout 5s -s "$lua" "$URL$path")
    t1=$(ticks)
    req=$(sed -n 's/^RESULT requests=\([0-9]*\) .* errors=\([0-9]*\) .*/\1 \2/p' <<<"$out")
    read -r req errs <<<"$req"
    [ "${errs:-1}" = 0 ] && [ "${req:-0}" -gt 0 ] || { say "${REVS[$i]} $name: wrk failed: $out"; exit 1; }
    echo "$i $log $name $(( (t1 - t0) * 1000000 / TCK * 10 / req ))" >>"$RAW"
}
for round in $(seq 1 "$ROUNDS"); do
    say "round $round of $ROUNDS"
    taskset -c 0 openssl speed -seconds "$SPEED_SECONDS" ecdsap256 2>/dev/null |
        awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1), $NF; exit}' >>"$SPEEDS"
    for i in "${!REVS[@]}"; do
        for log in "${logs[@]}"; do
            d="$WORK/store-$i"
            (cd "$d" && exec taskset -c 0 "$WORK/mandate-$i" --config "$d/access-$log.conf" serve) \
                >/dev/null 2>"$d/server-$log.log" &
            PID=$!
            for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
            TOKEN_LUA="$ROOT/bench/token.lua"
            has_row token && MANDATE_BASIC=${JWT_BASIC[$i]} row "$i" "$log" token "$TOKEN_LUA" /token
            has_row opaque && MANDATE_BASIC=${OPAQUE_BASIC[$i]} row "$i" "$log" opaque "$TOKEN_LUA" /token
            if has_row introspect; then # JWTs introspected once each
                timeout 300 node "$ROOT/bench/gen-tokens.mjs" "$URL" "${JWT_BASIC[$i]}" \
                    $(( (DURATION + 1) * 12000 )) "$WORK/tokens"
                MANDATE_LINES="$WORK/tokens" MANDATE_PREFIX="token=" MANDATE_THREADS=1 NOWARM=1 \
                MANDATE_BASIC=${JWT_BASIC[$i]} row "$i" "$log" introspect "$ROOT/bench/lines.lua" /introspect
            fi
            if has_row pkjwt; then # more assertions than the run can use
                timeout 300 node "$ROOT/bench/gen-assertions.mjs" "$WORK/key.pem" "${PK_CID[$i]}" \
                    "$URL/token" $(( (DURATION + 2) * 20000 )) "$WORK/assertions"
                MANDATE_LINES="$WORK/assertions" MANDATE_THREADS=1 NOWARM=1 MANDATE_BASIC= \
                MANDATE_PREFIX="grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" \
                    row "$i" "$log" pkjwt "$ROOT/bench/lines.lua" /token
            fi
            if has_row dpop; then
                timeout 300 node "$ROOT/bench/gen-token-proofs.mjs" "$URL" \
                    $(( (DURATION + 2) * 20000 )) "$WORK/proofs"
                MANDATE_LINES="$WORK/proofs" MANDATE_LINE_HEADER=DPoP MANDATE_THREADS=1 NOWARM=1 \
                MANDATE_PREFIX="grant_type=client_credentials" MANDATE_BASIC=${JWT_BASIC[$i]} \
                    row "$i" "$log" dpop "$ROOT/bench/lines.lua" /token
            fi
            has_row healthz && row "$i" "$log" healthz "$ROOT/bench/get.lua" /healthz
            kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
        done
    done
done

# --- the table
{
    printf '%s\n' "${REVS[@]}" >"$WORK/revs"
    printf '%s\n' "${SUBJECTS[@]}" >"$WORK/subjects"
}
python3 - "$RAW" "$SPEEDS" "$WORK/revs" "$WORK/subjects" "$ACCESS_LOG" "$DURATION" "$ROWS" <<'PY'
import statistics, sys
raw, speeds, revs, subjects, access, duration, rows = sys.argv[1:]
rows = rows.split()
revs = open(revs).read().split("\n")[:-1]
subjects = open(subjects).read().split("\n")[:-1]
speeds = [tuple(float(x) for x in line.split()) for line in open(speeds) if line.strip()]
sign_us = 1e6 / max(s for s, _ in speeds)
verify_us = 1e6 / max(v for _, v in speeds)
runs = {}
for line in open(raw):
    i, log, name, cpu10 = line.split()
    runs.setdefault((int(i), log, name), []).append(int(cpu10) / 10)
logs = ["false", "true"] if access == "both" else ["false"]
# row: its label, and what its ratio divides by (None: µs only; "token": the JWT token's µs)
kinds = {"token": ("ES256 token", "one sign", sign_us), "opaque": ("opaque token", "JWT", "token"),
         "pkjwt": ("private_key_jwt", "verify + sign", sign_us + verify_us),
         "dpop": ("DPoP token", "verify + sign", sign_us + verify_us),
         "introspect": ("JWT introspection", "one verify", verify_us),
         "healthz": ("GET /healthz", None, None)}
def cell(v):
    return f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})"
head = ["revision", "change"]
for log in logs:
    suffix = ", access log on" if log == "true" else ""
    for r in rows:
        label, by, _ = kinds[r]
        head.append(f"{label} µs{suffix}")
        if by:
            head.append(f"÷ {by}{suffix}")
print(f"Server CPU per request, pinned (server on CPU 0, wrk -t1 -c32 on CPU 1, {duration} s per row), "
      f"median of {len(speeds)} interleaved rounds (range in brackets); one ES256 sign = {sign_us:.1f} µs, "
      f"one verify = {verify_us:.1f} µs (`openssl speed ecdsap256` on CPU 0, best of {len(speeds)}: " +
      ", ".join(f"{s:,.0f}/{v:,.0f}" for s, v in speeds) + " signs/verifies per s).\n")
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for i, (rev, subj) in enumerate(zip(revs, subjects)):
    cells = [f"`{rev}`", subj]
    for log in logs:
        for r in rows:
            _, by, ref = kinds[r]
            v = runs[(i, log, r)]
            cells.append(cell(v))
            if ref == "token":
                ref = statistics.median(runs[(i, log, "token")]) if (i, log, "token") in runs else None
                cells.append(f"{statistics.median(v) / ref:.2f}" if ref else "–")
            elif ref:
                cells.append(f"{statistics.median(v) / ref:.2f}")
    print("| " + " | ".join(cells) + " |")
PY
