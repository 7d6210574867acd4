#!/usr/bin/env bash
# make bench: token issuance under wrk, beside `openssl speed ecdsap256`
# measured in the same run, so that the figures that matter are ratios that
# survive a noisy, shared machine.
#   1. client_credentials, client_secret_basic, ES256 JWT
#   2. client_credentials, private_key_jwt (ES256 assertion), ES256 JWT
#   3. sustained load: JWT and opaque tokens at once for SUSTAIN seconds, with
#      the write-ahead log's size sampled throughout (its peak is reported)
#   4. bytes written to the write-ahead log per token, JWT and opaque
#   5. run 1 again on PostgreSQL (a local cluster with durable commits)
#   6. the embedded PDP: Cedar evaluations per second on 100 policies and
#      1,000 entities (bench/cedar_workload.mjs), beside the same workload
#      through the reference implementation, cedar-wasm, in the same run
#   7. /forward-auth (bench/forward_auth.sh): a cached bearer token, and a
#      DPoP-bound one with a fresh proof per request
# Usage: bench/run.sh PATH/TO/mandate   (DURATION, CONNS, THREADS, SUSTAIN, CEDAR_SECONDS may be set)
set -euo pipefail
BIN=$(readlink -f "$1")
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
SUSTAIN=${SUSTAIN:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/mandate-bench.XXXXXX)
PID=
PIN=
PGDIR=
cleanup() {
    [ -n "$PIN" ] && kill "$PIN" 2>/dev/null && wait "$PIN" 2>/dev/null
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    [ -n "$PGDIR" ] && "$ROOT/scripts/pg.sh" destroy "$PGDIR"
    rm -rf "$WORK"
}
trap cleanup EXIT

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
URL="http://127.0.0.1:$port"
cat > "$WORK/mandate.conf" <<CONF
[server]
listen = 127.0.0.1:$port
issuer = $URL
[storage]
database = sqlite:$WORK/var/mandate.db
data_dir = $WORK/var
[log]
access_log = false
level = warn
CONF
M() { "$BIN" --config "$WORK/mandate.conf" "$@"; }
json() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }
M init >/dev/null
M scope create bench --description "benchmark" >/dev/null

# 1. a secret client
reg=$(echo '{"client_name":"bench","scope":"bench","resources":["https://api.bench.example"]}' |
      M client create --json)
cid=$(json "$reg" client_id)
export MANDATE_BASIC=$(printf '%s:%s' "$cid" "$(json "$reg" client_secret)" | base64 -w0)
# and one whose access tokens are opaque (stored, not signed)
op_reg=$(echo '{"client_name":"bench-opaque","scope":"bench","resources":["https://api.bench.example"],"access_token_format":"opaque"}' |
         M client create --json)
OPAQUE_BASIC=$(printf '%s:%s' "$(json "$op_reg" client_id)" "$(json "$op_reg" client_secret)" | base64 -w0)

# 2. a private_key_jwt client, with pre-signed assertions (one per request)
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$WORK/key.pem"
jwk=$(node -e 'const c=require("crypto");const k=c.createPublicKey(require("fs").readFileSync(process.argv[1]));
  console.log(JSON.stringify({...k.export({format:"jwk"}),kid:"bench",alg:"ES256",use:"sig"}))' "$WORK/key.pem")
pk_reg=$(echo "{\"client_name\":\"bench-pkjwt\",\"scope\":\"bench\",\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[$jwk]}}" |
         M client create --json 2>/dev/null || true)
pk_cid=$( [ -n "$pk_reg" ] && json "$pk_reg" client_id || true)

(cd "$WORK" && exec "$BIN" --config "$WORK/mandate.conf" serve) 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
curl -sf -H "Authorization: Basic $MANDATE_BASIC" -d grant_type=client_credentials "$URL/token" >/dev/null

echo "bench: openssl speed ecdsap256 (1 core, 5 s)"
read -r sign_rate verify_rate < <(openssl speed -seconds 5 ecdsap256 2>/dev/null |
    awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1), $NF; exit}')

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TCK=$(getconf CLK_TCK)
# runs wrk with a script; prints "requests duration_us errors p50_us p99_us cpu_ticks"
measure() {
    local script=$1 t0 t1 out line
    t0=$(cpu_ticks)
    out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s \
          -s "$script" "$URL/token")
    t1=$(cpu_ticks)
    line=$(grep '^RESULT' <<<"$out")
    get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$line"; }
    echo "$(get requests) $(get duration_us) $(get errors) $(get p50_us) $(get p99_us) $((t1 - t0))"
}

