#!/usr/bin/env bash
# make bench: what a token costs the server, as ratios to what OpenSSL alone
# does in the same run, so that the figures survive a noisy, shared machine.
#
# Pinned (the headline): the server on CPU 0 (taskset), wrk -t1 -c32 on CPU 1,
# the server's CPU time per request read from /proc/PID/stat, and
# `openssl speed ecdsap256` on CPU 0 in the same run (before the rows and
# after them; the faster of the two is the reference):
#   1. client_credentials, client_secret_basic, ES256 JWT      ÷ one sign
#   2. client_credentials, private_key_jwt (ES256 assertion)   ÷ verify + sign
#   3. introspection of ES256 JWTs, each once (bench/gen-tokens.mjs)  ÷ one verify
#      and of one JWT again and again (from the cache of verified tokens)
#   4. introspection of an opaque token                        ÷ one verify
#   5. client_credentials, opaque token                        ÷ the JWT token
#   5b. client_credentials with a DPoP proof (bench/gen-token-proofs.mjs)
#                                                              ÷ verify + sign
#   6. /forward-auth with a cached bearer token                ÷ the JWT token
#   7. GET /healthz: the HTTP floor (no body, a constant answer), what every
#      row pays before its own work; the report splits each row into that
#      floor, its cryptography and the rest
#   with bytes written to disk per token (/proc/PID/io write_bytes: the
#   database, its write-ahead log and the audit log's commits) and the
#   write-ahead log's peak size sampled during every row.
# Unpinned: tokens/s with wrk -t$THREADS -c$CONNS; a sustained run of JWT and
#   opaque tokens at once (SUSTAIN s) with the log's peak; bytes each token
#   adds to the write-ahead log (frames counted while a reader holds it).
# Big store: the store seeded with SEED_CLIENTS clients, SEED_TOKENS opaque
#   tokens and SEED_EVENTS audit events (bench/seed.sh, bench/seed.c), the
#   rows 1, 3, 4 and 5 again on a fresh server, compared with the empty
#   store's; `mandate audit verify` must pass afterwards. Peak RSS of the
#   server under that load.
# PostgreSQL (a local cluster with durable commits): rows 1 and 5 on an
#   empty and on a seeded store (the same clients and tokens, PG_SEED_EVENTS
#   audit events), the server's and the cluster's CPU apart.
# Then the embedded PDP (Cedar evaluations/s beside cedar-wasm) and
#   /forward-auth with DPoP (bench/forward_auth.sh).
# Everything is bounded (each wrk and seeding step under timeout) and
# stopped on exit. Writes bench/RESULTS.md.
# Usage: bench/run.sh PATH/TO/mandate
#   (DURATION, CONNS, THREADS, SUSTAIN, SPEED_SECONDS, SEED_CLIENTS,
#    SEED_TOKENS, SEED_EVENTS, PG_SEED_EVENTS, CEDAR_SECONDS, SKIP (a list of
#    parts to leave out: seeded pg cedar forward-auth) may be set)
set -euo pipefail
BIN=$(readlink -f "$1")
DURATION=${DURATION:-5}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
SUSTAIN=${SUSTAIN:-15}
SPEED_SECONDS=${SPEED_SECONDS:-3}
SEED_CLIENTS=${SEED_CLIENTS:-100000}
SEED_TOKENS=${SEED_TOKENS:-1000000}
SEED_EVENTS=${SEED_EVENTS:-1000000}
PG_SEED_EVENTS=${PG_SEED_EVENTS:-250000}
SKIP=" ${SKIP:-} "
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SEED_BIN="$(dirname "$BIN")/seed"
WORK=$(mktemp -d /tmp/mandate-bench.XXXXXX)
PID=
PIN=
PGDIR=
SAMPLER=
cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null && wait "$SAMPLER" 2>/dev/null
    [ -n "$PIN" ] && kill "$PIN" 2>/dev/null && wait "$PIN" 2>/dev/null
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    [ -n "$PGDIR" ] && "$ROOT/scripts/pg.sh" destroy "$PGDIR"
    rm -rf "$WORK"
}
trap cleanup EXIT
skipped() { [[ $SKIP == *" $1 "* ]]; }
say() { echo "bench: $*" >&2; }

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL="http://127.0.0.1:$port"
RES=https://api.bench.example
cat > "$WORK/resources.json" <<JSON
[{"resource": "$RES", "match": "https://api.bench.example:443/", "scopes": {"GET": ["bench"]}}]
JSON
cat > "$WORK/mandate.conf" <<CONF
[server]
listen = 127.0.0.1:$port
issuer = $URL
trusted_proxies = 127.0.0.1/32
[storage]
database = sqlite:$WORK/var/mandate.db
data_dir = $WORK/var
[forward_auth]
resources = $WORK/resources.json
[log]
access_log = false
level = warn
CONF
CONF=$WORK/mandate.conf
DB="$WORK/var/mandate.db"
M() { "$BIN" --config "$CONF" "$@"; }
json() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }
basic_of() { printf '%s:%s' "$(json "$1" client_id)" "$(json "$1" client_secret)" | base64 -w0; }
# clients: one whose access tokens are ES256 JWTs, one whose are opaque
make_clients() {
    local reg
    M init >/dev/null
    M scope create bench --description "benchmark" >/dev/null
    reg=$(echo "{\"client_name\":\"bench\",\"scope\":\"bench\",\"resources\":[\"$RES\"],\"access_token_ttl\":3600}" |
          M client create --json)
    JWT_BASIC=$(basic_of "$reg")
    JWT_CID=$(json "$reg" client_id)
    reg=$(echo "{\"client_name\":\"bench-opaque\",\"scope\":\"bench\",\"resources\":[\"$RES\"],\"access_token_ttl\":3600,\"access_token_format\":\"opaque\"}" |
          M client create --json)
    OPAQUE_BASIC=$(basic_of "$reg")
}
make_clients
export MANDATE_BASIC=$JWT_BASIC

