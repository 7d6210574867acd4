/* The audit log: event bodies, the chain hash and the group-commit writer.
 *
 * THE AUDIT CONTRACT (operators may verify an export independently):
 *
 * Each event is one record (seq, time, type, body, prev_hash, hash).
 *   seq        1, 2, 3, ... with no gap, assigned by the store in the
 *              transaction that appends the event.
 *   time       seconds since the epoch (UTC), from the server's clock.
 *   type       1..64 bytes of [a-z0-9._-], e.g. "token.issued".
 *   body       the canonical JSON text of the event: one object, no
 *              whitespace between tokens, keys in this fixed order, absent
 *              keys omitted:
 *                {"time":"RFC3339","type":...,"actor":...,"client_id":...,
 *                 "subject":...,"decision":...,"reason":...,"request_id":...,
 *                 "ip":...,"data":{...}}
 *              time is "YYYY-MM-DDTHH:MM:SSZ" of the record's time. String
 *              values are UTF-8 (invalid bytes replaced by U+FFFD, cut at
 *              1024 bytes) escaped with \" \\ and \u00XX for bytes < 0x20.
 *              data is the caller's JSON object with insignificant
 *              whitespace removed, otherwise byte for byte.
 *   prev_hash  the hash of event seq-1; 32 zero bytes for seq 1.
 *   hash       HMAC-SHA256, under the audit chain key K, of the concatenation
 *                prev_hash                  (32 bytes)
 *                seq                        (8 bytes, big-endian, unsigned)
 *                time                       (8 bytes, big-endian, two's complement)
 *                type                       (its bytes)
 *                0x00                       (1 byte)
 *                body                       (its bytes, no terminator)
 *              K is 32 random bytes kept in the audit key file beside the
 *              master key (src/keys/audit_key.c), never in the database: who
 *              can write the database but not read K cannot recompute a hash.
 *
 * The anchor. Logs written before the chain was keyed used plain SHA-256
 * of the same bytes. The first keyed event is the anchor (type
 * "audit.anchor"): every event before it is checked with SHA-256, the
 * anchor and every event after it with HMAC-SHA256. The anchor's prev_hash
 * is the head of the unkeyed chain (and its seq - 1 that chain's length),
 * so the old chain is carried over under the key. A log created keyed
 * starts with the anchor at seq 1. Where K exists, verify requires an
 * anchor: removing it (or retyping it) and recomputing with SHA-256 is
 * detected, and so is any event recomputed without K.
 *
 * Checkpoints (src/audit/checkpoint.c) sign (n, seq, head, time, prev)
 * with a dedicated Ed25519 key, so that deleting the newest events is
 * detected as far as the last checkpoint (in the database, or exported).
 *
 * An export line is the body with two members spliced in, byte for byte:
 *   {"seq":N,<the body without its braces>,"prev_hash":"<64 hex>","hash":"<64 hex>"}
 * (lowercase hex). Checking an export: for each line in order, take the
 * body back as "{" + the text between the prefix {"seq":N, and the fixed
 * 154-byte tail ,"prev_hash":...} + "}" (do not re-serialise parsed JSON:
 * escaping may differ), recompute the hash as above from prev_hash, seq,
 * time (parsed from "time"), type and body (with K from the anchor on),
 * compare it with "hash", and compare "prev_hash" with the previous
 * line's "hash". Without K, an export is checked by its links and against
 * a signed checkpoint: the line whose seq a checkpoint names must carry
 * the checkpoint's head as its "hash". A record whose body
 * is not a one-line JSON object (only possible after tampering) is
 * exported as {"seq":N,"body":"<the body as a string>",...}.
 *
 * Group commit: producers build the body (and so do all the JSON work) in
 * their own thread, then queue the event under a mutex; one writer thread
 * takes up to max_batch events and appends them in one store transaction,
 * the store calling back chain_hash() for each as it assigns seq and
 * prev_hash. No lock is held during I/O. */
#include "audit/audit.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/hash.h"
#include "core/metrics.h"
#include "core/log.h"

#define BODY_MAX ((size_t)64 << 10)
#define CLEAN_MAX (MDT_AUDIT_FIELD_MAX * 3 + 1) /* each byte may become U+FFFD */

/* --- strings --------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0], cp, min;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Copies at most MDT_AUDIT_FIELD_MAX bytes of s into out, cut at a character
 * boundary, each invalid UTF-8 byte replaced by U+FFFD. */
static void sanitize(const char *s, char out[CLEAN_MAX])
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0;

    while (i < n && i < MDT_AUDIT_FIELD_MAX) {
        size_t len = utf8_seq(p + i, n - i);
        if (len == 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        if (i + len > MDT_AUDIT_FIELD_MAX)
            break;
        memcpy(out + o, p + i, len);
        o += len;
        i += len;
    }
    out[o] = '\0';
}

