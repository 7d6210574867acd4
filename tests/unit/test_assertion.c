/* RFC 7523 assertions: claim rules with an injected clock, the algorithm
 * policy, key selection by kid, JWK Set parsing, the JWK Set cache (with an
 * injected fetcher and clock), trusted issuers files and claim rules, and
 * the address policy of outbound fetches. */
#include "unit.h"
#include "test_jwt.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "core/b64.h"
#include "net/fetch.h"
#include "oauth/assertion.h"
#include "oauth/jwks_cache.h"
#include "oauth/trust.h"

#define NOW 1800000000LL
#define ISS "https://as.example.com"
#define CLIENT "client-1"

static mdt_jwk *k1, *k2, *k3, *rsa;

static int setup(void **state)
{
    (void)state;
    mdt_err err;
    return mdt_jwk_generate(MDT_ALG_ES256, &k1, &err) || mdt_jwk_generate(MDT_ALG_ES256, &k2, &err) ||
           mdt_jwk_generate(MDT_ALG_ES256, &k3, &err) || mdt_jwk_generate(MDT_ALG_RS256, &rsa, &err);
}

static int teardown(void **state)
{
    (void)state;
    mdt_jwk_free(k1);
    mdt_jwk_free(k2);
    mdt_jwk_free(k3);
    mdt_jwk_free(rsa);
    return 0;
}

static char *hdr(const mdt_jwk *key, bool with_kid)
{
    static char h[512];
    if (with_kid)
        snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"%s\"}", mdt_alg_name(mdt_jwk_alg(key)),
                 mdt_jwk_kid(key));
    else
        snprintf(h, sizeof(h), "{\"alg\":\"%s\"}", mdt_alg_name(mdt_jwk_alg(key)));
    return h;
}

/* Claims of a good client assertion at NOW; extra is appended (",\"x\":1"). */
static char *claims(const char *iss, const char *sub, const char *aud, long long exp,
                    const char *extra)
{
    static char c[2048];
    snprintf(c, sizeof(c), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":%s%s%lld,\"jti\":\"j-1\"%s}", iss,
             sub, aud, exp ? ",\"exp\":" : ",\"x\":", exp ? exp : 0, extra ? extra : "");
    return c;
}

static const char *const auds[] = {ISS, ISS "/token"};
static const mdt_assertion_rules client_rules = {
    .iss = CLIENT, .sub = CLIENT, .aud = auds, .naud = 2, .max_lifetime = 300, .require_jti = true};

/* Parses jwt and checks it at now with rules; returns the rc, detail in err. */
static mdt_rc check_at(const char *jwt, const mdt_assertion_rules *r, int64_t now, mdt_err *err)
{
    mdt_assertion a;
    mdt_rc rc = mdt_assertion_parse(jwt, strlen(jwt), &a, err);

    if (rc == MDT_OK)
        rc = mdt_assertion_check(&a, r, now, err);
    mdt_assertion_clear(&a);
    return rc;
}

static void expect(const char *payload, int64_t now, mdt_rc want, const char *detail)
{
    mdt_err err = {0};
    mdt_rc rc = check_at(make_jwt(k1, hdr(k1, true), payload), &client_rules, now, &err);

    if (rc != want || (detail && !strstr(err.detail, detail)))
        fail_msg("payload %s: rc %d (%s), want %d with '%s'", payload, rc, err.detail, want,
                 detail ? detail : "");
}

/* aud names this server only: the issuer or the token endpoint URL, as a
 * string or as an array of nothing else (draft-ietf-oauth-rfc7523bis). */
static void test_audience(void **state)
{
    (void)state;
    test_clock clk = {.t = NOW};
    int64_t t = test_clock_now(&clk);

    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 60, NULL), t, MDT_OK, NULL);
    expect(claims(CLIENT, CLIENT, "\"" ISS "/token\"", t + 60, NULL), t, MDT_OK, NULL);
    expect(claims(CLIENT, CLIENT, "[\"" ISS "\"]", t + 60, NULL), t, MDT_OK, NULL);
    expect(claims(CLIENT, CLIENT, "[\"" ISS "\",\"" ISS "/token\"]", t + 60, NULL), t, MDT_OK,
           NULL);
    /* another party beside this server, before or after it */
    expect(claims(CLIENT, CLIENT, "[\"https://other\",\"" ISS "\"]", t + 60, NULL), t,
           MDT_ERR_VERIFY, "aud names another audience besides this server");
    expect(claims(CLIENT, CLIENT, "[\"" ISS "/token\",\"https://x.example\"]", t + 60, NULL), t,
           MDT_ERR_VERIFY, "aud names another audience besides this server");
    /* near misses of the accepted values are other audiences */
    expect(claims(CLIENT, CLIENT, "\"" ISS "/\"", t + 60, NULL), t, MDT_ERR_VERIFY,
           "aud does not name this server");
    expect(claims(CLIENT, CLIENT, "\"" ISS "/introspect\"", t + 60, NULL), t, MDT_ERR_VERIFY,
           "aud does not name this server");
    expect(claims(CLIENT, CLIENT, "[\"https://other\"]", t + 60, NULL), t, MDT_ERR_VERIFY,
           "aud does not name this server");
    expect(claims(CLIENT, CLIENT, "[]", t + 60, NULL), t, MDT_ERR_VERIFY, "aud missing");
}

