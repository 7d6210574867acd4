#include "http/access_log.h"

#include <string.h>

#include "core/clock.h"

const char *mdt_time_text_get(mdt_time_text *t, int64_t sec)
{
    if (!t->valid || t->sec != sec) {
        mdt_time_format(sec, t->text);
        t->sec = sec;
        t->valid = true;
    }
    return t->text;
}

/* Decimal digits of v, right-aligned in out; returns where they start. */
static char *udec(uint64_t v, char *end)
{
    char *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

static mdt_rc add_int(mdt_buf *b, int v)
{
    char d[24], *end = d + sizeof(d), *p;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)(int64_t)v : (uint64_t)v;

    p = udec(u, end);
    if (v < 0)
        *--p = '-';
    return mdt_buf_add(b, p, (size_t)(end - p));
}

/* ms with three decimals, as "%.3f" writes it (to the microsecond). */
static mdt_rc add_ms(mdt_buf *b, double ms)
{
    char d[40], *end = d + sizeof(d), *p;
    bool neg = ms < 0;
    uint64_t us;

    if (neg)
        ms = -ms;
    if (ms != ms) /* NaN */
        ms = 0;
    else if (ms > 1e12) /* a clock that jumped by decades */
        ms = 1e12;
    us = (uint64_t)(ms * 1000.0 + 0.5);
    p = udec(us % 1000 + 1000, end); /* "1ddd": the three decimals, zero-padded */
    *p = '.';
    p = udec(us / 1000, p);
    if (neg)
        *--p = '-';
    return mdt_buf_add(b, p, (size_t)(end - p));
}

static mdt_rc add_raw(mdt_buf *b, const char *s, size_t n) { return mdt_buf_add(b, s, n); }

#define ADD_LIT(b, s) add_raw((b), (s), sizeof(s) - 1)

mdt_rc mdt_access_log_format(mdt_buf *b, mdt_time_text *t, const mdt_access_entry *e)
{
    mdt_rc rc;

    mdt_buf_reset(b);
    if ((rc = ADD_LIT(b, "{\"time\":\"")) != MDT_OK ||
        (rc = add_raw(b, mdt_time_text_get(t, (int64_t)e->now), 20)) != MDT_OK ||
        (rc = ADD_LIT(b, "\",\"level\":\"info\",\"type\":\"access\",\"request_id\":\"")) !=
            MDT_OK ||
        (rc = mdt_buf_adds(b, e->request_id)) != MDT_OK ||
        (rc = ADD_LIT(b, "\",\"ip\":\"")) != MDT_OK || (rc = mdt_buf_adds(b, e->ip)) != MDT_OK ||
        (rc = ADD_LIT(b, "\",\"method\":")) != MDT_OK ||
        (rc = mdt_buf_add_json_str(b, e->method ? e->method : "")) != MDT_OK ||
        (rc = ADD_LIT(b, ",\"path\":")) != MDT_OK ||
        (rc = mdt_buf_add_json_str(b, e->path ? e->path : "")) != MDT_OK ||
        (rc = ADD_LIT(b, ",\"status\":")) != MDT_OK || (rc = add_int(b, e->status)) != MDT_OK ||
        (rc = ADD_LIT(b, ",\"ms\":")) != MDT_OK ||
        (rc = add_ms(b, (e->now - e->t0) * 1000.0)) != MDT_OK)
        goto out;
    if (strcmp(e->ip, e->peer) != 0 &&
        ((rc = ADD_LIT(b, ",\"peer\":\"")) != MDT_OK || (rc = mdt_buf_adds(b, e->peer)) != MDT_OK ||
         (rc = ADD_LIT(b, "\"")) != MDT_OK))
        goto out;
    if (e->client_id && ((rc = ADD_LIT(b, ",\"client_id\":")) != MDT_OK ||
                         (rc = mdt_buf_add_json_str(b, e->client_id)) != MDT_OK))
        goto out;
    if (e->fault && e->fault[0] && ((rc = ADD_LIT(b, ",\"fault\":")) != MDT_OK ||
                                    (rc = mdt_buf_add_json_str(b, e->fault)) != MDT_OK))
        goto out;
    rc = ADD_LIT(b, "}\n");
out:
    if (rc != MDT_OK)
        mdt_buf_reset(b);
    return rc;
}