# a private_key_jwt client, with pre-signed assertions (one per request)
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$WORK/key.pem"
jwk=$(node -e 'const c=require("crypto");const k=c.createPublicKey(require("fs").readFileSync(process.argv[1]));
  console.log(JSON.stringify({...k.export({format:"jwk"}),kid:"bench",alg:"ES256",use:"sig"}))' "$WORK/key.pem")
pk_reg=$(echo "{\"client_name\":\"bench-pkjwt\",\"scope\":\"bench\",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[$jwk]}}" |
         M client create --json 2>/dev/null || true)
pk_cid=$( [ -n "$pk_reg" ] && json "$pk_reg" client_id || true)

start_server() { # start_server PINNED(0|1) [LOG]: starts "$BIN serve" on $CONF
    local pin=()
    [ "$1" = 1 ] && pin=(taskset -c 0)
    (cd "$WORK" && exec "${pin[@]}" "$BIN" --config "$CONF" serve) 2>>"${2:-$WORK/server.log}" &
    PID=$!
    for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && return 0; sleep 0.1; done
    say "the server did not start"; cat "${2:-$WORK/server.log}" >&2; return 1
}
stop_server() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
token_of() { # token_of BASIC [ARGS...]: a fresh access token
    local basic=$1; shift
    curl -sf -H "Authorization: Basic $basic" -d grant_type=client_credentials "$@" "$URL/token" |
        node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).access_token))'
}