static void test_claim_rules(void **state)
{
    (void)state;
    test_clock clk = {.t = NOW};
    int64_t t = test_clock_now(&clk);
    char buf[512];

    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 60, NULL), t, MDT_OK, NULL);
    expect(claims(CLIENT, "other", "\"" ISS "\"", t + 60, NULL), t, MDT_ERR_VERIFY, "sub mismatch");
    expect(claims("other", "other", "\"" ISS "\"", t + 60, NULL), t, MDT_ERR_VERIFY, "iss mismatch");
    expect(claims(CLIENT, CLIENT, "\"https://evil.example\"", t + 60, NULL), t, MDT_ERR_VERIFY,
           "aud does not name");
    expect(claims(CLIENT, CLIENT, "[]", t + 60, NULL), t, MDT_ERR_VERIFY, "aud");
    expect("{\"iss\":\"client-1\",\"sub\":\"client-1\",\"jti\":\"j\",\"exp\":1800000060}", t,
           MDT_ERR_VERIFY, "aud missing");
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", 0, NULL), t, MDT_ERR_VERIFY, "exp missing");
    /* exp: leeway of MDT_ASSERTION_LEEWAY seconds, then expired */
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t - 10, NULL), t, MDT_OK, NULL);
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t - MDT_ASSERTION_LEEWAY, NULL), t,
           MDT_ERR_VERIFY, "expired");
    /* the clock moves: a good assertion expires */
    clk.t += 120;
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 60, NULL), test_clock_now(&clk),
           MDT_ERR_VERIFY, "expired");
    /* at most max_lifetime (300) ahead, plus the leeway */
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 300 + MDT_ASSERTION_LEEWAY, NULL), t, MDT_OK,
           NULL);
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 301 + MDT_ASSERTION_LEEWAY, NULL), t,
           MDT_ERR_VERIFY, "too far ahead");
    snprintf(buf, sizeof(buf), ",\"iat\":%lld", (long long)(t - 400));
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 60, buf), t, MDT_ERR_VERIFY, "exp - iat");
    snprintf(buf, sizeof(buf), ",\"iat\":%lld", (long long)(t + 10));
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 60, buf), t, MDT_OK, NULL);
    snprintf(buf, sizeof(buf), ",\"iat\":%lld", (long long)(t + 31));
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 60, buf), t, MDT_ERR_VERIFY, "iat in the future");
    snprintf(buf, sizeof(buf), ",\"nbf\":%lld", (long long)(t + 50));
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 60, buf), t, MDT_ERR_VERIFY, "nbf");
    snprintf(buf, sizeof(buf), ",\"nbf\":%lld", (long long)(t - 1));
    expect(claims(CLIENT, CLIENT, "\"" ISS "\"", t + 60, buf), t, MDT_OK, NULL);
}

static void test_jti_rules(void **state)
{
    (void)state;
    mdt_err err = {0};
    mdt_assertion_rules lax = client_rules;
    char big[400], payload[1024];
    const char *no_jti = "{\"iss\":\"client-1\",\"sub\":\"client-1\",\"aud\":\"" ISS
                         "\",\"exp\":1800000060}";

    expect(no_jti, NOW, MDT_ERR_VERIFY, "jti missing");
    lax.require_jti = false;
    assert_int_equal(check_at(make_jwt(k1, hdr(k1, true), no_jti), &lax, NOW, &err), MDT_OK);
    memset(big, 'j', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"client-1\",\"sub\":\"client-1\",\"aud\":\"" ISS
             "\",\"exp\":1800000060,\"jti\":\"%s\"}", big);
    expect(payload, NOW, MDT_ERR_VERIFY, "jti too long");
}

static void test_parse_malformed(void **state)
{
    (void)state;
    static const char *const bad_claims[] = {
        "[1]", "\"s\"", "{\"iss\":1}", "{\"sub\":true}", "{\"jti\":{}}", "{\"exp\":\"soon\"}",
        "{\"exp\":-5}", "{\"exp\":1e300}", "{\"iat\":null}", "{\"aud\":5}", "{\"aud\":[\"a\",1]}",
        "{\"iss\":\"a\",\"iss\":\"b\"}", "not json",
    };
    mdt_assertion a;
    mdt_err err;
    char huge[MDT_ASSERTION_MAX + 2];

    for (size_t i = 0; i < MDT_ARRAY_LEN(bad_claims); i++) {
        const char *jwt = make_jwt(k1, hdr(k1, true), bad_claims[i]);
        if (mdt_assertion_parse(jwt, strlen(jwt), &a, &err) != MDT_ERR_INVALID_REQUEST)
            fail_msg("accepted claims %s", bad_claims[i]);
        mdt_assertion_clear(&a);
    }
    assert_int_not_equal(mdt_assertion_parse("a.b", 3, &a, &err), MDT_OK);
    assert_int_not_equal(mdt_assertion_parse("", 0, &a, &err), MDT_OK);
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(mdt_assertion_parse(huge, strlen(huge), &a, &err), MDT_ERR_TOO_LARGE);
    mdt_assertion_clear(&a);
    mdt_assertion_clear(NULL);
}

static void test_alg_policy(void **state)
{
    (void)state;
    mdt_err err = {0};
    mdt_assertion_rules reg = client_rules;
    const char *c = claims(CLIENT, CLIENT, "\"" ISS "\"", NOW + 60, NULL);
    static const char *const refused[] = {"none", "HS256", "HS512", "RS512", "ES384", "es256"};
    char h[128];

    for (size_t i = 0; i < MDT_ARRAY_LEN(refused); i++) {
        snprintf(h, sizeof(h), "{\"alg\":\"%s\"}", refused[i]);
        if (check_at(make_jwt(NULL, h, c), &client_rules, NOW, &err) != MDT_ERR_VERIFY ||
            !strstr(err.detail, "refused"))
            fail_msg("alg '%s' accepted (%s)", refused[i], err.detail);
    }
    assert_int_not_equal(check_at(make_jwt(NULL, "{\"alg\":\"\"}", c), &client_rules, NOW, &err),
                         MDT_OK);
    /* the registered alg only */
    reg.alg = "RS256";
    assert_int_equal(check_at(make_jwt(k1, hdr(k1, true), c), &reg, NOW, &err), MDT_ERR_VERIFY);
    assert_non_null(strstr(err.detail, "not the registered RS256"));
    reg.alg = "ES256";
    assert_int_equal(check_at(make_jwt(k1, hdr(k1, true), c), &reg, NOW, &err), MDT_OK);
    /* an access token or a DPoP proof is not an assertion */
    assert_int_equal(check_at(make_jwt(k1, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}", c),
                              &client_rules, NOW, &err), MDT_ERR_VERIFY);
    assert_int_equal(check_at(make_jwt(k1, "{\"alg\":\"ES256\",\"typ\":\"dpop+jwt\"}", c),
                              &client_rules, NOW, &err), MDT_ERR_VERIFY);
    assert_int_equal(check_at(make_jwt(k1, "{\"alg\":\"ES256\",\"typ\":\"JWT\"}", c),
                              &client_rules, NOW, &err), MDT_OK);
}

