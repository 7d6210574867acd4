#include "core/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mdt_arena_chunk {
    mdt_arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void mdt_arena_init(mdt_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 8192;
}

static mdt_arena_chunk *chunk_new(size_t size)
{
    mdt_arena_chunk *c;

    if (size > SIZE_MAX - sizeof(*c))
        return NULL;
    c = malloc(sizeof(*c) + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

/* n bytes, not zeroed */
static void *bump(mdt_arena *a, size_t n)
{
    mdt_arena_chunk *c = a->head;
    size_t need = (n + 15) & ~(size_t)15;

    if (need < n)
        return NULL;
    if (!c || c->size - c->used < need) {
        size_t size = need > a->chunk_size ? need : a->chunk_size;
        mdt_arena_chunk *nc = chunk_new(size);
        if (!nc)
            return NULL;
        if (c && need > a->chunk_size) {
            /* a big one-off: keep the current chunk at the head */
            nc->next = c->next;
            c->next = nc;
            nc->used = need;
            return nc->data;
        }
        nc->next = c;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

void *mdt_arena_alloc(mdt_arena *a, size_t n)
{
    void *p = bump(a, n);

    if (p)
        memset(p, 0, n);
    return p;
}

char *mdt_arena_strndup(mdt_arena *a, const char *s, size_t n)
{
    char *p;
    if (!s)
        return NULL;
    n = strnlen(s, n); /* like strndup: never read past the string's end */
    p = bump(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *mdt_arena_strdup(mdt_arena *a, const char *s)
{
    size_t n;
    char *p;

    if (!s)
        return NULL;
    n = strlen(s);
    if ((p = bump(a, n + 1)))
        memcpy(p, s, n + 1);
    return p;
}

char *mdt_arena_printf(mdt_arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    p = mdt_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void mdt_arena_reset(mdt_arena *a)
{
    mdt_arena_chunk *c = a->head, *keep = NULL;

    while (c) {
        mdt_arena_chunk *next = c->next;
        if (!next && c->size == a->chunk_size) {
            keep = c;
            break;
        }
        free(c);
        c = next;
    }
    if (keep)
        keep->used = 0;
    a->head = keep;
}

void mdt_arena_free(mdt_arena *a)
{
    mdt_arena_chunk *c = a->head;
    while (c) {
        mdt_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}
