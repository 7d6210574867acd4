/* The grant and client authentication registries (iga/registry.h) and the
 * handlers oauth binds to them: lookups, the token endpoint's decisions
 * before a grant runs (known and unknown grants, the registration rule, the
 * token exchange's dispatch on subject_token_type), who may use a grant
 * without client credentials, the recognition order of client
 * authentication, and the discovery lists the tables produce. */
#include "unit.h"

#include "core/arena.h"
#include "iga/client.h"
#include "iga/credentials.h"
#include "iga/internal.h"
#include "iga/registry.h"
#include "oauth/grants.h"

#define JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define SAML2 "urn:ietf:params:oauth:token-type:saml2" /* a subject type Mandate does not take */

static void test_grant_lookup(void **state)
{
    const mdt_grant_def *g;

    (void)state;
    assert_non_null(g = mdt_grant_find("client_credentials"));
    assert_int_equal(g->id, MDT_GRANT_ID_CLIENT_CREDENTIALS);
    assert_non_null(g = mdt_grant_find(MDT_GRANT_TOKEN_EXCHANGE));
    assert_int_equal(g->id, MDT_GRANT_ID_TOKEN_EXCHANGE);
    assert_non_null(mdt_grant_find(JWT_BEARER));
    assert_non_null(mdt_grant_find("authorization_code"));
    assert_non_null(mdt_grant_find("refresh_token"));
    assert_null(mdt_grant_find("password"));
    assert_null(mdt_grant_find("implicit"));
    assert_null(mdt_grant_find("CLIENT_CREDENTIALS")); /* exact names */
    assert_null(mdt_grant_find(""));
    assert_null(mdt_grant_find(NULL));
}

/* Every row of the registry has a handler bound in oauth, and each id is
 * one row; every subject type of the exchange has its handlers. */
static void test_handlers_bound(void **state)
{
    size_t n;
    const mdt_grant_def *g = mdt_grants(&n);

    (void)state;
    assert_int_equal(n, MDT_GRANT_ID_COUNT);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g[i].id, (mdt_grant_id)i);
        assert_non_null(mdt_grant_handler(g[i].id));
        for (size_t j = 0; j < g[i].nsubject_types; j++)
            assert_true(mdt_token_exchange_handles(&g[i].subject_types[j]));
    }
    assert_null(mdt_grant_handler(MDT_GRANT_ID_COUNT));
}

static mdt_rc decide(const char *grant, const char *stt, const char *const *reg, size_t nreg,
                     const mdt_grant_def **g, const mdt_subject_type_def **st, mdt_err *err)
{
    *g = NULL;
    *st = NULL;
    memset(err, 0, sizeof(*err));
    return mdt_grant_decide(grant, stt, reg, nreg, g, st, err);
}

static void test_decide_grant(void **state)
{
    static const char *const cc[] = {"client_credentials"};
    static const char *const code[] = {"authorization_code", "refresh_token"};
    const mdt_grant_def *g;
    const mdt_subject_type_def *st;
    mdt_err err;

    (void)state;
    assert_int_equal(decide(NULL, NULL, cc, 1, &g, &st, &err), MDT_ERR_INVALID_REQUEST);
    assert_string_equal(err.msg, "grant_type is required");
    assert_int_equal(decide("", NULL, cc, 1, &g, &st, &err), MDT_ERR_INVALID_REQUEST);
    assert_int_equal(decide("password", NULL, cc, 1, &g, &st, &err),
                     MDT_ERR_UNSUPPORTED_GRANT_TYPE);
    assert_non_null(strstr(err.detail, "password"));
    assert_int_equal(decide("client_credentials", NULL, cc, 1, &g, &st, &err), MDT_OK);
    assert_int_equal(g->id, MDT_GRANT_ID_CLIENT_CREDENTIALS);
    assert_null(st);
    /* a grant the client did not register */
    assert_int_equal(decide(JWT_BEARER, NULL, cc, 1, &g, &st, &err), MDT_ERR_UNAUTHORIZED_CLIENT);
    assert_int_equal(decide("client_credentials", NULL, code, 2, &g, &st, &err),
                     MDT_ERR_UNAUTHORIZED_CLIENT);
    assert_int_equal(decide("client_credentials", NULL, NULL, 0, &g, &st, &err),
                     MDT_ERR_UNAUTHORIZED_CLIENT);
    assert_int_equal(decide("refresh_token", NULL, code, 2, &g, &st, &err), MDT_OK);
    assert_int_equal(g->id, MDT_GRANT_ID_REFRESH_TOKEN);
}