static bool type_ok(const char *t)
{
    size_t n = t ? strlen(t) : 0;

    if (n == 0 || n > MDT_AUDIT_TYPE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* --- the data object: validated and minified without a JSON library ------- */

typedef struct {
    const unsigned char *p, *end;
    mdt_buf *out;
    int depth;
    mdt_rc rc; /* MDT_OK, or the buffer's error */
} jp;

static bool j_value(jp *j);

static bool emit(jp *j, const void *from, size_t n)
{
    mdt_rc rc = mdt_buf_add(j->out, from, n);
    if (rc != MDT_OK)
        j->rc = rc;
    return rc == MDT_OK;
}

static void skip_ws(jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    unsigned v = 0;

    if (end - p < 4)
        return false;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* j->p at the backslash. Rejects \u0000 and unpaired surrogates, as strict
 * parsers (jansson) do. */
static bool j_escape(jp *j)
{
    unsigned u, lo;

    if (++j->p >= j->end)
        return false;
    if (*j->p != 'u') {
        if (!memchr("\"\\/bfnrt", *j->p, 8))
            return false;
        j->p++;
        return true;
    }
    if (!hex4(j->p + 1, j->end, &u) || u == 0 || (u >= 0xdc00 && u <= 0xdfff))
        return false;
    j->p += 5;
    if (u < 0xd800 || u > 0xdbff)
        return true;
    if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || !hex4(j->p + 2, j->end, &lo) ||
        lo < 0xdc00 || lo > 0xdfff)
        return false;
    j->p += 6;
    return true;
}

static bool j_string(jp *j)
{
    const unsigned char *start = j->p;

    if (j->p >= j->end || *j->p != '"')
        return false;
    for (j->p++; j->p < j->end && *j->p != '"';) {
        size_t len;
        if (*j->p == '\\') {
            if (!j_escape(j))
                return false;
            continue;
        }
        if (*j->p < 0x20 || !(len = utf8_seq(j->p, (size_t)(j->end - j->p))))
            return false;
        j->p += len;
    }
    if (j->p >= j->end)
        return false;
    j->p++;
    return emit(j, start, (size_t)(j->p - start));
}

static bool digits(jp *j)
{
    const unsigned char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool j_number(jp *j)
{
    const unsigned char *start = j->p;

    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!digits(j))
        return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!digits(j))
            return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!digits(j))
            return false;
    }
    return emit(j, start, (size_t)(j->p - start));
}

static bool j_literal(jp *j, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
        return false;
    j->p += n;
    return emit(j, lit, n);
}

static bool j_member(jp *j, bool object)
{
    skip_ws(j);
    if (!object)
        return j_value(j);
    if (!j_string(j))
        return false;
    skip_ws(j);
    if (j->p >= j->end || *j->p != ':')
        return false;
    j->p++;
    return emit(j, ":", 1) && j_value(j);
}

/* j->p at the opening bracket. */
static bool j_container(jp *j, char open, char close)
{
    bool object = open == '{';

    if (++j->depth > MDT_AUDIT_DATA_DEPTH || !emit(j, &open, 1))
        return false;
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return emit(j, &close, 1);
    }
    for (;;) {
        if (!j_member(j, object))
            return false;
        skip_ws(j);
        if (j->p >= j->end || (*j->p != ',' && *j->p != close))
            return false;
        if (*j->p++ == close)
            break;
        if (!emit(j, ",", 1))
            return false;
    }
    j->depth--;
    return emit(j, &close, 1);
}

static bool j_value(jp *j)
{
    skip_ws(j);
    if (j->p >= j->end)
        return false;
    switch (*j->p) {
    case '{':
        return j_container(j, '{', '}');
    case '[':
        return j_container(j, '[', ']');
    case '"':
        return j_string(j);
    case 't':
        return j_literal(j, "true");
    case 'f':
        return j_literal(j, "false");
    case 'n':
        return j_literal(j, "null");
    default:
        return j_number(j);
    }
}

static mdt_rc add_data(mdt_buf *b, const char *data, mdt_err *err)
{
    size_t n = strlen(data);
    jp j = {.p = (const unsigned char *)data, .end = (const unsigned char *)data + n, .out = b};
    mdt_rc rc;

    if (n > MDT_AUDIT_DATA_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "audit data too large");
    if ((rc = mdt_buf_adds(b, ",\"data\":")) != MDT_OK)
        return mdt_fail(err, rc, "audit event too large");
    skip_ws(&j);
    if (j.p < j.end && *j.p == '{' && j_container(&j, '{', '}')) {
        skip_ws(&j);
        if (j.p == j.end)
            return MDT_OK;
    }
    if (j.rc != MDT_OK)
        return mdt_fail(err, j.rc, "audit event too large");
    return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "audit data is not a JSON object",
                     "audit data: invalid JSON object at byte %zu", (size_t)(j.p - (const unsigned char *)data));
}

