/* JOSE: keys, JWS compact sign/parse/verify, sealing at rest. */
#define _GNU_SOURCE
#include "unit.h"

#include <openssl/evp.h>
#include <pthread.h>

#include "core/b64.h"
#include "core/buf.h"
#include "core/hash.h"
#include "jose/jwk.h"
#include "jose/jwk_cache.h"
#include "jose/jws.h"
#include "jose/seal.h"

static const mdt_alg all_algs[] = {MDT_ALG_ES256, MDT_ALG_RS256, MDT_ALG_PS256, MDT_ALG_EDDSA};

/* RSA keys are slow to make: one per RSA alg, shared by the tests. */
static mdt_jwk *keys[5];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_algs); i++)
        if (mdt_jwk_generate(all_algs[i], &keys[all_algs[i]], NULL) != MDT_OK)
            return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(keys); i++)
        mdt_jwk_free(keys[i]);
    return 0;
}

static const char payload[] = "{\"sub\":\"alice\",\"scope\":\"read write\",\"n\":12345}";

static char *sign(const mdt_jwk *k, const char *typ)
{
    mdt_buf b;
    mdt_err err = {0};

    mdt_buf_init(&b, 64 * 1024);
    assert_int_equal(mdt_jws_sign(k, typ, payload, strlen(payload), &b, &err), MDT_OK);
    return mdt_buf_take(&b);
}

static mdt_rc parse_verify(const char *tok, const mdt_jwk *k)
{
    mdt_jws *j = NULL;
    mdt_rc rc = mdt_jws_parse(tok, strlen(tok), 64 * 1024, &j, NULL);

    if (rc == MDT_OK)
        rc = mdt_jws_verify(j, k, NULL);
    mdt_jws_free(j);
    return rc;
}

/* Decoded protected header of a compact token. */
static char *header_of(const char *tok)
{
    size_t n = (size_t)(strchr(tok, '.') - tok), len = 0;
    char *out = calloc(1, n + 1);

    assert_int_equal(mdt_b64url_decode(tok, n, (uint8_t *)out, n, &len), MDT_OK);
    return out;
}

static void test_alg_names(void **state)
{
    mdt_alg a;
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_algs); i++) {
        assert_int_equal(mdt_alg_parse(mdt_alg_name(all_algs[i]), &a), MDT_OK);
        assert_int_equal(a, all_algs[i]);
    }
    assert_string_equal(mdt_alg_name(MDT_ALG_EDDSA), "EdDSA");
    assert_string_equal(mdt_alg_name(MDT_ALG_PS256), "PS256");
    const char *bad[] = {"none", "HS256", "HS512", "es256", "EDDSA", "ES256 ", "", "RS384"};
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++)
        assert_int_equal(mdt_alg_parse(bad[i], &a), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_alg_parse(NULL, &a), MDT_ERR_INVALID_REQUEST);
}

static void test_sign_parse_verify(void **state)
{
    const char *typs[] = {"at+jwt", NULL, "dpop+jwt", "JWT"};
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_algs); i++) {
        const mdt_jwk *k = keys[all_algs[i]];
        for (size_t t = 0; t < MDT_ARRAY_LEN(typs); t++) {
            char *tok = sign(k, typs[t]), *hdr = header_of(tok), want[256];
            mdt_jws *j = NULL;
            size_t plen = 0;
            if (typs[t])
                snprintf(want, sizeof(want), "{\"alg\":\"%s\",\"typ\":\"%s\",\"kid\":\"%s\"}",
                         mdt_alg_name(all_algs[i]), typs[t], mdt_jwk_kid(k));
            else
                snprintf(want, sizeof(want), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
                         mdt_alg_name(all_algs[i]), mdt_jwk_kid(k));
            assert_string_equal(hdr, want);
            assert_int_equal(mdt_jws_parse(tok, strlen(tok), 8192, &j, NULL), MDT_OK);
            assert_string_equal(mdt_jws_alg(j), mdt_alg_name(all_algs[i]));
            assert_string_equal(mdt_jws_kid(j), mdt_jwk_kid(k));
            if (typs[t])
                assert_string_equal(mdt_jws_typ(j), typs[t]);
            else
                assert_null(mdt_jws_typ(j));
            assert_string_equal(mdt_jws_payload(j, &plen), payload);
            assert_int_equal(plen, strlen(payload));
            assert_int_equal(mdt_jws_verify(j, k, NULL), MDT_OK);
            mdt_jws_free(j);
            free(hdr);
            free(tok);
        }
    }
}

static void test_sign_appends_and_big_payload(void **state)
{
    const mdt_jwk *k = keys[MDT_ALG_ES256];
    size_t n = 5000;
    char *big = malloc(n);
    mdt_buf b;
    mdt_jws *j = NULL;
    size_t plen = 0;
    (void)state;
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    mdt_buf_init(&b, 64 * 1024);
    assert_int_equal(mdt_buf_adds(&b, "Bearer "), MDT_OK);
    assert_int_equal(mdt_jws_sign(k, "at+jwt", big, n, &b, NULL), MDT_OK);
    assert_memory_equal(b.data, "Bearer ", 7);
    assert_int_equal(mdt_jws_parse(b.data + 7, b.len - 7, b.len, &j, NULL), MDT_OK);
    assert_int_equal(mdt_jws_verify(j, k, NULL), MDT_OK);
    assert_memory_equal(mdt_jws_payload(j, &plen), big, n);
    assert_int_equal(plen, n);
    mdt_jws_free(j);
    /* a cap too small: TOO_LARGE and the buffer is left as it was */
    mdt_buf_free(&b);
    mdt_buf_init(&b, 100);
    assert_int_equal(mdt_buf_adds(&b, "x"), MDT_OK);
    assert_int_equal(mdt_jws_sign(k, NULL, big, n, &b, NULL), MDT_ERR_TOO_LARGE);
    assert_int_equal(b.len, 1);
    assert_string_equal(b.data, "x");
    mdt_buf_free(&b);
    free(big);
}

static void flip_at(char *tok, size_t pos)
{
    tok[pos] = tok[pos] == 'A' ? 'B' : 'A';
}

/* Re-encodes the signature part in place without its last byte. */
static void truncate_sig(char *part)
{
    uint8_t sig[MDT_JWS_SIG_MAX];
    size_t n = 0;

    assert_int_equal(mdt_b64url_decode(part, strlen(part), sig, sizeof(sig), &n), MDT_OK);
    mdt_b64url_encode(sig, n - 1, part);
}

