/* Service layer of clients and scopes (src/iga/) against a real SQLite
 * store in a mkdtemp directory, with a test clock and the system RNG. */
#include "unit.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "app/env.h"
#include "test_ctx.h"
#include "core/arena.h"
#include "core/hash.h"
#include "iga/apikey.h"
#include "iga/client.h"
#include "iga/credentials.h"
#include "iga/scope.h"
#include "iga/secret.h"
#include "jose/jwk.h"
#include "store/store.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */

typedef test_env fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    test_env_open(f, "mdt_iga", T0, "test");
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;

    test_env_close(f);
    free(f);
    return 0;
}

/* --- helpers --- */

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A user in the store (an owner must be an active user). */
static void add_user(fx *f, const char *username, const char *status)
{
    mdt_user_rec u = {.username = username, .name = "", .email = "", .roles = "",
                      .status = status, .password_hash = "$argon2id$v=19$m=8,t=1,p=1$x$y",
                      .created_at = T0, .updated_at = T0};
    assert_int_equal(mdt_store_user_insert(f->env.store, &u, &f->err), MDT_OK);
}

/* Creates a client from metadata; returns the parsed response (decref it). */
static json_t *create(fx *f, const char *meta)
{
    const char *resp = NULL;
    mdt_rc rc = test_ctx_done(&f->tc, mdt_client_create(&f->env, test_ctx_now(&f->tc), meta,
                                                        strlen(meta), &f->a, &resp, &f->err));
    if (rc != MDT_OK)
        fail_msg("create failed: %s", mdt_err_text(&f->err));
    return parse(resp);
}

static size_t count_clients(fx *f)
{
    mdt_client_rec *list;
    size_t n = 99;
    assert_int_equal(mdt_store_client_list(f->env.store, &f->a, &list, &n, &f->err), MDT_OK);
    return n;
}

static int64_t audit_seq(fx *f)
{
    int64_t seq = -1;
    assert_int_equal(mdt_store_audit_last_seq(f->env.store, &seq, &f->err), MDT_OK);
    return seq;
}

static void add_scope(fx *f, const char *name)
{
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), name,
                                                            NULL, NULL, NULL, &f->err)),
                     MDT_OK);
}

static mdt_rc verify(fx *f, const char *id, const char *secret)
{
    mdt_client c;
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    return mdt_client_verify_secret(&f->env, &c, secret, strlen(secret), f->clk.t, &f->a, NULL,
                                    &f->err);
}


/* --- credentials helpers --- */

/* A fresh public ES256 JWK as JSON text (free it) and its thumbprint. */
static char *pub_jwk(uint8_t tp[32])
{
    mdt_jwk *k = NULL;
    mdt_buf b;
    mdt_err e;
    char *text;

    assert_int_equal(mdt_jwk_generate(MDT_ALG_ES256, &k, &e), MDT_OK);
    mdt_buf_init(&b, 0);
    assert_int_equal(mdt_jwk_public_json(k, &b, &e), MDT_OK);
    assert_int_equal(mdt_jwk_thumbprint(k, tp, &e), MDT_OK);
    mdt_jwk_free(k);
    text = mdt_buf_take(&b);
    assert_non_null(text);
    return text;
}

static const char *kid_of(fx *f, const char *jwk)
{
    json_t *j = parse(jwk);
    const char *kid = mdt_arena_strdup(&f->a, jstr(j, "kid"));
    json_decref(j);
    return kid;
}

static mdt_cred_rec *creds_of(fx *f, const char *id, size_t *n)
{
    mdt_cred_rec *list = NULL;
    assert_int_equal(mdt_store_cred_list(f->env.store, id, &f->a, &list, n, &f->err), MDT_OK);
    return list;
}

/* The one credential of this type (and name, when not NULL); fails when not exactly one. */
static const mdt_cred_rec *one_cred(fx *f, const char *id, const char *type, const char *name)
{
    size_t n = 0, hits = 0;
    mdt_cred_rec *list = creds_of(f, id, &n);
    const mdt_cred_rec *hit = NULL;

    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(list[i].type, type) && (!name || mdt_str_eq(list[i].name, name))) {
            hit = &list[i];
            hits++;
        }
    if (hits != 1)
        fail_msg("%zu credentials of type %s named %s, want 1", hits, type, name ? name : "*");
    return hit;
}

static size_t count_creds(fx *f, const char *id)
{
    size_t n = 0;
    (void)creds_of(f, id, &n);
    return n;
}

static json_t *update(fx *f, const char *id, const char *in)
{
    const char *resp = NULL;
    if (test_ctx_done(&f->tc, mdt_client_update(&f->env, test_ctx_now(&f->tc), id, in, strlen(in),
                                                &f->a, &resp, &f->err)) != MDT_OK)
        fail_msg("update failed: %s", mdt_err_text(&f->err));
    return parse(resp);
}

static bool copy_type(const mdt_audit_rec *ev, void *ctx)
{
    snprintf(ctx, 64, "%s", ev->type);
    return true;
}

/* The type of the newest audit event. */
static const char *last_event(fx *f)
{
    char *type = mdt_arena_alloc(&f->a, 64);
    assert_int_equal(mdt_store_audit_each(f->env.store, audit_seq(f) - 1, 0, copy_type, type,
                                          &f->err), MDT_OK);
    return type;
}

static void name_hash(const char *name, uint8_t out[MDT_HASH_LEN])
{
    mdt_sha256(name, strlen(name), out);
}

/* --- tests --- */

static void test_secret_basics(void **state)
{
    fx *f = *state;
    char s1[MDT_SECRET_LEN + 1], s2[MDT_SECRET_LEN + 1];
    uint8_t h[MDT_SECRET_HASH_LEN];
    const char *id;

    assert_int_equal(mdt_secret_generate(&f->env.rng, s1, &f->err), MDT_OK);
    assert_int_equal(mdt_secret_generate(&f->env.rng, s2, &f->err), MDT_OK);
    assert_int_equal(strlen(s1), MDT_SECRET_LEN);
    assert_string_not_equal(s1, s2);
    mdt_secret_hash(s1, strlen(s1), h);
    assert_true(mdt_secret_matches(s1, strlen(s1), h));
    assert_false(mdt_secret_matches(s2, strlen(s2), h));
    assert_false(mdt_secret_matches(s1, strlen(s1) - 1, h));
    assert_int_equal(mdt_random_id(&f->env.rng, "mdt_", MDT_CLIENT_ID_BYTES, &f->a, &id, &f->err),
                     MDT_OK);
    assert_int_equal(strlen(id), 26);
    assert_int_equal(strncmp(id, "mdt_", 4), 0);
}

static void test_create_defaults(void **state)
{
    fx *f = *state;
    int64_t seq0 = audit_seq(f);
    json_t *r = create(f, "{\"client_name\": \"Bot\", \"unknown_field\": 1, \"status\": \"x\"}");
    const char *id = jstr(r, "client_id"), *secret = jstr(r, "client_secret");
    mdt_client c;

    assert_non_null(id);
    assert_int_equal(strncmp(id, "mdt_", 4), 0);
    assert_int_equal(strlen(secret), MDT_SECRET_LEN);
    assert_int_equal(json_integer_value(json_object_get(r, "client_id_issued_at")), T0);
    assert_int_equal(json_integer_value(json_object_get(r, "client_secret_expires_at")), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "grant_types"), 0)),
                        "client_credentials");
    assert_int_equal(json_array_size(json_object_get(r, "grant_types")), 1);
    assert_string_equal(jstr(r, "token_endpoint_auth_method"), "client_secret_basic");
    assert_string_equal(jstr(r, "kind"), "service");
    assert_string_equal(jstr(r, "risk_tier"), "medium");
    assert_int_equal(json_integer_value(json_object_get(r, "max_delegation_depth")), 2);
    assert_string_equal(jstr(r, "status"), "active");
    assert_null(json_object_get(r, "unknown_field"));
    assert_int_equal(audit_seq(f), seq0 + 1);

    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_string_equal(c.name, "Bot");
    assert_string_equal(c.kind, "service");
    assert_string_equal(c.auth_method, "client_secret_basic");
    assert_null(c.owner);
    assert_null(c.access_token_format);
    assert_int_equal(c.access_token_ttl, 0);
    assert_int_equal(c.nscopes, 0);
    assert_true(mdt_client_usable(&c, T0));
    assert_true(mdt_client_has_grant(&c, "client_credentials"));
    assert_false(mdt_client_has_grant(&c, "authorization_code"));
    assert_null(strstr(c.metadata, secret)); /* never a secret in the stored metadata */
    assert_null(strstr(c.metadata, "\"client_secret\""));
    assert_int_equal(verify(f, id, secret), MDT_OK);
    assert_int_equal(mdt_client_load(&f->env, "mdt_nope", f->clk.t, &f->a, &c, &f->err), MDT_ERR_NOT_FOUND);
    json_decref(r);
}

