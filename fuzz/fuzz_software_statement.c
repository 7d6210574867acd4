/* Software statements (mdt_software_statement_verify) from one trusted
 * publisher, whose JWK Set (a fixed Ed25519 key, kid "fuzz") comes from an
 * in-memory fetcher, so nothing touches the network. The first byte picks
 * the input:
 *   even: the compact statement itself (as sent to /register);
 *   odd:  a claims payload, signed here with the publisher's key, so that
 *         the claim checks and filtering behind the signature are reached.
 * Oracles: a statement that verifies names the publisher, and its kept
 * claims are an object without the members a statement may never set. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "oauth/jwks_cache.h"
#include "oauth/software_statement.h"
#include "oauth/trust.h"

#define NOW 1800000000LL
#define PUB "https://publisher.example"
#define PUB_JWKS "https://publisher.example/jwks.json"

/* PKCS#8 of a fixed Ed25519 key: the seeds are signed with it. */
static const uint8_t key_der[48] = {
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60};

static mdt_env env;
static mdt_jwk *key;
static char jwks[1024];

static mdt_rc fetch(void *ctx, const char *url, mdt_buf *out, mdt_err *err)
{
    (void)ctx;
    if (strcmp(url, PUB_JWKS) != 0)
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, "unexpected URL");
    return mdt_buf_adds(out, jwks);
}

static void cleanup(void)
{
    mdt_trust_free(env.trust);
    mdt_jwks_cache_free(env.jwks);
    mdt_jwk_free(key);
}

static void init(void)
{
    static const char publishers[] = "[{\"issuer\":\"" PUB "\",\"jwks_uri\":\"" PUB_JWKS "\"}]";
    mdt_jwks_cache_opts o = {.ttl = 300, .refetch_interval = 30, .fetch = {.max_bytes = 65536},
                             .fetch_fn = fetch};
    mdt_config cfg = {0};
    mdt_buf b;
    mdt_err err;

    cfg.issuer = (char *)"https://as.example.com";
    mdt_buf_init(&b, sizeof(jwks) - 1);
    if (mdt_jwk_import_private(MDT_ALG_EDDSA, "fuzz", key_der, sizeof(key_der), &key, &err) ||
        mdt_buf_adds(&b, "{\"keys\":[") || mdt_jwk_public_json(key, &b, &err) ||
        mdt_buf_adds(&b, "]}") || mdt_trust_new(&env.trust, &err) ||
        mdt_trust_add(env.trust, MDT_TRUST_SOFTWARE_STATEMENT, publishers, strlen(publishers),
                      "publishers.json", &cfg, &err) ||
        mdt_jwks_cache_new(&o, &env.jwks, &err))
        abort();
    memcpy(jwks, b.data, b.len);
    mdt_buf_free(&b);
    atexit(cleanup);
}

static void verify(const char *jwt, mdt_arena *a)
{
    static const char *const never[] = {"iss", "sub", "aud", "iat", "exp", "nbf", "jti",
                                        "client_id", "client_secret", "status",
                                        "software_statement", "registration_access_token"};
    const char *claims = NULL, *issuer = NULL;
    json_t *c;
    mdt_err err;

    if (mdt_software_statement_verify(&env, jwt, NOW, a, &claims, &issuer, &err) != MDT_OK) {
        if (claims || issuer || err.rc == MDT_OK)
            __builtin_trap();
        return;
    }
    if (!issuer || strcmp(issuer, PUB) != 0 || !(c = json_loads(claims, 0, NULL)) ||
        !json_is_object(c))
        __builtin_trap();
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        if (json_object_get(c, never[i]))
            __builtin_trap(); /* a member a statement may never set */
    json_decref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mdt_arena a;
    mdt_buf jwt;
    mdt_err err;

    if (size == 0)
        return 0;
    if (!key)
        init();
    mdt_arena_init(&a, 4096);
    mdt_buf_init(&jwt, 2 * MDT_SOFTWARE_STATEMENT_MAX);
    if ((data[0] & 1) == 0) {
        if (mdt_buf_add(&jwt, data + 1, size - 1) == MDT_OK && mdt_buf_add(&jwt, "", 1) == MDT_OK)
            verify(jwt.data, &a);
    } else if (mdt_jws_sign(key, "JWT", (const char *)data + 1, size - 1, &jwt, &err) == MDT_OK &&
               mdt_buf_add(&jwt, "", 1) == MDT_OK) {
        verify(jwt.data, &a);
    }
    mdt_buf_free(&jwt);
    mdt_arena_free(&a);
    return 0;
}
