/* The per-thread JWK cache (see jwk_cache.h). Each thread owns its table, so
 * nothing here takes a lock, and a borrowed key stays valid until its own
 * thread asks again. Keys are immutable once made (jwk.c), so a cached one
 * verifies exactly as a fresh import of the same text would. */
#include "jose/jwk_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/thread_local.h"

typedef struct {
    uint8_t digest[MDT_SHA256_LEN]; /* SHA-256 of the JWK text */
    mdt_alg rsa_alg;
    mdt_jwk *key; /* NULL: free */
    uint64_t used;
} entry;

typedef struct {
    entry e[MDT_JWK_CACHE_SLOTS];
    uint64_t tick;
    size_t count;
} table;

static void *table_make(void) { return calloc(1, sizeof(table)); }

static void table_free(void *p)
{
    table *t = p;

    if (!t)
        return;
    for (size_t i = 0; i < MDT_JWK_CACHE_SLOTS; i++)
        mdt_jwk_free(t->e[i].key);
    free(t);
}

static mdt_thread_local tables = MDT_THREAD_LOCAL(table_make, table_free);

/* The entry of (digest, rsa_alg), else the slot a new one goes to: a free
 * one, else the least recently used. */
static entry *slot(table *t, const uint8_t digest[MDT_SHA256_LEN], mdt_alg rsa_alg, bool *hit)
{
    entry *victim = &t->e[0];

    *hit = false;
    for (size_t i = 0; i < MDT_JWK_CACHE_SLOTS; i++) {
        entry *e = &t->e[i];
        if (e->key && e->rsa_alg == rsa_alg && memcmp(e->digest, digest, MDT_SHA256_LEN) == 0) {
            *hit = true;
            return e;
        }
        if (victim->key && (!e->key || e->used < victim->used))
            victim = e;
    }
    return victim;
}

mdt_rc mdt_jwk_cache_get(const char *json, size_t len, mdt_alg rsa_alg, const mdt_jwk **out,
                         mdt_err *err)
{
    uint8_t digest[MDT_SHA256_LEN];
    table *t = mdt_thread_local_get(&tables);
    mdt_jwk *key = NULL;
    entry *e;
    bool hit;
    mdt_rc rc;

    *out = NULL;
    if (!t)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    mdt_sha256(json, len, digest);
    e = slot(t, digest, rsa_alg, &hit);
    if (!hit) {
        if ((rc = mdt_jwk_from_json_rsa(json, len, rsa_alg, &key, err)) != MDT_OK)
            return rc;
        if (e->key)
            mdt_jwk_free(e->key);
        else
            t->count++;
        memcpy(e->digest, digest, sizeof(digest));
        e->rsa_alg = rsa_alg;
        e->key = key;
    }
    e->used = ++t->tick;
    *out = e->key;
    return MDT_OK;
}

size_t mdt_jwk_cache_count(void)
{
    table *t = mdt_thread_local_peek(&tables);
    return t ? t->count : 0;
}

void mdt_jwk_cache_clear(void)
{
    mdt_thread_local_drop(&tables);
}