/* {"keys":[...]} of these public keys, optionally dropping "alg" from RSA. */
static char *jwks_of(const mdt_jwk *const *keys, size_t n, bool strip_rsa_alg)
{
    static char out[32768];
    mdt_buf b;
    mdt_err err;
    size_t len = 0;

    len += (size_t)snprintf(out, sizeof(out), "{\"keys\":[");
    for (size_t i = 0; i < n; i++) {
        mdt_buf_init(&b, 16384);
        assert_int_equal(mdt_jwk_public_json(keys[i], &b, &err), MDT_OK);
        if (strip_rsa_alg && mdt_jwk_alg(keys[i]) == MDT_ALG_RS256) {
            char *p = strstr(b.data, ",\"alg\":\"RS256\"");
            assert_non_null(p);
            memmove(p, p + 14, strlen(p + 14) + 1);
        }
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "", b.data);
        mdt_buf_free(&b);
    }
    snprintf(out + len, sizeof(out) - len, "]}");
    return out;
}

static mdt_rc verify_with(mdt_keyset *ks, const mdt_jwk *signer, const char *header,
                          const mdt_jwk **used, mdt_err *err)
{
    const char *jwt = make_jwt(signer, header, claims(CLIENT, CLIENT, "\"" ISS "\"", NOW + 60, NULL));
    mdt_assertion a;
    mdt_rc rc = mdt_assertion_parse(jwt, strlen(jwt), &a, err);

    assert_int_equal(rc, MDT_OK);
    rc = mdt_assertion_verify(&a, ks, used, err);
    mdt_assertion_clear(&a);
    return rc;
}

static void test_kid_selection(void **state)
{
    (void)state;
    const mdt_jwk *const set[] = {k1, k2, rsa};
    const char *json = jwks_of(set, 3, true);
    mdt_keyset *ks = NULL;
    const mdt_jwk *used = NULL;
    char h[512];
    mdt_err err = {0};

    assert_int_equal(mdt_keyset_parse(json, strlen(json), &ks, &err), MDT_OK);
    assert_int_equal(mdt_keyset_count(ks), 4); /* RSA without alg: RS256 and PS256 */
    /* with a kid: that key */
    assert_int_equal(verify_with(ks, k2, hdr(k2, true), &used, &err), MDT_OK);
    assert_string_equal(mdt_jwk_kid(used), mdt_jwk_kid(k2));
    /* without: every key of the alg in turn */
    assert_int_equal(verify_with(ks, k2, hdr(k2, false), &used, &err), MDT_OK);
    assert_string_equal(mdt_jwk_kid(used), mdt_jwk_kid(k2));
    /* unknown kid: NOT_FOUND (the caller may refetch) */
    assert_int_equal(verify_with(ks, k3, hdr(k3, true), &used, &err), MDT_ERR_NOT_FOUND);
    assert_non_null(strstr(err.detail, "unknown kid"));
    assert_null(used);
    /* the kid of k1 but k2's signature; no kid and a key not in the set */
    snprintf(h, sizeof(h), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", mdt_jwk_kid(k1));
    assert_int_equal(verify_with(ks, k2, h, &used, &err), MDT_ERR_VERIFY);
    assert_int_equal(verify_with(ks, k3, hdr(k3, false), &used, &err), MDT_ERR_VERIFY);
    /* the alg must fit the key: ES256 kid with an RS256 header finds no key */
    snprintf(h, sizeof(h), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", mdt_jwk_kid(k1));
    assert_int_equal(verify_with(ks, rsa, h, &used, &err), MDT_ERR_NOT_FOUND);
    assert_int_equal(verify_with(ks, rsa, hdr(rsa, true), &used, &err), MDT_OK);
    mdt_keyset_unref(ks);
    /* with its alg, an RSA key serves that alg only */
    json = jwks_of(set, 3, false);
    assert_int_equal(mdt_keyset_parse(json, strlen(json), &ks, &err), MDT_OK);
    assert_int_equal(mdt_keyset_count(ks), 3);
    mdt_keyset_unref(mdt_keyset_ref(ks));
    mdt_keyset_unref(ks);
    mdt_keyset_unref(NULL);
}

static void test_keyset_parse(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[]}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}",
        "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"a\",\"y\":\"b\"}]}",
    };
    const mdt_jwk *const one[] = {k1};
    char doc[16384], key[4096];
    mdt_keyset *ks = NULL;
    mdt_err err;
    size_t n;

    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        if (mdt_keyset_parse(bad[i], strlen(bad[i]), &ks, &err) == MDT_OK)
            fail_msg("accepted %s", bad[i]);
        assert_null(ks);
    }
    /* the members of one good key, without the braces */
    snprintf(key, sizeof(key), "%s", jwks_of(one, 1, false) + 10);
    key[strlen(key) - 3] = '\0';
    /* encryption and x509-svid keys skipped, jwt-svid used, private members skipped */
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"x\",\"e\":\"AQAB\"},"
             "{%s,\"use\":\"x509-svid\"},{\"kty\":\"EC\",\"d\":\"x\"}]}", key);
    assert_int_equal(mdt_keyset_parse(doc, strlen(doc), &ks, &err), MDT_ERR_INVALID_REQUEST);
    assert_null(ks);
    /* a SPIFFE bundle: "use":"jwt-svid" keys are signing keys; others skipped */
    {
        char *u = strstr(key, "\"use\":\"sig\"");
        assert_non_null(u);
        snprintf(doc, sizeof(doc),
                 "{\"spiffe_sequence\":3,\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"},{%.*s\"use\":\"jwt-svid\"%s}]}",
                 (int)(u - key), key, u + 11);
    }
    assert_int_equal(mdt_keyset_parse(doc, strlen(doc), &ks, &err), MDT_OK);
    assert_int_equal(mdt_keyset_count(ks), 1);
    mdt_keyset_unref(ks);
    /* too many keys */
    n = (size_t)snprintf(doc, sizeof(doc), "{\"keys\":[");
    for (int i = 0; i <= MDT_KEYSET_MAX; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s{\"kty\":\"oct\"}", i ? "," : "");
    snprintf(doc + n, sizeof(doc) - n, "]}");
    assert_int_equal(mdt_keyset_parse(doc, strlen(doc), &ks, &err), MDT_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err.detail, "more than"));
}