/* The token exchange dispatches on subject_token_type: an API key is open
 * to every client (no registered grant), authenticates the client, and any
 * other type is refused before registration is looked at. */
static void test_decide_token_exchange(void **state)
{
    static const char *const cc[] = {"client_credentials"};
    static const char *const te[] = {MDT_GRANT_TOKEN_EXCHANGE};
    const mdt_grant_def *g;
    const mdt_subject_type_def *st;
    mdt_err err;

    (void)state;
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, MDT_TOKEN_TYPE_API_KEY, cc, 1, &g, &st, &err),
                     MDT_OK);
    assert_int_equal(g->id, MDT_GRANT_ID_TOKEN_EXCHANGE);
    assert_non_null(st);
    assert_string_equal(st->name, MDT_TOKEN_TYPE_API_KEY);
    assert_true(st->authenticates);
    assert_false(st->needs_grant);
    assert_non_null(mdt_token_exchange_authenticator(st));
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, MDT_TOKEN_TYPE_API_KEY, NULL, 0, &g, &st,
                            &err),
                     MDT_OK);
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, NULL, te, 1, &g, &st, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_string_equal(err.msg, "subject_token_type is required");
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, "urn:example:unknown", te, 1, &g, &st, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_string_equal(err.msg, "unsupported subject_token_type");
    assert_null(st);
    /* delegation: an access token or a trusted issuer's JWT, only for a client
     * that registered the grant */
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, MDT_TOKEN_TYPE_ACCESS_TOKEN, te, 1, &g, &st,
                            &err),
                     MDT_OK);
    assert_true(st->needs_grant);
    assert_false(st->authenticates);
    assert_null(mdt_token_exchange_authenticator(st));
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, MDT_TOKEN_TYPE_JWT, te, 1, &g, &st, &err),
                     MDT_OK);
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, MDT_TOKEN_TYPE_ACCESS_TOKEN, cc, 1, &g, &st,
                            &err),
                     MDT_ERR_UNAUTHORIZED_CLIENT);
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, MDT_TOKEN_TYPE_JWT, NULL, 0, &g, &st, &err),
                     MDT_ERR_UNAUTHORIZED_CLIENT);
    /* an ID token (exchanged for an ID-JAG) too */
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, MDT_TOKEN_TYPE_ID_TOKEN, cc, 1, &g, &st, &err),
                     MDT_ERR_UNAUTHORIZED_CLIENT);
    assert_int_equal(decide(MDT_GRANT_TOKEN_EXCHANGE, MDT_TOKEN_TYPE_ID_TOKEN, te, 1, &g, &st, &err),
                     MDT_OK);
    assert_true(mdt_token_exchange_handles(st));
    /* lookups */
    g = mdt_grant_find(MDT_GRANT_TOKEN_EXCHANGE);
    assert_non_null(mdt_grant_subject_find(g, MDT_TOKEN_TYPE_ACCESS_TOKEN));
    assert_null(mdt_grant_subject_find(g, NULL));
    assert_null(mdt_grant_subject_find(NULL, MDT_TOKEN_TYPE_API_KEY));
    assert_null(mdt_grant_subject_find(mdt_grant_find("client_credentials"), MDT_TOKEN_TYPE_API_KEY));
    assert_null(mdt_token_exchange_authenticator(NULL));
}