static void test_tampered(void **state)
{
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_algs); i++) {
        const mdt_jwk *k = keys[all_algs[i]];
        char *tok = sign(k, "at+jwt");
        char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
        char saved;

        assert_int_equal(parse_verify(tok, k), MDT_OK);
        saved = d1[3]; /* payload */
        flip_at(tok, (size_t)(d1 + 3 - tok));
        assert_int_equal(parse_verify(tok, k), MDT_ERR_VERIFY);
        d1[3] = saved;
        saved = d2[5]; /* signature */
        flip_at(tok, (size_t)(d2 + 5 - tok));
        assert_int_equal(parse_verify(tok, k), MDT_ERR_VERIFY);
        d2[5] = saved;
        truncate_sig(d2 + 1); /* one byte short */
        assert_int_equal(parse_verify(tok, k), MDT_ERR_VERIFY);
        d2[1] = '\0'; /* empty signature */
        assert_int_equal(parse_verify(tok, k), MDT_ERR_VERIFY);
        free(tok);
    }
}

/* An ES256 signature in DER form must be refused even though it is valid. */
static void test_es256_der_rejected(void **state)
{
    const mdt_jwk *k = keys[MDT_ALG_ES256];
    char *tok = sign(k, NULL), *d2 = strrchr(tok, '.');
    uint8_t rs[64], der[80];
    size_t rslen = 0, derlen;
    char enc[200];
    mdt_buf b;
    (void)state;
    assert_int_equal(mdt_b64url_decode(d2 + 1, strlen(d2 + 1), rs, sizeof(rs), &rslen), MDT_OK);
    assert_int_equal(rslen, 64);
    /* DER SEQUENCE { INTEGER r, INTEGER s }, each with a 0x00 pad byte */
    derlen = 0;
    der[derlen++] = 0x30;
    der[derlen++] = 2 * 35;
    for (int h = 0; h < 2; h++) {
        der[derlen++] = 0x02;
        der[derlen++] = 33;
        der[derlen++] = 0x00;
        memcpy(der + derlen, rs + 32 * h, 32);
        derlen += 32;
    }
    mdt_b64url_encode(der, derlen, enc);
    mdt_buf_init(&b, 4096);
    assert_int_equal(mdt_buf_add(&b, tok, (size_t)(d2 + 1 - tok)), MDT_OK);
    assert_int_equal(mdt_buf_adds(&b, enc), MDT_OK);
    assert_int_equal(parse_verify(b.data, k), MDT_ERR_VERIFY);
    mdt_buf_free(&b);
    free(tok);
}

/* header (JSON) . payload . signature, signature given as raw bytes. */
static char *forge(const char *header, const uint8_t *sig, size_t siglen, bool hmac_key_from,
                   const mdt_jwk *hk)
{
    mdt_buf b, pub;
    char enc[2048];
    uint8_t mac[32];
    size_t maclen = 0;

    mdt_buf_init(&b, 8192);
    mdt_b64url_encode((const uint8_t *)header, strlen(header), enc);
    assert_int_equal(mdt_buf_adds(&b, enc), MDT_OK);
    mdt_b64url_encode((const uint8_t *)payload, strlen(payload), enc);
    assert_int_equal(mdt_buf_addf(&b, ".%s", enc), MDT_OK);
    if (hmac_key_from) { /* HS256 keyed with the public key, the classic confusion */
        mdt_buf_init(&pub, 8192);
        assert_int_equal(mdt_jwk_public_json(hk, &pub, NULL), MDT_OK);
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, pub.data, pub.len,
                                  (const uint8_t *)b.data, b.len, mac, sizeof(mac), &maclen));
        mdt_buf_free(&pub);
        sig = mac;
        siglen = maclen;
    }
    mdt_b64url_encode(sig, siglen, enc);
    assert_int_equal(mdt_buf_addf(&b, ".%s", enc), MDT_OK);
    return mdt_buf_take(&b);
}