/* An admin names an owner: an existing, active user, or the metadata is
 * refused naming the field and nothing is stored. An update that leaves the
 * owner alone is not checked again. */
static void test_owner_must_be_active_user(void **state)
{
    fx *f = *state;
    const char *resp = NULL, *bad[] = {"{\"owner\":\"ghost\"}", "{\"owner\":\"gone\"}"};
    size_t before;
    json_t *r;
    const char *id;

    add_user(f, "olivia", "active");
    add_user(f, "gone", "disabled");
    before = count_clients(f);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(test_ctx_done(&f->tc, mdt_client_create(&f->env, test_ctx_now(&f->tc), bad[i],
                                                                 strlen(bad[i]), &f->a, &resp,
                                                                 &f->err)),
                         MDT_ERR_INVALID_CLIENT_METADATA);
        assert_non_null(strstr(f->err.msg, "owner"));
    }
    assert_int_equal(count_clients(f), before);
    r = create(f, "{\"owner\":\"olivia\",\"client_name\":\"a\"}");
    id = mdt_arena_strdup(&f->a, jstr(r, "client_id"));
    json_decref(r);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(test_ctx_done(&f->tc, mdt_client_update(&f->env, test_ctx_now(&f->tc), id,
                                                                 bad[i], strlen(bad[i]), &f->a,
                                                                 &resp, &f->err)),
                         MDT_ERR_INVALID_CLIENT_METADATA);
    /* olivia leaves; the client may still be changed otherwise, or handed over */
    assert_int_equal(mdt_store_user_update(f->env.store,
                                           &(mdt_user_rec){.username = "olivia", .name = "",
                                                           .email = "", .roles = "",
                                                           .status = "disabled",
                                                           .password_hash = "x",
                                                           .updated_at = T0},
                                           &f->err),
                     MDT_OK);
    json_decref(update(f, id, "{\"client_name\":\"b\"}"));
    add_user(f, "peter", "active");
    r = update(f, id, "{\"owner\":\"peter\"}");
    assert_string_equal(jstr(r, "owner"), "peter");
    json_decref(r);
}

static void test_create_full(void **state)
{
    fx *f = *state;
    json_t *r;
    mdt_client c;

    add_scope(f, "read");
    add_scope(f, "write");
    add_user(f, "alice@x.io", "active");
    r = create(f, "{\"client_name\":\"Expense assistant\",\"kind\":\"agent\",\"owner\":\"alice@x.io\","
                  "\"risk_tier\":\"high\",\"scope\":\"read  write read\","
                  "\"token_endpoint_auth_method\":\"client_secret_post\","
                  "\"redirect_uris\":[\"https://a.example/cb\",\"http://127.0.0.1:8080/cb\","
                  "\"http://[::1]/cb\",\"http://localhost/cb\"],"
                  "\"resources\":[\"https://api.example\",\"urn:example:api\",\"https://api.example\"],"
                  "\"expires_at\":\"2026-06-01T02:00:00+02:00\",\"max_delegation_depth\":0,"
                  "\"access_token_ttl\":300,\"access_token_format\":\"opaque\","
                  "\"software_id\":\"sw\",\"software_version\":\"1.0\",\"contacts\":[\"ops@x.io\"],"
                  "\"client_uri\":\"https://x.io\",\"response_types\":[]}");
    assert_string_equal(jstr(r, "scope"), "read write");
    assert_string_equal(jstr(r, "expires_at"), "2026-06-01T00:00:00Z");
    assert_int_equal(json_array_size(json_object_get(r, "resources")), 2);
    assert_int_equal(json_array_size(json_object_get(r, "redirect_uris")), 4);
    assert_int_equal(mdt_client_load(&f->env, jstr(r, "client_id"), f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_int_equal(c.nscopes, 2);
    assert_true(mdt_client_has_scope(&c, "read"));
    assert_true(mdt_client_has_scope(&c, "write"));
    assert_false(mdt_client_has_scope(&c, "admin"));
    assert_true(mdt_client_has_resource(&c, "urn:example:api"));
    assert_false(mdt_client_has_resource(&c, "https://other.example"));
    assert_string_equal(c.kind, "agent");
    assert_string_equal(c.owner, "alice@x.io");
    assert_string_equal(c.tier, "high");
    assert_string_equal(c.auth_method, "client_secret_post");
    assert_string_equal(c.access_token_format, "opaque");
    assert_int_equal(c.access_token_ttl, 300);
    assert_int_equal(c.max_delegation_depth, 0);
    assert_int_equal(c.expires_at, 1780272000);
    assert_true(mdt_client_usable(&c, T0));
    assert_false(mdt_client_usable(&c, 1780272000));
    json_decref(r);
}

typedef struct {
    const char *json;
    mdt_rc rc;
    const char *msg_has; /* substring of the public message */
} bad_case;

static const bad_case bad_cases[] = {
    {"{", MDT_ERR_INVALID_CLIENT_METADATA, "not valid JSON"},
    {"[]", MDT_ERR_INVALID_CLIENT_METADATA, "JSON object"},
    {"{\"a\":1,\"a\":2}", MDT_ERR_INVALID_CLIENT_METADATA, "not valid JSON"},
    {"{\"client_name\":7}", MDT_ERR_INVALID_CLIENT_METADATA, "client_name"},
    {"{\"grant_types\":[\"implicit\"]}", MDT_ERR_INVALID_CLIENT_METADATA, "grant_types"},
    {"{\"grant_types\":\"client_credentials\"}", MDT_ERR_INVALID_CLIENT_METADATA, "grant_types"},
    {"{\"grant_types\":[]}", MDT_ERR_INVALID_CLIENT_METADATA, "grant_types"},
    {"{\"response_types\":[\"code\"]}", MDT_ERR_INVALID_CLIENT_METADATA, "response_types"},
    {"{\"token_endpoint_auth_method\":\"none\"}", MDT_ERR_INVALID_CLIENT_METADATA,
     "token_endpoint_auth_method"},
    {"{\"scope\":\"nosuchscope\"}", MDT_ERR_INVALID_CLIENT_METADATA, "scope"},
    {"{\"scope\":\"bad\\\\scope\"}", MDT_ERR_INVALID_CLIENT_METADATA, "scope"},
    {"{\"scope\":[\"a\"]}", MDT_ERR_INVALID_CLIENT_METADATA, "scope"},
    {"{\"redirect_uris\":[\"http://example.com/cb\"]}", MDT_ERR_INVALID_REDIRECT_URI,
     "redirect_uris"},
    {"{\"redirect_uris\":[\"https://example.com/cb#f\"]}", MDT_ERR_INVALID_REDIRECT_URI,
     "redirect_uris"},
    {"{\"redirect_uris\":[\"/cb\"]}", MDT_ERR_INVALID_REDIRECT_URI, "redirect_uris"},
    {"{\"redirect_uris\":\"https://example.com/cb\"}", MDT_ERR_INVALID_REDIRECT_URI,
     "redirect_uris"},
    {"{\"contacts\":[1]}", MDT_ERR_INVALID_CLIENT_METADATA, "contacts"},
    {"{\"software_id\":{}}", MDT_ERR_INVALID_CLIENT_METADATA, "software_id"},
    {"{\"software_version\":1}", MDT_ERR_INVALID_CLIENT_METADATA, "software_version"},
    {"{\"client_uri\":\"http://x.io\"}", MDT_ERR_INVALID_CLIENT_METADATA, "client_uri"},
    {"{\"logo_uri\":\"x.io/logo.png\"}", MDT_ERR_INVALID_CLIENT_METADATA, "logo_uri"},
    {"{\"policy_uri\":\"ftp://x.io/p\"}", MDT_ERR_INVALID_CLIENT_METADATA, "policy_uri"},
    {"{\"tos_uri\":\"https://\"}", MDT_ERR_INVALID_CLIENT_METADATA, "tos_uri"},
    {"{\"kind\":\"robot\"}", MDT_ERR_INVALID_CLIENT_METADATA, "kind"},
    {"{\"owner\":\"bad owner\"}", MDT_ERR_INVALID_CLIENT_METADATA, "owner"},
    {"{\"owner\":\"\"}", MDT_ERR_INVALID_CLIENT_METADATA, "owner"},
    {"{\"risk_tier\":\"extreme\"}", MDT_ERR_INVALID_CLIENT_METADATA, "risk_tier"},
    {"{\"expires_at\":\"tomorrow\"}", MDT_ERR_INVALID_CLIENT_METADATA, "expires_at"},
    {"{\"resources\":[\"not a uri\"]}", MDT_ERR_INVALID_CLIENT_METADATA, "resources"},
    {"{\"resources\":[\"https://api.example/#x\"]}", MDT_ERR_INVALID_CLIENT_METADATA, "resources"},
    {"{\"max_delegation_depth\":11}", MDT_ERR_INVALID_CLIENT_METADATA, "max_delegation_depth"},
    {"{\"max_delegation_depth\":\"2\"}", MDT_ERR_INVALID_CLIENT_METADATA, "max_delegation_depth"},
    {"{\"access_token_ttl\":0}", MDT_ERR_INVALID_CLIENT_METADATA, "access_token_ttl"},
    {"{\"access_token_ttl\":86401}", MDT_ERR_INVALID_CLIENT_METADATA, "access_token_ttl"},
    {"{\"access_token_format\":\"paseto\"}", MDT_ERR_INVALID_CLIENT_METADATA,
     "access_token_format"},
};

static void expect_bad(fx *f, const char *json, size_t len, mdt_rc want, const char *msg_has)
{
    const char *resp = "untouched";
    mdt_rc rc;

    mdt_err_clear(&f->err);
    rc = test_ctx_done(
        &f->tc, mdt_client_create(&f->env, test_ctx_now(&f->tc), json, len, &f->a, &resp, &f->err));
    if (rc != want)
        fail_msg("%.80s: got %s (%s), want %s", json, mdt_rc_name(rc), mdt_err_text(&f->err),
                 mdt_rc_name(want));
    assert_null(resp);
    assert_non_null(f->err.msg);
    if (!strstr(f->err.msg, msg_has))
        fail_msg("%.80s: message '%s' does not name '%s'", json, f->err.msg, msg_has);
}

static void test_create_invalid(void **state)
{
    fx *f = *state;
    int64_t seq0 = audit_seq(f);
    char big[MDT_CLIENT_METADATA_MAX + 64];
    char json[2200];

    add_scope(f, "a");
    seq0 = audit_seq(f);
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad_cases); i++)
        expect_bad(f, bad_cases[i].json, strlen(bad_cases[i].json), bad_cases[i].rc,
                   bad_cases[i].msg_has);
    /* length limits */
    snprintf(json, sizeof(json), "{\"client_name\":\"%0201d\"}", 0);
    expect_bad(f, json, strlen(json), MDT_ERR_INVALID_CLIENT_METADATA, "client_name");
    snprintf(json, sizeof(json), "{\"description\":\"%02001d\"}", 0);
    expect_bad(f, json, strlen(json), MDT_ERR_INVALID_CLIENT_METADATA, "description");
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 1] = '}';
    expect_bad(f, big, sizeof(big), MDT_ERR_TOO_LARGE, "64 KiB");
    /* a valid scope next to an unknown one still fails, naming scope */
    expect_bad(f, "{\"scope\":\"a zzz\"}", 17, MDT_ERR_INVALID_CLIENT_METADATA, "scope");
    /* nothing was stored or audited */
    assert_int_equal(count_clients(f), 0);
    assert_int_equal(audit_seq(f), seq0);
}