/* --- the body -------------------------------------------------------------- */

static mdt_rc add_field(mdt_buf *b, const char *key, const char *val)
{
    char clean[CLEAN_MAX];
    mdt_rc rc;

    if (!val)
        return MDT_OK;
    sanitize(val, clean);
    if ((rc = mdt_buf_adds(b, ",\"")) != MDT_OK || (rc = mdt_buf_adds(b, key)) != MDT_OK ||
        (rc = mdt_buf_adds(b, "\":")) != MDT_OK)
        return rc;
    return mdt_buf_add_json_str(b, clean);
}

static mdt_rc add_fields(mdt_buf *b, const mdt_audit_event *ev)
{
    const struct {
        const char *key, *val;
    } f[] = {
        {"actor", ev->actor},           {"client_id", ev->client_id}, {"subject", ev->subject},
        {"decision", ev->decision},     {"reason", ev->reason},       {"request_id", ev->request_id},
        {"ip", ev->ip},
    };
    mdt_rc rc = MDT_OK;

    for (size_t i = 0; i < MDT_ARRAY_LEN(f) && rc == MDT_OK; i++)
        rc = add_field(b, f[i].key, f[i].val);
    return rc;
}

mdt_rc mdt_audit_body(const mdt_audit_event *ev, int64_t t, char **out, mdt_err *err)
{
    mdt_rc rc;
    mdt_buf b;
    char ts[21];

    *out = NULL;
    if (!ev || !type_ok(ev->type))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "audit event type missing or malformed");
    mdt_buf_init(&b, BODY_MAX);
    mdt_time_format(t, ts);
    if ((rc = mdt_buf_adds(&b, "{\"time\":\"")) != MDT_OK || (rc = mdt_buf_adds(&b, ts)) != MDT_OK ||
        (rc = mdt_buf_adds(&b, "\",\"type\":\"")) != MDT_OK ||
        (rc = mdt_buf_adds(&b, ev->type)) != MDT_OK || (rc = mdt_buf_adds(&b, "\"")) != MDT_OK ||
        (rc = add_fields(&b, ev)) != MDT_OK) {
        mdt_fail(err, rc, "audit event too large");
        goto out;
    }
    if (ev->data && (rc = add_data(&b, ev->data, err)) != MDT_OK)
        goto out;
    if ((rc = mdt_buf_add(&b, "}", 1)) != MDT_OK) {
        mdt_fail(err, rc, "audit event too large");
        goto out;
    }
    *out = mdt_buf_take(&b);
    rc = *out ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
out:
    mdt_buf_free(&b);
    return rc;
}

/* --- the hash -------------------------------------------------------------- */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static bool hash_with(EVP_MD_CTX *md, const mdt_audit_rec *ev, uint8_t out[MDT_HASH_LEN])
{
    const char *type = ev->type ? ev->type : "";
    const char *body = ev->body ? ev->body : "";
    uint8_t be[16];

    put_be64(be, (uint64_t)ev->seq);
    put_be64(be + 8, (uint64_t)ev->time);
    return EVP_DigestInit_ex2(md, mdt_sha256_md(), NULL) &&
           EVP_DigestUpdate(md, ev->prev_hash, MDT_HASH_LEN) && EVP_DigestUpdate(md, be, sizeof(be)) &&
           EVP_DigestUpdate(md, type, strlen(type) + 1) && /* with its NUL: the 0x00 */
           EVP_DigestUpdate(md, body, strlen(body)) && EVP_DigestFinal_ex(md, out, NULL);
}

mdt_rc mdt_audit_hash(const mdt_audit_rec *ev, uint8_t out[MDT_HASH_LEN], mdt_err *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    mdt_rc rc = MDT_OK;

    if (!md || !hash_with(md, ev, out))
        rc = mdt_fail_openssl(err, "audit hash");
    EVP_MD_CTX_free(md);
    return rc;
}

static EVP_MAC_CTX *mac_new(void)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;

    EVP_MAC_free(mac); /* the context keeps its own reference */
    return ctx;
}

/* key NULL: the key (and digest) ctx was last initialised with, which
 * halves the cost of each event after the first of a batch. */
