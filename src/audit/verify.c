/* Reading the audit log: chain verification, NDJSON export and tail.
 * The construction being checked is documented at the top of audit.c. */
#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "audit/checkpoint.h"
#include "core/b64.h"
#include "core/buf.h"

#define LINE_MAX_BYTES ((size_t)1 << 20)

/* --- verify ---------------------------------------------------------------- */

typedef struct {
    mdt_audit__cp *v;
    size_t n, cap, next; /* sorted by seq; next: the first not yet compared */
    const mdt_jwk *signer;
    int64_t bad_seq;
    mdt_rc rc;
    mdt_err *err;
} cpset;

typedef struct {
    int64_t next_seq;
    uint8_t prev[MDT_HASH_LEN];
    int64_t count;
    int64_t bad_seq;
    int64_t anchor_seq;
    const uint8_t *key;
    cpset *cps;
    mdt_rc rc;
    mdt_err *err;
} vstate;

static bool broken(vstate *v, int64_t seq, const char *why)
{
    v->bad_seq = seq;
    v->rc = mdt_failf(v->err, MDT_ERR_VERIFY, "audit chain broken", "audit event %" PRId64 ": %s",
                      seq, why);
    return false;
}

/* Which construction ev must carry: SHA-256 before the anchor, the HMAC
 * from it on. False (v->rc set) when the key that needs is not loaded. */
static bool expected_hash(vstate *v, const mdt_audit_rec *ev, uint8_t h[MDT_HASH_LEN])
{
    if (!v->anchor_seq && ev->type && strcmp(ev->type, MDT_AUDIT_ANCHOR) == 0)
        v->anchor_seq = ev->seq;
    if (!v->anchor_seq)
        return (v->rc = mdt_audit_hash(ev, h, v->err)) == MDT_OK;
    if (!v->key) {
        v->rc = mdt_failf(v->err, MDT_ERR_CONFIG, "the audit key is not loaded",
                          "the audit log is keyed from event %" PRId64 " but the audit key file "
                          "was not found: restore it beside the master key",
                          v->anchor_seq);
        return false;
    }
    return (v->rc = mdt_audit_mac(v->key, ev, h, v->err)) == MDT_OK;
}

static bool check_checkpoints(vstate *v, const mdt_audit_rec *ev)
{
    cpset *c = v->cps;
    char why[96];

    for (; c && c->next < c->n && c->v[c->next].seq <= ev->seq; c->next++) {
        if (c->v[c->next].seq == ev->seq && memcmp(c->v[c->next].head, ev->hash, MDT_HASH_LEN) == 0)
            continue;
        snprintf(why, sizeof(why), "hash differs from the one signed in checkpoint %" PRId64,
                 c->v[c->next].n);
        return broken(v, ev->seq, why);
    }
    return true;
}

static bool verify_one(const mdt_audit_rec *ev, void *ctx)
{
    vstate *v = ctx;
    uint8_t h[MDT_HASH_LEN];

    if (ev->seq != v->next_seq)
        return broken(v, ev->seq, ev->seq > v->next_seq ? "events missing before it" : "out of sequence");
    if (memcmp(ev->prev_hash, v->prev, MDT_HASH_LEN) != 0)
        return broken(v, ev->seq, "prev_hash is not the previous event's hash");
    if (!expected_hash(v, ev, h))
        return false;
    if (CRYPTO_memcmp(h, ev->hash, MDT_HASH_LEN) != 0)
        return broken(v, ev->seq, v->anchor_seq ? "hash does not match its contents under the audit "
                                                  "key (edited, or recomputed without the key)"
                                                : "hash does not match its contents");
    if (!check_checkpoints(v, ev))
        return false;
    memcpy(v->prev, ev->hash, MDT_HASH_LEN);
    v->next_seq++;
    v->count++;
    return true;
}