static void test_secret_rotation(void **state)
{
    fx *f = *state;
    json_t *r = create(f, "{}"), *r2, *r3;
    const char *id = jstr(r, "client_id"), *s1 = jstr(r, "client_secret"), *resp, *cred_id;
    mdt_client c;

    assert_int_equal(verify(f, id, s1), MDT_OK);
    assert_int_equal(verify(f, id, "wrong"), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(verify(f, id, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                     MDT_ERR_INVALID_CLIENT);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_rotate_secret(&f->env, test_ctx_now(&f->tc), id, 3600,
                                                       &f->a, &resp, &f->err)),
        MDT_OK);
    r2 = parse(resp);
    assert_string_equal(jstr(r2, "client_id"), id);
    assert_int_equal(json_integer_value(json_object_get(r2, "client_secret_expires_at")), 0);
    assert_string_not_equal(jstr(r2, "client_secret"), s1);
    assert_int_equal(verify(f, id, s1), MDT_OK);                   /* kept for an hour */
    assert_int_equal(verify(f, id, jstr(r2, "client_secret")), MDT_OK);
    f->clk.t += 3600;
    assert_int_equal(verify(f, id, s1), MDT_ERR_INVALID_CLIENT);   /* expired */
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_int_equal(mdt_client_verify_secret(&f->env, &c, jstr(r2, "client_secret"), MDT_SECRET_LEN,
                                              f->clk.t, &f->a, &cred_id, &f->err), MDT_OK);
    assert_int_equal(strncmp(cred_id, "cred_", 5), 0);
    /* keep 0: the previous secret stops at once */
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_rotate_secret(&f->env, test_ctx_now(&f->tc),
                                                                    id, 0, &f->a, &resp, &f->err)),
                     MDT_OK);
    r3 = parse(resp);
    assert_int_equal(verify(f, id, jstr(r2, "client_secret")), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(verify(f, id, jstr(r3, "client_secret")), MDT_OK);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_rotate_secret(&f->env, test_ctx_now(&f->tc), "mdt_nope", 0,
                                                       &f->a, &resp, &f->err)),
        MDT_ERR_NOT_FOUND);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_rotate_secret(&f->env, test_ctx_now(&f->tc),
                                                                    id, -1, &f->a, &resp, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    json_decref(r);
    json_decref(r2);
    json_decref(r3);
}

static void test_show_credentials(void **state)
{
    fx *f = *state;
    json_t *r = create(f, "{\"client_name\":\"Shown\"}"), *s, *creds, *c0;
    const char *id = jstr(r, "client_id"), *json;

    assert_int_equal(test_ctx_done(&f->tc, mdt_client_show_json(&f->env, test_ctx_now(&f->tc), id,
                                                                &f->a, &json, &f->err)),
                     MDT_OK);
    s = parse(json);
    creds = json_object_get(s, "credentials");
    assert_int_equal(json_array_size(creds), 1);
    c0 = json_array_get(creds, 0);
    assert_string_equal(jstr(c0, "type"), "secret");
    assert_string_equal(jstr(c0, "created_at"), "2026-01-01T00:00:00Z");
    assert_true(json_is_null(json_object_get(c0, "expires_at")));
    assert_true(json_is_null(json_object_get(c0, "last_used_at")));
    assert_null(json_object_get(s, "client_secret"));
    assert_string_equal(jstr(s, "status"), "active");
    assert_string_equal(jstr(s, "client_name"), "Shown");
    json_decref(s);
    /* a verification records last use */
    f->clk.t += 10;
    assert_int_equal(verify(f, id, jstr(r, "client_secret")), MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_show_json(&f->env, test_ctx_now(&f->tc), id,
                                                                &f->a, &json, &f->err)),
                     MDT_OK);
    s = parse(json);
    assert_string_equal(jstr(json_array_get(json_object_get(s, "credentials"), 0), "last_used_at"),
                        "2026-01-01T00:00:10Z");
    json_decref(s);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_show_json(&f->env, test_ctx_now(&f->tc),
                                                                "mdt_nope", &f->a, &json, &f->err)),
                     MDT_ERR_NOT_FOUND);
    json_decref(r);
}

static void test_suspend_resume(void **state)
{
    fx *f = *state;
    json_t *r = create(f, "{}");
    const char *id = jstr(r, "client_id"), *resp, *in;
    mdt_client c;
    int64_t seq0 = audit_seq(f);

    f->clk.t += 100;
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&f->env, test_ctx_now(&f->tc), id,
                                                                 "suspended", &f->err)),
                     MDT_OK);
    assert_int_equal(audit_seq(f), seq0 + 1);
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_string_equal(c.status, "suspended");
    assert_int_equal(c.tokens_valid_after, T0 + 101);
    assert_false(mdt_client_usable(&c, f->clk.t));
    f->clk.t += 50;
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&f->env, test_ctx_now(&f->tc), id,
                                                                 "active", &f->err)),
                     MDT_OK);
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_string_equal(c.status, "active");
    assert_int_equal(c.tokens_valid_after, T0 + 101); /* resuming revives nothing */
    assert_true(mdt_client_usable(&c, f->clk.t));
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&f->env, test_ctx_now(&f->tc), id,
                                                                 "pending", &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&f->env, test_ctx_now(&f->tc),
                                                                 "mdt_nope", "suspended", &f->err)),
                     MDT_ERR_NOT_FOUND);
    /* an expired client is reported expired and cannot be resumed */
    in = "{\"expires_at\":\"2026-01-01T01:00:00Z\"}";
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_update(&f->env, test_ctx_now(&f->tc), id, in,
                                                             strlen(in), &f->a, &resp, &f->err)),
                     MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&f->env, test_ctx_now(&f->tc), id,
                                                                 "suspended", &f->err)),
                     MDT_OK);
    f->clk.t = T0 + 3600;
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_string_equal(c.status, "expired");
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&f->env, test_ctx_now(&f->tc), id,
                                                                 "active", &f->err)),
                     MDT_ERR_CONFLICT);
    json_decref(r);
}