/* ---------------------------------------------------------------- cache */

typedef struct {
    int calls;
    mdt_rc rc;
    const char *body;
} fake_fetch;

static mdt_rc fake_get(void *ctx, const char *url, mdt_buf *out, mdt_err *err)
{
    fake_fetch *f = ctx;
    (void)url;
    f->calls++;
    if (f->rc != MDT_OK)
        return mdt_failf(err, f->rc, "fetch failed", "fake failure %d", f->calls);
    return mdt_buf_adds(out, f->body);
}

static void test_jwks_cache(void **state)
{
    (void)state;
    const mdt_jwk *const one[] = {k1}, *const two[] = {k1, k2};
    char set1[8192], set2[8192];
    fake_fetch f = {.body = set1};
    mdt_jwks_cache_opts o = {.ttl = 300, .refetch_interval = 30, .fetch = {.max_bytes = 65536},
                             .fetch_fn = fake_get, .fetch_ctx = &f};
    mdt_jwks_cache *c = NULL;
    mdt_keyset *ks = NULL, *ks2 = NULL;
    test_clock clk = {.t = NOW};
    mdt_err err = {0};
    const char *u = "https://client.example/jwks";

    snprintf(set1, sizeof(set1), "%s", jwks_of(one, 1, false));
    snprintf(set2, sizeof(set2), "%s", jwks_of(two, 2, false));
    assert_int_equal(mdt_jwks_cache_new(&o, &c, &err), MDT_OK);
    assert_int_equal(mdt_jwks_cache_get(c, u, test_clock_now(&clk), false, NULL, &ks, &err), MDT_OK);
    assert_int_equal(mdt_keyset_count(ks), 1);
    mdt_keyset_unref(ks);
    /* cached within the ttl, even when asked to refresh within the interval */
    clk.t += 10;
    assert_int_equal(mdt_jwks_cache_get(c, u, clk.t, false, NULL, &ks, &err), MDT_OK);
    mdt_keyset_unref(ks);
    f.body = set2;
    assert_int_equal(mdt_jwks_cache_get(c, u, clk.t, true, NULL, &ks, &err), MDT_OK);
    assert_int_equal(mdt_keyset_count(ks), 1);
    mdt_keyset_unref(ks);
    assert_int_equal(f.calls, 1);
    /* past the interval: a refresh fetches, once */
    clk.t += 25;
    assert_int_equal(mdt_jwks_cache_get(c, u, clk.t, true, NULL, &ks, &err), MDT_OK);
    assert_int_equal(mdt_keyset_count(ks), 2);
    mdt_keyset_unref(ks);
    assert_int_equal(mdt_jwks_cache_get(c, u, clk.t + 1, true, NULL, &ks, &err), MDT_OK);
    mdt_keyset_unref(ks);
    assert_int_equal(f.calls, 2);
    /* past the ttl: fetched again; a failure is remembered for the interval */
    clk.t += 301;
    f.rc = MDT_ERR_UNAVAILABLE;
    assert_int_equal(mdt_jwks_cache_get(c, u, clk.t, false, NULL, &ks, &err), MDT_ERR_UNAVAILABLE);
    assert_null(ks);
    assert_int_equal(mdt_jwks_cache_get(c, u, clk.t + 5, false, NULL, &ks, &err), MDT_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.detail, "fake failure 3"));
    assert_int_equal(f.calls, 3);
    f.rc = MDT_OK;
    clk.t += 31;
    assert_int_equal(mdt_jwks_cache_get(c, u, clk.t, false, NULL, &ks, &err), MDT_OK);
    mdt_keyset_unref(ks);
    assert_int_equal(f.calls, 4);
    assert_int_equal(mdt_jwks_cache_fetches(c), 4);
    /* not a JWK Set */
    f.body = "{\"hello\":1}";
    assert_int_equal(mdt_jwks_cache_get(c, "https://other.example/jwks", clk.t, false, NULL, &ks, &err),
                     MDT_ERR_INVALID_REQUEST);
    /* registered sets: parsed once per content, never fetched */
    assert_int_equal(mdt_jwks_cache_inline(c, set1, &ks, &err), MDT_OK);
    assert_int_equal(mdt_jwks_cache_inline(c, set1, &ks2, &err), MDT_OK);
    assert_ptr_equal(ks, ks2);
    mdt_keyset_unref(ks2);
    /* a URL equal to a registered set's key is another entry */
    mdt_keyset_unref(ks);
    assert_int_equal(f.calls, 5);
    mdt_jwks_cache_free(c);
    mdt_jwks_cache_free(NULL);
}