static void test_alg_confusion(void **state)
{
    const mdt_jwk *es = keys[MDT_ALG_ES256], *rs = keys[MDT_ALG_RS256], *ed = keys[MDT_ALG_EDDSA];
    char *tok;
    uint8_t *der = NULL;
    size_t derlen = 0;
    mdt_jwk *ps_same = NULL;
    (void)state;
    tok = forge("{\"alg\":\"none\"}", (const uint8_t *)"", 0, false, NULL);
    assert_int_equal(parse_verify(tok, es), MDT_ERR_VERIFY);
    assert_int_equal(parse_verify(tok, rs), MDT_ERR_VERIFY);
    free(tok);
    tok = forge("{\"alg\":\"HS256\"}", NULL, 0, true, rs);
    assert_int_equal(parse_verify(tok, rs), MDT_ERR_VERIFY);
    free(tok);
    tok = forge("{\"alg\":\"HS256\"}", NULL, 0, true, es);
    assert_int_equal(parse_verify(tok, es), MDT_ERR_VERIFY);
    free(tok);
    tok = sign(es, NULL); /* ES256 header, RSA and EdDSA keys */
    assert_int_equal(parse_verify(tok, rs), MDT_ERR_VERIFY);
    assert_int_equal(parse_verify(tok, ed), MDT_ERR_VERIFY);
    assert_int_equal(parse_verify(tok, es), MDT_OK);
    free(tok);
    /* RS256 token, PS256 key over the same RSA key material */
    assert_int_equal(mdt_jwk_export_private(rs, &der, &derlen, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_import_private(MDT_ALG_PS256, "ps", der, derlen, &ps_same, NULL), MDT_OK);
    tok = sign(rs, NULL);
    assert_int_equal(parse_verify(tok, ps_same), MDT_ERR_VERIFY);
    free(tok);
    tok = sign(ps_same, NULL);
    assert_int_equal(parse_verify(tok, rs), MDT_ERR_VERIFY);
    assert_int_equal(parse_verify(tok, ps_same), MDT_OK);
    free(tok);
    mdt_jwk_free(ps_same);
    mdt_wipe(der, derlen);
    free(der);
}

/* Signs hdr.(empty payload) with k, whatever alg hdr names, and verifies. */
static mdt_rc verify_with_header(const mdt_jwk *k, const char *hdr)
{
    char *tok = forge(hdr, (const uint8_t *)"", 0, false, NULL);
    char *d2 = strrchr(tok, '.'), enc[2048];
    uint8_t sig[MDT_JWS_SIG_MAX];
    size_t siglen = 0;
    mdt_buf b;
    mdt_rc rc;

    assert_int_equal(mdt_jwk_sign_bytes(k, tok, (size_t)(d2 - tok), sig, &siglen, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_verify_bytes(k, tok, (size_t)(d2 - tok), sig, siglen, NULL), MDT_OK);
    mdt_b64url_encode(sig, siglen, enc);
    mdt_buf_init(&b, 8192);
    assert_int_equal(mdt_buf_add(&b, tok, (size_t)(d2 + 1 - tok)), MDT_OK);
    assert_int_equal(mdt_buf_adds(&b, enc), MDT_OK);
    rc = parse_verify(b.data, k);
    mdt_buf_free(&b);
    free(tok);
    return rc;
}

/* A signature that is valid for the key, under a header naming another alg:
 * only the alg check can refuse these (same lengths, same key). */
static void test_alg_must_match_exactly(void **state)
{
    struct {
        mdt_alg key;
        const char *hdr;
    } cases[] = {
        {MDT_ALG_EDDSA, "{\"alg\":\"ES256\"}"},  /* 64-byte EdDSA signature */
        {MDT_ALG_PS256, "{\"alg\":\"RS256\"}"},  /* PSS signature */
        {MDT_ALG_ES256, "{\"alg\":\"es256\"}"},
        {MDT_ALG_ES256, "{\"alg\":\"ES256 \"}"},
        {MDT_ALG_ES256, "{\"alg\":\"Ed25519\"}"},
        {MDT_ALG_EDDSA, "{\"alg\":\"ed25519\"}"},
    };
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(cases); i++)
        assert_int_equal(verify_with_header(keys[cases[i].key], cases[i].hdr), MDT_ERR_VERIFY);
}

/* RFC 9864: "Ed25519" is the fully-specified name of what RFC 8037 calls
 * "EdDSA" with an Ed25519 key; both are accepted (oauth4webapi sends the former). */
static void test_ed25519_name(void **state)
{
    mdt_alg alg = MDT_ALG_NONE;
    (void)state;
    assert_int_equal(mdt_alg_parse("Ed25519", &alg), MDT_OK);
    assert_int_equal(alg, MDT_ALG_EDDSA);
    assert_int_equal(verify_with_header(keys[MDT_ALG_EDDSA], "{\"alg\":\"Ed25519\"}"), MDT_OK);
    assert_int_equal(verify_with_header(keys[MDT_ALG_EDDSA], "{\"alg\":\"EdDSA\"}"), MDT_OK);
}

static void test_export_import(void **state)
{
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_algs); i++) {
        const mdt_jwk *k = keys[all_algs[i]];
        char *old = sign(k, "at+jwt"), *fresh;
        uint8_t *der = NULL, t1[32], t2[32];
        size_t len = 0;
        mdt_jwk *back = NULL, *noid = NULL;
        mdt_alg other = all_algs[i] == MDT_ALG_ES256 ? MDT_ALG_EDDSA : MDT_ALG_ES256;

        assert_int_equal(mdt_jwk_export_private(k, &der, &len, NULL), MDT_OK);
        assert_true(len > 32);
        assert_int_equal(mdt_jwk_import_private(all_algs[i], "kid-1", der, len, &back, NULL), MDT_OK);
        assert_true(mdt_jwk_has_private(back));
        assert_string_equal(mdt_jwk_kid(back), "kid-1");
        assert_int_equal(mdt_jwk_alg(back), all_algs[i]);
        assert_int_equal(parse_verify(old, back), MDT_OK); /* old signatures still verify */
        fresh = sign(back, NULL);                          /* and the imported key signs */
        assert_int_equal(parse_verify(fresh, k), MDT_OK);
        free(fresh);
        /* without kid: the thumbprint, same as the original's */
        assert_int_equal(mdt_jwk_import_private(all_algs[i], NULL, der, len, &noid, NULL), MDT_OK);
        assert_string_equal(mdt_jwk_kid(noid), mdt_jwk_kid(k));
        assert_int_equal(mdt_jwk_thumbprint(k, t1, NULL), MDT_OK);
        assert_int_equal(mdt_jwk_thumbprint(noid, t2, NULL), MDT_OK);
        assert_memory_equal(t1, t2, 32);
        mdt_jwk_free(noid);
        mdt_jwk_free(back);
        back = NULL;
        assert_int_equal(mdt_jwk_import_private(other, NULL, der, len, &back, NULL), MDT_ERR_INVALID_REQUEST);
        assert_null(back);
        assert_int_equal(mdt_jwk_import_private(all_algs[i], NULL, der, len - 1, &back, NULL),
                         MDT_ERR_INVALID_REQUEST);
        der[0] ^= 0xff; /* no longer a SEQUENCE */
        assert_int_equal(mdt_jwk_import_private(all_algs[i], NULL, der, len, &back, NULL), MDT_ERR_INVALID_REQUEST);
        der[0] ^= 0xff;
        assert_int_equal(mdt_jwk_import_private(all_algs[i], "", der, len, &back, NULL), MDT_ERR_INVALID_REQUEST);
        mdt_wipe(der, len);
        free(der);
        free(old);
    }
}

static void test_public_only(void **state)
{
    mdt_buf b;
    mdt_jwk *pub = NULL;
    uint8_t *der = NULL, sig[MDT_JWS_SIG_MAX];
    size_t len = 0;
    (void)state;
    mdt_buf_init(&b, 8192);
    assert_int_equal(mdt_jwk_public_json(keys[MDT_ALG_ES256], &b, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_from_json(b.data, b.len, &pub, NULL), MDT_OK);
    assert_false(mdt_jwk_has_private(pub));
    assert_int_equal(mdt_jwk_export_private(pub, &der, &len, NULL), MDT_ERR_INVALID_REQUEST);
    assert_null(der);
    mdt_buf_reset(&b);
    assert_int_equal(mdt_jws_sign(pub, NULL, "x", 1, &b, NULL), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(b.len, 0);
    assert_int_equal(mdt_jwk_sign_bytes(pub, "x", 1, sig, &len, NULL), MDT_ERR_INVALID_REQUEST);
    mdt_jwk_free(pub);
    mdt_buf_free(&b);
}

static void test_public_json_roundtrip(void **state)
{
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_algs); i++) {
        const mdt_jwk *k = keys[all_algs[i]];
        mdt_buf b;
        mdt_jwk *pub = NULL;
        uint8_t t1[32], t2[32];
        char *tok = sign(k, "at+jwt"), want[64];

        mdt_buf_init(&b, 8192);
        assert_int_equal(mdt_jwk_public_json(k, &b, NULL), MDT_OK);
        assert_null(strstr(b.data, "\"d\""));
        assert_non_null(strstr(b.data, "\"use\":\"sig\""));
        snprintf(want, sizeof(want), "\"alg\":\"%s\"", mdt_alg_name(all_algs[i]));
        assert_non_null(strstr(b.data, want));
        assert_int_equal(mdt_jwk_from_json(b.data, b.len, &pub, NULL), MDT_OK);
        assert_string_equal(mdt_jwk_kid(pub), mdt_jwk_kid(k));
        assert_int_equal(mdt_jwk_alg(pub), all_algs[i]);
        assert_int_equal(mdt_jwk_thumbprint(k, t1, NULL), MDT_OK);
        assert_int_equal(mdt_jwk_thumbprint(pub, t2, NULL), MDT_OK);
        assert_memory_equal(t1, t2, 32);
        assert_int_equal(parse_verify(tok, pub), MDT_OK);
        free(tok);
        mdt_jwk_free(pub);
        mdt_buf_free(&b);
    }
}