static bool mac_with(EVP_MAC_CTX *ctx, const uint8_t *key, const mdt_audit_rec *ev,
                     uint8_t out[MDT_HASH_LEN])
{
    static char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    const char *type = ev->type ? ev->type : "";
    const char *body = ev->body ? ev->body : "";
    uint8_t be[16];
    size_t len = 0;

    put_be64(be, (uint64_t)ev->seq);
    put_be64(be + 8, (uint64_t)ev->time);
    return EVP_MAC_init(ctx, key, key ? MDT_HASH_LEN : 0, key ? params : NULL) &&
           EVP_MAC_update(ctx, ev->prev_hash, MDT_HASH_LEN) && EVP_MAC_update(ctx, be, sizeof(be)) &&
           EVP_MAC_update(ctx, (const uint8_t *)type, strlen(type) + 1) &&
           EVP_MAC_update(ctx, (const uint8_t *)body, strlen(body)) &&
           EVP_MAC_final(ctx, out, &len, MDT_HASH_LEN) && len == MDT_HASH_LEN;
}

mdt_rc mdt_audit_mac(const uint8_t key[MDT_HASH_LEN], const mdt_audit_rec *ev,
                     uint8_t out[MDT_HASH_LEN], mdt_err *err)
{
    EVP_MAC_CTX *ctx = mac_new();
    mdt_rc rc = MDT_OK;

    if (!ctx || !mac_with(ctx, key, ev, out))
        rc = mdt_fail_openssl(err, "audit hmac");
    EVP_MAC_CTX_free(ctx);
    return rc;
}

/* The store's hash callback takes no context: the digest context and key of
 * the append in progress are this thread's. */
static _Thread_local struct {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
    const uint8_t *key;
    bool keyed;   /* mac holds the key already */
    bool failed;
} tl_hash;

static void chain_hash(mdt_audit_rec *ev)
{
    bool ok;

    if (tl_hash.key) {
        ok = tl_hash.mac && mac_with(tl_hash.mac, tl_hash.keyed ? NULL : tl_hash.key, ev, ev->hash);
        tl_hash.keyed = ok;
    } else {
        ok = tl_hash.md && hash_with(tl_hash.md, ev, ev->hash);
    }
    if (!ok) {
        tl_hash.failed = true;
        memset(ev->hash, 0, MDT_HASH_LEN);
    }
}

/* Without the key, appending to a keyed log would put unkeyed events after
 * the anchor: refused, so that a lost key file is noticed at once. */
static mdt_rc check_unkeyed(mdt_store *s, mdt_err *err)
{
    int64_t anchor = 0;
    mdt_rc rc = mdt_store_audit_find_type(s, MDT_AUDIT_ANCHOR, &anchor, err);

    if (rc == MDT_OK && anchor)
        rc = mdt_failf(err, MDT_ERR_CONFIG, "the audit key is not loaded",
                       "the audit log is keyed (anchor at event %lld) but the audit key file was "
                       "not found: restore it beside the master key",
                       (long long)anchor);
    return rc;
}

/* check_unkeyed: whether to look for an anchor when the key is not set (a
 * scan of the log when it has none). */
static mdt_rc append_hashed(mdt_store *s, mdt_audit_rec *recs, size_t n, bool check_unkeyed_log,
                            mdt_err *err)
{
    mdt_rc rc;

    tl_hash.failed = false;
    tl_hash.keyed = false;
    tl_hash.key = mdt_store_audit_key(s);
    if (!tl_hash.key && check_unkeyed_log && (rc = check_unkeyed(s, err)) != MDT_OK)
        return rc;
    if (tl_hash.key ? !(tl_hash.mac = mac_new()) : !(tl_hash.md = EVP_MD_CTX_new()))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    rc = mdt_store_audit_append(s, recs, n, chain_hash, err);
    EVP_MD_CTX_free(tl_hash.md);
    EVP_MAC_CTX_free(tl_hash.mac);
    tl_hash.md = NULL;
    tl_hash.mac = NULL;
    tl_hash.key = NULL;
    if (rc == MDT_OK && tl_hash.failed) {
        /* Cannot happen short of a broken OpenSSL; the events are stored
         * with a zero hash and verify will name them. */
        MDT_ERROR("audit hash failed after commit: the chain will not verify");
        rc = mdt_fail(err, MDT_ERR_CRYPTO, "audit hash failed");
    }
    return rc;
}

/* --- queued events ------------------------------------------------------- */

/* An event whose premises no longer held at its append (mdt_audit_rec.checks). */
static const mdt_err conflict_err = {
    .rc = MDT_ERR_CONFLICT,
    .msg = "the client changed while the request was decided: try again",
};
/* One whose single-use identifier was used already (mdt_audit_rec.uses),
 * unless its producer names another answer (mdt_audit_event.replay_err):
 * a client assertion's. */
static const mdt_err replay_err = {
    .rc = MDT_ERR_INVALID_CLIENT,
    .msg = "client authentication failed",
    .detail = "replayed jti",
};

typedef struct waiter {
    pthread_cond_t cv;
    bool done;
    mdt_rc rc;
    mdt_err err;
} waiter;