/* The token path's client cache: a change made through another store handle
 * (another process or node) is seen by the very next load. */
static void test_cache_sees_other_writers(void **state)
{
    fx *f = *state;
    mdt_env other = f->env;
    char url[128];
    mdt_client a, b;
    json_t *c;
    const char *id, *secret, *resp;

    add_scope(f, "read");
    c = create(f, "{\"client_name\":\"cached\",\"scope\":\"read\"}");
    id = mdt_arena_strdup(&f->a, jstr(c, "client_id"));
    secret = mdt_arena_strdup(&f->a, jstr(c, "client_secret"));
    json_decref(c);
    snprintf(url, sizeof(url), "sqlite:%s/test.db", f->dir);
    assert_int_equal(mdt_store_open(url, &other.store, &f->err), MDT_OK);

    /* two loads in a row give the same client, the second from the cache */
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &a, &f->err), MDT_OK);
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &b, &f->err), MDT_OK);
    assert_string_equal(a.name, b.name);
    assert_string_equal(b.status, "active");
    assert_int_equal(b.nscopes, 1);
    assert_string_equal(b.scopes[0], "read");
    assert_int_equal(b.ncreds, 1);
    assert_ptr_not_equal(a.name, b.name); /* copies, never the cache's own memory */

    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&other, test_ctx_now(&f->tc), id,
                                                                 "suspended", &f->err)),
                     MDT_OK);
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &b, &f->err), MDT_OK);
    assert_string_equal(b.status, "suspended");
    assert_false(mdt_client_usable(&b, f->clk.t));
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&other, test_ctx_now(&f->tc), id,
                                                                 "active", &f->err)),
                     MDT_OK);

    assert_int_equal(verify(f, id, secret), MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_rotate_secret(&other, test_ctx_now(&f->tc),
                                                                    id, 0, &f->a, &resp, &f->err)),
                     MDT_OK);
    assert_int_equal(verify(f, id, secret), MDT_ERR_INVALID_CLIENT);

    /* expiry is judged at load time, not when the entry was cached */
    f->clk.t += 10;
    {
        const char *upd = "{\"expires_at\":\"2100-01-01T00:00:00Z\"}";
        assert_int_equal(
            test_ctx_done(&f->tc, mdt_client_update(&other, test_ctx_now(&f->tc), id, upd,
                                                    strlen(upd), &f->a, &resp, &f->err)),
            MDT_OK);
    }
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &b, &f->err), MDT_OK);
    assert_string_equal(b.status, "active");
    f->clk.t = 4102444800 + 1; /* 2100-01-01T00:00:01Z */
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &b, &f->err), MDT_OK);
    assert_string_equal(b.status, "expired");

    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_delete(&other, test_ctx_now(&f->tc), id, &f->err)),
        MDT_OK);
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &b, &f->err), MDT_ERR_NOT_FOUND);
    mdt_store_close(other.store);
}

static void test_update_merge(void **state)
{
    fx *f = *state;
    json_t *r = create(f, "{\"client_name\":\"Old\",\"description\":\"d\",\"contacts\":[\"a@x.io\"],"
                          "\"kind\":\"agent\"}"), *u;
    const char *id = jstr(r, "client_id"), *resp = NULL, *in;
    mdt_client c;
    int64_t seq0;

    in = "{\"client_name\":\"New\",\"description\":null,\"kind\":null,\"status\":\"suspended\","
         "\"client_id\":\"evil\",\"client_secret\":\"x\",\"risk_tier\":\"low\"}";
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_update(&f->env, test_ctx_now(&f->tc), id, in,
                                                             strlen(in), &f->a, &resp, &f->err)),
                     MDT_OK);
    u = parse(resp);
    assert_string_equal(jstr(u, "client_id"), id);
    assert_string_equal(jstr(u, "client_name"), "New");
    assert_null(json_object_get(u, "description"));
    assert_string_equal(jstr(u, "kind"), "service"); /* removed: the default again */
    assert_string_equal(jstr(u, "risk_tier"), "low");
    assert_string_equal(json_string_value(json_array_get(json_object_get(u, "contacts"), 0)), "a@x.io");
    assert_string_equal(jstr(u, "status"), "active");
    assert_null(json_object_get(u, "client_secret"));
    json_decref(u);
    assert_int_equal(verify(f, id, jstr(r, "client_secret")), MDT_OK); /* secret untouched */
    /* bad input changes nothing */
    seq0 = audit_seq(f);
    in = "{\"client_name\":\"Newer\",\"kind\":\"robot\"}";
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_update(&f->env, test_ctx_now(&f->tc), id, in,
                                                             strlen(in), &f->a, &resp, &f->err)),
                     MDT_ERR_INVALID_CLIENT_METADATA);
    assert_non_null(strstr(f->err.msg, "kind"));
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_string_equal(c.name, "New");
    assert_int_equal(audit_seq(f), seq0);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_update(&f->env, test_ctx_now(&f->tc), "mdt_nope", "{}", 2,
                                                &f->a, &resp, &f->err)),
        MDT_ERR_NOT_FOUND);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_update(&f->env, test_ctx_now(&f->tc), id,
                                                             "[1]", 3, &f->a, &resp, &f->err)),
                     MDT_ERR_INVALID_CLIENT_METADATA);
    json_decref(r);
}

static void test_delete_and_list(void **state)
{
    fx *f = *state;
    json_t *r1 = create(f, "{\"client_name\":\"one\"}"), *r2 = create(f, "{}"), *l;
    const char *json;
    mdt_client c;

    assert_int_equal(test_ctx_done(&f->tc, mdt_client_list_json(&f->env, test_ctx_now(&f->tc),
                                                                &f->a, &json, &f->err)),
                     MDT_OK);
    l = parse(json);
    assert_int_equal(json_array_size(l), 2);
    assert_string_equal(jstr(json_array_get(l, 0), "status"), "active");
    assert_null(json_object_get(json_array_get(l, 0), "client_secret"));
    json_decref(l);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_delete(&f->env, test_ctx_now(&f->tc),
                                                             jstr(r1, "client_id"), &f->err)),
                     MDT_OK);
    assert_int_equal(mdt_client_load(&f->env, jstr(r1, "client_id"), f->clk.t, &f->a, &c, &f->err),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_delete(&f->env, test_ctx_now(&f->tc),
                                                             jstr(r1, "client_id"), &f->err)),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(mdt_client_load(&f->env, jstr(r2, "client_id"), f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_int_equal(count_clients(f), 1);
    json_decref(r1);
    json_decref(r2);
}

static void test_scopes(void **state)
{
    fx *f = *state;
    const char *res[] = {"https://api.example", "urn:x:y", NULL}, *json;
    const char *bad_res[] = {"https://api.example#frag", NULL};
    char name[MDT_SCOPE_NAME_MAX + 2];
    json_t *l, *s;
    int64_t seq0 = audit_seq(f);

    assert_int_equal(
        test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "expenses:read",
                                               "Read expenses", "consent", res, &f->err)),
        MDT_OK);
    assert_int_equal(audit_seq(f), seq0 + 1);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "expenses:read", NULL,
                                               NULL, NULL, &f->err)),
        MDT_ERR_CONFLICT);
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "a b",
                                                            NULL, NULL, NULL, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "", NULL,
                                                            NULL, NULL, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "q\"",
                                                            NULL, NULL, NULL, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "x",
                                                            NULL, "secret", NULL, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "x",
                                                            NULL, NULL, bad_res, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    memset(name, 'n', sizeof(name));
    name[MDT_SCOPE_NAME_MAX + 1] = '\0';
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), name,
                                                            NULL, NULL, NULL, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    name[MDT_SCOPE_NAME_MAX] = '\0';
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), name,
                                                            NULL, "approval", NULL, &f->err)),
                     MDT_OK);
    assert_int_equal(audit_seq(f), seq0 + 2);

    assert_int_equal(mdt_scope_list_json(&f->env, &f->a, &json, &f->err), MDT_OK);
    l = parse(json);
    assert_int_equal(json_array_size(l), 2);
    s = json_array_get(l, 0);
    if (!mdt_str_eq(jstr(s, "name"), "expenses:read"))
        s = json_array_get(l, 1);
    assert_string_equal(jstr(s, "name"), "expenses:read");
    assert_string_equal(jstr(s, "description"), "Read expenses");
    assert_string_equal(jstr(s, "sensitivity"), "consent");
    assert_int_equal(json_array_size(json_object_get(s, "resources")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "resources"), 1)), "urn:x:y");
    json_decref(l);
}

