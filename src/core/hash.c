#include "core/hash.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *g_sha256;
static pthread_key_t g_ctx_key;   /* each thread's digest context, reused */
static int g_ctx_key_ok;

static void free_ctx(void *p) { EVP_MD_CTX_free(p); }

static void fetch_sha256(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    g_ctx_key_ok = pthread_key_create(&g_ctx_key, free_ctx) == 0;
}

/* The calling thread's context, made on its first hash; NULL when out of
 * memory (the caller then hashes with a context of its own). */
static EVP_MD_CTX *thread_ctx(void)
{
    EVP_MD_CTX *m;

    if (!g_ctx_key_ok)
        return NULL;
    if ((m = pthread_getspecific(g_ctx_key)))
        return m;
    if ((m = EVP_MD_CTX_new()) && pthread_setspecific(g_ctx_key, m) != 0) {
        EVP_MD_CTX_free(m);
        m = NULL;
    }
    return m;
}

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
    else if ((m = thread_ctx()))
        ok = EVP_DigestInit_ex2(m, g_sha256, NULL) && EVP_DigestUpdate(m, p, n) &&
             EVP_DigestFinal_ex(m, out, NULL);
    else
        ok = EVP_Digest(p, n, out, NULL, g_sha256, NULL);
    if (!ok)
        unavailable();
}
