#!/usr/bin/env bash
# Fills a store for the benchmark's runs on a big store, beside rows the
# server wrote itself (run it while the server is stopped):
#   CLIENTS clients, each a copy of client TEMPLATE (default: the newest
#     client) with its credentials (fresh client_id, credential ids and hashes);
#   TOKENS opaque tokens, copies of an opaque token the server issued (fresh
#     hash and jti, an id below any the server makes, spread over the seeded
#     clients, claims naming them);
#   EVENTS audit events, copies of the newest token.issued event appended to
#     the hash chain by bench/seed.c (so `mandate audit verify` passes).
# Clients and tokens are generated in one transaction each (INSERT ...
# SELECT over the table's own columns, so columns added by later migrations
# are copied as the server wrote them).
# Usage: bench/seed.sh SEED_BIN DATABASE_URL AUDIT_KEY_FILE CLIENTS TOKENS EVENTS [TEMPLATE]
set -euo pipefail
SEED=$1 URL=$2 KEY=$3 CLIENTS=$4 TOKENS=$5 EVENTS=$6 TEMPLATE=${7:-}

if [[ $URL == sqlite:* ]]; then
    q() { sqlite3 -batch -bail "${URL#sqlite:}" "$@"; }
    series() { echo "(SELECT value AS n FROM generate_series(1, $1))"; }
    rand32="randomblob(32)"
    randid="zeroblob(8) || randomblob(8)"
    randhex="lower(hex(randomblob(16)))"
    cols() { q "SELECT name FROM pragma_table_info('$1') ORDER BY cid"; }
else
    q() { psql -X -q -v ON_ERROR_STOP=1 -At "$URL" -c "$@"; }
    series() { echo "(SELECT g AS n FROM generate_series(1, $1) g)"; }
    rand32="decode(md5(random()::text) || md5(random()::text), 'hex')"
    randid="decode(repeat('00', 8) || substr(md5(random()::text), 1, 16), 'hex')"
    randhex="md5(random()::text)"
    cols() { q "SELECT column_name FROM information_schema.columns WHERE table_name = '$1'
                AND table_schema = current_schema() ORDER BY ordinal_position"; }
fi

# select_list TABLE ALIAS "col=expr" ...: the table's columns in order, each
# ALIAS.col unless an expression is given for it
select_list() {
    local table=$1 alias=$2 c e out="" kv
    shift 2
    for c in $(cols "$table"); do
        e="$alias.$c"
        for kv in "$@"; do [ "${kv%%=*}" = "$c" ] && e="${kv#*=}"; done
        out="${out:+$out, }$e"
    done
    echo "$out"
}

tmpl=${TEMPLATE:-$(q "SELECT client_id FROM clients ORDER BY created_at DESC, client_id LIMIT 1")}
[[ $tmpl =~ ^[A-Za-z0-9_-]+$ ]] || { echo "seed.sh: unexpected client_id '$tmpl'" >&2; exit 1; }
[ -n "$tmpl" ] || { echo "seed.sh: no client to copy" >&2; exit 1; }
cid="'bench-' || s.n"
q "BEGIN;
INSERT INTO clients ($(cols clients | paste -sd,))
  SELECT $(select_list clients c "client_id=$cid" "metadata=replace(c.metadata, '$tmpl', $cid)")
  FROM clients c, $(series "$CLIENTS") s WHERE c.client_id = '$tmpl';
INSERT INTO credentials ($(cols credentials | paste -sd,))
  SELECT $(select_list credentials r "id=r.id || '-' || s.n" "client_id=$cid" "hash=$rand32")
  FROM credentials r, $(series "$CLIENTS") s WHERE r.client_id = '$tmpl';
COMMIT;"

if [ "$TOKENS" -gt 0 ]; then
    read -r tjti tcid < <(q "SELECT jti || ' ' || client_id FROM tokens ORDER BY issued_at DESC LIMIT 1")
    [ -n "$tjti" ] || { echo "seed.sh: no opaque token to copy" >&2; exit 1; }
    scid="'bench-' || (1 + s.n % $CLIENTS)"
    q "BEGIN;
INSERT INTO tokens ($(cols tokens | paste -sd,))
  SELECT $(select_list tokens t "id=$randid" "hash=$rand32" "jti=$randhex" "client_id=$scid" "expires_at=t.expires_at + 86400" \
           "claims=replace(t.claims, '\"$tcid\"', '\"' || $scid || '\"')")
  FROM tokens t, $(series "$TOKENS") s WHERE t.jti = '$tjti';
COMMIT;"
fi
[ "$EVENTS" -gt 0 ] && "$SEED" "$URL" "$KEY" "$EVENTS" >/dev/null
# the measured runs start from a store at rest: its write-ahead log folded
# into the database and everything on disk, not a checkpoint still running
if [[ $URL == sqlite:* ]]; then
    q "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
else
    q "CHECKPOINT" >/dev/null
fi
sync
exit 0
