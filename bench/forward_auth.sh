#!/usr/bin/env bash
# /forward-auth under wrk, beside `openssl speed ecdsap256` in the same run:
# requests/s and server CPU per request with a valid bearer token (its
# signature verified once, then from the verified-token cache), and, when
# the server issues DPoP-bound tokens, with such a token and a fresh proof
# per request (a proof's signature verified and its jti recorded each time).
# Prints a Markdown section; `make bench` appends it to bench/RESULTS.md.
# Usage: bench/forward_auth.sh PATH/TO/mandate   (DURATION, CONNS, THREADS may be set)
set -euo pipefail
BIN=$(readlink -f "$1")
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/mandate-bench-fwd.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

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
[dpop]
max_age = 600s
[log]
access_log = false
level = warn
CONF
M() { "$BIN" --config "$WORK/mandate.conf" "$@"; }
json() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }
M init >/dev/null
M scope create bench --description "benchmark" >/dev/null
reg=$(echo "{\"client_name\":\"bench\",\"scope\":\"bench\",\"resources\":[\"$RES\"],\"access_token_ttl\":3600}" |
      M client create --json)
basic=$(printf '%s:%s' "$(json "$reg" client_id)" "$(json "$reg" client_secret)" | base64 -w0)

(cd "$WORK" && exec "$BIN" --config "$WORK/mandate.conf" serve) 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
token=$(curl -sf -H "Authorization: Basic $basic" -d grant_type=client_credentials -d scope=bench \
        -d "resource=$RES" "$URL/token" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).access_token))')
export MANDATE_TOKEN=$token

read -r sign_rate verify_rate < <(openssl speed -seconds 3 ecdsap256 2>/dev/null |
    awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1), $NF; exit}')
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TCK=$(getconf CLK_TCK)
# prints "requests duration_us errors p50_us p99_us cpu_ticks"
measure() {
    local t0 t1 out line
    t0=$(cpu_ticks)
    out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s \
          -s "$ROOT/bench/forward_auth.lua" "$URL/forward-auth")
    t1=$(cpu_ticks)
    line=$(grep '^RESULT' <<<"$out")
    get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$line"; }
    echo "$(get requests) $(get duration_us) $(get errors) $(get p50_us) $(get p99_us) $((t1 - t0))"
}
timeout 30 wrk -t"$THREADS" -c"$CONNS" -d2s -s "$ROOT/bench/forward_auth.lua" "$URL/forward-auth" >/dev/null
bearer_run=$(measure)

# DPoP-bound: only when this server binds tokens to DPoP keys
dpop_run=skipped
if curl -sf "$URL/.well-known/oauth-authorization-server" | grep -q dpop_signing_alg_values_supported; then
    n=$(( (DURATION + 2) * 30000 / THREADS ))
    if dpop_token=$(timeout 600 node "$ROOT/bench/gen-dpop.mjs" "$URL" "$basic" "$RES" \
                    "https://api.bench.example/orders/42" "$THREADS" "$n" "$WORK/proofs"); then
        export MANDATE_TOKEN=$dpop_token MANDATE_PROOFS="$WORK/proofs"
        dpop_run=$(measure)
    fi
fi
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=

python3 - "$bearer_run" "$dpop_run" "$verify_rate" "$TCK" "$THREADS" "$CONNS" <<'PY'
import sys
bearer, dpop, verify, tck, thr, conns = sys.argv[1:]
verify, tck = float(verify), int(tck)
def parse(run):
    req, dur, errs, p50, p99, ticks = (int(x) for x in run.split())
    return dict(rate=req / (dur / 1e6), errs=errs, p50=p50 / 1000, p99=p99 / 1000,
                cpu=ticks / tck * 1e6 / max(req, 1))
b = parse(bearer)
d = parse(dpop) if dpop != "skipped" else None
print("\n## /forward-auth\n")
print(f"nginx-style GET /forward-auth (X-Forwarded-*), wrk -t{thr} -c{conns} on the same cores; "
      f"`openssl speed ecdsap256` in the same run: {verify:,.0f} verifies/s on one core.\n")
print("| | valid bearer token (cached after its first use) | DPoP-bound token, a fresh proof each request |")
print("|---|---|---|")
def row(label, fmt):
    print(f"| {label} | {fmt(b)} | {fmt(d) if d else 'not measured'} |")
row("requests/s", lambda r: f"{r['rate']:,.0f}")
row("errors (non-2xx or socket)", lambda r: str(r["errs"]))
row("latency p50 / p99", lambda r: f"{r['p50']:.2f} ms / {r['p99']:.2f} ms")
row("server CPU per request", lambda r: f"{r['cpu']:.0f} µs")
row("**requests/s ÷ OpenSSL ES256 verifies/s on one core**", lambda r: f"**{r['rate'] / verify:.2f}**")
print("\nA cached bearer token costs no signature verification: what remains per request is the "
      "revocation, kill-switch and delegation checks against the store.")
PY
