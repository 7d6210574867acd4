/* Signed checkpoints of the audit chain.
 *
 * THE CHECKPOINT CONTRACT (an external system may check them):
 *
 * A checkpoint is a compact JWS (RFC 7515) signed with the audit
 * checkpoint key (Ed25519, alg EdDSA; kid its RFC 7638 thumbprint), header
 * typ "audit-checkpoint", whose payload is one JSON object
 *   {"n":N,"seq":S,"head":"<64 hex>","time":"RFC3339","prev":"<64 hex>"}
 *   n     1, 2, 3, ...: checkpoints form their own chain
 *   seq   the last event the checkpoint covers
 *   head  that event's hash (see audit.c)
 *   time  when the checkpoint was signed
 *   prev  SHA-256 of the previous checkpoint's JWS text (64 zeros for n 1)
 * So a checkpoint vouches for every event up to seq (the chain links them
 * to head) and for every earlier checkpoint. Deleting events after seq,
 * or rewriting any event up to it, no longer matches a checkpoint that was
 * kept: in the database, or better, exported to another system
 * (`mandate audit checkpoint --json`).
 *
 * Several writers (processes, later nodes) may try to write checkpoint n
 * at once: the store accepts only the next one (mdt_store_audit_checkpoint_add),
 * and the loser simply has nothing to do. */
#include "audit/checkpoint.h"

#include <jansson.h>
#include <string.h>

#include "core/b64.h"
#include "core/hash.h"
#include "jose/jws.h"

#define PAYLOAD_MAX 512

static bool from_hex(const char *s, uint8_t out[MDT_HASH_LEN])
{
    if (!s || strlen(s) != 2 * MDT_HASH_LEN)
        return false;
    for (size_t i = 0; i < 2 * MDT_HASH_LEN; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(d << 4);
        else
            out[i / 2] |= (uint8_t)d;
    }
    return true;
}

/* --- writing --------------------------------------------------------------- */

static mdt_rc sign_next(const mdt_jwk *signer, const mdt_audit_checkpoint_rec *last, int64_t seq,
                        const uint8_t head[MDT_HASH_LEN], int64_t now, mdt_buf *jws, mdt_err *err)
{
    uint8_t prev[MDT_HASH_LEN] = {0};
    char hhex[2 * MDT_HASH_LEN + 1], phex[2 * MDT_HASH_LEN + 1], ts[21], payload[PAYLOAD_MAX];
    int len;

    if (last)
        mdt_sha256(last->jws, strlen(last->jws), prev);
    mdt_hex_encode(head, MDT_HASH_LEN, hhex);
    mdt_hex_encode(prev, MDT_HASH_LEN, phex);
    mdt_time_format(now, ts);
    len = snprintf(payload, sizeof(payload),
                   "{\"n\":%lld,\"seq\":%lld,\"head\":\"%s\",\"time\":\"%s\",\"prev\":\"%s\"}",
                   (long long)(last ? last->n + 1 : 1), (long long)seq, hhex, ts, phex);
    if (len < 0 || (size_t)len >= sizeof(payload))
        return mdt_fail(err, MDT_ERR_INTERNAL, "audit checkpoint too large");
    return mdt_jws_sign(signer, MDT_AUDIT_CHECKPOINT_TYP, payload, (size_t)len, jws, err);
}

mdt_rc mdt_audit_checkpoint_write(mdt_store *store, const mdt_jwk *signer, int64_t now,
                                  bool *written, mdt_err *err)
{
    mdt_audit_checkpoint_rec last = {0}, next = {0};
    mdt_arena a;
    bool have_last;
    mdt_buf jws;
    mdt_rc rc;

    *written = false;
    mdt_buf_init(&jws, 4096);
    mdt_arena_init(&a, 1024);
    if ((rc = mdt_store_audit_head(store, &next.seq, next.head, err)) != MDT_OK)
        goto out;
    rc = mdt_store_audit_checkpoint_last(store, &a, &last, err);
    have_last = rc == MDT_OK;
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        rc = MDT_OK;
    }
    if (rc != MDT_OK || next.seq == 0 || (have_last && last.seq >= next.seq))
        goto out; /* nothing new to vouch for */
    if ((rc = sign_next(signer, have_last ? &last : NULL, next.seq, next.head, now, &jws, err)) !=
            MDT_OK ||
        (rc = mdt_buf_add(&jws, "", 1)) != MDT_OK)
        goto out;
    next.n = have_last ? last.n + 1 : 1;
    next.time = now;
    next.jws = jws.data;
    rc = mdt_store_audit_checkpoint_add(store, &next, err);
    if (rc == MDT_ERR_CONFLICT) { /* another writer stored checkpoint n first */
        mdt_err_clear(err);
        rc = MDT_OK;
    } else if (rc == MDT_OK) {
        *written = true;
    }
