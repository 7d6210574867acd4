#include "core/hash.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MD *g_sha256;

static void fetch_sha256(void) { g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL); }

void mdt_sha256(const void *p, size_t n, uint8_t out[MDT_SHA256_LEN])
{
    pthread_once(&fetch_once, fetch_sha256);
    if (!g_sha256 || !EVP_Digest(p, n, out, NULL, g_sha256, NULL)) {
        fputs("mandate: SHA-256 unavailable\n", stderr);
        abort();
    }
}