wrk -t"$THREADS" -c"$CONNS" -d2s -s "$ROOT/bench/token.lua" "$URL/token" >/dev/null
secret_run=$(measure "$ROOT/bench/token.lua")
pk_run="skipped"
if [ -n "$pk_cid" ] && curl -sf "$URL/.well-known/oauth-authorization-server" | grep -q private_key_jwt; then
    # more assertions than the run can use: a replayed jti would be refused
    n=$(( (DURATION + 2) * 40000 ))
    node "$ROOT/bench/gen-assertions.mjs" "$WORK/key.pem" "$pk_cid" "$URL/token" "$n" "$WORK/assertions"
    export MANDATE_ASSERTIONS="$WORK/assertions" MANDATE_THREADS="$THREADS"
    pk_run=$(measure "$ROOT/bench/pkjwt.lua")
fi

# 3. sustained: JWT and opaque tokens at once, the WAL's size sampled
DB="$WORK/var/mandate.db"
WAL_PY="$ROOT/bench/wal.py"
wrk_requests() { sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' "$1"; }
half=$(( CONNS / 2 > 0 ? CONNS / 2 : 1 ))
python3 "$WAL_PY" peak "$DB-wal" $((SUSTAIN + 2)) >"$WORK/peak" &
peak_pid=$!
timeout $((SUSTAIN + 30)) wrk -t1 -c"$half" -d"${SUSTAIN}s" --timeout 5s -s "$ROOT/bench/token.lua" \
    "$URL/token" >"$WORK/sustain-jwt" &
jwt_pid=$!
MANDATE_BASIC="$OPAQUE_BASIC" timeout $((SUSTAIN + 30)) wrk -t1 -c"$half" -d"${SUSTAIN}s" --timeout 5s \
    -s "$ROOT/bench/token.lua" "$URL/token" >"$WORK/sustain-opaque"
wait "$jwt_pid" "$peak_pid"
sustain_run="$(wrk_requests "$WORK/sustain-jwt") $(wrk_requests "$WORK/sustain-opaque") $SUSTAIN $(cat "$WORK/peak")"
sleep 1
wal_after=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)

# 4. bytes per token: a reader holds a snapshot, so the log cannot restart
# and grows by exactly the frames written; count them before and after.
wal_bytes_per_token() {
    local basic=$1 f0 f1 page req
    curl -sf -H "Authorization: Basic $basic" -d grant_type=client_credentials "$URL/token" >/dev/null
    python3 "$WAL_PY" pin "$DB" >"$WORK/pin" &
    PIN=$!
    for _ in $(seq 1 100); do grep -q pinned "$WORK/pin" 2>/dev/null && break; sleep 0.05; done
    read -r f0 page < <(python3 "$WAL_PY" frames "$DB")
    MANDATE_BASIC="$basic" timeout 40 wrk -t1 -c16 -d3s --timeout 5s -s "$ROOT/bench/token.lua" \
        "$URL/token" >"$WORK/bytes"
    read -r f1 page < <(python3 "$WAL_PY" frames "$DB")
    kill "$PIN"; wait "$PIN" 2>/dev/null || true; PIN=
    req=$(wrk_requests "$WORK/bytes")
    echo $(( (f1 - f0) * (page + 24) / (req > 0 ? req : 1) ))
}
bytes_run="$(wal_bytes_per_token "$MANDATE_BASIC") $(wal_bytes_per_token "$OPAQUE_BASIC") $wal_after"

rss=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
M audit verify >/dev/null

