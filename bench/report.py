#!/usr/bin/env python3
"""Writes bench/RESULTS.md from the figures bench/run.sh collected.

Usage (by bench/run.sh): report.py ROWS SPEEDS CLK_TCK THREADS CONNS RSS_KB
    SUSTAIN BYTES SEEDED SEED_SIZES PG CEDAR
ROWS holds one line per measured row: "name requests duration_us errors
p50_us p99_us server_ticks db_ticks write_bytes wal_peak"; SPEEDS one line
per `openssl speed ecdsap256`: "signs/s verifies/s".
"""
import datetime
import os
import platform
import sys

(rows_file, speeds_file, tck, thr, conns, rss, sustain, wbytes, seeded, sizes, pg,
 cedar) = sys.argv[1:]
tck = int(tck)

rows = {}
for line in open(rows_file):
    f = line.split()
    req, dur, errs, p50, p99, ticks, dbt, wb, peak = (int(x) for x in f[1:])
    rows[f[0]] = dict(req=req, rate=req / (dur / 1e6) if dur else 0, errs=errs, p50=p50 / 1000,
                      p99=p99 / 1000, cpu=ticks / tck * 1e6 / max(req, 1),
                      db=dbt / tck * 1e6 / max(req, 1), wb=wb / max(req, 1), peak=peak)
speeds = [tuple(float(x) for x in line.split()) for line in open(speeds_file) if line.strip()]
sign = max(s for s, _ in speeds)
verify = max(v for _, v in speeds)
sign_us, verify_us = 1e6 / sign, 1e6 / verify
n_clients, n_tokens, n_events, n_pg_events = (int(x) for x in sizes.split())


def mib(n):
    return f"{n / 2**20:.1f} MiB"


print("# Benchmark results\n")
print(f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `make bench` "
      f"on {os.cpu_count()} cores ({platform.processor() or platform.machine()}).\n")

print("## Server CPU per request, pinned, against OpenSSL in the same run\n")
print("The server runs on CPU 0 (`taskset`), wrk -t1 -c32 on CPU 1; the server's CPU time (user + "
      "system, `/proc/PID/stat`) over a run is divided by the requests it answered. "
      "`openssl speed ecdsap256` runs on CPU 0 too, the server idle, before the rows and after "
      "them: " + ", ".join(f"{s:,.0f} signs/s and {v:,.0f} verifies/s" for s, v in speeds) +
      f"; the faster is the reference: one ES256 signature costs {sign_us:.1f} µs, one "
      f"verification {verify_us:.1f} µs. A ratio is what the server spends per request divided by "
      "what the cryptography alone costs: 1 would be the cryptography and nothing else.\n")
print("| request | requests/s | errors | p50 / p99 | server CPU per request | divided by | **ratio** | aim |")
print("|---|---|---|---|---|---|---|---|")
jwt = rows.get("token")


def headline(name, label, ref_label, ref_us, aim):
    r = rows.get(name)
    if not r:
        print(f"| {label} | not measured | | | | | | {aim} |")
        return
    print(f"| {label} | {r['rate']:,.0f} | {r['errs']} | {r['p50']:.2f} / {r['p99']:.2f} ms | "
          f"{r['cpu']:.1f} µs | {ref_label} ({ref_us:.1f} µs) | **{r['cpu'] / ref_us:.2f}** | {aim} |")


headline("token", "client_credentials, client_secret_basic, ES256 JWT", "one sign", sign_us,
         "≤ 2 (first ≤ 3)")
headline("pkjwt", "client_credentials, private_key_jwt (ES256), ES256 JWT", "one verify + one sign",
         sign_us + verify_us, "≤ 2")
headline("dpop", "client_credentials, client_secret_basic, DPoP proof (ES256), bound ES256 JWT",
         "one verify + one sign", sign_us + verify_us, "")
headline("introspect_jwt", "introspection of ES256 JWTs, each once", "one verify", verify_us, "≤ 2")
headline("introspect_jwt_cached", "introspection of one ES256 JWT again and again", "one verify",
         verify_us, "")
headline("introspect_opaque", "introspection of an opaque token", "one verify", verify_us, "")
if jwt:
    headline("opaque", "client_credentials, opaque token (stored)", "the JWT token", jwt["cpu"],
             "≤ 1.3")
    headline("fwd", "/forward-auth, bearer JWT (cached after its first use)", "the JWT token",
             jwt["cpu"], "well under 1")
