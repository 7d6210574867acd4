/* Reading the audit log: chain verification, NDJSON export and tail.
 * The construction being checked is documented at the top of audit.c. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "core/buf.h"

#define LINE_MAX_BYTES ((size_t)1 << 20)

/* --- verify ---------------------------------------------------------------- */

typedef struct {
    int64_t next_seq;
    uint8_t prev[MDT_HASH_LEN];
    int64_t count;
    int64_t bad_seq;
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

static bool verify_one(const mdt_audit_rec *ev, void *ctx)
{
    vstate *v = ctx;
    uint8_t h[MDT_HASH_LEN];

    if (ev->seq != v->next_seq)
        return broken(v, ev->seq, ev->seq > v->next_seq ? "events missing before it" : "out of sequence");
    if (memcmp(ev->prev_hash, v->prev, MDT_HASH_LEN) != 0)
        return broken(v, ev->seq, "prev_hash is not the previous event's hash");
    if ((v->rc = mdt_audit_hash(ev, h, v->err)) != MDT_OK)
        return false;
    if (memcmp(h, ev->hash, MDT_HASH_LEN) != 0)
        return broken(v, ev->seq, "hash does not match its contents");
    memcpy(v->prev, ev->hash, MDT_HASH_LEN);
    v->next_seq++;
    v->count++;
    return true;
}

mdt_rc mdt_audit_verify(mdt_store *store, int64_t *count, int64_t *bad_seq, mdt_err *err)
{
    vstate v = {.next_seq = 1, .err = err};
    mdt_rc rc = mdt_store_audit_each(store, 0, 0, verify_one, &v, err);

    if (rc == MDT_OK)
        rc = v.rc;
    if (count)
        *count = v.count;
    if (bad_seq)
        *bad_seq = v.bad_seq;
    return rc;
}

/* --- export ---------------------------------------------------------------- */

typedef struct {
    FILE *out;
    mdt_buf line;
    int64_t last_seq;
    mdt_rc rc;
    mdt_err *err;
} xstate;

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

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

    to_hex(ev->prev_hash, MDT_HASH_LEN, ph);
    to_hex(ev->hash, MDT_HASH_LEN, h);
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
    if (fwrite(x->line.data, 1, x->line.len, x->out) != x->line.len) {
        x->rc = mdt_failf(x->err, MDT_ERR_IO, "audit export failed", "write: %s", strerror(errno));
        return false;
    }
    x->last_seq = ev->seq;
    return true;
}

static mdt_rc export_from(mdt_store *store, xstate *x, int64_t after_seq, int64_t since)
{
    mdt_rc rc = mdt_store_audit_each(store, after_seq, since, export_one, x, x->err);

    if (rc == MDT_OK)
        rc = x->rc;
    if (rc == MDT_OK && (fflush(x->out) != 0 || ferror(x->out)))
        rc = mdt_failf(x->err, MDT_ERR_IO, "audit export failed", "write: %s", strerror(errno));
    return rc;
}

mdt_rc mdt_audit_export(mdt_store *store, int64_t since, FILE *out, mdt_err *err)
{
    xstate x = {.out = out, .err = err};
    mdt_rc rc;

    mdt_buf_init(&x.line, LINE_MAX_BYTES);
    rc = export_from(store, &x, 0, since);
    mdt_buf_free(&x.line);
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
