/* DPoP proofs (RFC 9449 §4.3): every check of mdt_dpop_check with real
 * signed proofs on a real store, the htu normalisation, and the nonces'
 * rotation with the test clock. */
#include "unit.h"

#include <stdio.h>

#include "core/b64.h"
#include "core/buf.h"
#include "core/hash.h"
#include "jose/jwk.h"
#include "keys/keyring.h"
#include "oauth/dpop.h"
#include "test_ctx.h"

#define NOW0 1800000000
#define HTU "https://as.example/token"

static test_env g;
static mdt_jwk *g_key;

static int setup(void **state)
{
    char path[128];
    mdt_err err = {0};

    (void)state;
    memset(&g, 0, sizeof(g));
    test_env_open(&g, "dpop", NOW0, "test");
    g.env.cfg.dpop_max_age = 60;
    g.env.cfg.dpop_nonce_rotation = 300;
    g.env.cfg.dpop_nonce = "off";
    g.env.cfg.data_dir = g.dir;
    snprintf(path, sizeof(path), "%s/master.key", g.dir);
    if (mdt_master_key_ensure(path, &mdt_rng_system, &err) != MDT_OK ||
        mdt_keyring_open(&g.env, &g.env.keys, &err) != MDT_OK ||
        mdt_jwk_generate(MDT_ALG_ES256, &g_key, &err) != MDT_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mdt_keyring_free(g.env.keys);
    mdt_jwk_free(g_key);
    g.env.cfg.data_dir = NULL;
    test_env_close(&g);
    return 0;
}

static void b64(mdt_buf *b, const void *p, size_t n)
{
    char *s = malloc(mdt_b64url_len(n) + 1);

    assert_non_null(s);
    mdt_b64url_encode(p, n, s);
    assert_int_equal(mdt_buf_adds(b, s), MDT_OK);
    free(s);
}

/* A proof signed by key, its header {typ, alg, jwk} (jwk: the key's public
 * JWK unless given), its claims as given. The caller frees. */
static char *proof(const mdt_jwk *key, const char *typ, const char *alg, const char *jwk,
                   const char *claims)
{
    mdt_buf pub, hdr, out;
    uint8_t sig[MDT_JWS_SIG_MAX];
    size_t siglen = 0;
    mdt_err err = {0};
    char *res;

    mdt_buf_init(&pub, 8192);
    mdt_buf_init(&hdr, 8192);
    mdt_buf_init(&out, 16384);
    if (!jwk) {
        assert_int_equal(mdt_jwk_public_json(key, &pub, &err), MDT_OK);
        jwk = pub.data;
    }
    assert_int_equal(mdt_buf_addf(&hdr, "{\"typ\":\"%s\",\"alg\":\"%s\",\"jwk\":%s}", typ, alg, jwk),
                     MDT_OK);
    b64(&out, hdr.data, hdr.len);
    assert_int_equal(mdt_buf_adds(&out, "."), MDT_OK);
    b64(&out, claims, strlen(claims));
    assert_int_equal(mdt_jwk_sign_bytes(key, out.data, out.len, sig, &siglen, &err), MDT_OK);
    assert_int_equal(mdt_buf_adds(&out, "."), MDT_OK);
    b64(&out, sig, siglen);
    res = strdup(out.data);
    mdt_buf_free(&pub);
    mdt_buf_free(&hdr);
    mdt_buf_free(&out);
    return res;
}

static char *claims(const char *jti, const char *htm, const char *htu, int64_t iat,
                    const char *extra)
{
    char *s = malloc(4096);

    assert_non_null(s);
    snprintf(s, 4096, "{\"jti\":\"%s\",\"htm\":\"%s\",\"htu\":\"%s\",\"iat\":%lld%s}", jti, htm,
             htu, (long long)iat, extra ? extra : "");
    return s;
}

/* mdt_dpop_check of a proof by g_key with these claims against POST HTU. */
static mdt_rc check(const char *typ, const char *alg, const char *jwk, const char *c,
                    const mdt_dpop_expect *exp, mdt_dpop_proof *out, mdt_err *err)
{
    mdt_dpop_expect dflt = {.htm = "POST", .htu = HTU};
    char *p = proof(g_key, typ, alg, jwk, c);
    mdt_rc rc = mdt_dpop_check(&g.env, p, exp ? exp : &dflt, out, err);

    free(p);
    return rc;
}

static void test_valid_and_replay(void **state)
{
    mdt_dpop_proof out;
    mdt_err err = {0};
    uint8_t tp[32];
    char want[MDT_DPOP_JKT_LEN + 1];
    char *c = claims("j-valid", "POST", HTU, NOW0, NULL);

    (void)state;
    assert_int_equal(check("dpop+jwt", "ES256", NULL, c, NULL, &out, &err), MDT_OK);
    assert_int_equal(mdt_jwk_thumbprint(g_key, tp, &err), MDT_OK);
    mdt_b64url_encode(tp, sizeof(tp), want);
    assert_string_equal(out.jkt, want);
    /* the same jti again: a replay, at this node or any other on the store */
    assert_int_equal(check("dpop+jwt", "ES256", NULL, c, NULL, &out, &err),
                     MDT_ERR_INVALID_DPOP_PROOF);
    assert_string_equal(out.jkt, "");
    free(c);
}

/* Each fault is refused, and none records its jti: the same jti in a good
 * proof afterwards passes. */
static void test_refusals_record_nothing(void **state)
{
    mdt_dpop_proof out;
    mdt_err err = {0};
    mdt_buf priv;
    char tok_hash[64];
    uint8_t h[32];
    struct {
        const char *typ, *alg, *jwk, *htm, *htu;
        int64_t iat;
        const char *extra;
        bool with_token;
    } bad[] = {
        {"jwt", "ES256", NULL, "POST", HTU, NOW0, NULL, false},
        {"DPoP+JWT", "ES256", NULL, "POST", HTU, NOW0, NULL, false},
        {"dpop+jwt", "ES256", NULL, "GET", HTU, NOW0, NULL, false},
        {"dpop+jwt", "ES256", NULL, "post", HTU, NOW0, NULL, false},
        {"dpop+jwt", "ES256", NULL, "POST", "https://as.example/par", NOW0, NULL, false},
        {"dpop+jwt", "ES256", NULL, "POST", "https://other.example/token", NOW0, NULL, false},
        {"dpop+jwt", "ES256", NULL, "POST", HTU, NOW0 - 61, NULL, false},
        {"dpop+jwt", "ES256", NULL, "POST", HTU, NOW0 + 31, NULL, false},
        {"dpop+jwt", "ES256", NULL, "POST", HTU, NOW0, NULL, true},             /* no ath */
        {"dpop+jwt", "ES256", NULL, "POST", HTU, NOW0, ",\"ath\":\"x\"", true}, /* wrong ath */
        {"dpop+jwt", "none", NULL, "POST", HTU, NOW0, NULL, false},
        {"dpop+jwt", "HS256", NULL, "POST", HTU, NOW0, NULL, false},
        {"dpop+jwt", "RS256", NULL, "POST", HTU, NOW0, NULL, false}, /* alg not the key's */
        {"dpop+jwt", "ES256", "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}", "POST", HTU, NOW0, NULL, false},
    };

    (void)state;
    mdt_sha256("tok", 3, h);
    mdt_b64url_encode(h, sizeof(h), tok_hash);
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        char *c = claims("j-refused", bad[i].htm, bad[i].htu, bad[i].iat, bad[i].extra);
        mdt_dpop_expect exp = {.htm = "POST", .htu = HTU,
                               .access_token = bad[i].with_token ? "tok" : NULL};
        mdt_rc rc = check(bad[i].typ, bad[i].alg, bad[i].jwk, c, &exp, &out, &err);
        if (rc != MDT_ERR_INVALID_DPOP_PROOF)
            fail_msg("case %zu: rc %d (%s)", i, rc, mdt_err_text(&err));
        free(c);
    }
    /* a private key in the jwk */
    mdt_buf_init(&priv, 8192);
    assert_int_equal(mdt_buf_adds(&priv, "{\"kty\":\"EC\",\"crv\":\"P-256\","
                                         "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                                         "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\","
                                         "\"d\":\"jpsQnnGQmL-YBIffH1136cLyoqvhc3ydf9yZwc3NwFk\"}"),
                     MDT_OK);
    char *c = claims("j-refused", "POST", HTU, NOW0, NULL);
    assert_int_equal(check("dpop+jwt", "ES256", priv.data, c, NULL, &out, &err),
                     MDT_ERR_INVALID_DPOP_PROOF);
    /* a bad signature: one byte of it changed */
    mdt_dpop_expect exp = {.htm = "POST", .htu = HTU};
    char *q = proof(g_key, "dpop+jwt", "ES256", NULL, c);
    char *dot = strrchr(q, '.');
    dot[1] = dot[1] == 'A' ? 'B' : 'A';
    assert_int_equal(mdt_dpop_check(&g.env, q, &exp, &out, &err), MDT_ERR_INVALID_DPOP_PROOF);
    assert_int_equal(mdt_dpop_check(&g.env, "not.a.jwt", &exp, &out, &err),
                     MDT_ERR_INVALID_DPOP_PROOF);
    assert_int_equal(mdt_dpop_check(&g.env, "", &exp, &out, &err), MDT_ERR_INVALID_DPOP_PROOF);
    free(q);
    free(c);
    /* the right ath passes, and after all the refusals the jti is still fresh */
    char extra[128];
    snprintf(extra, sizeof(extra), ",\"ath\":\"%s\"", tok_hash);
    c = claims("j-refused", "POST", HTU, NOW0, extra);
    exp.access_token = "tok";
    assert_int_equal(check("dpop+jwt", "ES256", NULL, c, &exp, &out, &err), MDT_OK);
    free(c);
    /* no jti, an oversized jti */
    assert_int_equal(check("dpop+jwt", "ES256", NULL,
                           "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":1800000000}", NULL, &out,
                           &err),
                     MDT_ERR_INVALID_DPOP_PROOF);
    char big[400];
    memset(big, 'a', 300);
    big[300] = '\0';
    c = claims(big, "POST", HTU, NOW0, NULL);
    assert_int_equal(check("dpop+jwt", "ES256", NULL, c, NULL, &out, &err),
                     MDT_ERR_INVALID_DPOP_PROOF);
    free(c);
    mdt_buf_free(&priv);
}

