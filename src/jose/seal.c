#include "jose/seal.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONCE_LEN 12
#define TAG_LEN 16

/* Fetched once per process: OpenSSL 3 fetches by name are slow on a hot path.
 * Fetched algorithms are immutable and safe to share between threads. */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *g_gcm;

static void fetch_algs(void)
{
    g_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static const EVP_CIPHER *gcm(void)
{
    pthread_once(&fetch_once, fetch_algs);
    return g_gcm;
}

static mdt_rc gcm_run(EVP_CIPHER_CTX *c, const uint8_t *aad, size_t aadlen, const uint8_t *in,
                      size_t n, uint8_t *out)
{
    int outl = 0;

    if (n > INT32_MAX || aadlen > INT32_MAX)
        return MDT_ERR_TOO_LARGE;
    if (aadlen && !EVP_CipherUpdate(c, NULL, &outl, aad, (int)aadlen))
        return MDT_ERR_CRYPTO;
    if (n && !EVP_CipherUpdate(c, out, &outl, in, (int)n))
        return MDT_ERR_CRYPTO;
    return MDT_OK;
}

mdt_rc mdt_seal(const uint8_t key[MDT_MASTER_KEY_LEN], const uint8_t *aad, size_t aadlen,
                const uint8_t *pt, size_t n, uint8_t **out, size_t *outlen, mdt_err *err)
{
    mdt_rc rc = MDT_ERR_CRYPTO;
    EVP_CIPHER_CTX *c = NULL;
    uint8_t *o = NULL;
    int fl = 0;

    *out = NULL;
    *outlen = 0;
    if (n > SIZE_MAX - MDT_SEAL_OVERHEAD || n > INT32_MAX)
        return mdt_fail(err, MDT_ERR_TOO_LARGE, "plaintext too large");
    if (!(o = malloc(n + MDT_SEAL_OVERHEAD)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    o[0] = MDT_SEAL_VERSION;
    c = EVP_CIPHER_CTX_new();
    if (!gcm() || !c || RAND_bytes(o + 1, NONCE_LEN) != 1 ||
        !EVP_EncryptInit_ex2(c, gcm(), key, o + 1, NULL) ||
        gcm_run(c, aad, aadlen, pt, n, o + 1 + NONCE_LEN) != MDT_OK ||
        !EVP_EncryptFinal_ex(c, o + 1 + NONCE_LEN + n, &fl) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, o + 1 + NONCE_LEN + n)) {
        mdt_fail_openssl(err, "seal");
        goto out;
    }
    *out = o;
    *outlen = n + MDT_SEAL_OVERHEAD;
    o = NULL;
    rc = MDT_OK;
out:
    EVP_CIPHER_CTX_free(c);
    if (o) {
        mdt_wipe(o, n + MDT_SEAL_OVERHEAD);
        free(o);
    }
    return rc;
}

mdt_rc mdt_unseal(const uint8_t key[MDT_MASTER_KEY_LEN], const uint8_t *aad, size_t aadlen,
                  const uint8_t *in, size_t n, uint8_t **out, size_t *outlen, mdt_err *err)
{
    mdt_rc rc = MDT_ERR_CRYPTO;
    EVP_CIPHER_CTX *c = NULL;
    uint8_t *o = NULL, tag[TAG_LEN];
    size_t ctlen;
    int fl = 0;

    *out = NULL;
    *outlen = 0;
    if (n < MDT_SEAL_OVERHEAD || in[0] != MDT_SEAL_VERSION)
        return mdt_fail(err, MDT_ERR_VERIFY, "sealed data malformed");
    ctlen = n - MDT_SEAL_OVERHEAD;
    if (!(o = malloc(ctlen ? ctlen : 1)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    memcpy(tag, in + n - TAG_LEN, TAG_LEN);
    c = EVP_CIPHER_CTX_new();
    if (!gcm() || !c || !EVP_DecryptInit_ex2(c, gcm(), key, in + 1, NULL) ||
        gcm_run(c, aad, aadlen, in + 1 + NONCE_LEN, ctlen, o) != MDT_OK ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag)) {
        mdt_fail_openssl(err, "unseal");
        goto out;
    }
    if (EVP_DecryptFinal_ex(c, o + ctlen, &fl) != 1) {
        ERR_clear_error();
        rc = mdt_fail(err, MDT_ERR_VERIFY, "sealed data does not verify");
        goto out;
    }
    *out = o;
    *outlen = ctlen;
    o = NULL;
    rc = MDT_OK;
out:
    EVP_CIPHER_CTX_free(c);
    if (o) {
        mdt_wipe(o, ctlen ? ctlen : 1);
        free(o);
    }
    return rc;
}