/* The registration rule is a property of the subject type's row: a type
 * like delegation's (needs_grant) requires the registered grant, the API
 * key's does not; a grant without subject types reads its own row. */
static void test_registration_rule(void **state)
{
    static const mdt_subject_type_def delegation = {.name = "urn:example:delegation",
                                                    .needs_grant = true};
    static const mdt_subject_type_def keyed = {.name = "urn:example:key", .authenticates = true};
    static const mdt_grant_def exchange = {.name = "urn:example:exchange",
                                           .subject_types = &delegation, .nsubject_types = 1};
    static const mdt_grant_def plain = {.name = "urn:example:plain", .needs_grant = true};
    static const mdt_grant_def open = {.name = "urn:example:open"};
    const mdt_grant_def *te = mdt_grant_find(MDT_GRANT_TOKEN_EXCHANGE);

    (void)state;
    assert_true(mdt_grant_needs_registration(&exchange, &delegation));
    assert_false(mdt_grant_needs_registration(&exchange, &keyed));
    assert_true(mdt_grant_needs_registration(&exchange, NULL));
    assert_true(mdt_grant_needs_registration(&plain, NULL));
    assert_false(mdt_grant_needs_registration(&open, NULL));
    assert_false(mdt_grant_needs_registration(te, mdt_grant_subject_find(te, MDT_TOKEN_TYPE_API_KEY)));
    assert_true(mdt_grant_needs_registration(mdt_grant_find("client_credentials"), NULL));
    assert_true(mdt_grant_needs_registration(mdt_grant_find(JWT_BEARER), NULL));
}

/* Which grants need client credentials (a public client may not use them),
 * and which a client may register in its metadata. */
static void test_grant_flags(void **state)
{
    (void)state;
    assert_true(mdt_grant_find("authorization_code")->public_clients);
    assert_true(mdt_grant_find("refresh_token")->public_clients);
    assert_false(mdt_grant_find("client_credentials")->public_clients);
    assert_false(mdt_grant_find(JWT_BEARER)->public_clients);
    assert_false(mdt_grant_find(MDT_GRANT_TOKEN_EXCHANGE)->public_clients);
    assert_true(mdt_client_grant_type_known("client_credentials"));
    assert_true(mdt_client_grant_type_known(JWT_BEARER));
    assert_true(mdt_client_grant_type_known("authorization_code"));
    assert_true(mdt_client_grant_type_known("refresh_token"));
    assert_true(mdt_client_grant_type_known(MDT_GRANT_TOKEN_EXCHANGE));
    assert_false(mdt_client_grant_type_known("password"));
    assert_string_equal(mdt_grant_find("authorization_code")->response_type, "code");
    assert_true(mdt_grant_find("authorization_code")->needs_redirect_uris);
    assert_string_equal(mdt_grant_find("refresh_token")->goes_with,
                        "authorization_code " MDT_GRANT_DEVICE_CODE);
    /* RFC 8628: a device (a CLI, a TV) is often a public client; a person approves */
    assert_true(mdt_grant_find(MDT_GRANT_DEVICE_CODE)->public_clients);
    assert_true(mdt_grant_find(MDT_GRANT_DEVICE_CODE)->needs_grant);
    assert_true(mdt_client_grant_type_known(MDT_GRANT_DEVICE_CODE));
}