print("""
- *ES256 JWT*: the client authenticates with HTTP Basic (its secret's hash checked), the server
  signs one JWT and commits the token's audit event (fsync) before the response leaves.
- *private_key_jwt*: each request carries a fresh pre-signed assertion (bench/gen-assertions.mjs):
  one verification, one signature, the audit event and with it the assertion's `jti`, recorded as used.
- *DPoP*: each request carries a fresh proof of one key (bench/gen-token-proofs.mjs): the proof
  verified, the token bound to its key and signed, the proof's `jti` recorded with the audit event.
- *introspection*: the resource server (the same client, HTTP Basic) asks about valid tokens: ES256
  JWTs issued before the row (bench/gen-tokens.mjs), each asked about once, so that each signature
  is verified; one JWT again and again (verified once per server thread, then read from that
  thread's cache of verified tokens, revocation and the client still checked each time); one
  opaque token again and again (looked up by hash).
- *opaque token*: no signature, but the token's row is committed beside its audit event.
- *forward-auth*: nginx-style `GET /forward-auth` with a bearer token for the protected
  resource; its signature is verified at its first use, then cached.""")

floor = rows.get("healthz")
if floor:
    print("\n### What each request is made of\n")
    print(f"GET /healthz, pinned like the rows above, costs the server {floor['cpu']:.1f} µs "
          f"({floor['rate']:,.0f}/s): the HTTP floor, the kernel's loopback TCP (both ends' "
          "packets and the client's wake-up run on the server's core) and libmicrohttpd's request "
          "cycle, with no work of Mandate's own. Each row is that floor, its cryptography at "
          "`openssl speed`'s cost, and the rest: client authentication, claims, JSON, the audit "
          "event and its durable commit, suspending and resuming the connection around it. "
          "*Floor ratio* is what a request would cost with no rest at all, divided by its "
          "cryptography: no server on this socket path can do better than it.\n")
    print("| request | server CPU | HTTP floor | cryptography | the rest | floor ratio | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, label, crypto in (("token", "ES256 JWT token", sign_us),
                                ("pkjwt", "private_key_jwt token", sign_us + verify_us),
                                ("dpop", "DPoP-bound token", sign_us + verify_us),
                                ("introspect_jwt", "introspection of a JWT (each once)", verify_us)):
        r = rows.get(name)
        if r:
            rest = r["cpu"] - floor["cpu"] - crypto
            print(f"| {label} | {r['cpu']:.1f} µs | {floor['cpu']:.1f} µs | {crypto:.1f} µs | "
                  f"{rest:.1f} µs | {(floor['cpu'] + crypto) / crypto:.2f} | "
                  f"{r['cpu'] / crypto:.2f} |")

if seeded != "skipped":
    seed_ms, seeded_rss, verify_ms, verified, db_size = (int(x) for x in seeded.split())
    print("\n## An empty store and a big one, in the same run\n")
    print(f"The store then receives {n_clients:,} clients (with their credentials), {n_tokens:,} "
          f"opaque tokens and {n_events:,} audit events, copies of rows the server wrote, with fresh "
          f"identifiers and hashes, the events appended to the hash chain "
          f"(bench/seed.sh, bench/seed.c): {seed_ms / 1000:.0f} s, a database of {mib(db_size)}. "
          f"A fresh server (pinned as above) runs the same rows again. `mandate audit verify` "
          f"afterwards: {verified:,} events verified in {verify_ms / 1000:.1f} s.\n")
    print("| server CPU per request | empty store | big store | **big ÷ empty** | aim |")
    print("|---|---|---|---|---|")
    for name, label in (("token", "ES256 JWT token"), ("opaque", "opaque token"),
                        ("introspect_jwt", "introspection of ES256 JWTs, each once"),
                        ("introspect_jwt_cached", "introspection of one ES256 JWT, cached"),
                        ("introspect_opaque", "introspection of an opaque token")):
        a, b = rows.get(name), rows.get(name + "_seeded")
        if a and b:
            print(f"| {label} | {a['cpu']:.1f} µs ({a['rate']:,.0f}/s) | {b['cpu']:.1f} µs "
                  f"({b['rate']:,.0f}/s) | **{b['cpu'] / a['cpu']:.2f}** | ≤ 1.10 |")

print("\n## Disk and memory\n")
print("Bytes written to disk per token: the server's `write_bytes` (`/proc/PID/io`: the database, "
      "its write-ahead log, the audit log's commits) over a pinned row, divided by its tokens. "
      "The write-ahead log's size is sampled every 50 ms during each pinned row.\n")
print("| | empty store | big store |")
print("|---|---|---|")


def pair(fmt, *names):
    cells = []
    for n in names:
        r = rows.get(n)
        cells.append(fmt(r) if r else "not measured")
    return " | ".join(cells)