out:
    mdt_buf_free(&jws);
    mdt_arena_free(&a);
    return rc;
}

mdt_rc mdt_audit_checkpoint_export(mdt_store *store, const mdt_jwk *signer, mdt_buf *out,
                                   mdt_err *err)
{
    mdt_audit_checkpoint_rec last = {0};
    mdt_audit__cp cp;
    mdt_arena a;
    char hhex[2 * MDT_HASH_LEN + 1], phex[2 * MDT_HASH_LEN + 1], ts[21];
    mdt_rc rc;

    mdt_arena_init(&a, 1024);
    if ((rc = mdt_store_audit_checkpoint_last(store, &a, &last, err)) != MDT_OK ||
        (rc = mdt_audit__cp_open(signer, last.jws, &cp, err)) != MDT_OK)
        goto out;
    mdt_hex_encode(cp.head, MDT_HASH_LEN, hhex);
    mdt_hex_encode(cp.prev, MDT_HASH_LEN, phex);
    mdt_time_format(cp.time, ts);
    if ((rc = mdt_buf_addf(out,
                           "{\"n\":%lld,\"seq\":%lld,\"head\":\"%s\",\"time\":\"%s\",\"prev\":\"%s\","
                           "\"jws\":\"%s\",\"jwk\":",
                           (long long)cp.n, (long long)cp.seq, hhex, ts, phex, last.jws)) != MDT_OK ||
        (rc = mdt_jwk_public_json(signer, out, err)) != MDT_OK || (rc = mdt_buf_adds(out, "}")) != MDT_OK)
        rc = mdt_fail(err, rc, "audit checkpoint export failed");
out:
    mdt_arena_free(&a);
    return rc;
}

/* --- reading --------------------------------------------------------------- */

static mdt_rc bad(mdt_err *err, const char *why)
{
    return mdt_failf(err, MDT_ERR_VERIFY, "audit checkpoint does not verify", "audit checkpoint: %s",
                     why);
}

static mdt_rc read_payload(const char *p, size_t len, mdt_audit__cp *out, mdt_err *err)
{
    json_t *doc = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *n = json_object_get(doc, "n"), *seq = json_object_get(doc, "seq");
    const char *time = json_string_value(json_object_get(doc, "time"));
    mdt_rc rc = MDT_OK;

    if (!json_is_object(doc) || !json_is_integer(n) || !json_is_integer(seq) || !time ||
        json_integer_value(n) < 1 || json_integer_value(seq) < 1 ||
        mdt_time_parse(time, &out->time) != MDT_OK ||
        !from_hex(json_string_value(json_object_get(doc, "head")), out->head) ||
        !from_hex(json_string_value(json_object_get(doc, "prev")), out->prev))
        rc = bad(err, "payload is not a checkpoint");
    else {
        out->n = json_integer_value(n);
        out->seq = json_integer_value(seq);
    }
    json_decref(doc);
    return rc;
}

mdt_rc mdt_audit__cp_open(const mdt_jwk *signer, const char *text, mdt_audit__cp *out, mdt_err *err)
{
    mdt_jws *jws = NULL;
    const char *typ, *payload;
    size_t len = text ? strlen(text) : 0, plen = 0;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!text || mdt_jws_parse(text, len, MDT_AUDIT_CHECKPOINT_MAX, &jws, NULL) != MDT_OK) {
        rc = bad(err, "not a compact JWS");
        goto out;
    }
    typ = mdt_jws_typ(jws);
    if (!typ || strcmp(typ, MDT_AUDIT_CHECKPOINT_TYP) != 0) {
        rc = bad(err, "not a checkpoint (typ)");
        goto out;
    }
    if (mdt_jws_verify(jws, signer, NULL) != MDT_OK) {
        rc = bad(err, "signature does not verify with this log's checkpoint key");
        goto out;
    }
    payload = mdt_jws_payload(jws, &plen);
    if ((rc = read_payload(payload, plen, out, err)) != MDT_OK)
        goto out;
    mdt_sha256(text, len, out->digest);
out:
    mdt_jws_free(jws);
    return rc;
}

mdt_rc mdt_audit__cp_open_export(const mdt_jwk *signer, const char *json, mdt_audit__cp *out,
                                 mdt_err *err)
{
    json_t *doc = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
    const char *jws = json_string_value(json_object_get(doc, "jws"));
    mdt_rc rc = jws ? mdt_audit__cp_open(signer, jws, out, err)
                    : mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                               "not an exported audit checkpoint (no \"jws\" member)");

    json_decref(doc);
    return rc;
}