static void test_method_lookup(void **state)
{
    const mdt_auth_method_def *m;

    (void)state;
    assert_non_null(m = mdt_auth_method_find("client_secret_basic"));
    assert_true(m->secret);
    assert_int_equal(m->presented, MDT_PRESENT_BASIC);
    assert_non_null(m = mdt_auth_method_find("private_key_jwt"));
    assert_int_equal(m->needs, MDT_METHOD_NEEDS_KEYS_OR_WORKLOAD);
    assert_false(m->secret);
    assert_non_null(m = mdt_auth_method_find("none"));
    assert_true(m->public_client);
    assert_false(m->other_endpoints);
    assert_int_equal(mdt_auth_method_find("tls_client_auth")->needs, MDT_METHOD_NEEDS_TLS_SUBJECT);
    assert_int_equal(mdt_auth_method_find("self_signed_tls_client_auth")->needs,
                     MDT_METHOD_NEEDS_KEYS);
    assert_null(mdt_auth_method_find("client_secret_jwt"));
    assert_null(mdt_auth_method_find("api_key"));
    assert_null(mdt_auth_method_find(NULL));
    assert_true(mdt_auth_method_presented_as("tls_client_auth", MDT_PRESENT_CERTIFICATE));
    assert_true(mdt_auth_method_presented_as("self_signed_tls_client_auth", MDT_PRESENT_CERTIFICATE));
    assert_true(mdt_auth_method_presented_as("private_key_jwt", MDT_PRESENT_ASSERTION));
    assert_true(mdt_auth_method_presented_as("none", MDT_PRESENT_CLIENT_ID));
    assert_false(mdt_auth_method_presented_as("client_secret_post", MDT_PRESENT_BASIC));
    assert_false(mdt_auth_method_presented_as(NULL, MDT_PRESENT_CLIENT_ID));
    assert_true(mdt_client_auth_method_known("self_signed_tls_client_auth"));
    assert_false(mdt_client_auth_method_known("client_secret_jwt"));
    assert_true(mdt_client_auth_method_is_secret("client_secret_post"));
    assert_false(mdt_client_auth_method_is_secret("private_key_jwt"));
    assert_false(mdt_client_auth_method_is_secret("none"));
}

static mdt_rc recognise(int a, int b, int p, int c, int id, mdt_presentation *out, mdt_err *err)
{
    bool present[MDT_PRESENT_COUNT] = {
        [MDT_PRESENT_ASSERTION] = a, [MDT_PRESENT_BASIC] = b, [MDT_PRESENT_POST] = p,
        [MDT_PRESENT_CERTIFICATE] = c, [MDT_PRESENT_CLIENT_ID] = id};

    *out = MDT_PRESENT_COUNT;
    memset(err, 0, sizeof(*err));
    return mdt_presentation_recognise(present, out, err);
}

/* assertion, Basic, client_secret, certificate, client_id alone: the first
 * present wins; two of the first three is invalid_request; none is the
 * uniform invalid_client. */
static void test_recognition_order(void **state)
{
    mdt_presentation p;
    mdt_err err;

    (void)state;
    assert_int_equal(recognise(1, 0, 0, 1, 1, &p, &err), MDT_OK);
    assert_int_equal(p, MDT_PRESENT_ASSERTION);
    assert_int_equal(recognise(0, 1, 0, 1, 1, &p, &err), MDT_OK);
    assert_int_equal(p, MDT_PRESENT_BASIC);
    assert_int_equal(recognise(0, 0, 1, 1, 1, &p, &err), MDT_OK);
    assert_int_equal(p, MDT_PRESENT_POST);
    assert_int_equal(recognise(0, 0, 0, 1, 1, &p, &err), MDT_OK);
    assert_int_equal(p, MDT_PRESENT_CERTIFICATE);
    assert_int_equal(recognise(0, 0, 0, 0, 1, &p, &err), MDT_OK);
    assert_int_equal(p, MDT_PRESENT_CLIENT_ID);
    for (int mask = 0; mask < 8; mask++) {
        int a = mask & 1, b = !!(mask & 2), s = !!(mask & 4);
        if (a + b + s < 2)
            continue;
        assert_int_equal(recognise(a, b, s, 1, 1, &p, &err), MDT_ERR_INVALID_REQUEST);
        assert_string_equal(err.msg, "use exactly one client authentication method");
        assert_int_equal(p, MDT_PRESENT_COUNT);
    }
    assert_int_equal(recognise(0, 0, 0, 0, 0, &p, &err), MDT_ERR_INVALID_CLIENT);
    assert_string_equal(err.msg, "client authentication failed");
}