static void test_jwks_cache_bounded(void **state)
{
    (void)state;
    const mdt_jwk *const one[] = {k1};
    char set1[8192], url[64];
    fake_fetch f = {.body = set1};
    mdt_jwks_cache_opts o = {.ttl = 300, .refetch_interval = 30, .fetch = {.max_bytes = 65536},
                             .fetch_fn = fake_get, .fetch_ctx = &f};
    mdt_jwks_cache *c = NULL;
    mdt_keyset *ks = NULL, *held = NULL;
    mdt_err err;

    snprintf(set1, sizeof(set1), "%s", jwks_of(one, 1, false));
    assert_int_equal(mdt_jwks_cache_new(&o, &c, &err), MDT_OK);
    assert_int_equal(mdt_jwks_cache_get(c, "https://u/0", NOW, false, NULL, &held, &err), MDT_OK);
    for (int i = 1; i <= MDT_JWKS_CACHE_MAX + 10; i++) {
        snprintf(url, sizeof(url), "https://u/%d", i);
        assert_int_equal(mdt_jwks_cache_get(c, url, NOW, false, NULL, &ks, &err), MDT_OK);
        mdt_keyset_unref(ks);
    }
    /* the first entry was evicted (least recently used) but its keys stay valid */
    assert_int_equal(mdt_keyset_count(held), 1);
    assert_int_equal(mdt_jwks_cache_get(c, "https://u/0", NOW, false, NULL, &ks, &err), MDT_OK);
    mdt_keyset_unref(ks);
    assert_int_equal(f.calls, MDT_JWKS_CACHE_MAX + 12);
    mdt_jwks_cache_free(c);
    mdt_keyset_unref(held);
}

/* ---------------------------------------------------------------- trust */

static mdt_config trust_cfg(void)
{
    mdt_config cfg = {0};
    cfg.issuer = (char *)ISS;
    return cfg;
}

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    assert_non_null(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
}

static void expect_trust_error(mdt_trust_kind kind, const char *text, const char *detail)
{
    mdt_config cfg = trust_cfg();
    mdt_trust *t = NULL;
    mdt_err err = {0};
    char path[256];

    snprintf(path, sizeof(path), "%s/issuers.json", tmpdir);
    assert_int_equal(mdt_trust_new(&t, &err), MDT_OK);
    if (mdt_trust_add(t, kind, text, strlen(text), path, &cfg, &err) != MDT_ERR_CONFIG ||
        !strstr(err.detail, detail) || !strstr(err.detail, "issuers.json"))
        fail_msg("file %s: want '%s', got '%s'", text, detail, err.detail);
    assert_null(mdt_trust_find(t, kind, "https://i"));
    mdt_trust_free(t);
}

static void test_trust_errors(void **state)
{
    (void)state;
    const mdt_jwk *const one[] = {k1};

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mdt-trust-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    write_file("k.json", jwks_of(one, 1, false));
    write_file("bad.json", "{\"keys\":[]}");
    expect_trust_error(MDT_TRUST_WORKLOAD, "{", ":1:");
    expect_trust_error(MDT_TRUST_WORKLOAD, "{}", "JSON array");
    expect_trust_error(MDT_TRUST_WORKLOAD, "[1]", "issuer 1: must be an object");
    expect_trust_error(MDT_TRUST_WORKLOAD, "[{\"jwks_file\":\"k.json\"}]", "issuer must be");
    expect_trust_error(MDT_TRUST_WORKLOAD, "[{\"issuer\":\"\",\"jwks_file\":\"k.json\"}]",
                       "issuer must be");
    expect_trust_error(MDT_TRUST_WORKLOAD, "[{\"issuer\":\"https://i\"}]", "exactly one of");
    expect_trust_error(MDT_TRUST_WORKLOAD,
                       "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\",\"jwks_uri\":\"https://k\"}]",
                       "exactly one of");
    expect_trust_error(MDT_TRUST_WORKLOAD, "[{\"issuer\":\"https://i\",\"jwks_uri\":\"http://k\"}]",
                       "must be an https URL");
    expect_trust_error(MDT_TRUST_WORKLOAD,
                       "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\",\"max_lifetime\":5}]",
                       "unknown member 'max_lifetime'");
    expect_trust_error(MDT_TRUST_WORKLOAD, "[{\"issuer\":\"https://i\",\"jwks_file\":\"none.json\"}]",
                       "none.json");
    expect_trust_error(MDT_TRUST_WORKLOAD, "[{\"issuer\":\"https://i\",\"jwks_file\":\"bad.json\"}]",
                       "no usable signing key");
    expect_trust_error(MDT_TRUST_WORKLOAD,
                       "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\"},"
                       "{\"issuer\":\"https://i\",\"jwks_uri\":\"https://k\"}]",
                       "issuer 2: issuer listed twice");
    expect_trust_error(MDT_TRUST_WORKLOAD,
                       "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\",\"audience\":7}]",
                       "audience");
    expect_trust_error(MDT_TRUST_JWT_BEARER, "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\"}]",
                       "rules must be");
    expect_trust_error(MDT_TRUST_JWT_BEARER,
                       "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\",\"rules\":[{\"match\":{\"a\":1}}]}]",
                       "strings or booleans");
    expect_trust_error(MDT_TRUST_JWT_BEARER,
                       "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\",\"rules\":[{\"scopes\":[\"a b\"]}]}]",
                       "scope names");
    expect_trust_error(MDT_TRUST_JWT_BEARER,
                       "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\",\"rules\":[{\"subjct\":\"x\"}]}]",
                       "unknown rule member 'subjct'");
    expect_trust_error(MDT_TRUST_JWT_BEARER,
                       "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\",\"max_lifetime\":\"1h\",\"rules\":[{}]}]",
                       "max_lifetime");
    expect_trust_error(MDT_TRUST_JWT_BEARER,
                       "[{\"issuer\":\"https://i\",\"jwks_file\":\"k.json\",\"single_use\":1,\"rules\":[{}]}]",
                       "single_use");
}