/* The OpenID Connect scopes: created when missing, once, never over an
 * operator's scope of the same name. */
static void test_standard_scopes(void **state)
{
    fx *f = *state;
    mdt_scope_rec sc;
    int added = -1;
    int64_t seq0;

    assert_int_equal(
        test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "profile",
                                               "Operator text", "approval", NULL, &f->err)),
        MDT_OK);
    seq0 = audit_seq(f);
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_ensure_standard(&f->env, test_ctx_now(&f->tc),
                                                                     &added, &f->err)),
                     MDT_OK);
    assert_int_equal(added, 4);
    assert_int_equal(audit_seq(f), seq0 + 4);
    assert_int_equal(mdt_store_scope_get(f->env.store, MDT_SCOPE_ADMIN, &f->a, &sc, &f->err),
                     MDT_OK);
    assert_string_equal(sc.sensitivity, "approval"); /* never through consent */
    assert_int_equal(mdt_store_scope_get(f->env.store, "profile", &f->a, &sc, &f->err), MDT_OK);
    assert_string_equal(sc.description, "Operator text");
    assert_string_equal(sc.sensitivity, "approval");
    assert_int_equal(mdt_store_scope_get(f->env.store, "offline_access", &f->a, &sc, &f->err),
                     MDT_OK);
    assert_string_equal(sc.sensitivity, "consent");
    assert_int_equal(mdt_store_scope_get(f->env.store, "openid", &f->a, &sc, &f->err), MDT_OK);
    assert_string_equal(sc.sensitivity, "none");
    assert_int_equal(mdt_store_scope_get(f->env.store, "email", &f->a, &sc, &f->err), MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_ensure_standard(&f->env, test_ctx_now(&f->tc),
                                                                     &added, &f->err)),
                     MDT_OK);
    assert_int_equal(added, 0);
    assert_int_equal(audit_seq(f), seq0 + 4);
}

static void test_uri_checks(void **state)
{
    (void)state;
    assert_true(mdt_resource_uri_valid("https://api.example/v1?x=1"));
    assert_true(mdt_resource_uri_valid("urn:example:resource"));
    assert_false(mdt_resource_uri_valid("api.example"));
    assert_false(mdt_resource_uri_valid("https://"));
    assert_false(mdt_resource_uri_valid("https://a/b c"));
    assert_false(mdt_resource_uri_valid("urn:"));
    assert_true(mdt_scope_name_valid("a!#[]~", 6));
    assert_false(mdt_scope_name_valid("a\\b", 3));
}


static void test_cred_live(void **state)
{
    mdt_cred_rec c = {.type = "jwk"};

    (void)state;
    assert_true(mdt_cred_live(&c, T0));
    c.expires_at = T0 + 100;
    assert_true(mdt_cred_live(&c, T0 + 99));
    assert_false(mdt_cred_live(&c, T0 + 100));
    assert_false(mdt_cred_live(&c, T0 + 101));
    assert_false(mdt_cred_live(NULL, T0));
}

/* Only the secret methods get a generated secret (RFC 7591 §3.2.1). */
static void test_create_by_method(void **state)
{
    fx *f = *state;
    uint8_t tp[32], h[32];
    char *k = pub_jwk(tp), meta[1200];
    json_t *r;
    const char *id, *resp;
    const mdt_cred_rec *cr;
    mdt_client c;

    snprintf(meta, sizeof(meta),
             "{\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[%s]}}", k);
    r = create(f, meta);
    id = mdt_arena_strdup(&f->a, jstr(r, "client_id"));
    assert_null(json_object_get(r, "client_secret"));
    assert_null(json_object_get(r, "client_secret_expires_at"));
    assert_int_equal(count_creds(f, id), 1);
    cr = one_cred(f, id, "jwk", kid_of(f, k));
    assert_memory_equal(cr->hash, tp, 32);
    assert_int_equal(strncmp(cr->id, "cred_", 5), 0);
    assert_int_equal(cr->created_at, T0);
    assert_int_equal(cr->expires_at, 0);
    /* the typed client carries the rows, names included (through the cache) */
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_int_equal(c.ncreds, 1);
    assert_string_equal(c.creds[0].name, kid_of(f, k));
    assert_ptr_equal(mdt_client_cred_find(&c, "jwk", tp), &c.creds[0]);
    assert_null(mdt_client_cred_find(&c, "certificate", tp));
    /* no secret to rotate or to present */
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_rotate_secret(&f->env, test_ctx_now(&f->tc),
                                                                    id, 0, &f->a, &resp, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    assert_non_null(strstr(f->err.msg, "the client does not authenticate with a secret"));
    assert_int_equal(count_creds(f, id), 1);
    assert_int_equal(verify(f, id, ""), MDT_ERR_INVALID_CLIENT);
    json_decref(r);

    r = create(f, "{\"token_endpoint_auth_method\":\"tls_client_auth\","
                  "\"tls_client_auth_subject_dn\":\"CN=agent,O=Example\"}");
    assert_null(json_object_get(r, "client_secret"));
    cr = one_cred(f, jstr(r, "client_id"), "certificate", "subject_dn=CN=agent,O=Example");
    name_hash("subject_dn=CN=agent,O=Example", h);
    assert_memory_equal(cr->hash, h, 32);
    assert_int_equal(count_creds(f, jstr(r, "client_id")), 1);
    json_decref(r);

    r = create(f, "{\"token_endpoint_auth_method\":\"tls_client_auth\","
                  "\"tls_client_auth_san_dns\":\"agent.example.com\"}");
    (void)one_cred(f, jstr(r, "client_id"), "certificate", "san_dns=agent.example.com");
    json_decref(r);

    r = create(f, "{\"token_endpoint_auth_method\":\"self_signed_tls_client_auth\","
                  "\"jwks_uri\":\"https://keys.example.com/jwks\"}");
    assert_null(json_object_get(r, "client_secret"));
    cr = one_cred(f, jstr(r, "client_id"), "jwk", "https://keys.example.com/jwks");
    name_hash("https://keys.example.com/jwks", h);
    assert_memory_equal(cr->hash, h, 32);
    json_decref(r);
    free(k);
}

static void test_workload_credential(void **state)
{
    fx *f = *state;
    const char *iss = "https://kubernetes.default.svc", *sub = "system:serviceaccount:ns:agent";
    uint8_t h[32];
    mdt_cred_rec found;
    json_t *r = create(f, "{\"token_endpoint_auth_method\":\"private_key_jwt\","
                          "\"workload_identity\":{\"issuer\":\"https://kubernetes.default.svc\","
                          "\"subject\":\"system:serviceaccount:ns:agent\"}}");
    const char *id = jstr(r, "client_id");
    const mdt_cred_rec *cr = one_cred(f, id, "workload", NULL);
    char buf[200];

    assert_null(json_object_get(r, "client_secret"));
    assert_string_equal(cr->name, "https://kubernetes.default.svc system:serviceaccount:ns:agent");
    assert_int_equal(mdt_cred_workload_hash(iss, sub, h, &f->err), MDT_OK);
    snprintf(buf, sizeof(buf), "%s\n%s", iss, sub);
    name_hash(buf, found.hash); /* SHA-256 over issuer "\n" subject, as documented */
    assert_memory_equal(h, found.hash, 32);
    assert_memory_equal(cr->hash, h, 32);
    /* what the authentication code does: one indexed lookup by the hash */
    assert_int_equal(mdt_store_cred_find(f->env.store, "workload", h, &f->a, &found, &f->err),
                     MDT_OK);
    assert_string_equal(found.client_id, id);
    assert_string_equal(found.id, cr->id);
    json_decref(r);

    /* a secret client may name a workload identity too: both rows */
    r = create(f, "{\"workload_identity\":{\"issuer\":\"https://i.example\",\"subject\":\"s\"}}");
    assert_non_null(jstr(r, "client_secret"));
    assert_int_equal(count_creds(f, jstr(r, "client_id")), 2);
    (void)one_cred(f, jstr(r, "client_id"), "secret", NULL);
    (void)one_cred(f, jstr(r, "client_id"), "workload", "https://i.example s");
    json_decref(r);
}

/* Derived rows follow the metadata on update: kept (same id and times),
 * added, removed. */
static void test_derived_sync(void **state)
{
    fx *f = *state;
    uint8_t tp1[32], tp2[32], tp3[32];
    char *k1 = pub_jwk(tp1), *k2 = pub_jwk(tp2), *k3 = pub_jwk(tp3), in[2400];
    json_t *r, *u;
    const char *id, *k2_id, *resp;
    const mdt_cred_rec *cr;
    mdt_client c;
    int64_t seq0;

    snprintf(in, sizeof(in), "{\"token_endpoint_auth_method\":\"private_key_jwt\","
             "\"jwks\":{\"keys\":[%s,%s]}}", k1, k2);
    r = create(f, in);
    id = mdt_arena_strdup(&f->a, jstr(r, "client_id"));
    json_decref(r);
    assert_int_equal(count_creds(f, id), 2);
    k2_id = one_cred(f, id, "jwk", kid_of(f, k2))->id;
    /* k2 is used and its expiry set by an operator */
    f->clk.t = T0 + 50;
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    mdt_client_cred_used(&f->env, &c, mdt_client_cred_find(&c, "jwk", tp2), f->clk.t);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_credential_expire(&f->env, test_ctx_now(&f->tc), id, k2_id,
                                                           86400, &f->a, &resp, &f->err)),
        MDT_OK);

    f->clk.t = T0 + 100;
    seq0 = audit_seq(f);
    snprintf(in, sizeof(in), "{\"jwks\":{\"keys\":[%s,%s]}}", k2, k3);
    u = update(f, id, in);
    json_decref(u);
    assert_int_equal(audit_seq(f), seq0 + 1);
    assert_int_equal(count_creds(f, id), 2);
    cr = one_cred(f, id, "jwk", kid_of(f, k2)); /* kept as it was */
    assert_string_equal(cr->id, k2_id);
    assert_int_equal(cr->created_at, T0);
    assert_int_equal(cr->last_used_at, T0 + 50);
    assert_int_equal(cr->expires_at, T0 + 50 + 86400);
    cr = one_cred(f, id, "jwk", kid_of(f, k3)); /* added */
    assert_int_equal(cr->created_at, T0 + 100);
    assert_memory_equal(cr->hash, tp3, 32);
    assert_int_equal(cr->last_used_at, 0);
    /* k1 is gone; the client's view agrees */
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_int_equal(c.ncreds, 2);
    assert_null(mdt_client_cred_find(&c, "jwk", tp1));
    assert_non_null(mdt_client_cred_find(&c, "jwk", tp3));

    /* from keys to a jwks_uri, plus a workload identity */
    u = update(f, id, "{\"jwks\":null,\"jwks_uri\":\"https://k.example.com/jwks\","
                      "\"workload_identity\":{\"issuer\":\"https://i.example\",\"subject\":\"a\"}}");
    json_decref(u);
    assert_int_equal(count_creds(f, id), 2);
    (void)one_cred(f, id, "jwk", "https://k.example.com/jwks");
    (void)one_cred(f, id, "workload", "https://i.example a");
    /* another subject is another identity: replaced */
    f->clk.t = T0 + 200;
    u = update(f, id, "{\"workload_identity\":{\"issuer\":\"https://i.example\",\"subject\":\"b\"}}");
    json_decref(u);
    assert_int_equal(one_cred(f, id, "workload", "https://i.example b")->created_at, T0 + 200);
    assert_int_equal(count_creds(f, id), 2);
    /* an unrelated change keeps every row */
    cr = one_cred(f, id, "jwk", NULL);
    k2_id = cr->id;
    u = update(f, id, "{\"client_name\":\"renamed\"}");
    json_decref(u);
    assert_string_equal(one_cred(f, id, "jwk", NULL)->id, k2_id);
    /* removing the metadata removes the rows */
    u = update(f, id, "{\"workload_identity\":null}");
    json_decref(u);
    assert_int_equal(count_creds(f, id), 1);
    free(k1);
    free(k2);
    free(k3);
}