/* What discovery lists, read from the tables, in their order. */
static void test_discovery_lists(void **state)
{
    static const char *const grants_want[] = {"client_credentials", MDT_GRANT_TOKEN_EXCHANGE,
                                              JWT_BEARER, "authorization_code", "refresh_token",
                                              MDT_GRANT_DEVICE_CODE, MDT_GRANT_CIBA};
    static const char *const token_want[] = {"client_secret_basic", "client_secret_post",
                                             "private_key_jwt", "tls_client_auth",
                                             "self_signed_tls_client_auth", "none"};
    static const char *const algs_want[] = {"ES256", "RS256", "PS256", "EdDSA", "Ed25519"};
    size_t n, k = 0, t = 0, o = 0;
    const mdt_grant_def *g = mdt_grants(&n);
    const mdt_auth_method_def *m;
    const char *const *algs;

    (void)state;
    for (size_t i = 0; i < n; i++)
        if (g[i].advertised) {
            assert_true(k < MDT_ARRAY_LEN(grants_want));
            assert_string_equal(g[i].name, grants_want[k++]);
        }
    assert_int_equal(k, MDT_ARRAY_LEN(grants_want));
    m = mdt_auth_methods(&n);
    for (size_t i = 0; i < n; i++) {
        if (m[i].token_endpoint) {
            assert_true(t < MDT_ARRAY_LEN(token_want));
            assert_string_equal(m[i].name, token_want[t++]);
        }
        if (m[i].other_endpoints) /* the same order, without public clients */
            assert_string_equal(m[i].name, token_want[o++]);
    }
    assert_int_equal(t, MDT_ARRAY_LEN(token_want));
    assert_int_equal(o, MDT_ARRAY_LEN(token_want) - 1);
    algs = mdt_auth_signing_algs(&n);
    assert_int_equal(n, MDT_ARRAY_LEN(algs_want));
    for (size_t i = 0; i < n; i++)
        assert_string_equal(algs[i], algs_want[i]);
}

static mdt_rc validate(const char *json, mdt_err *err)
{
    mdt_env env = {0}; /* these fields fail before anything reads the store */
    mdt_arena a;
    const char *meta = NULL;
    int64_t exp = 0;
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    memset(err, 0, sizeof(*err));
    rc = mdt_client_metadata_validate(&env, json, strlen(json), &a, &meta, &exp, err);
    mdt_arena_free(&a);
    return rc;
}

/* The metadata errors name what a client may register: every registrable
 * grant, every method, every algorithm of the registries (a row added
 * without its word in the message fails here). */
static void test_metadata_messages(void **state)
{
    size_t n;
    const mdt_grant_def *g = mdt_grants(&n);
    const mdt_auth_method_def *m;
    const char *const *algs;
    mdt_err err;

    (void)state;
    assert_int_equal(validate("{\"grant_types\":[\"password\"]}", &err),
                     MDT_ERR_INVALID_CLIENT_METADATA);
    for (size_t i = 0; i < n; i++)
        if (g[i].registrable)
            assert_non_null(strstr(err.msg, g[i].name));
    assert_non_null(strstr(err.msg, MDT_GRANT_TOKEN_EXCHANGE));
    assert_int_equal(validate("{\"grant_types\":[\"" MDT_GRANT_TOKEN_EXCHANGE "\"]}", &err),
                     MDT_OK);
    assert_int_equal(validate("{\"token_endpoint_auth_method\":\"client_secret_jwt\"}", &err),
                     MDT_ERR_INVALID_CLIENT_METADATA);
    m = mdt_auth_methods(&n);
    for (size_t i = 0; i < n; i++)
        assert_non_null(strstr(err.msg, m[i].name));
    assert_int_equal(validate("{\"token_endpoint_auth_signing_alg\":\"HS256\"}", &err),
                     MDT_ERR_INVALID_CLIENT_METADATA);
    algs = mdt_auth_signing_algs(&n);
    for (size_t i = 0; i < n; i++)
        assert_non_null(strstr(err.msg, algs[i]));
}