TCK=$(getconf CLK_TCK)
ticks_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
wbytes() { awk '/^write_bytes/ {print $2}' "/proc/$PID/io"; }
SPEEDS=$WORK/speeds
speed() { # openssl speed on the server's core, the server idle
    taskset -c 0 openssl speed -seconds "$SPEED_SECONDS" ecdsap256 2>/dev/null |
        awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1), $NF; exit}' >>"$SPEEDS"
}
# db_ticks: CPU ticks of the PostgreSQL cluster (the postmaster and its
# children, the server's backends among them); 0 on SQLite
DB_TICKS=
db_ticks() {
    local t=0 p pm
    [ -n "$DB_TICKS" ] || { echo 0; return; }
    pm=$(head -1 "$DB_TICKS")
    for p in $pm $(pgrep -P "$pm"); do t=$((t + $(ticks_of "$p"))); done
    echo "$t"
}
WAL=
ROWS=$WORK/rows
# measure NAME LUA PATH: a pinned row (wrk -t1 -c32 on CPU 1, 1 s of warm-up
# unless NOWARM is set); appends "NAME requests duration_us errors p50_us
# p99_us server_ticks db_ticks write_bytes wal_peak" to $ROWS
measure() {
    local name=$1 lua=$2 path=$3 t0 t1 d0 d1 w0 w1 out line peak=0
    [ -n "${NOWARM:-}" ] || timeout 30 taskset -c 1 wrk -t1 -c32 -d1s -s "$lua" "$URL$path" >/dev/null
    if [ -n "$WAL" ]; then
        python3 "$ROOT/bench/wal.py" peak "$WAL" "$DURATION" >"$WORK/walpeak" &
        SAMPLER=$!
    fi
    t0=$(ticks_of "$PID"); d0=$(db_ticks); w0=$(wbytes)
    out=$(timeout $((DURATION + 30)) taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" --timeout 5s \
          -s "$lua" "$URL$path")
    t1=$(ticks_of "$PID"); d1=$(db_ticks); w1=$(wbytes)
    if [ -n "$SAMPLER" ]; then wait "$SAMPLER"; SAMPLER=; peak=$(cat "$WORK/walpeak"); fi
    line=$(grep '^RESULT' <<<"$out") || { say "$name: wrk failed"; exit 1; }
    get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$line"; }
    echo "$name $(get requests) $(get duration_us) $(get errors) $(get p50_us) $(get p99_us)" \
         "$((t1 - t0)) $((d1 - d0)) $((w1 - w0)) $peak" >>"$ROWS"
    say "$name: $(get requests) requests, $(( (t1 - t0) * 1000000 / TCK / ($(get requests) + 1) )) µs of server CPU each"
}
check() { # check WHAT EXPECTED CURL-ARGS...: one sample request before a row
    local what=$1 want=$2 got; shift 2
    got=$(curl -s -w ' HTTP%{http_code}' "$@") || true
    grep -q "$want" <<<"$got" || { say "$what: unexpected answer: $got"; exit 1; }
}
# the token, introspection and opaque rows, on the server running now
TOKEN_LUA="$ROOT/bench/token.lua"
store_rows() { # store_rows SUFFIX
    local jwt opaque
    measure "token$1" "$TOKEN_LUA" /token
    # JWTs introspected once each (bench/gen-tokens.mjs: none is in a thread's
    # cache of verified tokens), then one again and again
    jwt=$(tail -1 "$WORK/tokens")
    check "introspection" '"active":true' -H "Authorization: Basic $JWT_BASIC" -d "token=$jwt" "$URL/introspect"
    MANDATE_LINES="$WORK/tokens" MANDATE_PREFIX="token=" MANDATE_THREADS=1 NOWARM=1 \
        measure "introspect_jwt$1" "$ROOT/bench/lines.lua" /introspect
    MANDATE_BODY="token=$jwt" measure "introspect_jwt_cached$1" "$TOKEN_LUA" /introspect
    opaque=$(token_of "$OPAQUE_BASIC")
    check "introspection" '"active":true' -H "Authorization: Basic $OPAQUE_BASIC" -d "token=$opaque" "$URL/introspect"
    MANDATE_BASIC=$OPAQUE_BASIC MANDATE_BODY="token=$opaque" measure "introspect_opaque$1" "$TOKEN_LUA" /introspect
    MANDATE_BASIC=$OPAQUE_BASIC measure "opaque$1" "$TOKEN_LUA" /token
}

# ------------------------------------------------------------ SQLite, empty
start_server 1
curl -sf -H "Authorization: Basic $JWT_BASIC" -d grant_type=client_credentials "$URL/token" >/dev/null
# the JWTs the introspection rows ask about once each (valid for an hour, on
# the big store too), issued before any row so that their commits and the
# checkpoints after them fall outside the rows
timeout 300 node "$ROOT/bench/gen-tokens.mjs" "$URL" "$JWT_BASIC" $(( (DURATION + 1) * 12000 )) \
    "$WORK/tokens"
sleep 2
say "openssl speed ecdsap256 on CPU 0 (${SPEED_SECONDS} s each)"
speed
WAL="$DB-wal"
store_rows ""
check "/healthz" 'HTTP200' "$URL/healthz"
measure healthz "$ROOT/bench/get.lua" /healthz
# private_key_jwt: more assertions than the run can use (a replayed jti is refused)
if [ -n "$pk_cid" ] && curl -sf "$URL/.well-known/oauth-authorization-server" | grep -q private_key_jwt; then
    timeout 300 node "$ROOT/bench/gen-assertions.mjs" "$WORK/key.pem" "$pk_cid" "$URL/token" \
        $(( (DURATION + 2) * 20000 )) "$WORK/assertions"
    MANDATE_LINES="$WORK/assertions" MANDATE_THREADS=1 NOWARM=1 \
    MANDATE_PREFIX="grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" \
        MANDATE_BASIC= measure pkjwt "$ROOT/bench/lines.lua" /token
fi
# client_credentials with a fresh DPoP proof per request: a token bound to its key
timeout 300 node "$ROOT/bench/gen-token-proofs.mjs" "$URL" $(( (DURATION + 2) * 20000 )) "$WORK/proofs"
MANDATE_LINES="$WORK/proofs" MANDATE_LINE_HEADER=DPoP MANDATE_PREFIX="grant_type=client_credentials" \
    MANDATE_THREADS=1 NOWARM=1 measure dpop "$ROOT/bench/lines.lua" /token
# /forward-auth with a bearer token for the protected resource (cached after its first use)
export MANDATE_TOKEN
MANDATE_TOKEN=$(token_of "$JWT_BASIC" -d scope=bench -d "resource=$RES")
check "/forward-auth" 'HTTP200' -H "Authorization: Bearer $MANDATE_TOKEN" -H "X-Forwarded-Method: GET" \
    -H "X-Forwarded-Proto: https" -H "X-Forwarded-Host: api.bench.example" \
    -H "X-Forwarded-Uri: /orders/42?x=1" "$URL/forward-auth"
measure fwd "$ROOT/bench/forward_auth.lua" /forward-auth
WAL=
speed

# unpinned: the server on both cores, wrk -t$THREADS -c$CONNS beside it
taskset -a -p -c 0-1 "$PID" >/dev/null
unpinned() {
    local out
    out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s \
          -s "$TOKEN_LUA" "$URL/token")
    echo "unpinned $(sed -n 's/^RESULT requests=\([0-9]*\) duration_us=\([0-9]*\) errors=\([0-9]*\) p50_us=\([0-9]*\) p99_us=\([0-9]*\).*/\1 \2 \3 \4 \5/p' <<<"$out") 0 0 0 0" >>"$ROWS"
}
unpinned