static bool cp_bad(cpset *c, int64_t seq, int64_t n, const char *why)
{
    c->bad_seq = seq > 0 ? seq : 1;
    c->rc = mdt_failf(c->err, MDT_ERR_VERIFY, "audit checkpoint does not verify",
                      "audit checkpoint %" PRId64 ": %s", n, why);
    return false;
}

/* Keeps the set sorted by seq (checkpoints come in order of n, which is
 * the order of seq; an exported one may go anywhere). */
static bool cp_insert(cpset *c, const mdt_audit__cp *cp)
{
    size_t i;

    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        mdt_audit__cp *v = realloc(c->v, cap * sizeof(*v));
        if (!v) {
            c->rc = mdt_fail(c->err, MDT_ERR_NOMEM, "out of memory");
            return false;
        }
        c->v = v;
        c->cap = cap;
    }
    for (i = c->n; i > 0 && c->v[i - 1].seq > cp->seq; i--)
        c->v[i] = c->v[i - 1];
    c->v[i] = *cp;
    c->n++;
    return true;
}

static bool cp_stored(const mdt_audit_checkpoint_rec *row, void *ctx)
{
    cpset *c = ctx;
    const mdt_audit__cp *last = c->n ? &c->v[c->n - 1] : NULL;
    mdt_audit__cp cp;
    mdt_err e2 = {0};

    if (mdt_audit__cp_open(c->signer, row->jws, &cp, &e2) != MDT_OK)
        return cp_bad(c, row->seq, row->n, mdt_err_text(&e2));
    if (cp.n != row->n || cp.seq != row->seq || memcmp(cp.head, row->head, MDT_HASH_LEN) != 0)
        return cp_bad(c, row->seq, row->n, "its row differs from what it signs");
    if (cp.n != (last ? last->n + 1 : 1))
        return cp_bad(c, row->seq, row->n, "checkpoints missing before it");
    if (last ? memcmp(cp.prev, last->digest, MDT_HASH_LEN) != 0 || cp.seq <= last->seq
             : memcmp(cp.prev, (const uint8_t[MDT_HASH_LEN]){0}, MDT_HASH_LEN) != 0)
        return cp_bad(c, row->seq, row->n, "not chained to the previous checkpoint");
    return cp_insert(c, &cp);
}

/* The exported checkpoint: signed by this log's key, and the same as the
 * stored checkpoint of that number if there is one. */
static mdt_rc cp_exported(cpset *c, const char *json)
{
    mdt_audit__cp cp;
    mdt_rc rc = mdt_audit__cp_open_export(c->signer, json, &cp, c->err);

    if (rc == MDT_ERR_VERIFY)
        c->bad_seq = cp.seq > 0 ? cp.seq : 1;
    if (rc != MDT_OK)
        return rc;
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].n != cp.n)
            continue;
        if (memcmp(c->v[i].digest, cp.digest, MDT_HASH_LEN) == 0)
            return MDT_OK; /* the same checkpoint */
        cp_bad(c, c->v[i].seq < cp.seq ? c->v[i].seq : cp.seq, cp.n,
               "the stored checkpoint of this number differs from the exported one");
        return c->rc;
    }
    return cp_insert(c, &cp) ? MDT_OK : c->rc;
}

static mdt_rc load_checkpoints(mdt_store *store, const mdt_audit_verify_opts *o, cpset *c)
{
    mdt_rc rc;

    if (!o || !o->signer) {
        if (o && o->checkpoint)
            return mdt_fail(c->err, MDT_ERR_CONFIG,
                            "no audit key: cannot check a checkpoint (run 'mandate init')");
        return MDT_OK;
    }
    c->signer = o->signer;
    rc = mdt_store_audit_checkpoint_each(store, cp_stored, c, c->err);
    if (rc == MDT_OK)
        rc = c->rc;
    if (rc == MDT_OK && o->checkpoint)
        rc = cp_exported(c, o->checkpoint);
    return rc;
}

/* After the walk: an anchor where the log is keyed, and every event a
 * checkpoint vouches for. */