static void test_trust_load_and_rules(void **state)
{
    (void)state;
    mdt_config cfg = trust_cfg();
    mdt_trust *t = NULL;
    const mdt_trusted_issuer *ti;
    const mdt_trust_rule *rule = NULL;
    const char *subject = NULL;
    mdt_arena a;
    mdt_err err = {0};
    json_t *claims;
    char wpath[256], bpath[256];

    /* after test_trust_errors: tmpdir holds k.json */
    snprintf(wpath, sizeof(wpath), "%s/workload.json", tmpdir);
    snprintf(bpath, sizeof(bpath), "%s/bearer.json", tmpdir);
    write_file("workload.json", "[{\"issuer\":\"https://k8s\",\"jwks_file\":\"k.json\"},"
                                "{\"issuer\":\"https://spire\",\"jwks_uri\":\"https://spire/keys\","
                                "\"audience\":\"mandate\"}]");
    write_file("bearer.json",
               "[{\"issuer\":\"https://idp\",\"jwks_file\":\"k.json\",\"max_lifetime\":600,"
               "\"rules\":[{\"match\":{\"tenant\":\"acme\",\"verified\":true},"
               "\"subject_prefix\":\"acme:\",\"scopes\":[\"read\"]},"
               "{\"match\":{\"tenant\":\"globex\"},\"subject_claim\":\"email\","
               "\"scopes\":[\"read\",\"write\"]}]}]");
    cfg.workload_issuers = wpath;
    cfg.jwt_bearer_issuers = bpath;
    cfg.token_exchange_subject_issuers = bpath; /* the same format, a list of its own */
    assert_int_equal(mdt_trust_load(&cfg, &t, &err), MDT_OK);
    ti = mdt_trust_find(t, MDT_TRUST_TOKEN_EXCHANGE, "https://idp");
    assert_non_null(ti);
    assert_int_equal(ti->nrules, 2);
    assert_int_equal(ti->max_lifetime, 600);
    assert_null(mdt_trust_find(t, MDT_TRUST_TOKEN_EXCHANGE, "https://k8s"));
    ti = mdt_trust_find(t, MDT_TRUST_WORKLOAD, "https://k8s");
    assert_non_null(ti);
    assert_string_equal(ti->audience, ISS); /* default: Mandate's issuer */
    assert_int_equal(mdt_keyset_count(ti->keys), 1);
    assert_int_equal(ti->max_lifetime, MDT_WORKLOAD_MAX_AHEAD);
    ti = mdt_trust_find(t, MDT_TRUST_WORKLOAD, "https://spire");
    assert_string_equal(ti->audience, "mandate");
    assert_string_equal(ti->jwks_uri, "https://spire/keys");
    assert_null(ti->keys);
    assert_null(mdt_trust_find(t, MDT_TRUST_JWT_BEARER, "https://k8s"));
    assert_null(mdt_trust_find(t, MDT_TRUST_WORKLOAD, "https://k8s/"));
    assert_null(mdt_trust_find(NULL, MDT_TRUST_WORKLOAD, "https://k8s"));
    ti = mdt_trust_find(t, MDT_TRUST_JWT_BEARER, "https://idp");
    assert_non_null(ti);
    assert_int_equal(ti->max_lifetime, 600);
    assert_true(ti->single_use);
    assert_int_equal(ti->nrules, 2);

    mdt_arena_init(&a, 1024);
    claims = json_pack("{s:s, s:s, s:b, s:s}", "sub", "u1", "tenant", "acme", "verified", 1,
                       "email", "a@x");
    assert_int_equal(mdt_trust_match_rule(ti, claims, &a, &rule, &subject, &err), MDT_OK);
    assert_string_equal(subject, "acme:u1");
    assert_ptr_equal(rule, &ti->rules[0]);
    assert_int_equal(rule->nscopes, 1);
    /* booleans match booleans only */
    json_object_set_new(claims, "verified", json_string("true"));
    assert_int_equal(mdt_trust_match_rule(ti, claims, &a, &rule, &subject, &err), MDT_ERR_NOT_FOUND);
    json_object_set_new(claims, "tenant", json_string("globex"));
    assert_int_equal(mdt_trust_match_rule(ti, claims, &a, &rule, &subject, &err), MDT_OK);
    assert_string_equal(subject, "a@x");
    assert_int_equal(rule->nscopes, 2);
    json_object_del(claims, "email");
    assert_int_equal(mdt_trust_match_rule(ti, claims, &a, &rule, &subject, &err), MDT_ERR_VERIFY);
    json_object_set_new(claims, "tenant", json_string("initech"));
    assert_int_equal(mdt_trust_match_rule(ti, claims, &a, &rule, &subject, &err), MDT_ERR_NOT_FOUND);
    json_object_del(claims, "tenant");
    assert_int_equal(mdt_trust_match_rule(ti, claims, &a, &rule, &subject, &err), MDT_ERR_NOT_FOUND);
    json_decref(claims);
    mdt_arena_free(&a);
    mdt_trust_free(t);
    mdt_trust_free(NULL);

    /* a missing file stops the load, naming it */
    cfg.workload_issuers = (char *)"/nonexistent/issuers.json";
    assert_int_equal(mdt_trust_load(&cfg, &t, &err), MDT_ERR_CONFIG);
    assert_non_null(strstr(err.detail, "/nonexistent/issuers.json"));
    assert_null(t);
    /* empty paths: no issuers */
    cfg.workload_issuers = (char *)"";
    cfg.jwt_bearer_issuers = (char *)"";
    assert_int_equal(mdt_trust_load(&cfg, &t, &err), MDT_OK);
    assert_null(mdt_trust_find(t, MDT_TRUST_WORKLOAD, "https://k8s"));
    mdt_trust_free(t);
    unlink(wpath);
    unlink(bpath);
    snprintf(wpath, sizeof(wpath), "%s/k.json", tmpdir);
    unlink(wpath);
    snprintf(wpath, sizeof(wpath), "%s/bad.json", tmpdir);
    unlink(wpath);
    rmdir(tmpdir);
}