# sustained: JWT and opaque tokens at once, the WAL's size sampled
WAL_PY="$ROOT/bench/wal.py"
wrk_requests() { sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' "$1"; }
half=$(( CONNS / 2 > 0 ? CONNS / 2 : 1 ))
python3 "$WAL_PY" peak "$DB-wal" $((SUSTAIN + 2)) >"$WORK/peak" &
peak_pid=$!
timeout $((SUSTAIN + 30)) wrk -t1 -c"$half" -d"${SUSTAIN}s" --timeout 5s -s "$TOKEN_LUA" \
    "$URL/token" >"$WORK/sustain-jwt" &
jwt_pid=$!
MANDATE_BASIC="$OPAQUE_BASIC" timeout $((SUSTAIN + 30)) wrk -t1 -c"$half" -d"${SUSTAIN}s" --timeout 5s \
    -s "$TOKEN_LUA" "$URL/token" >"$WORK/sustain-opaque"
wait "$jwt_pid" "$peak_pid"
sustain_run="$(wrk_requests "$WORK/sustain-jwt") $(wrk_requests "$WORK/sustain-opaque") $SUSTAIN $(cat "$WORK/peak")"
sleep 1
wal_after=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)

# bytes per token: a reader holds a snapshot, so the log cannot restart
# and grows by exactly the frames written; count them before and after.
wal_bytes_per_token() {
    local basic=$1 f0 f1 page req
    curl -sf -H "Authorization: Basic $basic" -d grant_type=client_credentials "$URL/token" >/dev/null
    python3 "$WAL_PY" pin "$DB" >"$WORK/pin" &
    PIN=$!
    for _ in $(seq 1 100); do grep -q pinned "$WORK/pin" 2>/dev/null && break; sleep 0.05; done
    read -r f0 page < <(python3 "$WAL_PY" frames "$DB")
    MANDATE_BASIC="$basic" timeout 40 wrk -t1 -c16 -d3s --timeout 5s -s "$TOKEN_LUA" \
        "$URL/token" >"$WORK/bytes"
    read -r f1 page < <(python3 "$WAL_PY" frames "$DB")
    kill "$PIN"; wait "$PIN" 2>/dev/null || true; PIN=
    req=$(wrk_requests "$WORK/bytes")
    echo $(( (f1 - f0) * (page + 24) / (req > 0 ? req : 1) ))
}
bytes_run="$(wal_bytes_per_token "$JWT_BASIC") $(wal_bytes_per_token "$OPAQUE_BASIC") $wal_after"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
stop_server
M audit verify >/dev/null

# ------------------------------------------------------------ SQLite, seeded
seeded="skipped"
if ! skipped seeded; then
    say "seeding $SEED_CLIENTS clients, $SEED_TOKENS opaque tokens, $SEED_EVENTS audit events"
    s0=$(date +%s%N)
    timeout 600 "$ROOT/bench/seed.sh" "$SEED_BIN" "sqlite:$DB" "$WORK/var/audit.key" \
        "$SEED_CLIENTS" "$SEED_TOKENS" "$SEED_EVENTS" "$JWT_CID"
    seed_ms=$(( ($(date +%s%N) - s0) / 1000000 ))
    start_server 1
    curl -sf -H "Authorization: Basic $JWT_BASIC" -d grant_type=client_credentials "$URL/token" >/dev/null
    WAL="$DB-wal"
    store_rows _seeded
    WAL=
    seeded_rss=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
    stop_server
    s0=$(date +%s%N)
    verified=$(M audit verify | grep -o '[0-9]* events' | head -1)
    verify_ms=$(( ($(date +%s%N) - s0) / 1000000 ))
    seeded="$seed_ms $seeded_rss $verify_ms ${verified%% *} $(stat -c %s "$DB")"
