#include "core/hash.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "core/thread_local.h"

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *g_sha256;

static void fetch_sha256(void) { g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL); }

static void *ctx_make(void) { return EVP_MD_CTX_new(); }
static void ctx_free(void *p) { EVP_MD_CTX_free(p); }

/* Each thread's digest context, reused: made on its first hash. When there
 * is none (out of memory), the caller hashes with a context of its own. */
static mdt_thread_local g_ctx = MDT_THREAD_LOCAL(ctx_make, ctx_free);

static void unavailable(void)
{
    fputs("mandate: SHA-256 unavailable\n", stderr);
    abort();
}

const struct evp_md_st *mdt_sha256_md(void)
{
    pthread_once(&fetch_once, fetch_sha256);
    if (!g_sha256)
        unavailable();
    return g_sha256;
}

void mdt_sha256(const void *p, size_t n, uint8_t out[MDT_SHA256_LEN])
{
    EVP_MD_CTX *m;
    int ok;

    pthread_once(&fetch_once, fetch_sha256);
    if (!g_sha256)
        ok = 0;
    else if ((m = mdt_thread_local_get(&g_ctx)))
        ok = EVP_DigestInit_ex2(m, g_sha256, NULL) && EVP_DigestUpdate(m, p, n) &&
             EVP_DigestFinal_ex(m, out, NULL);
    else
        ok = EVP_Digest(p, n, out, NULL, g_sha256, NULL);
    if (!ok)
        unavailable();
}
