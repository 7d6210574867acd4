/* Software statements (RFC 7591 §2.3) with an injected clock and a
 * publisher whose JWK Set comes from an injected fetcher: a trusted
 * publisher's statement and the claims kept from it, an untrusted or
 * missing issuer, bad signatures, "none" and HMAC, times with the leeway,
 * the size bound, and the publishers file's rules. */
#include "unit.h"
#include "test_jwt.h"

#include <stdio.h>

#include <jansson.h>

#include "core/b64.h"
#include "oauth/jwks_cache.h"
#include "oauth/software_statement.h"
#include "oauth/trust.h"

#define NOW 1800000000LL
#define PUB "https://publisher.example"
#define PUB_JWKS "https://publisher.example/jwks.json"

static mdt_jwk *k1, *k2, *rsa;
static char jwks_body[8192];
static int fetches;

static mdt_rc fake_get(void *ctx, const char *url, mdt_buf *out, mdt_err *err)
{
    (void)ctx;
    fetches++;
    if (strcmp(url, PUB_JWKS) != 0)
        return mdt_fail(err, MDT_ERR_UNAVAILABLE, "unexpected URL");
    return mdt_buf_adds(out, jwks_body);
}

static void set_jwks(const mdt_jwk *const *keys, size_t n)
{
    size_t len = (size_t)snprintf(jwks_body, sizeof(jwks_body), "{\"keys\":[");
    mdt_err err;

    for (size_t i = 0; i < n; i++) {
        mdt_buf b;
        mdt_buf_init(&b, 8192);
        assert_int_equal(mdt_jwk_public_json(keys[i], &b, &err), MDT_OK);
        len += (size_t)snprintf(jwks_body + len, sizeof(jwks_body) - len, "%s%s", i ? "," : "",
                                b.data);
        mdt_buf_free(&b);
    }
    snprintf(jwks_body + len, sizeof(jwks_body) - len, "]}");
}

typedef struct {
    mdt_env env;
    mdt_arena arena;
} fixture;

static int setup(void **state)
{
    static const char publishers[] = "[{\"issuer\":\"" PUB "\",\"jwks_uri\":\"" PUB_JWKS "\"}]";
    const mdt_jwk *signers[2];
    mdt_jwks_cache_opts o = {.ttl = 300, .refetch_interval = 30, .fetch = {.max_bytes = 65536},
                             .fetch_fn = fake_get};
    mdt_config cfg = {0};
    fixture *f = calloc(1, sizeof(*f));
    mdt_err err;

    cfg.issuer = (char *)"https://as.example.com";
    if (!f || mdt_jwk_generate(MDT_ALG_ES256, &k1, &err) ||
        mdt_jwk_generate(MDT_ALG_ES256, &k2, &err) || mdt_jwk_generate(MDT_ALG_RS256, &rsa, &err))
        return -1;
    signers[0] = k1;
    signers[1] = rsa;
    set_jwks(signers, 2);
    if (mdt_trust_new(&f->env.trust, &err) ||
        mdt_trust_add(f->env.trust, MDT_TRUST_SOFTWARE_STATEMENT, publishers, strlen(publishers),
                      "publishers.json", &cfg, &err) ||
        mdt_jwks_cache_new(&o, &f->env.jwks, &err))
        return -1;
    mdt_arena_init(&f->arena, 4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    mdt_trust_free(f->env.trust);
    mdt_jwks_cache_free(f->env.jwks);
    mdt_arena_free(&f->arena);
    free(f);
    mdt_jwk_free(k1);
    mdt_jwk_free(k2);
    mdt_jwk_free(rsa);
    return 0;
}

static char *hdr(const mdt_jwk *key)
{
    static char h[512];
    snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
             mdt_alg_name(mdt_jwk_alg(key)), mdt_jwk_kid(key));
    return h;
}

static mdt_rc verify(fixture *f, const char *jwt, int64_t now, const char **claims,
                     const char **issuer, mdt_err *err)
{
    return mdt_software_statement_verify(&f->env, jwt, now, &f->arena, claims, issuer, err);
}

/* A statement signed by k1 with these claims must fail with want and detail. */
static void expect_refused(fixture *f, const mdt_jwk *signer, const char *header,
                           const char *payload, mdt_rc want, const char *detail)
{
    const char *claims = "x", *issuer = "x";
    mdt_err err = {0};
    mdt_rc rc = verify(f, make_jwt(signer, header, payload), NOW, &claims, &issuer, &err);

    if (rc != want || (detail && !strstr(err.detail, detail)))
        fail_msg("statement %s: rc %s (%s), want %s with '%s'", payload, mdt_rc_name(rc),
                 err.detail, mdt_rc_name(want), detail ? detail : "");
    assert_null(claims);
    assert_null(issuer);
    assert_int_equal(mdt_rc_http_status(rc), 400);
}

