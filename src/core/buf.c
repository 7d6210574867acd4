#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mdt_buf_init(mdt_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : (size_t)16 << 20;
    if (b->max > SIZE_MAX / 2) /* keeps len + n + 1 and the doubling from overflowing */
        b->max = SIZE_MAX / 2;
}

static mdt_rc grow(mdt_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (extra > b->max || b->len > b->max - extra)
        return MDT_ERR_TOO_LARGE;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return MDT_OK;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    p = realloc(b->data, cap);
    if (!p)
        return MDT_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return MDT_OK;
}

mdt_rc mdt_buf_add(mdt_buf *b, const void *p, size_t n)
{
    mdt_rc rc = grow(b, n);
    if (rc != MDT_OK)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MDT_OK;
}

mdt_rc mdt_buf_adds(mdt_buf *b, const char *s)
{
    return mdt_buf_add(b, s, strlen(s));
}

mdt_rc mdt_buf_add_i64(mdt_buf *b, long long v)
{
    char d[24], *p = d + sizeof(d);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10));
    if (v < 0)
        *--p = '-';
    return mdt_buf_add(b, p, (size_t)(d + sizeof(d) - p));
}

mdt_rc mdt_buf_reserve(mdt_buf *b, size_t n)
{
    mdt_rc rc = grow(b, n);

    if (rc == MDT_OK)
        b->data[b->len] = '\0'; /* a first allocation is terminated too */
    return rc;
}

/* One pass when the text fits the spare capacity (the usual case), a
 * second one after growing only when it did not. */
mdt_rc mdt_buf_addf(mdt_buf *b, const char *fmt, ...)
{
    va_list ap;
    size_t room = b->data ? b->cap - b->len : 0;
    int n;
    mdt_rc rc;

    va_start(ap, fmt);
    n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (room)
            b->data[b->len] = '\0';
        return MDT_ERR_INTERNAL;
    }
    if ((size_t)n < room) { /* within cap, hence within max */
        b->len += (size_t)n;
        return MDT_OK;
    }
    if (room)
        b->data[b->len] = '\0'; /* all or nothing: the partial text is cut off */
    if ((rc = grow(b, (size_t)n)) != MDT_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return MDT_OK;
}

static mdt_rc add_json_str(mdt_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p;
    mdt_rc rc;

    if ((rc = mdt_buf_add(b, "\"", 1)) != MDT_OK)
        return rc;
    for (; *p; p++) {
        char esc[6];
        size_t elen = 0;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            elen = 2;
        } else if (*p < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 15];
            elen = 6;
        } else {
            continue;
        }
        if ((rc = mdt_buf_add(b, run, (size_t)(p - run))) != MDT_OK ||
            (rc = mdt_buf_add(b, esc, elen)) != MDT_OK)
            return rc;
        run = p + 1;
    }
    if ((rc = mdt_buf_add(b, run, (size_t)(p - run))) != MDT_OK)
        return rc;
    return mdt_buf_add(b, "\"", 1);
}

/* All or nothing: on failure the buffer keeps its previous content. */
mdt_rc mdt_buf_add_json_str(mdt_buf *b, const char *s)
{
    size_t len = b->len;
    mdt_rc rc = add_json_str(b, s);

    if (rc != MDT_OK) {
        b->len = len;
        if (b->data)
            b->data[len] = '\0';
    }
    return rc;
}

void mdt_buf_reset(mdt_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *mdt_buf_take(mdt_buf *b)
{
    char *p = b->data;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void mdt_buf_free(mdt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void mdt_buf_free_wipe(mdt_buf *b)
{
    mdt_wipe(b->data, b->cap);
    mdt_buf_free(b);
}