fi

# ------------------------------------------------------------ PostgreSQL
# a local cluster with durable commits (fsync, synchronous_commit); the
# server's CPU and the cluster's CPU counted apart
pg="skipped"
if ! skipped pg && [ -x "$ROOT/scripts/pg.sh" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    PGDIR=$(mktemp -d /tmp/mandate-bench-pg.XXXXXX)
    PG_DURABLE=1 "$ROOT/scripts/pg.sh" start "$PGDIR"
    pg_url=$("$ROOT/scripts/pg.sh" url "$PGDIR" mandate)
    mkdir -p "$WORK/pgvar"
    sed -e "s|^database = .*|database = ${pg_url//&/\\&}|" -e "s|^data_dir = .*|data_dir = $WORK/pgvar|" \
        "$WORK/mandate.conf" >"$WORK/pg.conf"
    CONF=$WORK/pg.conf
    make_clients
    export MANDATE_BASIC=$JWT_BASIC
    DB_TICKS="$PGDIR/data/postmaster.pid"
    start_server 1 "$WORK/server-pg.log"
    timeout 30 taskset -c 1 wrk -t1 -c32 -d2s -s "$TOKEN_LUA" "$URL/token" >/dev/null
    measure pg_token "$TOKEN_LUA" /token
    MANDATE_BASIC=$OPAQUE_BASIC measure pg_opaque "$TOKEN_LUA" /token
    pg="$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")"
    stop_server
    if ! skipped seeded; then
        s0=$(date +%s%N)
        timeout 900 "$ROOT/bench/seed.sh" "$SEED_BIN" "$pg_url" "$WORK/pgvar/audit.key" \
            "$SEED_CLIENTS" "$SEED_TOKENS" "$PG_SEED_EVENTS" "$JWT_CID"
        pg_seed_ms=$(( ($(date +%s%N) - s0) / 1000000 ))
        start_server 1 "$WORK/server-pg.log"
        timeout 30 taskset -c 1 wrk -t1 -c32 -d2s -s "$TOKEN_LUA" "$URL/token" >/dev/null
        measure pg_token_seeded "$TOKEN_LUA" /token
        MANDATE_BASIC=$OPAQUE_BASIC measure pg_opaque_seeded "$TOKEN_LUA" /token
        pg="$pg $(awk '/VmHWM/ {print $2}' "/proc/$PID/status") $pg_seed_ms"
        stop_server
    fi
    M audit verify >/dev/null
    DB_TICKS=
    CONF=$WORK/mandate.conf
    "$ROOT/scripts/pg.sh" destroy "$PGDIR"; PGDIR=
fi

# ------------------------------------------------------------ embedded PDP
# alone on the machine: cedar_bench (built beside the binary) and cedar-wasm
# on the same generated workload, one after the other
cedar_run="skipped"
CEDAR_BENCH="$(dirname "$BIN")/cedar_bench"
if ! skipped cedar && [ -x "$CEDAR_BENCH" ]; then
    node "$ROOT/bench/cedar_workload.mjs" "$WORK/cedar" 1000 >/dev/null
    cedar_run="$(timeout 120 "$CEDAR_BENCH" "$WORK/cedar" "${CEDAR_SECONDS:-5}") $(cd "$ROOT" &&
        timeout 300 node bench/cedar_wasm_bench.mjs "$WORK/cedar" "${CEDAR_SECONDS:-5}" | tr '\n' ' ')"
fi

python3 "$ROOT/bench/report.py" "$ROWS" "$SPEEDS" "$TCK" "$THREADS" "$CONNS" "$rss" "$sustain_run" \
    "$bytes_run" "$seeded" "$SEED_CLIENTS $SEED_TOKENS $SEED_EVENTS $PG_SEED_EVENTS" "$pg" "$cedar_run" |
    tee "$ROOT/bench/RESULTS.md"

# /forward-auth with DPoP, on a server of its own
if ! skipped forward-auth; then
    DURATION="$DURATION" CONNS="$CONNS" THREADS="$THREADS" "$ROOT/bench/forward_auth.sh" "$BIN" |
        tee -a "$ROOT/bench/RESULTS.md"
fi