static void test_trusted_statement(void **state)
{
    fixture *f = *state;
    char payload[2048];
    const char *claims = NULL, *issuer = NULL;
    json_t *c;
    mdt_err err = {0};

    snprintf(payload, sizeof(payload),
             "{\"iss\":\"" PUB "\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"s-1\",\"sub\":\"x\","
             "\"software_id\":\"4NRB1-0XZABZI9E6-5SM3R\",\"software_version\":\"2.1\","
             "\"client_name\":\"Example Statement-based Client\",\"scope\":\"read write\","
             "\"grant_types\":[\"client_credentials\"],\"client_id\":\"evil\","
             "\"client_secret\":\"s\",\"client_secret_expires_at\":0,\"status\":\"active\","
             "\"registration_access_token\":\"t\",\"registration_client_uri\":\"https://x\","
             "\"client_id_issued_at\":1}",
             NOW - 10, NOW + 3600);
    assert_int_equal(verify(f, make_jwt(k1, hdr(k1), payload), NOW, &claims, &issuer, &err), MDT_OK);
    assert_string_equal(issuer, PUB);
    assert_non_null(c = json_loads(claims, 0, NULL));
    assert_string_equal(json_string_value(json_object_get(c, "software_id")),
                        "4NRB1-0XZABZI9E6-5SM3R");
    assert_string_equal(json_string_value(json_object_get(c, "scope")), "read write");
    assert_string_equal(json_string_value(json_object_get(c, "client_name")),
                        "Example Statement-based Client");
    assert_true(json_is_array(json_object_get(c, "grant_types")));
    /* the JWT's own claims and what a statement may never set are gone */
    static const char *const gone[] = {"iss", "iat", "exp", "jti", "sub", "client_id",
                                       "client_secret", "client_secret_expires_at", "status",
                                       "registration_access_token", "registration_client_uri",
                                       "client_id_issued_at"};
    for (size_t i = 0; i < MDT_ARRAY_LEN(gone); i++)
        if (json_object_get(c, gone[i]))
            fail_msg("claim %s kept", gone[i]);
    assert_int_equal(json_object_size(c), 5);
    json_decref(c);
    /* RS256 from the same publisher; no exp at all is fine */
    assert_int_equal(verify(f, make_jwt(rsa, hdr(rsa), "{\"iss\":\"" PUB "\",\"client_name\":\"r\"}"),
                            NOW, &claims, &issuer, &err), MDT_OK);
    assert_string_equal(claims, "{\"client_name\":\"r\"}");
    assert_int_equal(fetches, 1); /* the publisher's keys were fetched once */
}

static void test_untrusted_or_missing_issuer(void **state)
{
    fixture *f = *state;

    expect_refused(f, k1, hdr(k1), "{\"iss\":\"https://evil.example\",\"client_name\":\"x\"}",
                   MDT_ERR_UNAPPROVED_SOFTWARE_STATEMENT, "not a trusted publisher");
    expect_refused(f, k1, hdr(k1), "{\"iss\":\"" PUB "/\",\"client_name\":\"x\"}",
                   MDT_ERR_UNAPPROVED_SOFTWARE_STATEMENT, "not a trusted publisher");
    expect_refused(f, k1, hdr(k1), "{\"client_name\":\"x\"}", MDT_ERR_INVALID_SOFTWARE_STATEMENT,
                   "iss missing");
    expect_refused(f, k1, hdr(k1), "{\"iss\":7}", MDT_ERR_INVALID_SOFTWARE_STATEMENT, "malformed");
    assert_string_equal(mdt_rc_name(MDT_ERR_UNAPPROVED_SOFTWARE_STATEMENT),
                        "unapproved_software_statement");
    assert_string_equal(mdt_rc_name(MDT_ERR_INVALID_SOFTWARE_STATEMENT),
                        "invalid_software_statement");
    assert_false(mdt_rc_is_server_fault(MDT_ERR_INVALID_SOFTWARE_STATEMENT));
}

static void test_signatures(void **state)
{
    fixture *f = *state;
    const char *good = "{\"iss\":\"" PUB "\",\"client_name\":\"x\"}";
    char header[512], *jwt, *sig;
    const char *claims, *issuer;
    mdt_err err;

    /* another key, with the publisher's kid: bad signature */
    snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", mdt_jwk_kid(k1));
    expect_refused(f, k2, header, good, MDT_ERR_INVALID_SOFTWARE_STATEMENT, "bad signature");
    /* another key with its own kid: unknown to the publisher */
    expect_refused(f, k2, hdr(k2), good, MDT_ERR_INVALID_SOFTWARE_STATEMENT, "unknown kid");
    /* alg none (empty signature) and HMAC are never accepted */
    expect_refused(f, NULL, "{\"alg\":\"none\"}", good, MDT_ERR_INVALID_SOFTWARE_STATEMENT,
                   "asymmetric only");
    expect_refused(f, k1, "{\"alg\":\"HS256\"}", good, MDT_ERR_INVALID_SOFTWARE_STATEMENT,
                   "asymmetric only");
    /* a tampered signature */
    jwt = make_jwt(k1, hdr(k1), good);
    sig = strrchr(jwt, '.') + 10;
    *sig = *sig == 'A' ? 'B' : 'A';
    assert_int_equal(verify(f, jwt, NOW, &claims, &issuer, &err),
                     MDT_ERR_INVALID_SOFTWARE_STATEMENT);
    assert_non_null(strstr(err.detail, "bad signature"));
    /* not a JWS at all, empty, too large */
    assert_int_equal(verify(f, "abc", NOW, &claims, &issuer, &err),
                     MDT_ERR_INVALID_SOFTWARE_STATEMENT);
    assert_int_equal(verify(f, "", NOW, &claims, &issuer, &err),
                     MDT_ERR_INVALID_SOFTWARE_STATEMENT);
    char *big = malloc(MDT_SOFTWARE_STATEMENT_MAX + 2);
    memset(big, 'a', MDT_SOFTWARE_STATEMENT_MAX + 1);
    big[MDT_SOFTWARE_STATEMENT_MAX + 1] = '\0';
    assert_int_equal(verify(f, big, NOW, &claims, &issuer, &err),
                     MDT_ERR_INVALID_SOFTWARE_STATEMENT);
    assert_non_null(strstr(err.detail, "longer than"));
    free(big);
}