/* The htu as the request's URI: query, fragment, case and default ports. */
static void test_htu_normalise(void **state)
{
    char out[256];
    struct {
        const char *in, *want;
    } ok[] = {
        {"https://as.example/token", "https://as.example/token"},
        {"HTTPS://AS.Example:443/token?x=1#f", "https://as.example/token"},
        {"http://127.0.0.1:80/token", "http://127.0.0.1/token"},
        {"http://127.0.0.1:8080/token", "http://127.0.0.1:8080/token"},
        {"https://as.example:8443", "https://as.example:8443/"},
        {"https://as.example?q", "https://as.example/"},
        {"https://as.example/a%2fb", "https://as.example/a%2Fb"},
        {"https://as.example/%7Euser", "https://as.example/~user"},
        {"https://[::1]:443/x", "https://[::1]/x"},
        {"https://[::1]:8443/x", "https://[::1]:8443/x"},
        {"https://as.example:/t", "https://as.example/t"},
    };
    const char *bad[] = {"as.example/token", "ftp://as.example/", "https:///token",
                         "https://user@as.example/", "https://as.example:12a/",
                         "https://as.example/a b", "https://as.example/%zz",
                         "HTTPS://AS.Exampl::////77/token=x#f", "https://[::1/x", "https://a]b/",
                         NULL};

    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(ok); i++) {
        assert_true(mdt_dpop_htu_normalise(ok[i].in, out, sizeof(out)));
        assert_string_equal(out, ok[i].want);
    }
    for (size_t i = 0; bad[i]; i++)
        assert_false(mdt_dpop_htu_normalise(bad[i], out, sizeof(out)));
    assert_false(mdt_dpop_htu_normalise("https://as.example/token", out, 10));
}