# 5. the same token run on PostgreSQL: a local cluster with durable commits
# (fsync, synchronous_commit), one database, the server's CPU and the
# database's CPU counted apart.
pg_run="skipped"
if [ -x "$ROOT/scripts/pg.sh" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    PGDIR=$(mktemp -d /tmp/mandate-bench-pg.XXXXXX)
    PG_DURABLE=1 "$ROOT/scripts/pg.sh" start "$PGDIR"
    pg_url=$("$ROOT/scripts/pg.sh" url "$PGDIR" mandate)
    sed "s|^database = .*|database = ${pg_url//&/\\&}|" "$WORK/mandate.conf" >"$WORK/pg.conf"
    P() { "$BIN" --config "$WORK/pg.conf" "$@"; }
    P init >/dev/null
    P scope create bench --description "benchmark" >/dev/null
    pg_reg=$(echo '{"client_name":"bench","scope":"bench","resources":["https://api.bench.example"]}' |
             P client create --json)
    export MANDATE_BASIC=$(printf '%s:%s' "$(json "$pg_reg" client_id)" "$(json "$pg_reg" client_secret)" | base64 -w0)
    (cd "$WORK" && exec "$BIN" --config "$WORK/pg.conf" serve) 2>"$WORK/server-pg.log" &
    PID=$!
    for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
    wrk -t"$THREADS" -c"$CONNS" -d2s -s "$ROOT/bench/token.lua" "$URL/token" >/dev/null
    # the cluster's processes: the postmaster and its children (the backends
    # of the server's connections among them)
    pg_ticks() {
        local pm t=0 p
        pm=$(head -1 "$PGDIR/data/postmaster.pid")
        for p in $pm $(pgrep -P "$pm"); do
            t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
        done
        echo "$t"
    }
    d0=$(pg_ticks)
    pg_run=$(measure "$ROOT/bench/token.lua")
    d1=$(pg_ticks)
    pg_run="$pg_run $((d1 - d0)) $(awk '/VmHWM/ {print $2}' "/proc/$PID/status")"
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
    P audit verify >/dev/null
    "$ROOT/scripts/pg.sh" destroy "$PGDIR"; PGDIR=
fi

# 6. the embedded PDP, alone on the machine: cedar_bench (built beside the
# binary) and cedar-wasm on the same generated workload, one after the other
cedar_run="skipped"
CEDAR_BENCH="$(dirname "$BIN")/cedar_bench"
if [ -x "$CEDAR_BENCH" ]; then
    node "$ROOT/bench/cedar_workload.mjs" "$WORK/cedar" 1000 >/dev/null
    cedar_run="$(timeout 120 "$CEDAR_BENCH" "$WORK/cedar" "${CEDAR_SECONDS:-5}") $(cd "$ROOT" &&
        timeout 300 node bench/cedar_wasm_bench.mjs "$WORK/cedar" "${CEDAR_SECONDS:-5}" | tr '\n' ' ')"
fi

python3 - "$secret_run" "$pk_run" "$rss" "$sign_rate" "$verify_rate" "$TCK" "$THREADS" "$CONNS" \
    "$sustain_run" "$bytes_run" "$pg_run" "$cedar_run" <<'PY' | tee "$ROOT/bench/RESULTS.md"
import sys, datetime, os, platform
secret, pk, rss, sign, verify, tck, thr, conns, sustain, wbytes, pg, cedar = sys.argv[1:]
sign, verify, tck = float(sign), float(verify), int(tck)

def parse(run):
    req, dur, errs, p50, p99, ticks = (int(x) for x in run.split())
    return dict(rate=req / (dur / 1e6), errs=errs, p50=p50 / 1000, p99=p99 / 1000,
                cpu=ticks / tck * 1e6 / max(req, 1))

print("# Benchmark results\n")
print(f"Measured {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC by `make bench` on {os.cpu_count()} cores "
      f"({platform.processor() or platform.machine()}); wrk -t{thr} -c{conns} shares the cores with the server.\n")
print(f"`openssl speed ecdsap256` on one core in the same run: {sign:,.0f} signs/s, {verify:,.0f} verifies/s.\n")
s = parse(secret)
p = parse(pk) if pk != "skipped" else None
both = 1 / (1 / sign + 1 / verify)

def row(label, fmt):
    right = fmt(p, both) if p else "not measured"
    print("| " + label + " | " + fmt(s, sign) + " | " + right + " |")

print("| client_credentials, ES256 JWT | client_secret_basic | private_key_jwt (ES256) |")
print("|---|---|---|")
row("tokens/s", lambda r, c: "{:,.0f}".format(r["rate"]))
row("errors (non-200 or socket)", lambda r, c: str(r["errs"]))
row("latency p50 / p99", lambda r, c: "{:.2f} ms / {:.2f} ms".format(r["p50"], r["p99"]))
row("server CPU per token", lambda r, c: "{:.0f} µs".format(r["cpu"]))
row("**tokens/s ÷ what OpenSSL alone does per token on one core** (sign; verify + sign)",
    lambda r, c: "**{:.2f}**".format(r["rate"] / c))