#define EC_JWK                                                                              \
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\","   \
    "\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"kid\":\"1\"}"

/* The credential rows a method's row names are the ones its metadata
 * derives (iga/credentials.h), and a secret method gets no derived row
 * (its secret is generated). */
static void test_method_credentials(void **state)
{
    static const struct {
        const char *method, *metadata;
    } cases[] = {
        {"client_secret_basic", "{\"token_endpoint_auth_method\":\"client_secret_basic\"}"},
        {"client_secret_post", "{\"token_endpoint_auth_method\":\"client_secret_post\"}"},
        {"private_key_jwt", "{\"token_endpoint_auth_method\":\"private_key_jwt\","
                            "\"jwks\":{\"keys\":[" EC_JWK "]}}"},
        {"private_key_jwt", "{\"token_endpoint_auth_method\":\"private_key_jwt\","
                            "\"jwks_uri\":\"https://app.example.com/jwks\"}"},
        {"private_key_jwt", "{\"token_endpoint_auth_method\":\"private_key_jwt\","
                            "\"workload_identity\":{\"issuer\":\"https://k8s.example\","
                            "\"subject\":\"system:serviceaccount:ns:app\"}}"},
        {"tls_client_auth", "{\"token_endpoint_auth_method\":\"tls_client_auth\","
                            "\"tls_client_auth_subject_dn\":\"CN=agent\"}"},
        {"self_signed_tls_client_auth", "{\"token_endpoint_auth_method\":"
                                        "\"self_signed_tls_client_auth\","
                                        "\"jwks\":{\"keys\":[" EC_JWK "]}}"},
        {"none", "{\"token_endpoint_auth_method\":\"none\"}"},
    };
    size_t seen[8] = {0}, nm;
    const mdt_auth_method_def *all = mdt_auth_methods(&nm);

    (void)state;
    for (size_t i = 0; i < MDT_ARRAY_LEN(cases); i++) {
        const mdt_auth_method_def *m = mdt_auth_method_find(cases[i].method);
        mdt_cred_rec *rows = NULL;
        size_t n = 0;
        mdt_arena a;
        mdt_err err = {0};

        assert_non_null(m);
        seen[m - all]++;
        mdt_arena_init(&a, 4096);
        assert_int_equal(mdt_creds_derive(cases[i].metadata, &a, &rows, &n, &err), MDT_OK);
        if (m->secret || m->public_client)
            assert_int_equal(n, 0);
        else
            assert_true(n > 0);
        for (size_t j = 0; j < n; j++) {
            const char *w = strstr(m->creds, rows[j].type);
            size_t len = strlen(rows[j].type);
            assert_non_null(w); /* a whole word of creds */
            assert_true(w == m->creds || w[-1] == ' ');
            assert_true(w[len] == '\0' || w[len] == ' ');
        }
        mdt_arena_free(&a);
    }
    assert_true(nm <= MDT_ARRAY_LEN(seen));
    for (size_t i = 0; i < nm; i++) /* every method has a case */
        assert_true(seen[i] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grant_lookup),
        cmocka_unit_test(test_handlers_bound),
        cmocka_unit_test(test_decide_grant),
        cmocka_unit_test(test_decide_token_exchange),
        cmocka_unit_test(test_registration_rule),
        cmocka_unit_test(test_grant_flags),
        cmocka_unit_test(test_method_lookup),
        cmocka_unit_test(test_recognition_order),
        cmocka_unit_test(test_discovery_lists),
        cmocka_unit_test(test_metadata_messages),
        cmocka_unit_test(test_method_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