/* ---------------------------------------------------------------- fetch */

static bool public_addr(const char *text)
{
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};

    if (inet_pton(AF_INET, text, &s4.sin_addr) == 1)
        return mdt_fetch_addr_public((struct sockaddr *)&s4);
    assert_int_equal(inet_pton(AF_INET6, text, &s6.sin6_addr), 1);
    return mdt_fetch_addr_public((struct sockaddr *)&s6);
}

/* The outbound deny list, address by address: each range's first and last
 * address, one inside, and the public neighbours just outside it. Nothing
 * is sent anywhere; only the classification is checked. */
static void test_fetch_addresses(void **state)
{
    (void)state;
    static const char *const refused[] = {
        /* IPv4 */
        "0.0.0.0", "0.255.255.255", "10.0.0.0", "10.1.2.3", "10.255.255.255", "100.64.0.0",
        "100.64.0.1", "100.127.255.255", "127.0.0.1", "127.255.0.9", "127.255.255.255",
        "169.254.0.0", "169.254.169.254", "169.254.255.255", "172.16.0.0", "172.16.0.1",
        "172.31.255.255", "192.0.0.0", "192.0.0.255", "192.0.2.5", "192.88.99.1",
        "192.168.0.0", "192.168.1.1", "192.168.255.255", "198.18.0.1", "198.19.255.255",
        "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.1.1.1", "240.0.0.1",
        "255.255.255.255",
        /* IPv6 */
        "::", "::1", "::127.0.0.1", "::8.8.8.8", "fe80::1", "febf:ffff::1", "fec0::1",
        "fc00::1", "fd12:3456::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff02::1",
        "ff0e::1", "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::1",
        "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:20::1", "100::1",
        "100::ffff:ffff:ffff:ffff",
        /* IPv4-mapped, NAT64 well-known prefix and 6to4 forms of refused IPv4 */
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
        "64:ff9b::a9fe:a9fe", "64:ff9b::127.0.0.1", "64:ff9b::10.0.0.1", "2002:7f00:1::",
        "2002:a00:1::", "2002:c0a8:101::1",
        /* the local-use NAT64 prefix (RFC 8215), whatever IPv4 address it carries */
        "64:ff9b:1::", "64:ff9b:1::1", "64:ff9b:1::808:808", "64:ff9b:1::a00:1",
        "64:ff9b:1:abcd::7f00:1", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
    };
    static const char *const allowed[] = {
        "8.8.8.8", "1.1.1.1", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.1",
        "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255",
        "172.32.0.1", "192.0.1.0", "192.167.255.255", "192.169.0.0", "193.0.0.1",
        "198.17.255.255", "198.20.0.0", "223.255.255.255", "2606:4700::1111", "2a00:1450::1",
        "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "64:ff9b:0:ffff::1", "64:ff9b:2::1",
        "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", "2002:808:808::1", "2001:db9::1",
        "2001:1::1", "fbff::1", "fe7f::1",
    };

    for (size_t i = 0; i < MDT_ARRAY_LEN(refused); i++)
        if (public_addr(refused[i]))
            fail_msg("%s counted as public", refused[i]);
    for (size_t i = 0; i < MDT_ARRAY_LEN(allowed); i++)
        if (!public_addr(allowed[i]))
            fail_msg("%s refused", allowed[i]);
}

static void test_fetch_refusal_reason(void **state)
{
    (void)state;
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct sockaddr other = {.sa_family = AF_UNIX};

    assert_int_equal(inet_pton(AF_INET6, "64:ff9b:1::a00:1", &s6.sin6_addr), 1);
    assert_string_equal(mdt_fetch_addr_refused((struct sockaddr *)&s6), "local-use NAT64 (RFC 8215)");
    assert_int_equal(inet_pton(AF_INET6, "64:ff9b::7f00:1", &s6.sin6_addr), 1);
    assert_string_equal(mdt_fetch_addr_refused((struct sockaddr *)&s6), "loopback (RFC 1122)");
    assert_int_equal(inet_pton(AF_INET, "169.254.169.254", &s4.sin_addr), 1);
    assert_non_null(strstr(mdt_fetch_addr_refused((struct sockaddr *)&s4), "link-local"));
    assert_int_equal(inet_pton(AF_INET, "8.8.4.4", &s4.sin_addr), 1);
    assert_null(mdt_fetch_addr_refused((struct sockaddr *)&s4));
    assert_non_null(mdt_fetch_addr_refused(&other));
}