static void test_times(void **state)
{
    fixture *f = *state;
    char p[512];
    const char *claims, *issuer;
    mdt_err err = {0};

#define STMT(fmt, v) (snprintf(p, sizeof(p), "{\"iss\":\"" PUB "\",\"client_name\":\"x\"," fmt "}", \
                               (long long)(v)), p)
    expect_refused(f, k1, hdr(k1), STMT("\"exp\":%lld", NOW - 31), MDT_ERR_INVALID_SOFTWARE_STATEMENT,
                   "expired");
    assert_int_equal(verify(f, make_jwt(k1, hdr(k1), STMT("\"exp\":%lld", NOW - 29)), NOW, &claims,
                            &issuer, &err), MDT_OK); /* within the leeway */
    expect_refused(f, k1, hdr(k1), STMT("\"nbf\":%lld", NOW + 31),
                   MDT_ERR_INVALID_SOFTWARE_STATEMENT, "nbf");
    assert_int_equal(verify(f, make_jwt(k1, hdr(k1), STMT("\"nbf\":%lld", NOW + 29)), NOW, &claims,
                            &issuer, &err), MDT_OK);
    expect_refused(f, k1, hdr(k1), STMT("\"iat\":%lld", NOW + 31),
                   MDT_ERR_INVALID_SOFTWARE_STATEMENT, "iat in the future");
    /* an old statement without exp stays valid */
    assert_int_equal(verify(f, make_jwt(k1, hdr(k1), STMT("\"iat\":%lld", NOW - 86400 * 365)), NOW,
                            &claims, &issuer, &err), MDT_OK);
#undef STMT
}

static void test_publishers_file(void **state)
{
    (void)state;
    mdt_config cfg = {0};
    mdt_trust *t = NULL;
    mdt_err err = {0};
    static const char with_aud[] =
        "[{\"issuer\":\"https://p\",\"jwks_uri\":\"https://p/j\",\"audience\":\"x\"}]";
    static const char with_rules[] = "[{\"issuer\":\"https://p\",\"jwks_uri\":\"https://p/j\","
                                     "\"rules\":[]}]";
    static const char http_uri[] = "[{\"issuer\":\"https://p\",\"jwks_uri\":\"http://p/j\"}]";
    static const char ok[] = "[{\"issuer\":\"https://p\",\"jwks_uri\":\"https://p/j\"}]";

    cfg.issuer = (char *)"https://as.example.com";
    assert_int_equal(mdt_trust_new(&t, &err), MDT_OK);
    assert_int_equal(mdt_trust_add(t, MDT_TRUST_SOFTWARE_STATEMENT, with_aud, strlen(with_aud),
                                   "p.json", &cfg, &err), MDT_ERR_CONFIG);
    assert_non_null(strstr(err.detail, "p.json: issuer 1: unknown member 'audience'"));
    assert_int_equal(mdt_trust_add(t, MDT_TRUST_SOFTWARE_STATEMENT, with_rules, strlen(with_rules),
                                   "p.json", &cfg, &err), MDT_ERR_CONFIG);
    assert_int_equal(mdt_trust_add(t, MDT_TRUST_SOFTWARE_STATEMENT, http_uri, strlen(http_uri),
                                   "p.json", &cfg, &err), MDT_ERR_CONFIG);
    assert_non_null(strstr(err.detail, "https"));
    assert_int_equal(mdt_trust_add(t, MDT_TRUST_SOFTWARE_STATEMENT, ok, strlen(ok), "p.json", &cfg,
                                   &err), MDT_OK);
    /* a publisher is trusted for statements only */
    assert_non_null(mdt_trust_find(t, MDT_TRUST_SOFTWARE_STATEMENT, "https://p"));
    assert_null(mdt_trust_find(t, MDT_TRUST_WORKLOAD, "https://p"));
    assert_null(mdt_trust_find(t, MDT_TRUST_JWT_BEARER, "https://p"));
    mdt_trust_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trusted_statement),
        cmocka_unit_test(test_untrusted_or_missing_issuer),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_publishers_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