typedef struct item {
    struct item *next;
    mdt_audit_rec rec; /* type, body and client_id point to the strings below */
    char *type, *body, *client_id;
    mdt_token_rec token;           /* rec.token points here when the event has one */
    mdt_client_check *checks;      /* rec.checks; their client_ids are the item's */
    mdt_jti_use_rec *uses;         /* rec.uses; their strings are the item's */
    char *replay_type, *replay_body; /* rec.replay_type, rec.replay_body */
    const mdt_err *replay_err;     /* the producer's answer to a replay */
    size_t bytes;
    waiter *w;                     /* mdt_audit_record */
    void (*done)(void *, mdt_rc);  /* mdt_audit_submit */
    void *ctx;
} item;

static void item_free(item *it)
{
    if (!it)
        return;
    free(it->type);
    free(it->body);
    free(it->client_id);
    free((char *)it->token.jti);
    free((char *)it->token.client_id);
    free((char *)it->token.kind);
    free((char *)it->token.claims);
    for (size_t i = 0; i < it->rec.nchecks; i++)
        free((char *)it->checks[i].client_id);
    free(it->checks);
    for (size_t i = 0; i < it->rec.nuses; i++) {
        free((char *)it->uses[i].issuer);
        free((char *)it->uses[i].jti);
    }
    free(it->uses);
    free(it->replay_type);
    free(it->replay_body);
    free(it);
}

/* A deep copy of the event's token row into the item. */
static bool item_token(item *it, const mdt_token_rec *t)
{
    it->token = *t;
    it->token.jti = it->token.client_id = it->token.kind = it->token.claims = NULL;
    if (!(it->token.jti = mdt_strdup(t->jti)) || !(it->token.client_id = mdt_strdup(t->client_id)) ||
        !(it->token.kind = mdt_strdup(t->kind)) || !(it->token.claims = mdt_strdup(t->claims)))
        return false;
    it->rec.token = &it->token;
    it->bytes += strlen(t->claims);
    return true;
}

/* A deep copy of the event's premises into the item. */
static bool item_checks(item *it, const mdt_client_check *k, size_t n)
{
    if (!(it->checks = calloc(n, sizeof(*it->checks))))
        return false;
    it->rec.checks = it->checks;
    for (size_t i = 0; i < n; i++) {
        it->checks[i] = k[i];
        it->rec.nchecks = i + 1; /* item_free frees what was copied */
        if (!(it->checks[i].client_id = mdt_strdup(k[i].client_id)))
            return false;
    }
    return true;
}

/* A deep copy of the event's single-use identifiers into the item. */
static bool item_uses(item *it, const mdt_jti_use_rec *u, size_t n)
{
    if (!(it->uses = calloc(n, sizeof(*it->uses))))
        return false;
    it->rec.uses = it->uses;
    for (size_t i = 0; i < n; i++) {
        it->rec.nuses = i + 1; /* item_free frees what was copied */
        it->uses[i].expires_at = u[i].expires_at;
        if (!(it->uses[i].issuer = mdt_strdup(u[i].issuer)) ||
            !(it->uses[i].jti = mdt_strdup(u[i].jti)))
            return false;
    }
    return true;
}