static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

static void test_rfc7638_thumbprint(void **state)
{
    char json[1024], tp[64];
    mdt_jwk *k = NULL;
    uint8_t t[32];
    (void)state;
    snprintf(json, sizeof(json),
             "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}", rfc7638_n);
    assert_int_equal(mdt_jwk_from_json(json, strlen(json), &k, NULL), MDT_OK);
    assert_string_equal(mdt_jwk_kid(k), "2011-04-29");
    assert_int_equal(mdt_jwk_thumbprint(k, t, NULL), MDT_OK);
    mdt_b64url_encode(t, 32, tp);
    assert_string_equal(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    mdt_jwk_free(k);
    /* no kid: the thumbprint; no alg: RS256, or the caller's RSA default */
    snprintf(json, sizeof(json), "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}", rfc7638_n);
    assert_int_equal(mdt_jwk_from_json(json, strlen(json), &k, NULL), MDT_OK);
    assert_string_equal(mdt_jwk_kid(k), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_int_equal(mdt_jwk_alg(k), MDT_ALG_RS256);
    mdt_jwk_free(k);
    assert_int_equal(mdt_jwk_from_json_rsa(json, strlen(json), MDT_ALG_PS256, &k, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_alg(k), MDT_ALG_PS256);
    mdt_jwk_free(k);
}

static mdt_rc from_json(const char *json)
{
    mdt_jwk *k = NULL;
    mdt_rc rc = mdt_jwk_from_json(json, strlen(json), &k, NULL);
    if (rc != MDT_OK)
        assert_null(k);
    mdt_jwk_free(k);
    return rc;
}

#define EC_X "82W-o-pZSpgmRhf6_rNSwTZWH7Br7J7gNuowqpSdJuU"
#define EC_Y "EpUH3stLsz9p3M7nyV20pU01DQL-0Q3L2O1TuMpysmU"
#define EC_Y_BAD "EpUH3stLsz9p3M7nyV20pU01DQL-0Q3L2O1TuMpysmA"
#define ED_X "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"

static void test_from_json_rejects(void **state)
{
    char json[1200];
    (void)state;
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}"), MDT_OK);
    assert_int_equal(from_json("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\"}"), MDT_OK);
    /* private members */
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y
                               "\",\"d\":\"" EC_X "\"}"), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\",\"d\":\"" ED_X "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    snprintf(json, sizeof(json), "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\",\"p\":\"AQAB\"}", rfc7638_n);
    assert_int_equal(from_json(json), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"oct\",\"k\":\"AQAB\"}"), MDT_ERR_INVALID_REQUEST);
    /* unknown kty, wrong curves */
    assert_int_equal(from_json("{\"kty\":\"oct\",\"x\":\"" ED_X "\"}"), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}"), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" ED_X "\"}"), MDT_ERR_INVALID_REQUEST);
    /* point not on the curve, short coordinate */
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y_BAD "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQAB\",\"y\":\"" EC_Y "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    /* short RSA: the first 128 bytes of the RFC modulus = 1024 bits */
    snprintf(json, sizeof(json), "{\"kty\":\"RSA\",\"n\":\"%.170s\",\"e\":\"AQAB\"}", rfc7638_n);
    assert_int_equal(from_json(json), MDT_ERR_INVALID_REQUEST);
    /* alg inconsistent with kty, unsupported alg, "use":"enc" */
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"RS256\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    snprintf(json, sizeof(json), "{\"kty\":\"RSA\",\"alg\":\"EdDSA\",\"n\":\"%s\",\"e\":\"AQAB\"}", rfc7638_n);
    assert_int_equal(from_json(json), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"enc\",\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":7,\"x\":\"" EC_X "\",\"y\":\"" EC_Y "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    /* malformed JSON, not an object, duplicate member, bad base64url */
    assert_int_equal(from_json("{\"kty\":\"EC\","), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("[\"kty\"]"), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\",\"x\":\"" ED_X "\"}"),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(from_json("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"),
                     MDT_ERR_INVALID_REQUEST);
}

static void test_from_json_size_bound(void **state)
{
    size_t n = MDT_JWK_JSON_MAX + 1;
    char *big = malloc(n + 1);
    mdt_jwk *k = NULL;
    const char *head = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" ED_X "\",\"pad\":\"";
    (void)state;
    memset(big, 'a', n);
    memcpy(big, head, strlen(head));
    memcpy(big + n - 2, "\"}", 2);
    big[n] = '\0';
    assert_int_equal(mdt_jwk_from_json(big, n, &k, NULL), MDT_ERR_TOO_LARGE);
    assert_null(k);
    /* just under the bound: accepted */
    memcpy(big + n - 3, "\"}", 3);
    assert_int_equal(mdt_jwk_from_json(big, n - 1, &k, NULL), MDT_OK);
    mdt_jwk_free(k);
    free(big);
}

static mdt_rc parse(const char *tok, size_t max)
{
    mdt_jws *j = NULL;
    mdt_rc rc = mdt_jws_parse(tok, strlen(tok), max, &j, NULL);
    if (rc != MDT_OK)
        assert_null(j);
    mdt_jws_free(j);
    return rc;
}

/* {"alg":"ES256"} and {"a":1} */
#define H_ES "eyJhbGciOiJFUzI1NiJ9"
#define P_A "eyJhIjoxfQ"