def wb(r):
    return f"{r['wb']:,.0f}"


print(f"| bytes written per ES256 JWT token | {pair(wb, 'token', 'token_seeded')} |")
print(f"| bytes written per opaque token | {pair(wb, 'opaque', 'opaque_seeded')} |")
empty_peaks = [r["peak"] for n, r in rows.items() if not n.startswith("pg") and not n.endswith("_seeded")]
big_peaks = [r["peak"] for n, r in rows.items() if not n.startswith("pg") and n.endswith("_seeded")]
print(f"| write-ahead log, peak size during the pinned rows | {mib(max(empty_peaks, default=0))} | "
      f"{mib(max(big_peaks)) if big_peaks else 'not measured'} |")
big_rss = f"{int(seeded.split()[1]) / 1024:.1f} MiB" if seeded != "skipped" else "not measured"
print(f"| peak RSS of the server (aim ≤ 40 MiB) | {int(rss) / 1024:.1f} MiB (every empty-store run, "
      f"unpinned and sustained included) | {big_rss} |")

up = rows.get("unpinned")
sj, so, sdur, speak = (int(x) for x in sustain.split())
bj, bo, wafter = (int(x) for x in wbytes.split())
print("\n## Unpinned throughput and sustained load\n")
if up:
    print(f"Server on both cores, wrk -t{thr} -c{conns} beside it: {up['rate']:,.0f} ES256 JWT tokens/s, "
          f"{up['errs']} errors, p50 {up['p50']:.2f} ms, p99 {up['p99']:.2f} ms.\n")
print(f"JWT and opaque tokens at once for {sdur} s (wrk -c{max(int(conns) // 2, 1)} each): "
      f"{sj:,} JWT and {so:,} opaque tokens, {(sj + so) / sdur:,.0f} tokens/s.\n")
print("| write-ahead log | |")
print("|---|---|")
print(f"| peak size during the sustained run (sampled every 50 ms) | {mib(speak)} |")
print(f"| size 1 s after the run | {mib(wafter)} |")
print(f"| frames added per JWT token (a reader holds the log), in bytes | {bj:,} |")
print(f"| frames added per opaque token, in bytes | {bo:,} |")
print("\nEvery token also appends a hash-chained audit event, committed (fsync) by the group-commit "
      "writer before the response leaves; a private_key_jwt token also records its assertion's "
      "jti (single use).")

if pg != "skipped":
    f = [int(x) for x in pg.split()]
    print("\n## On PostgreSQL\n")
    print("The same pinned rows on a local PostgreSQL cluster (Unix socket, fsync and "
          "synchronous_commit on); the cluster's processes are not pinned and share CPU 1 with wrk"
          + (f". The big store: {n_clients:,} clients, {n_tokens:,} opaque tokens and "
             f"{n_pg_events:,} audit events, seeded in {f[2] / 1000:.0f} s" if len(f) > 2 else "")
          + ".\n")
    print("| | empty store | big store | big ÷ empty |")
    print("|---|---|---|---|")
    for name, label in (("pg_token", "ES256 JWT token"), ("pg_opaque", "opaque token")):
        a, b = rows.get(name), rows.get(name + "_seeded")
        if not a:
            continue
        cell = lambda r, k: f"{r[k]:.1f} µs" if r else "not measured"
        ratio = lambda k: f"{b[k] / a[k]:.2f}" if b and a[k] else ""
        print(f"| {label}: tokens/s | {a['rate']:,.0f} | {b['rate']:,.0f} | {b['rate'] / a['rate']:.2f} |"
              if b else f"| {label}: tokens/s | {a['rate']:,.0f} | not measured | |")
        print(f"| {label}: server CPU per token | {cell(a, 'cpu')} | {cell(b, 'cpu')} | {ratio('cpu')} |")
        print(f"| {label}: PostgreSQL CPU per token | {cell(a, 'db')} | {cell(b, 'db')} | {ratio('db')} |")
        print(f"| {label}: server CPU ÷ one sign | {a['cpu'] / sign_us:.2f} | "
              f"{b['cpu'] / sign_us if b else 0:.2f} | |")
    print(f"| peak RSS of the server | {f[0] / 1024:.1f} MiB | "
          f"{f[1] / 1024 if len(f) > 1 else 0:.1f} MiB | |")

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
print("\nComparison with node-oidc-provider and Glewlwyd on the same machine: [PEERS.md](PEERS.md). "
      "Before/after figures of single changes (bench/steps.sh): [STEPS.md](STEPS.md).")