static void test_fetch_policy(void **state)
{
    (void)state;
    mdt_fetch_opts o = {.timeout_ms = 2000, .max_bytes = 4096};
    mdt_buf b;
    mdt_err err = {0};

    mdt_buf_init(&b, 4096);
    assert_int_equal(mdt_fetch_get("http://127.0.0.1:1/jwks", &o, &b, &err), MDT_ERR_INVALID_REQUEST);
    assert_non_null(strstr(err.detail, "http URL refused"));
    assert_int_equal(mdt_fetch_get("file:///etc/passwd", &o, &b, &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_fetch_get("https://user:pw@example.com/", &o, &b, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_fetch_get("not a url", &o, &b, &err), MDT_ERR_INVALID_REQUEST);
    /* the connection to a loopback address is refused before it is made */
    o.allow_http = true;
    assert_int_equal(mdt_fetch_get("http://127.0.0.1:1/jwks", &o, &b, &err), MDT_ERR_ACCESS_DENIED);
    assert_non_null(strstr(err.detail, "127.0.0.1"));
    assert_int_equal(mdt_fetch_get("http://[::1]:1/jwks", &o, &b, &err), MDT_ERR_ACCESS_DENIED);
    /* allowed: the connection is attempted (port 1: refused by the kernel) */
    o.allow_private = true;
    assert_int_equal(mdt_fetch_get("http://127.0.0.1:1/jwks", &o, &b, &err), MDT_ERR_UNAVAILABLE);
    assert_int_equal(b.len, 0);
    mdt_buf_free(&b);
}

/* ---------------------------------------------------------------- fetcher */

typedef struct {
    pthread_mutex_t mu;
    int done;
    mdt_rc last;
} done_count;

static void count_done(void *ctx, mdt_rc rc, const mdt_buf *body, const mdt_fetch_headers *h,
                       const mdt_err *err)
{
    done_count *d = ctx;
    (void)body;
    (void)h;
    (void)err;
    pthread_mutex_lock(&d->mu);
    d->done++;
    d->last = rc;
    pthread_mutex_unlock(&d->mu);
}

/* A loopback listening socket that never answers: connections complete in
 * the kernel's backlog and wait there. */
static int silent_listener(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* The caps, in total and per host (as written in the URL), are checked when
 * a fetch is submitted; stopping ends what is in progress with its callback. */
static void test_fetcher_caps(void **state)
{
    (void)state;
    mdt_fetch_opts o = {.timeout_ms = 60000, .max_bytes = 4096, .allow_http = true,
                        .allow_private = true};
    done_count d = {.mu = PTHREAD_MUTEX_INITIALIZER};
    mdt_fetcher *f = NULL;
    mdt_err err = {0};
    char url[64];
    int port, fd = silent_listener(&port);

    assert_int_equal(mdt_fetcher_start(2, 1, &f, &err), MDT_OK);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/a", port);
    assert_int_equal(mdt_fetcher_submit(f, url, &o, NULL, count_done, &d, &err), MDT_OK);
    /* the same host again: beyond max_per_host = 1 */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/b", port);
    assert_int_equal(mdt_fetcher_submit(f, url, &o, NULL, count_done, &d, &err),
                     MDT_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.detail, "fetch_max_per_host"));
    /* another host (the same listener by another name) fits */
    snprintf(url, sizeof(url), "http://localhost:%d/c", port);
    assert_int_equal(mdt_fetcher_submit(f, url, &o, NULL, count_done, &d, &err), MDT_OK);
    assert_int_equal(mdt_fetcher_active(f), 2);
    /* a third host: beyond max_total = 2 */
    snprintf(url, sizeof(url), "http://127.0.0.2:%d/d", port);
    assert_int_equal(mdt_fetcher_submit(f, url, &o, NULL, count_done, &d, &err),
                     MDT_ERR_UNAVAILABLE);
    assert_non_null(strstr(err.detail, "fetch_max_concurrent"));
    /* a bad URL is refused before it counts */
    assert_int_equal(mdt_fetcher_submit(f, "file:///etc/passwd", &o, NULL, count_done, &d, &err),
                     MDT_ERR_INVALID_REQUEST);
    /* stopping ends both held fetches, each with its callback, once */
    mdt_fetcher_stop(f);
    assert_int_equal(d.done, 2);
    assert_int_equal(d.last, MDT_ERR_UNAVAILABLE);
    assert_int_equal(mdt_fetcher_active(f), 0);
    assert_int_equal(mdt_fetcher_submit(f, url, &o, NULL, count_done, &d, &err),
                     MDT_ERR_UNAVAILABLE);
    mdt_fetcher_stop(f); /* idempotent */
    mdt_fetcher_free(f);
    mdt_fetcher_free(NULL);
    close(fd);
    assert_int_equal(d.done, 2);
}

typedef struct {
    int woken;
    mdt_fetch_waiter *self;
} wake_rec;

static void on_wake(void *ctx)
{
    wake_rec *w = ctx;
    assert_null(w->self->next); /* unlinked before it is woken */
    w->woken++;
}

static void test_fetch_waiters(void **state)
{
    (void)state;
    wake_rec r[3] = {{0}};
    mdt_fetch_waiter w[3];

    for (int i = 0; i < 3; i++) {
        w[i] = (mdt_fetch_waiter){.wake = on_wake, .ctx = &r[i], .next = i < 2 ? &w[i + 1] : NULL};
        r[i].self = &w[i];
    }
    mdt_fetch_waiters_wake(&w[0]);
    mdt_fetch_waiters_wake(NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(r[i].woken, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_rules),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_jti_rules),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_alg_policy),
        cmocka_unit_test(test_kid_selection),
        cmocka_unit_test(test_keyset_parse),
        cmocka_unit_test(test_jwks_cache),
        cmocka_unit_test(test_jwks_cache_bounded),
        cmocka_unit_test(test_trust_errors),
        cmocka_unit_test(test_trust_load_and_rules),
        cmocka_unit_test(test_fetch_addresses),
        cmocka_unit_test(test_fetch_refusal_reason),
        cmocka_unit_test(test_fetcher_caps),
        cmocka_unit_test(test_fetch_waiters),
        cmocka_unit_test(test_fetch_policy),
    };
    return cmocka_run_group_tests_name("assertion", tests, setup, teardown);
}