static mdt_rc check_end(vstate *v, mdt_audit_verify_result *r)
{
    const cpset *c = v->cps;
    const mdt_audit__cp *top = c->n ? &c->v[c->n - 1] : NULL;
    char why[160];

    if (v->key && !v->anchor_seq) {
        broken(v, 1, "the audit log is keyed but has no anchor event: it was rewritten without "
                     "the key");
        return v->rc;
    }
    if (top && top->seq >= v->next_seq) {
        snprintf(why, sizeof(why),
                 "missing: events %" PRId64 " to %" PRId64 " were deleted (signed checkpoint "
                 "%" PRId64 " covers them)",
                 v->next_seq, top->seq, top->n);
        broken(v, v->next_seq, why);
        return v->rc;
    }
    r->checkpoints = (int64_t)c->n;
    r->checkpoint_seq = top ? top->seq : 0;
    return MDT_OK;
}

mdt_rc mdt_audit_verify_full(mdt_store *store, const mdt_audit_verify_opts *o,
                             mdt_audit_verify_result *r, mdt_err *err)
{
    cpset c = {.err = err};
    vstate v = {.next_seq = 1, .err = err, .key = mdt_store_audit_key(store), .cps = &c};
    mdt_rc rc;

    memset(r, 0, sizeof(*r));
    if ((rc = load_checkpoints(store, o, &c)) != MDT_OK) {
        r->bad_seq = c.bad_seq;
        goto out;
    }
    rc = mdt_store_audit_each(store, 0, 0, verify_one, &v, err);
    if (rc == MDT_OK)
        rc = v.rc;
    if (rc == MDT_OK)
        rc = check_end(&v, r);
    r->count = v.count;
    r->bad_seq = v.bad_seq;
    r->anchor_seq = v.anchor_seq;
out:
    free(c.v);
    return rc;
}

mdt_rc mdt_audit_verify(mdt_store *store, int64_t *count, int64_t *bad_seq, mdt_err *err)
{
    mdt_audit_verify_result r;
    mdt_rc rc = mdt_audit_verify_full(store, NULL, &r, err);

    if (count)
        *count = r.count;
    if (bad_seq)
        *bad_seq = r.bad_seq;
    return rc;
}

/* --- export ---------------------------------------------------------------- */

typedef struct {
    FILE *out;               /* lines go here, or */
    mdt_buf *page;           /* here, up to max_events and max_bytes */
    size_t max_events, max_bytes, n;
    bool more;               /* the page stopped before the last event */
    mdt_buf line;
    int64_t last_seq;
    mdt_rc rc;
    mdt_err *err;
} xstate;

/* A body we wrote is a one-line object; anything else was tampered with. */
static bool body_spliceable(const char *body, size_t len)
{
    return len > 2 && body[0] == '{' && body[len - 1] == '}' && !memchr(body, '\n', len) &&
           !memchr(body, '\r', len);
}

static mdt_rc format_line(mdt_buf *b, const mdt_audit_rec *ev)
{
    const char *body = ev->body ? ev->body : "";
    size_t len = strlen(body);
    char ph[2 * MDT_HASH_LEN + 1], h[2 * MDT_HASH_LEN + 1];
    mdt_rc rc;

    mdt_hex_encode(ev->prev_hash, MDT_HASH_LEN, ph);
    mdt_hex_encode(ev->hash, MDT_HASH_LEN, h);
    mdt_buf_reset(b);
    if ((rc = mdt_buf_addf(b, "{\"seq\":%" PRId64 ",", ev->seq)) != MDT_OK)
        return rc;
    if (body_spliceable(body, len))
        rc = mdt_buf_add(b, body + 1, len - 2);
    else if ((rc = mdt_buf_adds(b, "\"body\":")) == MDT_OK)
        rc = mdt_buf_add_json_str(b, body);
    if (rc != MDT_OK)
        return rc;
    return mdt_buf_addf(b, ",\"prev_hash\":\"%s\",\"hash\":\"%s\"}\n", ph, h);
}

