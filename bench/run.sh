#!/usr/bin/env bash
# make bench: client_credentials (client_secret_basic, ES256 JWT) under wrk,
# beside `openssl speed ecdsap256` measured in the same run, so that the
# figure that matters is a ratio that survives a noisy, shared machine.
# Usage: bench/run.sh PATH/TO/mandate   (DURATION, CONNS, THREADS may be set)
set -euo pipefail
BIN=$(readlink -f "$1")
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/mandate-bench.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null ||
       node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$WORK/mandate.conf" <<CONF
[server]
listen = 127.0.0.1:$port
issuer = http://127.0.0.1:$port
[storage]
database = sqlite:$WORK/var/mandate.db
data_dir = $WORK/var
[log]
access_log = false
level = warn
CONF
M() { "$BIN" --config "$WORK/mandate.conf" "$@"; }
M init >/dev/null
M scope create bench --description "benchmark" >/dev/null
reg=$(echo '{"client_name":"bench","scope":"bench","resources":["https://api.bench.example"]}' | M client create --json)
cid=$(node -e 'console.log(JSON.parse(process.argv[1]).client_id)' "$reg")
sec=$(node -e 'console.log(JSON.parse(process.argv[1]).client_secret)' "$reg")
export MANDATE_BASIC=$(printf '%s:%s' "$cid" "$sec" | base64 -w0)

(cd "$WORK" && exec "$BIN" --config "$WORK/mandate.conf" serve) 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf -u "$cid:$sec" -d grant_type=client_credentials "http://127.0.0.1:$port/token" >/dev/null

echo "bench: openssl speed ecdsap256 (1 core, 5 s)"
sign_rate=$(openssl speed -seconds 5 ecdsap256 2>/dev/null | awk '/256 bits ecdsa \(nistp256\)/ {print $(NF-1); exit}')

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
tck=$(getconf CLK_TCK)
wrk -t"$THREADS" -c"$CONNS" -d2s -s "$ROOT/bench/token.lua" "http://127.0.0.1:$port/token" >/dev/null
t0=$(cpu_ticks)
out=$(timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s \
      -s "$ROOT/bench/token.lua" "http://127.0.0.1:$port/token")
t1=$(cpu_ticks)
line=$(grep '^RESULT' <<<"$out")
get() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$line"; }
req=$(get requests); dur=$(get duration_us); errs=$(get errors); p50=$(get p50_us); p99=$(get p99_us)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
M audit verify >/dev/null

python3 - "$req" "$dur" "$errs" "$p50" "$p99" "$rss" "$sign_rate" "$t0" "$t1" "$tck" "$THREADS" "$CONNS" <<'PY' | tee "$ROOT/bench/RESULTS.md"
import sys, datetime, os, platform
req, dur, errs, p50, p99, rss, sign, t0, t1, tck, thr, conns = sys.argv[1:]
req, dur, errs = int(req), int(dur), int(errs)
rate = req / (dur / 1e6)
sign = float(sign)
cpu_us = (int(t1) - int(t0)) / int(tck) * 1e6 / max(req, 1)
print("# Benchmark results\n")
print(f"Measured {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC by `make bench` on {os.cpu_count()} cores "
      f"({platform.processor() or platform.machine()}); wrk -t{thr} -c{conns} shares the cores with the server.\n")
print("| figure | value |\n|---|---|")
print(f"| client_credentials, client_secret_basic, ES256 JWT: tokens/s | {rate:,.0f} |")
print(f"| errors (non-200 or socket) | {errs} |")
print(f"| latency p50 / p99 | {int(p50)/1000:.2f} ms / {int(p99)/1000:.2f} ms |")
print(f"| server CPU per token | {cpu_us:.0f} µs |")
print(f"| peak RSS (VmHWM) | {int(rss)/1024:.1f} MiB |")
print(f"| `openssl speed ecdsap256`, 1 core: signs/s | {sign:,.0f} |")
print(f"| **tokens/s ÷ OpenSSL single-core ES256 signs/s** | **{rate/sign:.2f}** |")
print(f"| OpenSSL µs per sign ÷ server CPU µs per token | {1e6/sign/cpu_us:.2f} |")
print("\nEvery token also appends a hash-chained audit event, committed (fsync) by the group-commit writer before the response leaves.")
print("\nComparison with node-oidc-provider and Glewlwyd on the same machine: [PEERS.md](PEERS.md).")
PY