/* Nonces: required when asked, the current and the previous accepted, an
 * older or foreign one answered use_dpop_nonce. */
static void test_nonces(void **state)
{
    char n1[MDT_DPOP_NONCE_MAX], n2[MDT_DPOP_NONCE_MAX], extra[256], jti[32];
    mdt_dpop_proof out;
    mdt_err err = {0};
    mdt_dpop_expect exp = {.htm = "POST", .htu = HTU, .nonce = true};
    int k = 0;

    (void)state;
#define AT(when, nonce_json, want)                                                                   \
    do {                                                                                          \
        g.clk.t = (when);                                                                          \
        snprintf(jti, sizeof(jti), "n-%d", k++);                                                  \
        char *c_ = claims(jti, "POST", HTU, (when), nonce_json);                                   \
        assert_int_equal(check("dpop+jwt", "ES256", NULL, c_, &exp, &out, &err), (want));         \
        free(c_);                                                                                 \
    } while (0)
    g.clk.t = NOW0;
    assert_int_equal(mdt_dpop_nonce(&g.env, n1, &err), MDT_OK);
    AT(NOW0, NULL, MDT_ERR_USE_DPOP_NONCE);
    snprintf(extra, sizeof(extra), ",\"nonce\":\"%s\"", n1);
    AT(NOW0, extra, MDT_OK);
    g.clk.t = NOW0 + 300;
    assert_int_equal(mdt_dpop_nonce(&g.env, n2, &err), MDT_OK);
    assert_string_not_equal(n1, n2);
    AT(NOW0 + 300, extra, MDT_OK); /* the previous one */
    AT(NOW0 + 600, extra, MDT_ERR_USE_DPOP_NONCE); /* two rotations old */
    AT(NOW0 + 600, ",\"nonce\":\"1.abc\"", MDT_ERR_USE_DPOP_NONCE);
    /* a nonce carried where none is required is still checked */
    exp.nonce = false;
    AT(NOW0 + 600, extra, MDT_ERR_USE_DPOP_NONCE);
    AT(NOW0 + 600, NULL, MDT_OK);
    g.clk.t = NOW0;
#undef AT
    g.env.cfg.dpop_nonce = "token";
    assert_true(mdt_dpop_nonce_required(&g.env, false));
    assert_false(mdt_dpop_nonce_required(&g.env, true));
    g.env.cfg.dpop_nonce = "all";
    assert_true(mdt_dpop_nonce_required(&g.env, true));
    g.env.cfg.dpop_nonce = "off";
    assert_false(mdt_dpop_nonce_required(&g.env, false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_replay),
        cmocka_unit_test(test_refusals_record_nothing),
        cmocka_unit_test(test_htu_normalise),
        cmocka_unit_test(test_nonces),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