/* Moving between secret and other methods (SPEC §2.1, RFC 7591). */
static void test_method_change(void **state)
{
    fx *f = *state;
    uint8_t tp[32];
    char *k = pub_jwk(tp), in[1200];
    json_t *r = create(f, "{}"), *u;
    const char *id = mdt_arena_strdup(&f->a, jstr(r, "client_id"));
    const char *s1 = mdt_arena_strdup(&f->a, jstr(r, "client_secret")), *s2;
    const mdt_cred_rec *cr;

    json_decref(r);
    f->clk.t = T0 + 10;
    snprintf(in, sizeof(in),
             "{\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[%s]}}", k);
    u = update(f, id, in);
    assert_null(json_object_get(u, "client_secret"));
    json_decref(u);
    assert_int_equal(verify(f, id, s1), MDT_ERR_INVALID_CLIENT);
    cr = one_cred(f, id, "secret", NULL); /* expired now, still listed */
    assert_int_equal(cr->expires_at, T0 + 10);
    assert_int_equal(cr->created_at, T0);
    (void)one_cred(f, id, "jwk", NULL);

    /* back to a secret method: a new secret, returned once */
    f->clk.t = T0 + 20;
    u = update(f, id, "{\"token_endpoint_auth_method\":\"client_secret_post\",\"jwks\":null}");
    s2 = mdt_arena_strdup(&f->a, jstr(u, "client_secret"));
    assert_non_null(s2);
    assert_int_equal(strlen(s2), MDT_SECRET_LEN);
    assert_int_equal(json_integer_value(json_object_get(u, "client_secret_expires_at")), 0);
    json_decref(u);
    assert_int_equal(verify(f, id, s2), MDT_OK);
    assert_int_equal(verify(f, id, s1), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(count_creds(f, id), 2); /* the old secret and the new one; no jwk */
    /* between secret methods: the secret stays, nothing new */
    u = update(f, id, "{\"token_endpoint_auth_method\":\"client_secret_basic\"}");
    assert_null(json_object_get(u, "client_secret"));
    json_decref(u);
    assert_int_equal(verify(f, id, s2), MDT_OK);
    assert_int_equal(count_creds(f, id), 2);
    free(k);
}

/* Any credential can be retired on its own, now or later, and stays listed. */
static void test_credential_expire(void **state)
{
    fx *f = *state;
    json_t *r = create(f, "{}"), *o, *other = create(f, "{}");
    const char *id = mdt_arena_strdup(&f->a, jstr(r, "client_id"));
    const char *s1 = mdt_arena_strdup(&f->a, jstr(r, "client_secret")), *s2, *resp, *old;
    int64_t seq0;

    old = one_cred(f, id, "secret", NULL)->id;
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_rotate_secret(&f->env, test_ctx_now(&f->tc), id, 3600,
                                                       &f->a, &resp, &f->err)),
        MDT_OK);
    o = parse(resp);
    s2 = mdt_arena_strdup(&f->a, jstr(o, "client_secret"));
    json_decref(o);
    /* several secrets valid at once */
    assert_int_equal(verify(f, id, s1), MDT_OK);
    assert_int_equal(verify(f, id, s2), MDT_OK);

    seq0 = audit_seq(f);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_credential_expire(&f->env, test_ctx_now(&f->tc), id, old,
                                                           60, &f->a, &resp, &f->err)),
        MDT_OK);
    assert_int_equal(audit_seq(f), seq0 + 1);
    assert_string_equal(last_event(f), "client.credential_expired");
    o = parse(resp);
    assert_string_equal(jstr(o, "client_id"), id);
    assert_string_equal(jstr(o, "id"), old);
    assert_string_equal(jstr(o, "type"), "secret");
    assert_string_equal(jstr(o, "expires_at"), "2026-01-01T00:01:00Z");
    assert_string_equal(jstr(o, "created_at"), "2026-01-01T00:00:00Z");
    assert_null(json_object_get(o, "name"));
    json_decref(o);
    f->clk.t = T0 + 59;
    assert_int_equal(verify(f, id, s1), MDT_OK);
    f->clk.t = T0 + 60;
    assert_int_equal(verify(f, id, s1), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(verify(f, id, s2), MDT_OK);
    /* never extended: a later expiry keeps the earlier one */
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_credential_expire(&f->env, test_ctx_now(&f->tc), id, old,
                                                           600, &f->a, &resp, &f->err)),
        MDT_OK);
    o = parse(resp);
    assert_string_equal(jstr(o, "expires_at"), "2026-01-01T00:01:00Z");
    json_decref(o);
    /* in 0: at once */
    {
        size_t n = 0;
        mdt_cred_rec *list = creds_of(f, id, &n);
        const char *newer = mdt_str_eq(list[0].id, old) ? list[1].id : list[0].id;

        assert_int_equal(n, 2);
        assert_int_equal(
            test_ctx_done(&f->tc, mdt_client_credential_expire(&f->env, test_ctx_now(&f->tc), id,
                                                               newer, 0, &f->a, &resp, &f->err)),
            MDT_OK);
        assert_int_equal(verify(f, id, s2), MDT_ERR_INVALID_CLIENT);
        assert_int_equal(count_creds(f, id), 2); /* both still listed */
    }
    /* refusals change nothing */
    seq0 = audit_seq(f);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_credential_expire(&f->env, test_ctx_now(&f->tc), id,
                                                           "cred_nope", 0, &f->a, &resp, &f->err)),
        MDT_ERR_NOT_FOUND);
    assert_string_equal(f->err.msg, "unknown credential");
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_credential_expire(&f->env, test_ctx_now(&f->tc),
                                                           jstr(other, "client_id"), old, 0, &f->a,
                                                           &resp, &f->err)),
        MDT_ERR_NOT_FOUND);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_credential_expire(
                                               &f->env, test_ctx_now(&f->tc), "mdt_nope", old, 0,
                                               &f->a, &resp, &f->err)),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_client_credential_expire(&f->env, test_ctx_now(&f->tc), id, old,
                                                           -1, &f->a, &resp, &f->err)),
        MDT_ERR_INVALID_REQUEST);
    assert_int_equal(audit_seq(f), seq0);
    assert_int_equal(verify(f, jstr(other, "client_id"), jstr(other, "client_secret")), MDT_OK);
    json_decref(r);
    json_decref(other);
}