row("OpenSSL µs of crypto per token ÷ server CPU µs per token",
    lambda r, c: "{:.2f}".format(1e6 / c / r["cpu"]))
sj, so, sdur, speak = (int(x) for x in sustain.split())
bj, bo, wafter = (int(x) for x in wbytes.split())
print("\n## Sustained load and the write-ahead log\n")
print(f"JWT and opaque tokens at once for {sdur} s (wrk -c{max(int(conns) // 2, 1)} each): "
      f"{sj:,} JWT and {so:,} opaque tokens, {(sj + so) / sdur:,.0f} tokens/s.\n")
print("| write-ahead log | |")
print("|---|---|")
print(f"| peak size during the sustained run (sampled every 50 ms) | {speak / 2**20:.1f} MiB |")
print(f"| size 1 s after the run | {wafter / 2**20:.1f} MiB |")
print(f"| bytes written per JWT token | {bj:,} |")
print(f"| bytes written per opaque token | {bo:,} |")
print(f"\nPeak RSS of the server over all runs: {int(rss)/1024:.1f} MiB.")
print("\nEvery token also appends a hash-chained audit event, committed (fsync) by the group-commit writer "
      "before the response leaves; a private_key_jwt token also records its assertion's jti (single use).")
if pg != "skipped":
    f = pg.split()
    r = parse(" ".join(f[:6]))
    dbcpu = int(f[6]) / tck * 1e6 / max(int(f[0]), 1)
    print("\n## On PostgreSQL\n")
    print("The client_secret_basic run again, on a local PostgreSQL cluster (Unix socket, fsync and "
          "synchronous_commit on) sharing the same cores.\n")
    print("| client_credentials, ES256 JWT, client_secret_basic | PostgreSQL |")
    print("|---|---|")
    print(f"| tokens/s | {r['rate']:,.0f} |")
    print(f"| errors (non-200 or socket) | {r['errs']} |")
    print(f"| latency p50 / p99 | {r['p50']:.2f} ms / {r['p99']:.2f} ms |")
    print(f"| server CPU per token | {r['cpu']:.0f} µs |")
    print(f"| PostgreSQL CPU per token | {dbcpu:.0f} µs |")
    print(f"| **tokens/s ÷ OpenSSL signs/s on one core** | **{r['rate'] / sign:.2f}** |")
    print(f"| peak RSS of the server | {int(f[7]) / 1024:.1f} MiB |")
if cedar != "skipped":
    f = cedar.split()
    ours, ours_allows = float(f[0]), int(f[1])
    ref = {f[i]: (float(f[i + 1]), int(f[i + 2])) for i in (3, 7)}
    full, sliced = ref["full"][0], ref["sliced"][0]
    print("\n## Embedded PDP (Cedar)\n")
    print("Workload of bench/cedar_workload.mjs: 100 policies (permits and forbids with conditions), "
          "1,000 entities (clients with kind, tier, owner and auth method; users in roles; scopes with "
          "sensitivity; resources), 1,000 token-issuance requests with risk contexts; one thread each, "
          "one after the other.\n")
    print("| | evaluations/s |")
    print("|---|---|")
    print(f"| Mandate's evaluator (policies and entities loaded once; each request's context read from JSON) | {ours:,.0f} |")
    print(f"| cedar-wasm, policies preparsed, each request with the entities it reaches | {sliced:,.0f} |")
    print(f"| cedar-wasm, policies preparsed, each request with all 1,000 entities | {full:,.0f} |")
    print(f"| **Mandate ÷ cedar-wasm (entities it reaches)** | **{ours / sliced:.1f}** |")
    print(f"| Mandate ÷ cedar-wasm (all entities) | {ours / full:,.0f} |")
    same = "the same" if ours_allows == ref["sliced"][1] else "**not the same**"
    print(f"\nAllowed requests of the 1,000: {ours_allows} by Mandate, {ref['sliced'][1]} by cedar-wasm ({same}).")
print("\nComparison with node-oidc-provider and Glewlwyd on the same machine: [PEERS.md](PEERS.md).")
PY

# 7. /forward-auth, on a server of its own
DURATION="$DURATION" CONNS="$CONNS" THREADS="$THREADS" "$ROOT/bench/forward_auth.sh" "$BIN" |
    tee -a "$ROOT/bench/RESULTS.md"
