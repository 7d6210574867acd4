/* Cedar values: equality (sets compare as sets, records by their keys,
 * values of different types are never equal), record lookup, uid hashing. */
#include "policy/cedar/internal.h"

#include <stdlib.h>
#include <string.h>

int cd_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);

    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t cd_uid_hash(const char *type, size_t tlen, const char *id, size_t ilen)
{
    uint64_t h = fnv(0xcbf29ce484222325ULL, type, tlen);

    h = fnv(h ^ 0xff, id, ilen);
    return h ^ (h >> 29);
}

bool cd_uid_eq(const cd_uid *a, const cd_uid *b)
{
    if (a == b)
        return true;
    return a->hash == b->hash && a->tlen == b->tlen && a->ilen == b->ilen &&
           memcmp(a->type, b->type, a->tlen) == 0 && memcmp(a->id, b->id, a->ilen) == 0;
}

uint64_t cd_val_hash(const cd_val *v)
{
    uint64_t h;

    switch ((cd_kind)v->k) {
    case CD_BOOL:
        return 0x9e3779b97f4a7c15ULL ^ v->u.b;
    case CD_LONG:
        h = (uint64_t)v->u.l * 0xff51afd7ed558ccdULL;
        return h ^ (h >> 33);
    case CD_STR:
        return fnv(0xcbf29ce484222325ULL, v->u.s, v->len);
    case CD_ENT:
        return v->u.e->hash;
    case CD_SET: /* equal sets may differ in order and repeats */
        return 0x5e75e75e75e75e7ULL;
    case CD_REC:
        h = 0x7ec07ec07ec07ecULL ^ v->u.rec->n;
        for (size_t i = 0; i < v->u.rec->n; i++)
            h = fnv(h, v->u.rec->keys[i], v->u.rec->klens[i]);
        return h;
    }
    return 0;
}

static bool set_has(const cd_set *s, const cd_val *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (cd_val_eq(&s->v[i], v))
            return true;
    return false;
}

static bool set_subset(const cd_set *a, const cd_set *b)
{
    for (size_t i = 0; i < a->n; i++)
        if (!set_has(b, &a->v[i]))
            return false;
    return true;
}

bool cd_val_eq(const cd_val *a, const cd_val *b)
{
    if (a->k != b->k)
        return false;
    switch ((cd_kind)a->k) {
    case CD_BOOL:
        return a->u.b == b->u.b;
    case CD_LONG:
        return a->u.l == b->u.l;
    case CD_STR:
        return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
    case CD_ENT:
        return cd_uid_eq(a->u.e, b->u.e);
    case CD_SET:
        return a->u.set == b->u.set ||
               (set_subset(a->u.set, b->u.set) && set_subset(b->u.set, a->u.set));
    case CD_REC: {
        const mdt_cedar_record *x = a->u.rec, *y = b->u.rec;
        if (x == y)
            return true;
        if (x->n != y->n)
            return false;
        for (size_t i = 0; i < x->n; i++)
            if (x->klens[i] != y->klens[i] || memcmp(x->keys[i], y->keys[i], x->klens[i]) != 0 ||
                !cd_val_eq(&x->vals[i], &y->vals[i]))
                return false;
        return true;
    }
    }
    return false;
}

const cd_val *cd_rec_get(const mdt_cedar_record *r, const char *key, size_t len)
{
    size_t lo = 0, hi = r ? r->n : 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cd_key_cmp(r->keys[mid], r->klens[mid], key, len);
        if (c == 0)
            return &r->vals[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

typedef struct {
    const char *k;
    uint32_t kl;
    cd_val v;
} kv;

static int kv_cmp(const void *x, const void *y)
{
    const kv *a = x, *b = y;
    return cd_key_cmp(a->k, a->kl, b->k, b->kl);
}

bool cd_rec_sort(const char **keys, uint32_t *klens, cd_val *vals, size_t n, size_t *dup,
                 bool *nomem)
{
    kv *t;

    *nomem = false;
    if (n < 2)
        return true;
    t = malloc(n * sizeof(*t));
    if (!t) {
        *nomem = true;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        t[i] = (kv){keys[i], klens[i], vals[i]};
    qsort(t, n, sizeof(*t), kv_cmp);
    for (size_t i = 0; i < n; i++) {
        keys[i] = t[i].k;
        klens[i] = t[i].kl;
        vals[i] = t[i].v;
    }
    free(t);
    for (size_t i = 1; i < n; i++)
        if (cd_key_cmp(keys[i - 1], klens[i - 1], keys[i], klens[i]) == 0) {
            if (dup)
                *dup = i;
            return false;
        }
    return true;
}