static bool export_one(const mdt_audit_rec *ev, void *ctx)
{
    xstate *x = ctx;
    mdt_rc rc = format_line(&x->line, ev);


    if (rc != MDT_OK) {
        x->rc = mdt_failf(x->err, rc, "audit export failed", "audit event %" PRId64 " too large", ev->seq);
        return false;
    }
    if (x->page) {
        if (x->n == x->max_events || x->page->len + x->line.len > x->max_bytes) {
            x->more = true;
            return false;
        }
        if ((rc = mdt_buf_add(x->page, x->line.data, x->line.len)) != MDT_OK) {
            x->rc = mdt_fail(x->err, rc, "audit export failed");
            return false;
        }
        x->n++;
    } else if (fwrite(x->line.data, 1, x->line.len, x->out) != x->line.len) {
        x->rc = mdt_failf(x->err, MDT_ERR_IO, "audit export failed", "write: %s", strerror(errno));
        return false;
    }
    x->last_seq = ev->seq;
    return true;
}

static mdt_rc export_filtered(mdt_store *store, xstate *x, const mdt_audit_filter *f)
{
    mdt_rc rc = f->client_id ? mdt_store_audit_each_client(store, f->client_id, f->after_seq,
                                                           f->since, export_one, x, x->err)
                             : mdt_store_audit_each(store, f->after_seq, f->since, export_one, x,
                                                    x->err);

    if (rc == MDT_OK)
        rc = x->rc;
    if (rc == MDT_OK && x->out && (fflush(x->out) != 0 || ferror(x->out)))
        rc = mdt_failf(x->err, MDT_ERR_IO, "audit export failed", "write: %s", strerror(errno));
    return rc;
}

static mdt_rc export_from(mdt_store *store, xstate *x, int64_t after_seq, int64_t since)
{
    mdt_audit_filter f = {.since = since, .after_seq = after_seq};

    return export_filtered(store, x, &f);
}

mdt_rc mdt_audit_export(mdt_store *store, const mdt_audit_filter *f, FILE *out, mdt_err *err)
{
    xstate x = {.out = out, .err = err};
    mdt_rc rc;

    mdt_buf_init(&x.line, LINE_MAX_BYTES);
    rc = export_filtered(store, &x, f);
    mdt_buf_free(&x.line);
    return rc;
}

mdt_rc mdt_audit_export_page(mdt_store *store, const mdt_audit_filter *f, size_t max_events,
                             size_t max_bytes, mdt_buf *out, int64_t *next_after, mdt_err *err)
{
    xstate x = {.page = out, .max_events = max_events, .max_bytes = max_bytes, .err = err,
                .last_seq = f->after_seq};
    mdt_rc rc;

    *next_after = 0;
    mdt_buf_init(&x.line, LINE_MAX_BYTES);
    rc = export_filtered(store, &x, f);
    mdt_buf_free(&x.line);
    if (rc == MDT_OK && x.more)
        *next_after = x.last_seq;
    return rc;
}

/* --- tail ------------------------------------------------------------------ */

/* Sleeps ms milliseconds in short steps, returning early once *stop is set. */
static void nap(volatile int *stop, int ms)
{
    for (int slept = 0; slept < ms && !*stop; slept += 50) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

mdt_rc mdt_audit_tail(mdt_store *store, size_t n, volatile int *stop, FILE *out, mdt_err *err)
{
    xstate x = {.out = out, .err = err};
    int64_t last = 0;
    mdt_rc rc;

    if ((rc = mdt_store_audit_last_seq(store, &last, err)) != MDT_OK)
        return rc;
    x.last_seq = (uint64_t)last > n ? last - (int64_t)n : 0;
    mdt_buf_init(&x.line, LINE_MAX_BYTES);
    for (;;) {
        if ((rc = export_from(store, &x, x.last_seq, 0)) != MDT_OK || *stop)
            break;
        nap(stop, MDT_AUDIT_TAIL_POLL_MS);
        if (*stop)
            break;
    }
    mdt_buf_free(&x.line);
    return rc;
}
