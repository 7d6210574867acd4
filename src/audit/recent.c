/* The newest events of the audit log, newest first (audit.h,
 * mdt_audit_recent): for the console's audit page and an application's
 * recent decisions. The store reads forward from a seq, so the log is read
 * in windows of seq walking back from the newest: each window is one
 * forward read that stops at the window's top, and the windows double in
 * size until n events are found, the log's start or `since` is reached, or
 * max_scan seqs were covered. */
#include <string.h>

#include "audit/audit.h"
#include "core/arena.h"

typedef struct {
    const mdt_audit_recent_filter *f;
    int64_t top;      /* stop at this seq */
    mdt_arena *a;
    mdt_audit_rec *evs; /* the window's matching events, oldest first */
    size_t n, cap;
    bool nomem;
} window;

static bool take(const mdt_audit_rec *ev, void *ctx)
{
    window *w = ctx;
    const char *p = w->f->type_prefix;
    mdt_audit_rec *r;

    if (ev->seq >= w->top)
        return false;
    if (p && *p && strncmp(ev->type ? ev->type : "", p, strlen(p)) != 0)
        return true;
    if (w->n == w->cap)
        return true; /* cannot happen: the window holds at most cap seqs */
    r = &w->evs[w->n];
    r->seq = ev->seq;
    r->time = ev->time;
    r->type = mdt_arena_strdup(w->a, ev->type ? ev->type : "");
    r->body = mdt_arena_strdup(w->a, ev->body ? ev->body : "{}");
    r->client_id = ev->client_id ? mdt_arena_strdup(w->a, ev->client_id) : NULL;
    if (!r->type || !r->body || (ev->client_id && !r->client_id)) {
        w->nomem = true;
        return false;
    }
    w->n++;
    return true;
}

mdt_rc mdt_audit_recent(mdt_store *store, const mdt_audit_recent_filter *f, size_t n,
                        int64_t max_scan, mdt_arena *a, mdt_audit_rec **out, size_t *nout,
                        int64_t *next_before, mdt_err *err)
{
    int64_t top, last = 0, scanned = 0, size = n * 2 > 64 ? (int64_t)n * 2 : 64;
    bool done = false;
    mdt_rc rc = MDT_OK;

    *out = NULL;
    *nout = 0;
    *next_before = 0;
    if (n == 0 || max_scan <= 0)
        return MDT_OK;
    if (!(*out = mdt_arena_alloc(a, n * sizeof(**out))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (f->before_seq > 0) {
        top = f->before_seq;
    } else {
        if ((rc = mdt_store_audit_last_seq(store, &last, err)) != MDT_OK)
            return rc;
        top = last + 1;
    }
    while (!done && top > 1 && *nout < n && scanned < max_scan) {
        int64_t span = size < max_scan - scanned ? size : max_scan - scanned;
        int64_t lo = top - 1 - span > 0 ? top - 1 - span : 0;
        window w = {.f = f, .top = top, .a = a, .cap = (size_t)(top - 1 - lo)};

        if (!(w.evs = mdt_arena_alloc(a, w.cap * sizeof(*w.evs))))
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        rc = f->client_id ? mdt_store_audit_each_client(store, f->client_id, lo, 0, take, &w, err)
                          : mdt_store_audit_each(store, lo, 0, take, &w, err);
        if (rc != MDT_OK)
            return rc;
        if (w.nomem)
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        for (size_t i = w.n; i-- > 0 && *nout < n;) {
            if (f->since && w.evs[i].time < f->since) {
                done = true;
                break;
            }
            (*out)[(*nout)++] = w.evs[i];
        }
        scanned += top - 1 - lo;
        top = lo + 1;
        size *= 2;
    }
    if (*nout == n)
        *next_before = (*out)[n - 1].seq > 1 ? (*out)[n - 1].seq : 0;
    else if (!done && top > 1)
        *next_before = top;
    return MDT_OK;
}