/* Creates an API key; returns the parsed {key_id, api_key, expires_at}. */
static json_t *new_apikey(fx *f, const char *id, int64_t expires_in)
{
    const char *resp = NULL;
    if (test_ctx_done(&f->tc, mdt_apikey_create(&f->env, test_ctx_now(&f->tc), id, expires_in,
                                                &f->a, &resp, &f->err)) != MDT_OK)
        fail_msg("apikey create failed: %s", mdt_err_text(&f->err));
    return parse(resp);
}

static mdt_rc key_verify(fx *f, const char *key, const char **claimed)
{
    mdt_client c;
    const char *cred = NULL, *who = NULL;
    mdt_rc rc;

    mdt_err_clear(&f->err);
    rc = mdt_apikey_verify(&f->env, key, f->clk.t, &f->a, &c, &cred, &who, &f->err);
    if (claimed)
        *claimed = who;
    if (rc == MDT_OK) {
        assert_string_equal(c.client_id, who);
        assert_non_null(cred);
    } else {
        assert_null(cred);
        assert_string_equal(f->err.msg, "client authentication failed");
    }
    return rc;
}

static void test_apikey_lifecycle(void **state)
{
    fx *f = *state;
    json_t *r = create(f, "{\"token_endpoint_auth_method\":\"tls_client_auth\","
                          "\"tls_client_auth_san_dns\":\"legacy.example.com\"}");
    const char *id = mdt_arena_strdup(&f->a, jstr(r, "client_id")), *key, *kid, *claimed, *resp;
    json_t *k = new_apikey(f, id, 0), *o;
    char buf[300];
    int64_t seq0;

    json_decref(r);
    assert_string_equal(last_event(f), "client.apikey_created");
    assert_int_equal(json_object_size(k), 3);
    assert_true(json_is_null(json_object_get(k, "expires_at")));
    key = mdt_arena_strdup(&f->a, jstr(k, "api_key"));
    kid = mdt_arena_strdup(&f->a, jstr(k, "key_id"));
    json_decref(k);
    snprintf(buf, sizeof(buf), "mdk_%s.%s.", id, kid);
    assert_int_equal(strncmp(key, buf, strlen(buf)), 0);
    assert_int_equal(strlen(key), strlen(buf) + MDT_SECRET_LEN);
    assert_int_equal(strncmp(kid, "cred_", 5), 0);
    /* stored hashed only */
    assert_null(strstr(one_cred(f, id, "api_key", NULL)->name, key + strlen(buf)));
    {
        uint8_t h[32];
        name_hash(key, h);
        assert_memory_equal(one_cred(f, id, "api_key", NULL)->hash, h, 32);
    }

    /* exchangeable; last use recorded at most once a minute */
    assert_int_equal(key_verify(f, key, &claimed), MDT_OK);
    assert_string_equal(claimed, id);
    assert_int_equal(one_cred(f, id, "api_key", NULL)->last_used_at, T0);
    f->clk.t = T0 + 30;
    assert_int_equal(key_verify(f, key, NULL), MDT_OK);
    assert_int_equal(one_cred(f, id, "api_key", NULL)->last_used_at, T0);
    f->clk.t = T0 + 61;
    assert_int_equal(key_verify(f, key, NULL), MDT_OK);
    assert_int_equal(one_cred(f, id, "api_key", NULL)->last_used_at, T0 + 61);

    /* wrong secret part (same length, one character changed) */
    snprintf(buf, sizeof(buf), "%s", key);
    buf[strlen(buf) - 1] = buf[strlen(buf) - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(key_verify(f, buf, &claimed), MDT_ERR_INVALID_CLIENT);
    assert_string_equal(claimed, id);
    assert_non_null(strstr(f->err.detail, "wrong API key"));
    /* unknown key id of this client */
    snprintf(buf, sizeof(buf), "mdk_%s.cred_AAAAAAAAAAAAAAAA.%s", id,
             key + strlen(key) - MDT_SECRET_LEN);
    assert_int_equal(key_verify(f, buf, NULL), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(f->err.detail, "unknown API key"));
    /* unknown client */
    snprintf(buf, sizeof(buf), "mdk_mdt_nope.%s.%s", kid, key + strlen(key) - MDT_SECRET_LEN);
    assert_int_equal(key_verify(f, buf, &claimed), MDT_ERR_INVALID_CLIENT);
    assert_string_equal(claimed, "mdt_nope");

    /* a suspended client's key does not work; resumed, it does again */
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&f->env, test_ctx_now(&f->tc), id,
                                                                 "suspended", &f->err)),
                     MDT_OK);
    assert_int_equal(key_verify(f, key, NULL), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(f->err.detail, "suspended"));
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_set_status(&f->env, test_ctx_now(&f->tc), id,
                                                                 "active", &f->err)),
                     MDT_OK);
    assert_int_equal(key_verify(f, key, NULL), MDT_OK);

    /* revoked: stops at once, stays listed as expired */
    f->clk.t = T0 + 100;
    seq0 = audit_seq(f);
    assert_int_equal(test_ctx_done(&f->tc, mdt_apikey_revoke(&f->env, test_ctx_now(&f->tc), id, kid,
                                                             &f->a, &resp, &f->err)),
                     MDT_OK);
    assert_int_equal(audit_seq(f), seq0 + 1);
    assert_string_equal(last_event(f), "client.apikey_revoked");
    o = parse(resp);
    assert_string_equal(jstr(o, "key_id"), kid);
    assert_string_equal(jstr(o, "client_id"), id);
    assert_string_equal(jstr(o, "expires_at"), "2026-01-01T00:01:40Z");
    json_decref(o);
    assert_int_equal(key_verify(f, key, NULL), MDT_ERR_INVALID_CLIENT);
    assert_non_null(strstr(f->err.detail, "expired or revoked"));
    assert_int_equal(one_cred(f, id, "api_key", NULL)->expires_at, T0 + 100);
    f->clk.t = T0 + 200; /* revoking again keeps the first time */
    assert_int_equal(test_ctx_done(&f->tc, mdt_apikey_revoke(&f->env, test_ctx_now(&f->tc), id, kid,
                                                             &f->a, &resp, &f->err)),
                     MDT_OK);
    assert_int_equal(one_cred(f, id, "api_key", NULL)->expires_at, T0 + 100);
    /* not an API key of this client */
    assert_int_equal(test_ctx_done(&f->tc, mdt_apikey_revoke(&f->env, test_ctx_now(&f->tc), id,
                                                             "cred_nope", &f->a, &resp, &f->err)),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_apikey_revoke(&f->env, test_ctx_now(&f->tc), id,
                                                one_cred(f, id, "certificate", NULL)->id, &f->a,
                                                &resp, &f->err)),
        MDT_ERR_NOT_FOUND);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_apikey_revoke(&f->env, test_ctx_now(&f->tc), "mdt_nope", kid,
                                                &f->a, &resp, &f->err)),
        MDT_ERR_NOT_FOUND);
    assert_int_equal(test_ctx_done(&f->tc, mdt_apikey_create(&f->env, test_ctx_now(&f->tc),
                                                             "mdt_nope", 0, &f->a, &resp, &f->err)),
                     MDT_ERR_NOT_FOUND);
    assert_int_equal(test_ctx_done(&f->tc, mdt_apikey_create(&f->env, test_ctx_now(&f->tc), id, -5,
                                                             &f->a, &resp, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
}

static void test_apikey_expiry(void **state)
{
    fx *f = *state;
    json_t *r = create(f, "{}"), *k1, *k2;
    const char *id = jstr(r, "client_id"), *json;
    json_t *shown, *creds;
    int found = 0;

    k1 = new_apikey(f, id, 2);
    k2 = new_apikey(f, id, 0);
    assert_string_equal(jstr(k1, "expires_at"), "2026-01-01T00:00:02Z");
    assert_int_equal(key_verify(f, jstr(k1, "api_key"), NULL), MDT_OK);
    f->clk.t = T0 + 1;
    assert_int_equal(key_verify(f, jstr(k1, "api_key"), NULL), MDT_OK);
    f->clk.t = T0 + 2;
    assert_int_equal(key_verify(f, jstr(k1, "api_key"), NULL), MDT_ERR_INVALID_CLIENT);
    /* several keys at once; each is its own credential */
    assert_int_equal(key_verify(f, jstr(k2, "api_key"), NULL), MDT_OK);
    /* an API key is not a client secret */
    assert_int_equal(verify(f, id, jstr(k2, "api_key")), MDT_ERR_INVALID_CLIENT);
    assert_int_equal(verify(f, id, jstr(r, "client_secret")), MDT_OK);
    /* client show lists them all */
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_show_json(&f->env, test_ctx_now(&f->tc), id,
                                                                &f->a, &json, &f->err)),
                     MDT_OK);
    shown = parse(json);
    creds = json_object_get(shown, "credentials");
    assert_int_equal(json_array_size(creds), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *c = json_array_get(creds, i);
        if (!mdt_str_eq(jstr(c, "id"), jstr(k1, "key_id")))
            continue;
        assert_string_equal(jstr(c, "type"), "api_key");
        assert_string_equal(jstr(c, "expires_at"), "2026-01-01T00:00:02Z");
        assert_string_equal(jstr(c, "last_used_at"), "2026-01-01T00:00:00Z");
        found++;
    }
    assert_int_equal(found, 1);
    assert_null(strstr(json, jstr(k2, "api_key") + strlen(jstr(k2, "api_key")) - MDT_SECRET_LEN));
    json_decref(shown);
    json_decref(k1);
    json_decref(k2);
    json_decref(r);
}