static void test_parse_rejects(void **state)
{
    (void)state;
    assert_int_equal(parse(H_ES "." P_A ".AAAA", 1000), MDT_OK);
    assert_int_equal(parse(H_ES ".." , 1000), MDT_OK); /* empty payload and signature parse */
    assert_int_equal(parse(H_ES "." P_A, 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse(H_ES "." P_A ".AAAA.AAAA", 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse(H_ES "." P_A ".AAAA.", 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse("", 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse("..", 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse(H_ES "." P_A ".AA+A", 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse(H_ES "." P_A ".AAA=", 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse(H_ES "." P_A "=.AAAA", 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse(H_ES " ." P_A ".AAAA", 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse(H_ES "." P_A ".A", 1000), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(parse("WyJhbGciXQ." P_A ".AAAA", 1000), MDT_ERR_INVALID_REQUEST);  /* ["alg"] */
    assert_int_equal(parse("ImFsZyI." P_A ".AAAA", 1000), MDT_ERR_INVALID_REQUEST);     /* "alg" */
    assert_int_equal(parse("eyJ0eXAiOiJKV1QifQ." P_A ".AAAA", 1000), MDT_ERR_INVALID_REQUEST); /* {"typ":"JWT"} */
    assert_int_equal(parse("eyJhbGciOjF9." P_A ".AAAA", 1000), MDT_ERR_INVALID_REQUEST); /* {"alg":1} */
    /* {"alg":"ES256","alg":"none"} */
    assert_int_equal(parse("eyJhbGciOiJFUzI1NiIsImFsZyI6Im5vbmUifQ." P_A ".AAAA", 1000), MDT_ERR_INVALID_REQUEST);
    /* {"alg":"ES256","kid":5} */
    assert_int_equal(parse("eyJhbGciOiJFUzI1NiIsImtpZCI6NX0." P_A ".AAAA", 1000), MDT_ERR_INVALID_REQUEST);
    /* {"alg":"ES256","crit":["exp"]} */
    assert_int_equal(parse("eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiZXhwIl19." P_A ".AAAA", 1000), MDT_ERR_INVALID_REQUEST);
    /* oversized */
    assert_int_equal(parse(H_ES "." P_A ".AAAA", 20), MDT_ERR_TOO_LARGE);
    assert_int_equal(parse(H_ES "." P_A ".AAAA", strlen(H_ES "." P_A ".AAAA")), MDT_OK);
    assert_int_equal(parse(H_ES "." P_A ".AAAA", strlen(H_ES "." P_A ".AAAA") - 1), MDT_ERR_TOO_LARGE);
}

/* A header seen again on a thread is the parsed object kept from before:
 * the same answers as a fresh parse; a header that fails the checks is
 * never kept (refused every time); eight others in between evict it, and
 * it parses again as before. */
static void test_header_seen_again(void **state)
{
    (void)state;
    char *tok = sign(keys[MDT_ALG_ES256], "at+jwt");

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2; i++) {
            mdt_jws *j = NULL;
            assert_int_equal(mdt_jws_parse(tok, strlen(tok), 64 * 1024, &j, NULL), MDT_OK);
            assert_string_equal(mdt_jws_alg(j), "ES256");
            assert_string_equal(mdt_jws_typ(j), "at+jwt");
            assert_non_null(mdt_jws_kid(j));
            assert_int_equal(mdt_jws_verify(j, keys[MDT_ALG_ES256], NULL), MDT_OK);
            mdt_jws_free(j);
            /* {"alg":"ES256","crit":["exp"]}: refused again, not kept */
            assert_int_equal(parse("eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiZXhwIl19." P_A ".AAAA", 1000),
                             MDT_ERR_INVALID_REQUEST);
        }
        for (int k = 0; k < 9; k++) { /* other headers: the kept one is evicted */
            char hdr[64], enc[128], t[256];
            int n = snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"k%d-%d\"}", round, k);
            enc[mdt_b64url_encode((const uint8_t *)hdr, (size_t)n, enc)] = 0;
            snprintf(t, sizeof(t), "%s.%s.AAAA", enc, P_A);
            assert_int_equal(parse(t, 1000), MDT_OK);
        }
    }
    free(tok);
}

static void test_parse_embedded_nul(void **state)
{
    const char tok[] = H_ES "." P_A "\0.AAAA";
    mdt_jws *j = NULL;
    (void)state;
    assert_int_equal(mdt_jws_parse(tok, sizeof(tok) - 1, 1000, &j, NULL), MDT_ERR_INVALID_REQUEST);
    assert_null(j);
}

/* Made with node's built-in crypto (generateKeyPairSync ec P-256, sign with
 * dsaEncoding ieee-p1363): an implementation other than ours. */
static const char node_jwk[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"82W-o-pZSpgmRhf6_rNSwTZWH7Br7J7gNuowqpSdJuU\","
    "\"y\":\"EpUH3stLsz9p3M7nyV20pU01DQL-0Q3L2O1TuMpysmU\",\"kid\":\"node-test-1\",\"alg\":\"ES256\"}";
static const char node_token[] =
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Im5vZGUtdGVzdC0xIn0."
    "eyJpc3MiOiJodHRwczovL25vZGUuZXhhbXBsZSIsInN1YiI6ImFsaWNlIiwiaWF0IjoxNzAwMDAwMDAwfQ."
    "QzFcIv_H8zTGPpOtJmpgqOmc8du-GLt3oMBsgqu4-NCUY3uvk_8zWvrGn-YiWldtDeNjrfNgNF1jpqJpWiduOg";

static void test_external_es256(void **state)
{
    mdt_jwk *k = NULL;
    mdt_jws *j = NULL;
    char *tok = strdup(node_token);
    (void)state;
    assert_int_equal(mdt_jwk_from_json(node_jwk, strlen(node_jwk), &k, NULL), MDT_OK);
    assert_string_equal(mdt_jwk_kid(k), "node-test-1");
    assert_int_equal(mdt_jws_parse(node_token, strlen(node_token), 4096, &j, NULL), MDT_OK);
    assert_string_equal(mdt_jws_kid(j), "node-test-1");
    assert_string_equal(mdt_jws_typ(j), "JWT");
    assert_string_equal(mdt_jws_payload(j, NULL),
                        "{\"iss\":\"https://node.example\",\"sub\":\"alice\",\"iat\":1700000000}");
    assert_int_equal(mdt_jws_verify(j, k, NULL), MDT_OK);
    assert_int_equal(mdt_jws_verify(j, keys[MDT_ALG_ES256], NULL), MDT_ERR_VERIFY);
    mdt_jws_free(j);
    flip_at(tok, strlen(tok) - 10);
    assert_int_equal(parse_verify(tok, k), MDT_ERR_VERIFY);
    free(tok);
    mdt_jwk_free(k);
}

/* A DPoP-style proof: the verifying key travels in the header. */
static void test_header_jwk(void **state)
{
    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(all_algs); i++) {
        const mdt_jwk *k = keys[all_algs[i]];
        mdt_buf b, pub;
        char *enc;
        uint8_t sig[MDT_JWS_SIG_MAX];
        size_t siglen = 0;
        mdt_jws *j = NULL;
        mdt_jwk *hk = NULL;

        mdt_buf_init(&pub, 8192);
        mdt_buf_init(&b, 16384);
        assert_int_equal(mdt_buf_addf(&pub, "{\"typ\":\"dpop+jwt\",\"alg\":\"%s\",\"jwk\":", mdt_alg_name(all_algs[i])), MDT_OK);
        assert_int_equal(mdt_jwk_public_json(k, &pub, NULL), MDT_OK);
        assert_int_equal(mdt_buf_adds(&pub, "}"), MDT_OK);
        enc = malloc(mdt_b64url_len(pub.len) + 1);
        mdt_b64url_encode((const uint8_t *)pub.data, pub.len, enc);
        assert_int_equal(mdt_buf_addf(&b, "%s.eyJhIjoxfQ", enc), MDT_OK);
        free(enc);
        assert_int_equal(mdt_jwk_sign_bytes(k, b.data, b.len, sig, &siglen, NULL), MDT_OK);
        enc = malloc(mdt_b64url_len(siglen) + 1);
        mdt_b64url_encode(sig, siglen, enc);
        assert_int_equal(mdt_buf_addf(&b, ".%s", enc), MDT_OK);
        free(enc);
        assert_int_equal(mdt_jws_parse(b.data, b.len, b.len, &j, NULL), MDT_OK);
        assert_string_equal(mdt_jws_typ(j), "dpop+jwt");
        assert_null(mdt_jws_kid(j));
        assert_int_equal(mdt_jws_header_jwk(j, &hk, NULL), MDT_OK);
        assert_false(mdt_jwk_has_private(hk));
        assert_int_equal(mdt_jws_verify(j, hk, NULL), MDT_OK);
        mdt_jwk_free(hk);
        mdt_jws_free(j);
        mdt_buf_free(&pub);
        mdt_buf_free(&b);
    }
}

static void test_header_jwk_absent(void **state)
{
    mdt_jws *j = NULL;
    mdt_jwk *hk = NULL;
    const char *tok = H_ES "." P_A ".AAAA";
    (void)state;
    assert_int_equal(mdt_jws_parse(tok, strlen(tok), 100, &j, NULL), MDT_OK);
    assert_int_equal(mdt_jws_header_jwk(j, &hk, NULL), MDT_ERR_INVALID_REQUEST);
    assert_null(hk);
    mdt_jws_free(j);
}

typedef struct {
    const mdt_jwk *k;
    int ok;
} thread_arg;

static void *sign_loop(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < 100; i++) {
        mdt_buf b;
        mdt_buf_init(&b, 8192);
        if (mdt_jws_sign(a->k, i % 2 ? "at+jwt" : "x+jwt", payload, strlen(payload), &b, NULL) == MDT_OK &&
            parse_verify(b.data, a->k) == MDT_OK)
            a->ok++;
        mdt_buf_free(&b);
    }
    return NULL;
}

static void test_threads_share_key(void **state)
{
    pthread_t th[8];
    thread_arg args[8];
    (void)state;
    for (int i = 0; i < 8; i++) {
        args[i] = (thread_arg){.k = keys[all_algs[i % 4]], .ok = 0};
        assert_int_equal(pthread_create(&th[i], NULL, sign_loop, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 100);
    }
}

/* A thread keeps prepared contexts of the keys it used last: more keys
 * than it keeps, in turns, each signature verifying with its own key only;
 * a key freed and another made (its memory perhaps reused) is never served
 * the freed key's context. */
static void test_thread_contexts(void **state)
{
    enum { N = 11 };
    mdt_jwk *k[N];
    uint8_t sig[MDT_JWS_SIG_MAX];
    size_t n;
    const char *msg = "header.payload";
    (void)state;

    for (int i = 0; i < N; i++)
        assert_int_equal(mdt_jwk_generate(i % 3 == 2 ? MDT_ALG_RS256 : MDT_ALG_ES256, &k[i], NULL),
                         MDT_OK);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) {
            int other = (i + 1) % N;
            assert_int_equal(mdt_jwk_sign_bytes(k[i], msg, strlen(msg), sig, &n, NULL), MDT_OK);
            assert_int_equal(mdt_jwk_verify_bytes(k[i], msg, strlen(msg), sig, n, NULL), MDT_OK);
            if (mdt_jwk_alg(k[other]) == mdt_jwk_alg(k[i]))
                assert_int_equal(mdt_jwk_verify_bytes(k[other], msg, strlen(msg), sig, n, NULL),
                                 MDT_ERR_VERIFY);
            sig[n / 2] ^= 1;
            assert_int_equal(mdt_jwk_verify_bytes(k[i], msg, strlen(msg), sig, n, NULL),
                             MDT_ERR_VERIFY);
        }
    for (int round = 0; round < 4; round++) { /* free and remake the first key */
        mdt_jwk *fresh;
        assert_int_equal(mdt_jwk_sign_bytes(k[0], msg, strlen(msg), sig, &n, NULL), MDT_OK);
        mdt_jwk_free(k[0]);
        assert_int_equal(mdt_jwk_generate(MDT_ALG_ES256, &fresh, NULL), MDT_OK);
        k[0] = fresh;
        assert_int_equal(mdt_jwk_verify_bytes(k[0], msg, strlen(msg), sig, n, NULL),
                         MDT_ERR_VERIFY); /* the old key's signature */
        assert_int_equal(mdt_jwk_sign_bytes(k[0], msg, strlen(msg), sig, &n, NULL), MDT_OK);
        assert_int_equal(mdt_jwk_verify_bytes(k[0], msg, strlen(msg), sig, n, NULL), MDT_OK);
    }
    for (int i = 0; i < N; i++)
        mdt_jwk_free(k[i]);
}

static const uint8_t mkey[MDT_MASTER_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_seal_roundtrip(void **state)
{
    const uint8_t pt[] = "private key bytes";
    const uint8_t aad[] = "kid-1";
    uint8_t *s1 = NULL, *s2 = NULL, *back = NULL;
    size_t l1 = 0, l2 = 0, bl = 0;
    (void)state;
    assert_int_equal(mdt_seal(mkey, aad, 5, pt, sizeof(pt), &s1, &l1, NULL), MDT_OK);
    assert_int_equal(l1, sizeof(pt) + MDT_SEAL_OVERHEAD);
    assert_int_equal(s1[0], 0x01);
    assert_null(memmem(s1, l1, "private", 7));
    assert_int_equal(mdt_seal(mkey, aad, 5, pt, sizeof(pt), &s2, &l2, NULL), MDT_OK);
    assert_memory_not_equal(s1 + 1, s2 + 1, 12); /* fresh nonce each time */
    assert_int_equal(mdt_unseal(mkey, aad, 5, s1, l1, &back, &bl, NULL), MDT_OK);
    assert_int_equal(bl, sizeof(pt));
    assert_memory_equal(back, pt, bl);
    mdt_wipe(back, bl);
    free(back);
    free(s1);
    free(s2);
    /* empty plaintext, no aad */
    assert_int_equal(mdt_seal(mkey, NULL, 0, NULL, 0, &s1, &l1, NULL), MDT_OK);
    assert_int_equal(l1, MDT_SEAL_OVERHEAD);
    assert_int_equal(mdt_unseal(mkey, NULL, 0, s1, l1, &back, &bl, NULL), MDT_OK);
    assert_int_equal(bl, 0);
    free(back);
    free(s1);
}

static void test_seal_tamper(void **state)
{
    const uint8_t pt[] = "secret";
    uint8_t *s = NULL, *back = NULL, other[MDT_MASTER_KEY_LEN];
    size_t l = 0, bl = 0;
    (void)state;
    memcpy(other, mkey, sizeof(other));
    other[31] ^= 1;
    assert_int_equal(mdt_seal(mkey, (const uint8_t *)"kid-1", 5, pt, sizeof(pt), &s, &l, NULL), MDT_OK);
    assert_int_equal(mdt_unseal(other, (const uint8_t *)"kid-1", 5, s, l, &back, &bl, NULL), MDT_ERR_VERIFY);
    assert_null(back);
    assert_int_equal(mdt_unseal(mkey, (const uint8_t *)"kid-2", 5, s, l, &back, &bl, NULL), MDT_ERR_VERIFY);
    assert_int_equal(mdt_unseal(mkey, NULL, 0, s, l, &back, &bl, NULL), MDT_ERR_VERIFY);
    for (size_t i = 0; i < l; i++) { /* every byte: version, nonce, ciphertext, tag */
        s[i] ^= 0x20;
        assert_int_equal(mdt_unseal(mkey, (const uint8_t *)"kid-1", 5, s, l, &back, &bl, NULL), MDT_ERR_VERIFY);
        assert_null(back);
        s[i] ^= 0x20;
    }
    assert_int_equal(mdt_unseal(mkey, (const uint8_t *)"kid-1", 5, s, l - 1, &back, &bl, NULL), MDT_ERR_VERIFY);
    assert_int_equal(mdt_unseal(mkey, (const uint8_t *)"kid-1", 5, s, MDT_SEAL_OVERHEAD - 1, &back, &bl, NULL),
                     MDT_ERR_VERIFY);
    assert_int_equal(mdt_unseal(mkey, (const uint8_t *)"kid-1", 5, s, l, &back, &bl, NULL), MDT_OK);
    assert_memory_equal(back, pt, sizeof(pt));
    free(back);
    free(s);
}

static void test_sha256(void **state)
{
    uint8_t d[32];
    char hex[65];
    (void)state;
    mdt_sha256("abc", 3, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* ---- the per-thread cache of imported JWKs ----------------------------- */

/* The public JWK text of k with its kid replaced by kid. */
static char *jwk_text(const mdt_jwk *k, const char *kid)
{
    mdt_buf b;
    char *s, *p, *out;

    mdt_buf_init(&b, 8192);
    assert_int_equal(mdt_jwk_public_json(k, &b, NULL), MDT_OK);
    s = mdt_buf_take(&b);
    if (!kid)
        return s;
    assert_non_null(p = strstr(s, ",\"kid\":"));
    *p = '\0';
    assert_true(asprintf(&out, "%s,\"kid\":\"%s\"}", s, kid) > 0);
    free(s);
    return out;
}

static void test_jwk_cache_hit(void **state)
{
    char *t = jwk_text(keys[MDT_ALG_ES256], NULL);
    const mdt_jwk *a = NULL, *b = NULL;
    uint8_t want[32], got[32];
    char *tok = sign(keys[MDT_ALG_ES256], "JWT");
    (void)state;

    mdt_jwk_cache_clear();
    assert_int_equal(mdt_jwk_cache_count(), 0);
    assert_int_equal(mdt_jwk_cache_get(t, strlen(t), MDT_ALG_RS256, &a, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_cache_get(t, strlen(t), MDT_ALG_RS256, &b, NULL), MDT_OK);
    assert_ptr_equal(a, b); /* imported once */
    assert_int_equal(mdt_jwk_cache_count(), 1);
    assert_int_equal(mdt_jwk_thumbprint(keys[MDT_ALG_ES256], want, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_thumbprint(b, got, NULL), MDT_OK);
    assert_memory_equal(want, got, 32);
    assert_false(mdt_jwk_has_private(b));
    assert_int_equal(parse_verify(tok, b), MDT_OK);
    mdt_jwk_cache_clear();
    assert_int_equal(mdt_jwk_cache_count(), 0);
    free(tok);
    free(t);
}

/* Another key under the same kid is another entry: it never verifies with
 * the first key, nor the first key's signatures with it. */
static void test_jwk_cache_same_kid_other_key(void **state)
{
    mdt_jwk *other = NULL;
    char *t1, *t2, *tok1, *tok2;
    const mdt_jwk *k1 = NULL, *k2 = NULL;
    uint8_t a[32], b[32];
    (void)state;

    assert_int_equal(mdt_jwk_generate(MDT_ALG_ES256, &other, NULL), MDT_OK);
    t1 = jwk_text(keys[MDT_ALG_ES256], "same");
    t2 = jwk_text(other, "same");
    tok1 = sign(keys[MDT_ALG_ES256], "JWT");
    tok2 = sign(other, "JWT");
    mdt_jwk_cache_clear();
    assert_int_equal(mdt_jwk_cache_get(t1, strlen(t1), MDT_ALG_RS256, &k1, NULL), MDT_OK);
    assert_int_equal(parse_verify(tok1, k1), MDT_OK);
    assert_int_equal(mdt_jwk_cache_get(t2, strlen(t2), MDT_ALG_RS256, &k2, NULL), MDT_OK);
    assert_ptr_not_equal(k1, k2);
    assert_string_equal(mdt_jwk_kid(k2), "same");
    assert_int_equal(parse_verify(tok2, k2), MDT_OK);
    assert_int_equal(parse_verify(tok1, k2), MDT_ERR_VERIFY);
    assert_int_equal(mdt_jwk_thumbprint(k2, b, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_thumbprint(other, a, NULL), MDT_OK);
    assert_memory_equal(a, b, 32);
    assert_int_equal(mdt_jwk_cache_get(t1, strlen(t1), MDT_ALG_RS256, &k1, NULL), MDT_OK);
    assert_int_equal(parse_verify(tok2, k1), MDT_ERR_VERIFY);
    assert_int_equal(mdt_jwk_cache_count(), 2);
    mdt_jwk_cache_clear();
    free(t1);
    free(t2);
    free(tok1);
    free(tok2);
    mdt_jwk_free(other);
}

/* The same RSA text read as RS256 and as PS256 is two keys. */
static void test_jwk_cache_rsa_alg(void **state)
{
    char *t = jwk_text(keys[MDT_ALG_RS256], NULL), *p;
    const mdt_jwk *rs = NULL, *ps = NULL;
    (void)state;

    /* without its alg member, as a DPoP proof's jwk usually comes */
    assert_non_null(p = strstr(t, ",\"use\":"));
    memmove(p, strstr(p, ",\"kid\":"), strlen(strstr(p, ",\"kid\":")) + 1);
    mdt_jwk_cache_clear();
    assert_int_equal(mdt_jwk_cache_get(t, strlen(t), MDT_ALG_RS256, &rs, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_cache_get(t, strlen(t), MDT_ALG_PS256, &ps, NULL), MDT_OK);
    assert_ptr_not_equal(rs, ps);
    assert_int_equal(mdt_jwk_alg(ps), MDT_ALG_PS256);
    assert_int_equal(mdt_jwk_cache_get(t, strlen(t), MDT_ALG_RS256, &rs, NULL), MDT_OK);
    assert_int_equal(mdt_jwk_alg(rs), MDT_ALG_RS256);
    assert_int_equal(mdt_jwk_cache_count(), 2);
    mdt_jwk_cache_clear();
    free(t);
}

/* Refused text: the import's own error, and nothing kept. */
static void test_jwk_cache_refused(void **state)
{
    char *t = jwk_text(keys[MDT_ALG_ES256], NULL), *priv;
    const mdt_jwk *k = NULL;
    mdt_err err = {0};
    (void)state;

    mdt_jwk_cache_clear();
    assert_true(asprintf(&priv, "{\"d\":\"AAAA\",%s", t + 1) > 0);
    assert_int_equal(mdt_jwk_cache_get(priv, strlen(priv), MDT_ALG_RS256, &k, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_null(k);
    assert_string_equal(err.msg, "JWK holds private key material");
    assert_int_equal(mdt_jwk_cache_get("{", 1, MDT_ALG_RS256, &k, NULL), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_jwk_cache_count(), 0);
    free(priv);
    free(t);
}

/* Bounded: the least recently used key goes. */
static void test_jwk_cache_bounded(void **state)
{
    enum { N = MDT_JWK_CACHE_SLOTS + 3 };
    char *texts[N];
    const mdt_jwk *first = NULL, *k = NULL;
    (void)state;

    mdt_jwk_cache_clear();
    for (size_t i = 0; i < N; i++) {
        mdt_jwk *g = NULL;
        assert_int_equal(mdt_jwk_generate(MDT_ALG_EDDSA, &g, NULL), MDT_OK);
        texts[i] = jwk_text(g, NULL);
        mdt_jwk_free(g);
    }
    assert_int_equal(mdt_jwk_cache_get(texts[0], strlen(texts[0]), MDT_ALG_RS256, &first, NULL),
                     MDT_OK);
    for (size_t i = 1; i < N; i++) {
        assert_int_equal(mdt_jwk_cache_get(texts[i], strlen(texts[i]), MDT_ALG_RS256, &k, NULL),
                         MDT_OK);
        assert_true(mdt_jwk_cache_count() <= MDT_JWK_CACHE_SLOTS);
        /* keep texts[1] recently used: it stays while others go */
        assert_int_equal(mdt_jwk_cache_get(texts[1], strlen(texts[1]), MDT_ALG_RS256, &k, NULL),
                         MDT_OK);
    }
    assert_int_equal(mdt_jwk_cache_count(), MDT_JWK_CACHE_SLOTS);
    for (size_t i = 0; i < N; i++)
        free(texts[i]);
    mdt_jwk_cache_clear();
}

static void *cache_in_thread(void *p)
{
    const char *t = p;
    const mdt_jwk *k = NULL;

    if (mdt_jwk_cache_count() != 0 || mdt_jwk_cache_get(t, strlen(t), MDT_ALG_RS256, &k, NULL) ||
        mdt_jwk_cache_count() != 1)
        return NULL;
    return (void *)k; /* compared only: freed with the thread's cache at its exit */
}

/* Each thread has its own entries, freed when it ends. */
static void test_jwk_cache_per_thread(void **state)
{
    char *t = jwk_text(keys[MDT_ALG_ES256], NULL);
    const mdt_jwk *mine = NULL;
    void *theirs = NULL;
    pthread_t th;
    (void)state;

    mdt_jwk_cache_clear();
    assert_int_equal(mdt_jwk_cache_get(t, strlen(t), MDT_ALG_RS256, &mine, NULL), MDT_OK);
    assert_int_equal(pthread_create(&th, NULL, cache_in_thread, t), 0);
    assert_int_equal(pthread_join(th, &theirs), 0);
    assert_non_null(theirs);
    assert_ptr_not_equal(theirs, mine);
    assert_int_equal(mdt_jwk_cache_count(), 1);
    mdt_jwk_cache_clear();
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_sign_parse_verify),
        cmocka_unit_test(test_sign_appends_and_big_payload),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_es256_der_rejected),
        cmocka_unit_test(test_alg_confusion),
        cmocka_unit_test(test_alg_must_match_exactly),
        cmocka_unit_test(test_ed25519_name),
        cmocka_unit_test(test_export_import),
        cmocka_unit_test(test_public_only),
        cmocka_unit_test(test_public_json_roundtrip),
        cmocka_unit_test(test_rfc7638_thumbprint),
        cmocka_unit_test(test_from_json_rejects),
        cmocka_unit_test(test_from_json_size_bound),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_header_seen_again),
        cmocka_unit_test(test_parse_embedded_nul),
        cmocka_unit_test(test_external_es256),
        cmocka_unit_test(test_header_jwk),
        cmocka_unit_test(test_header_jwk_absent),
        cmocka_unit_test(test_jwk_cache_hit),
        cmocka_unit_test(test_jwk_cache_same_kid_other_key),
        cmocka_unit_test(test_jwk_cache_rsa_alg),
        cmocka_unit_test(test_jwk_cache_refused),
        cmocka_unit_test(test_jwk_cache_bounded),
        cmocka_unit_test(test_jwk_cache_per_thread),
        cmocka_unit_test(test_threads_share_key),
        cmocka_unit_test(test_thread_contexts),
        cmocka_unit_test(test_seal_roundtrip),
        cmocka_unit_test(test_seal_tamper),
        cmocka_unit_test(test_sha256),
    };
    return cmocka_run_group_tests_name("jose", tests, setup, teardown);
}