/* The event appended in place of one whose identifier was replayed. */
static mdt_rc item_replay(item *it, const mdt_audit_event *alt, mdt_err *err)
{
    mdt_audit_event e = *alt;
    mdt_rc rc;

    e.token = NULL;
    e.checks = NULL;
    e.nchecks = 0;
    e.uses = NULL;
    e.nuses = 0;
    e.on_replay = NULL;
    if ((rc = mdt_audit_body(&e, it->rec.time, &it->replay_body, err)) != MDT_OK)
        return rc;
    if (!(it->replay_type = mdt_strdup(e.type)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    it->rec.replay_type = it->replay_type;
    it->rec.replay_body = it->replay_body;
    return MDT_OK;
}

static mdt_rc item_new(const mdt_clock *clock, const mdt_audit_event *ev, item **out, mdt_err *err)
{
    item *it = calloc(1, sizeof(*it));
    mdt_rc rc;

    *out = NULL;
    if (!it)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    it->rec.time = mdt_now(clock);
    if ((rc = mdt_audit_body(ev, it->rec.time, &it->body, err)) != MDT_OK)
        goto out;
    if (!(it->type = mdt_strdup(ev->type))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ev->client_id) { /* as the body has it */
        char clean[CLEAN_MAX];
        sanitize(ev->client_id, clean);
        if (!(it->client_id = mdt_strdup(clean))) {
            rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    it->rec.type = it->type;
    it->rec.body = it->body;
    it->rec.client_id = it->client_id;
    it->bytes = strlen(it->body) + strlen(it->type);
    if ((ev->token && !item_token(it, ev->token)) ||
        (ev->nchecks && !item_checks(it, ev->checks, ev->nchecks)) ||
        (ev->nuses && !item_uses(it, ev->uses, ev->nuses))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ev->nuses && ev->on_replay && (rc = item_replay(it, ev->on_replay, err)) != MDT_OK)
        goto out;
    it->replay_err = ev->replay_err ? ev->replay_err : &replay_err;
    *out = it;
    it = NULL;
out:
    item_free(it);
    return rc;
}

/* The outcome of one event of a batch appended with rc: its own refusal
 * when its premises no longer held (mdt_audit_rec.checks) or one of its
 * single-use identifiers was used already (mdt_audit_rec.uses). */
static mdt_rc item_rc(const item *it, mdt_rc rc, const mdt_err **err)
{
    if (rc != MDT_OK || it->rec.refused == MDT_OK)
        return rc;
    *err = it->rec.replayed ? it->replay_err : &conflict_err;
    return (*err)->rc;
}

mdt_rc mdt_audit_append_now(mdt_store *store, const mdt_clock *clock, const mdt_audit_event *ev,
                            mdt_err *err)
{
    item *it = NULL;
    mdt_rc rc = item_new(clock, ev, &it, err);

    if (rc == MDT_OK)
        rc = append_hashed(store, &it->rec, 1, true, err);
    if (rc == MDT_OK && it->rec.refused != MDT_OK) {
        const mdt_err *e = &conflict_err;
        rc = item_rc(it, rc, &e);
        if (err)
            *err = *e;
    }
    item_free(it);
    return rc;
}

mdt_rc mdt_audit_anchor_ensure(mdt_store *store, const mdt_clock *clock, const char *actor,
                               const char *checkpoint_kid, mdt_err *err)
{
    int64_t anchor = 0;
    char data[256];
    mdt_audit_event ev = {
        .type = MDT_AUDIT_ANCHOR,
        .actor = actor,
        .reason = "the audit chain is keyed from this event on; its prev_hash is the head of the "
                  "chain before it",
        .data = data,
    };
    mdt_rc rc;

    if (!mdt_store_audit_key(store))
        return mdt_fail(err, MDT_ERR_INTERNAL, "audit anchor without a key");
    if ((rc = mdt_store_audit_find_type(store, MDT_AUDIT_ANCHOR, &anchor, err)) != MDT_OK || anchor)
        return rc;
    snprintf(data, sizeof(data), "{\"chain\":\"hmac-sha256\",\"checkpoint_kid\":\"%s\"}",
             checkpoint_kid ? checkpoint_kid : "");
    return mdt_audit_append_now(store, clock, &ev, err);
}

/* --- the writer ---------------------------------------------------------- */

struct mdt_audit {
    mdt_store *store;
    const mdt_clock *clock;
    size_t max_batch;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* the writer waits here for events */
    item *head, *tail;
    size_t queued, queued_bytes;
    bool stopping;
    uint64_t commits, events;
    item **batch;            /* the writer's, max_batch of each */
    mdt_audit_rec *recs;
    /* Checkpoints (mdt_audit_set_checkpoints); the counters are the writer's. */
    const mdt_jwk *signer;
    int64_t cp_events, cp_seconds;
    int64_t since_cp;        /* events committed since the last checkpoint */
    int64_t last_cp;         /* when the last checkpoint was written (or the start) */
    int64_t unkeyed_checked; /* without a key: when the log was last seen without anchor */
};

/* Under the lock: moves up to max_batch queued events to a->batch. */
static size_t take_batch(mdt_audit *a)
{
    size_t n = 0;

    while (a->head && n < a->max_batch) {
        item *it = a->head;
        a->head = it->next;
        it->next = NULL;
        a->queued--;
        a->queued_bytes -= it->bytes;
        a->batch[n++] = it;
    }
    if (!a->head)
        a->tail = NULL;
    return n;
}

/* Answers the producers of batch[0..n): rc for all of them, or each one's
 * refusal (item_rc). */
static void complete_batch(mdt_audit *a, item **batch, size_t n, mdt_rc rc, const mdt_err *err)
{
    pthread_mutex_lock(&a->mu);
    if (rc == MDT_OK) {
        a->commits++;
        for (size_t i = 0; i < n; i++) /* appended: itself, or its replay event */
            a->events += !batch[i]->rec.refused ||
                         (batch[i]->rec.replayed && batch[i]->rec.replay_type);
    }
    for (size_t i = 0; i < n; i++) {
        waiter *w = batch[i]->w;
        const mdt_err *e = err;
        if (!w)
            continue;
        w->rc = item_rc(batch[i], rc, &e);
        w->err = *e;
        w->done = true;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < n; i++) {
        const mdt_err *e = err;
        if (batch[i]->done)
            batch[i]->done(batch[i]->ctx, item_rc(batch[i], rc, &e));
        item_free(batch[i]);
        batch[i] = NULL;
    }
}

/* Appends batch[0..n) in one transaction. */
static mdt_rc append_items(mdt_audit *a, item **batch, size_t n, bool check, mdt_err *err)
{
    double t0 = mdt_time_real();
    mdt_rc rc;

    for (size_t i = 0; i < n; i++)
        a->recs[i] = batch[i]->rec;
    rc = append_hashed(a->store, a->recs, n, check, err);
    for (size_t i = 0; i < n; i++) { /* the outcome of each (item_rc) */
        batch[i]->rec.refused = rc == MDT_OK ? a->recs[i].refused : MDT_OK;
        batch[i]->rec.replayed = rc == MDT_OK && a->recs[i].replayed;
    }
    mdt_metrics_audit_commit(mdt_time_real() - t0, n);
    if (rc == MDT_OK)
        a->since_cp += (int64_t)n;
    return rc;
}

static void fail_items(mdt_audit *a, item **batch, size_t n, mdt_rc rc, mdt_err *err)
{
    MDT_ERROR("audit: append of %zu events failed: %s", n, mdt_err_text(err));
    if (!err->msg)
        err->msg = "audit write failed";
    complete_batch(a, batch, n, rc, err);
}

/* A row stored with an event (an opaque token's) can be refused on its own
 * (its client deleted meanwhile, say): the whole transaction rolls back.
 * Then each event of the batch is appended alone, so that only the refused
 * one fails. Not when the store is busy or out of memory: each would wait
 * or fail alike. */
static bool row_refused(const item *const *batch, size_t n, mdt_rc rc)
{
    if (n < 2 || rc == MDT_ERR_UNAVAILABLE || rc == MDT_ERR_NOMEM)
        return false;
    for (size_t i = 0; i < n; i++)
        if (batch[i]->rec.token)
            return true;
    return false;
}

static void commit_batch(mdt_audit *a, size_t n)
{
    int64_t now = mdt_now(a->clock);
    bool check = now != a->unkeyed_checked; /* at most once a second */
    mdt_err err = {0};
    mdt_rc rc = append_items(a, a->batch, n, check, &err);

    if (rc == MDT_OK) {
        if (check)
            a->unkeyed_checked = now;
        complete_batch(a, a->batch, n, rc, &err);
        return;
    }
    if (!row_refused((const item *const *)a->batch, n, rc)) {
        fail_items(a, a->batch, n, rc, &err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        mdt_err one = {0};
        if ((rc = append_items(a, &a->batch[i], 1, check, &one)) == MDT_OK)
            complete_batch(a, &a->batch[i], 1, rc, &one);
        else
            fail_items(a, &a->batch[i], 1, rc, &one);
    }
}

/* In the writer thread, without the lock, after the responses of the batch
 * were released: a checkpoint is never on a request's path. */
static void maybe_checkpoint(mdt_audit *a, const mdt_jwk *signer, bool force)
{
    int64_t now = mdt_now(a->clock);
    bool written = false;
    mdt_err err = {0};

    if (!signer || a->since_cp == 0)
        return;
    if (!force && a->since_cp < a->cp_events && now - a->last_cp < a->cp_seconds)
        return;
    if (mdt_audit_checkpoint_write(a->store, signer, now, &written, &err) != MDT_OK)
        MDT_ERROR("audit: cannot write a checkpoint: %s", mdt_err_text(&err));
    a->since_cp = 0; /* on failure: tried again after as many events or as long */
    a->last_cp = now;
}

/* Under the lock: waits for events, at most until a checkpoint is due.
 * False when it returned for the checkpoint. */
static bool wait_events(mdt_audit *a)
{
    while (!a->head && !a->stopping) {
        struct timespec ts;
        int64_t left;
        if (!a->signer || a->since_cp == 0) {
            pthread_cond_wait(&a->cv, &a->mu);
            continue;
        }
        left = a->last_cp + a->cp_seconds - mdt_now(a->clock);
        if (left <= 0)
            return false;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)left;
        if (pthread_cond_timedwait(&a->cv, &a->mu, &ts) == ETIMEDOUT && !a->head)
            return false;
    }
    return true;
}

static void *writer_main(void *arg)
{
    mdt_audit *a = arg;
    const mdt_jwk *signer;

    pthread_mutex_lock(&a->mu);
    a->last_cp = mdt_now(a->clock);
    for (;;) {
        size_t n;
        bool events = wait_events(a);
        signer = a->signer;
        if (!events || !a->head) {
            bool stop = events; /* woken with nothing queued: stopping and drained */
            pthread_mutex_unlock(&a->mu);
            maybe_checkpoint(a, signer, stop);
            pthread_mutex_lock(&a->mu);
            if (stop)
                break;
            continue;
        }
        n = take_batch(a);
        pthread_mutex_unlock(&a->mu);
        commit_batch(a, n);
        maybe_checkpoint(a, signer, false);
        pthread_mutex_lock(&a->mu);
    }
    pthread_mutex_unlock(&a->mu);
    mdt_store_thread_done(a->store);
    return NULL;
}

void mdt_audit_set_checkpoints(mdt_audit *a, const mdt_jwk *signer, int64_t every_events,
                               int64_t every_seconds)
{
    pthread_mutex_lock(&a->mu);
    a->signer = signer;
    a->cp_events = every_events > 0 ? every_events : 1;
    a->cp_seconds = every_seconds > 0 ? every_seconds : 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static void audit_free(mdt_audit *a)
{
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->batch);
    free(a->recs);
    free(a);
}

mdt_rc mdt_audit_start(mdt_store *store, const mdt_clock *clock, size_t max_batch, mdt_audit **out,
                       mdt_err *err)
{
    mdt_audit *a;

    *out = NULL;
    if (!store || !clock)
        return mdt_fail(err, MDT_ERR_INTERNAL, "audit needs a store and a clock");
    if (max_batch == 0)
        max_batch = MDT_AUDIT_BATCH_DEFAULT;
    if (max_batch > MDT_AUDIT_BATCH_MAX)
        max_batch = MDT_AUDIT_BATCH_MAX;
    if (!(a = calloc(1, sizeof(*a))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    a->store = store;
    a->clock = clock;
    a->max_batch = max_batch;
    a->batch = calloc(max_batch, sizeof(*a->batch));
    a->recs = calloc(max_batch, sizeof(*a->recs));
    if (!a->batch || !a->recs || pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a->batch);
        free(a->recs);
        free(a);
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    if (pthread_cond_init(&a->cv, NULL) != 0) {
        pthread_mutex_destroy(&a->mu);
        free(a->batch);
        free(a->recs);
        free(a);
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    if (pthread_create(&a->thread, NULL, writer_main, a) != 0) {
        audit_free(a);
        return mdt_fail(err, MDT_ERR_INTERNAL, "cannot start the audit writer");
    }
    *out = a;
    return MDT_OK;
}

void mdt_audit_stop(mdt_audit *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    audit_free(a);
}

void mdt_audit_stats(mdt_audit *a, uint64_t *commits, uint64_t *events)
{
    pthread_mutex_lock(&a->mu);
    if (commits)
        *commits = a->commits;
    if (events)
        *events = a->events;
    pthread_mutex_unlock(&a->mu);
}

/* Queues it (the queue then owns it) or fails (the caller still owns it). */
static mdt_rc enqueue(mdt_audit *a, item *it, mdt_err *err)
{
    mdt_rc rc = MDT_OK;

    pthread_mutex_lock(&a->mu);
    if (a->stopping) {
        rc = mdt_fail(err, MDT_ERR_UNAVAILABLE, "audit log is stopping");
    } else if (a->queued >= MDT_AUDIT_QUEUE_MAX ||
               a->queued_bytes + it->bytes > MDT_AUDIT_QUEUE_BYTES) {
        rc = mdt_fail(err, MDT_ERR_UNAVAILABLE, "audit queue full");
    } else {
        if (a->tail)
            a->tail->next = it;
        else
            a->head = it;
        a->tail = it;
        a->queued++;
        a->queued_bytes += it->bytes;
        pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

mdt_rc mdt_audit_submit(mdt_audit *a, const mdt_audit_event *ev, void (*done)(void *ctx, mdt_rc rc),
                        void *ctx, mdt_err *err)
{
    item *it = NULL;
    mdt_rc rc = item_new(a->clock, ev, &it, err);

    if (rc != MDT_OK)
        return rc;
    it->done = done;
    it->ctx = ctx;
    if ((rc = enqueue(a, it, err)) != MDT_OK)
        item_free(it);
    return rc;
}

mdt_rc mdt_audit_record(mdt_audit *a, const mdt_audit_event *ev, mdt_err *err)
{
    waiter w = {.done = false};
    item *it = NULL;
    mdt_rc rc = item_new(a->clock, ev, &it, err);

    if (rc != MDT_OK)
        return rc;
    if (pthread_cond_init(&w.cv, NULL) != 0) {
        item_free(it);
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    }
    it->w = &w;
    if ((rc = enqueue(a, it, err)) != MDT_OK) {
        item_free(it);
        goto out;
    }
    pthread_mutex_lock(&a->mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &a->mu);
    pthread_mutex_unlock(&a->mu);
    rc = w.rc;
    if (rc != MDT_OK && err)
        *err = w.err;
out:
    pthread_cond_destroy(&w.cv);
    return rc;
}