static void test_apikey_malformed(void **state)
{
    fx *f = *state;
    const char *sec = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"; /* 43 */
    const char *cid, *kid;
    char buf[600];
    const char *bad[] = {
        "", "mdk_", "mdk_x", "garbage", "mdt_at_token",
        "mdx_mdt_a.cred_AAAAAAAAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        "mdk_mdt_a.cred_AAAAAAAAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP",   /* 42 */
        "mdk_mdt_a.cred_AAAAAAAAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR", /* 44 */
        "mdk_mdt_a.cred_AAAAAAAAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP+",
        "mdk_mdt_a.cred_AAAAAAAAAAAAAAAA",
        "mdk_mdt_a.crex_AAAAAAAAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        "mdk_mdt_a.cred_AAAAAAAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        "mdk_mdt_a.cred_AAAAAAAAAAAAAA=A.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        "mdk_.cred_AAAAAAAAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        "mdk_mdt a.cred_AAAAAAAAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
        "mdk_cred_AAAAAAAAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
    };

    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++) {
        mdt_err_clear(&f->err);
        if (mdt_apikey_parse(bad[i], &f->a, &cid, &kid, &f->err) != MDT_ERR_INVALID_CLIENT)
            fail_msg("accepted malformed key %s", bad[i]);
        assert_null(cid);
        assert_string_equal(f->err.msg, "client authentication failed");
        assert_int_equal(key_verify(f, bad[i], NULL), MDT_ERR_INVALID_CLIENT);
    }
    assert_int_equal(mdt_apikey_parse(NULL, &f->a, &cid, &kid, &f->err), MDT_ERR_INVALID_CLIENT);
    /* too long */
    memset(buf, 'a', sizeof(buf));
    memcpy(buf, "mdk_", 4);
    snprintf(buf + 400, sizeof(buf) - 400, ".cred_AAAAAAAAAAAAAAAA.%s", sec);
    assert_int_equal(mdt_apikey_parse(buf, &f->a, &cid, &kid, &f->err), MDT_ERR_INVALID_CLIENT);
    /* split from the right: a client_id may hold dots */
    snprintf(buf, sizeof(buf), "mdk_https://a.example/c.cred_AAAAAAAAAAAAAAAA.%s", sec);
    assert_int_equal(mdt_apikey_parse(buf, &f->a, &cid, &kid, &f->err), MDT_OK);
    assert_string_equal(cid, "https://a.example/c");
    assert_string_equal(kid, "cred_AAAAAAAAAAAAAAAA");
}

/* introspection_for (SPEC §2.4): an admin-set list of resource URIs the
 * client is the resource server of; distinct from resources. */
static void test_introspection_for(void **state)
{
    fx *f = *state;
    json_t *r;
    mdt_client c;

    r = create(f, "{\"client_name\":\"API\",\"resources\":[\"https://other.example\"],"
                  "\"introspection_for\":[\"https://api.example\",\"urn:example:api\","
                  "\"https://api.example\"]}");
    assert_int_equal(json_array_size(json_object_get(r, "introspection_for")), 2);
    assert_int_equal(mdt_client_load(&f->env, jstr(r, "client_id"), f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_true(mdt_client_introspects_for(&c, "https://api.example"));
    assert_true(mdt_client_introspects_for(&c, "urn:example:api"));
    assert_false(mdt_client_introspects_for(&c, "https://other.example")); /* resources: no */
    assert_false(mdt_client_introspects_for(&c, "https://api.example/"));
    assert_false(mdt_client_introspects_for(&c, NULL));
    assert_false(mdt_client_has_resource(&c, "https://api.example"));
    json_decref(r);
    /* loaded again from the per-thread cache: the same answers */
    assert_int_equal(mdt_client_load(&f->env, c.client_id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_true(mdt_client_introspects_for(&c, "urn:example:api"));
    r = create(f, "{\"client_name\":\"plain\"}");
    assert_int_equal(mdt_client_load(&f->env, jstr(r, "client_id"), f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_false(mdt_client_introspects_for(&c, "https://api.example"));
    json_decref(r);
    expect_bad(f, "{\"introspection_for\":\"https://api.example\"}", 43,
               MDT_ERR_INVALID_CLIENT_METADATA, "introspection_for");
    expect_bad(f, "{\"introspection_for\":[\"https://api.example#f\"]}", 47,
               MDT_ERR_INVALID_CLIENT_METADATA, "introspection_for");
    expect_bad(f, "{\"introspection_for\":[7]}", 25, MDT_ERR_INVALID_CLIENT_METADATA,
               "introspection_for");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_secret_basics, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_create_defaults, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_create_full, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_owner_must_be_active_user, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_create_invalid, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_secret_rotation, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_show_credentials, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_suspend_resume, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cache_sees_other_writers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_update_merge, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_and_list, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_scopes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_standard_scopes, fx_setup, fx_teardown),
        cmocka_unit_test(test_uri_checks),
        cmocka_unit_test(test_cred_live),
        cmocka_unit_test_setup_teardown(test_create_by_method, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_workload_credential, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_derived_sync, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_method_change, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_credential_expire, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_apikey_lifecycle, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_apikey_expiry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_apikey_malformed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_introspection_for, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests_name("iga", tests, NULL, NULL);
}
