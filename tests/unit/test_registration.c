/* Self-registration (src/iga/registration.c, iat.c, requests.c): the
 * registration policy as a pure function, initial access tokens, private-use
 * redirect URIs, the expiry of clients that never authenticate, and pending
 * registrations decided through approval requests. A real SQLite store in a
 * mkdtemp directory, an injected clock, the system RNG. */
#include "unit.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "app/env.h"
#include "test_ctx.h"
#include "core/arena.h"
#include "iga/client.h"
#include "iga/iat.h"
#include "iga/registration.h"
#include "iga/requests.h"
#include "iga/scope.h"
#include "store/store.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */
#define DAY 86400

typedef test_env fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    test_env_open(f, "mdt_reg", T0, "test");
    f->env.cfg.issuer = (char *)"https://as.example.com";
    f->env.cfg.registration_open = true;
    f->env.cfg.registration_rate_per_source = 2;
    f->env.cfg.registration_rate_per_iat = 1;
    f->env.cfg.unverified_scopes = (char *)"read";
    f->env.cfg.unverified_grant_types = (char *)"client_credentials";
    f->env.cfg.unverified_max_lifetime = 90 * DAY;
    f->env.cfg.registration_excess = (char *)"pending";
    f->env.cfg.registration_inactive_expiry = 7 * DAY;
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "read",
                                                            NULL, NULL, NULL, &f->err)),
                     MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "write",
                                                            NULL, NULL, NULL, &f->err)),
                     MDT_OK);
    assert_int_equal(test_ctx_done(&f->tc, mdt_scope_create(&f->env, test_ctx_now(&f->tc), "pay",
                                                            NULL, "approval", NULL, &f->err)),
                     MDT_OK);
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

/* --- the policy, a pure function --- */

static const char *const cc[] = {"client_credentials"};
static const char *const cc_jb[] = {"client_credentials",
                                    "urn:ietf:params:oauth:grant-type:jwt-bearer"};

static mdt_reg_rules base_rules(void)
{
    mdt_reg_rules r = {.unverified_scopes = "read,profile",
                       .unverified_grant_types = "client_credentials",
                       .max_lifetime = 90 * DAY,
                       .since = T0};
    return r;
}

static void test_decide_unverified(void **state)
{
    mdt_arena a;
    mdt_reg_rules r = base_rules();
    const char *const sc[] = {"read"};
    mdt_reg_ask ask = {.grant_types = cc, .ngrant_types = 1, .scopes = sc, .nscopes = 1,
                       .kind = "agent", .owner = "mallory", .expires_at = T0 + 365 * DAY};
    mdt_reg_decision d;
    mdt_err err;

    (void)state;
    mdt_arena_init(&a, 1024);
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_false(d.pending);
    assert_false(d.reduced);
    assert_string_equal(d.scope, "read");
    assert_int_equal(d.ngrant_types, 1);
    /* the owner is a privileged member, kept or dropped before the decision
     * (registration.c); the decision forces only a token policy's owner */
    assert_string_equal(d.owner, "mallory");
    assert_int_equal(d.expires_at, T0 + 90 * DAY); /* capped */
    ask.expires_at = T0 + DAY;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_int_equal(d.expires_at, T0 + DAY); /* earlier is kept */
    /* an entry of the comma list matches whole names only */
    r.unverified_scopes = "reader,xread";
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_true(d.pending);
    mdt_arena_free(&a);
}

/* Privileged members compare with what is allowed, member by member. */
static void test_privilege_within(void **state)
{
    const mdt_client_privileged *res = NULL, *tier = NULL, *ttl = NULL, *kind = NULL, *wl = NULL;
    json_t *a1 = json_pack("[s]", "https://a"), *a2 = json_pack("[s,s]", "https://a", "https://b");
    json_t *low = json_string("low"), *high = json_string("high"), *medium = json_string("medium");
    json_t *i60 = json_integer(60), *i600 = json_integer(600), *agent = json_string("agent");
    json_t *svc = json_string("service"), *w = json_pack("{s:s,s:s}", "issuer", "i", "subject", "s");

    (void)state;
    for (size_t i = 0; i < mdt_client_nprivileged; i++) {
        const mdt_client_privileged *f = &mdt_client_privileged_members[i];
        res = mdt_str_eq(f->key, "resources") ? f : res;
        tier = mdt_str_eq(f->key, "risk_tier") ? f : tier;
        ttl = mdt_str_eq(f->key, "access_token_ttl") ? f : ttl;
        kind = mdt_str_eq(f->key, "kind") ? f : kind;
        wl = mdt_str_eq(f->key, "workload_identity") ? f : wl;
    }
    assert_non_null(res);
    assert_non_null(tier);
    assert_non_null(ttl);
    assert_non_null(kind);
    assert_non_null(wl);
    assert_true(mdt_client_privilege_within(res, a1, a2));
    assert_false(mdt_client_privilege_within(res, a2, a1));
    assert_false(mdt_client_privilege_within(res, a1, NULL));
    assert_true(mdt_client_privilege_within(res, NULL, NULL)); /* nothing asked */
    assert_true(mdt_client_privilege_within(tier, high, medium)); /* a higher tier narrows */
    assert_false(mdt_client_privilege_within(tier, low, medium));
    assert_true(mdt_client_privilege_within(ttl, i60, i600));
    assert_false(mdt_client_privilege_within(ttl, i600, i60));
    assert_true(mdt_client_privilege_within(kind, agent, agent));
    assert_false(mdt_client_privilege_within(kind, svc, agent));
    assert_false(mdt_client_privilege_within(wl, w, NULL));
    json_decref(a1), json_decref(a2), json_decref(low), json_decref(high), json_decref(medium);
    json_decref(i60), json_decref(i600), json_decref(agent), json_decref(svc), json_decref(w);
}

/* A client that only asks for flows where a person consents may register
 * any scope but approval ones; the human consents to them. */
static void test_decide_consented(void **state)
{
    mdt_arena a;
    mdt_reg_rules r = base_rules();
    const char *const code[] = {"authorization_code", "refresh_token"};
    const char *const sc[] = {"read", "write"};
    const char *const pay[] = {"payments"};
    mdt_reg_ask ask = {.grant_types = code, .ngrant_types = 2, .scopes = sc, .nscopes = 2,
                       .kind = "agent"};
    mdt_reg_decision d;
    mdt_err err;

    (void)state;
    mdt_arena_init(&a, 1024);
    r.unverified_grant_types = "authorization_code,refresh_token";
    r.consented = true;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_false(d.pending);
    assert_string_equal(d.scope, "read write");
    r.approval = pay;
    r.napproval = 1;
    ask.scopes = pay;
    ask.nscopes = 1;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_true(d.pending); /* approval scopes still need an approver */
    /* a privileged excess found by the caller makes it pending too */
    r = base_rules();
    r.excess = "asks for resources beyond what unverified clients get";
    ask.grant_types = cc;
    ask.ngrant_types = 1;
    ask.scopes = sc;
    ask.nscopes = 1;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_true(d.pending);
    assert_string_equal(d.reason, r.excess);
    mdt_arena_free(&a);
}

static void test_decide_excess(void **state)
{
    mdt_arena a;
    mdt_reg_rules r = base_rules();
    const char *const sc[] = {"read", "write"};
    const char *const approval[] = {"pay"};
    const char *const sc_pay[] = {"pay"};
    mdt_reg_ask ask = {.grant_types = cc_jb, .ngrant_types = 2, .scopes = sc, .nscopes = 2};
    mdt_reg_decision d;
    mdt_err err;

    (void)state;
    mdt_arena_init(&a, 1024);
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_true(d.pending);
    assert_string_equal(d.scope, "read write"); /* what it asked: an approval grants it */
    assert_int_equal(d.ngrant_types, 2);
    assert_non_null(d.reason);
    r.reduce = true;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_false(d.pending);
    assert_true(d.reduced);
    assert_string_equal(d.scope, "read");
    assert_int_equal(d.ngrant_types, 1);
    assert_string_equal(d.grant_types[0], "client_credentials");
    /* a scope of sensitivity approval is never free, even when unverified may get it */
    r.reduce = false;
    r.unverified_scopes = "pay";
    r.approval = approval;
    r.napproval = 1;
    ask.grant_types = cc;
    ask.ngrant_types = 1;
    ask.scopes = sc_pay;
    ask.nscopes = 1;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_true(d.pending);
    r.vouched = true;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_true(d.pending);
    /* ... unless an earlier approval granted it (an update of an active client) */
    r.granted_scopes = sc_pay;
    r.ngranted_scopes = 1;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_false(d.pending);
    /* a reduction that leaves no grant type is refused */
    r = base_rules();
    r.reduce = true;
    ask.grant_types = cc_jb + 1;
    ask.ngrant_types = 1;
    ask.nscopes = 0;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err),
                     MDT_ERR_INVALID_CLIENT_METADATA);
    mdt_arena_free(&a);
}

static void test_decide_iat_policy(void **state)
{
    mdt_arena a;
    mdt_reg_rules r = base_rules();
    mdt_reg_policy p;
    const char *const sc[] = {"read", "write"};
    const char *const admin[] = {"admin"};
    mdt_reg_ask ask = {.grant_types = cc, .ngrant_types = 1, .scopes = sc, .nscopes = 2,
                       .kind = "agent", .owner = "mallory"};
    mdt_reg_decision d;
    mdt_err err;

    (void)state;
    mdt_arena_init(&a, 4096);
    assert_int_equal(mdt_iat_policy_parse("{\"grant_types\":[\"client_credentials\"],"
                                          "\"scope\":\"read write\",\"kinds\":[\"agent\"],"
                                          "\"owner\":\"alice\"}",
                                          &a, &p, NULL, &err),
                     MDT_OK);
    assert_true(p.has_scopes);
    assert_int_equal(p.nscopes, 2);
    r.policy = &p;
    r.iat = true;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_false(d.pending); /* the policy vouches for its scopes */
    assert_string_equal(d.scope, "read write");
    assert_string_equal(d.owner, "alice");
    assert_int_equal(d.expires_at, 0); /* not unverified: no cap */
    ask.kind = "service";
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err),
                     MDT_ERR_INVALID_CLIENT_METADATA);
    ask.kind = "agent";
    ask.grant_types = cc_jb;
    ask.ngrant_types = 2;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err),
                     MDT_ERR_INVALID_CLIENT_METADATA);
    ask.grant_types = cc;
    ask.ngrant_types = 1;
    ask.scopes = admin;
    ask.nscopes = 1;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err),
                     MDT_ERR_INVALID_CLIENT_METADATA);
    /* policies are strict */
    assert_int_equal(mdt_iat_policy_parse("{\"grant_types\":[\"password\"]}", &a, &p, NULL, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_iat_policy_parse("{\"scopes\":[\"a\"],\"scope\":\"a\"}", &a, &p, NULL,
                                          &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_iat_policy_parse("{\"colour\":\"blue\"}", &a, &p, NULL, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_iat_policy_parse("{\"kinds\":[\"robot\"]}", &a, &p, NULL, &err),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(mdt_iat_policy_parse("[1]", &a, &p, NULL, &err), MDT_ERR_INVALID_REQUEST);
    mdt_arena_free(&a);
}

static void test_decide_update_never_extends(void **state)
{
    mdt_arena a;
    mdt_reg_rules r = base_rules();
    mdt_reg_ask ask = {.grant_types = cc, .ngrant_types = 1};
    mdt_reg_decision d;
    mdt_err err;

    (void)state;
    mdt_arena_init(&a, 1024);
    r.vouched = true;
    r.current_expires_at = T0 + 10 * DAY;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_int_equal(d.expires_at, T0 + 10 * DAY);
    ask.expires_at = T0 + 5 * DAY;
    assert_int_equal(mdt_registration_decide(&r, &ask, &a, &d, &err), MDT_OK);
    assert_int_equal(d.expires_at, T0 + 5 * DAY);
    mdt_arena_free(&a);
}

/* --- initial access tokens --- */

static const char *member(mdt_arena *a, const char *json, const char *key)
{
    json_t *o = json_loads(json, 0, NULL);
    const char *v = mdt_arena_strdup(a, json_string_value(json_object_get(o, key)));

    json_decref(o);
    return v;
}

static void test_iat_lifecycle(void **state)
{
    fx *f = *state;
    const char *doc, *tok;
    mdt_iat_rec t;

    assert_int_equal(
        test_ctx_done(&f->tc, mdt_iat_create(&f->env, test_ctx_now(&f->tc), 2, 3600,
                                             "{\"scope\":\"read\"}", &f->a, &doc, &f->err)),
        MDT_OK);
    tok = member(&f->a, doc, "initial_access_token");
    assert_non_null(tok);
    assert_int_equal(strlen(tok), 43);
    assert_non_null(strstr(doc, "\"max_uses\":2"));
    assert_non_null(strstr(doc, "\"expires_at\":\"2026-01-01T01:00:00Z\""));
    assert_int_equal(mdt_iat_check(&f->env, tok, T0, &f->a, &t, &f->err), MDT_OK);
    assert_string_equal(t.policy, "{\"scopes\":[\"read\"]}");
    assert_int_equal(mdt_iat_consume(&f->env, t.id, T0, &f->a, &t, &f->err), MDT_OK);
    assert_int_equal(mdt_iat_check(&f->env, tok, T0, &f->a, &t, &f->err), MDT_OK);
    assert_int_equal(mdt_iat_consume(&f->env, t.id, T0, &f->a, &t, &f->err), MDT_OK);
    /* exhausted */
    assert_int_equal(mdt_iat_check(&f->env, tok, T0, &f->a, &t, &f->err), MDT_ERR_INVALID_TOKEN);
    assert_non_null(strstr(f->err.detail, "used up"));
    assert_int_equal(mdt_iat_consume(&f->env, t.id, T0, &f->a, &t, &f->err),
                     MDT_ERR_INVALID_TOKEN);
    /* expired */
    assert_int_equal(test_ctx_done(&f->tc, mdt_iat_create(&f->env, test_ctx_now(&f->tc), 5, 60,
                                                          NULL, &f->a, &doc, &f->err)),
                     MDT_OK);
    tok = member(&f->a, doc, "initial_access_token");
    assert_int_equal(mdt_iat_check(&f->env, tok, T0 + 59, &f->a, &t, &f->err), MDT_OK);
    assert_int_equal(mdt_iat_check(&f->env, tok, T0 + 60, &f->a, &t, &f->err),
                     MDT_ERR_INVALID_TOKEN);
    assert_non_null(strstr(f->err.detail, "expired"));
    assert_int_equal(mdt_iat_consume(&f->env, t.id, T0 + 60, &f->a, &t, &f->err),
                     MDT_ERR_INVALID_TOKEN);
    /* unknown, malformed, and bad arguments */
    assert_int_equal(mdt_iat_check(&f->env, "x", T0, &f->a, &t, &f->err), MDT_ERR_INVALID_TOKEN);
    assert_int_equal(mdt_iat_check(&f->env, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0,
                                   &f->a, &t, &f->err),
                     MDT_ERR_INVALID_TOKEN);
    assert_int_equal(test_ctx_done(&f->tc, mdt_iat_create(&f->env, test_ctx_now(&f->tc), 0, 0, NULL,
                                                          &f->a, &doc, &f->err)),
                     MDT_ERR_INVALID_REQUEST);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_iat_create(&f->env, test_ctx_now(&f->tc), 1, 0,
                                             "{\"scopes\":[\"nope\"]}", &f->a, &doc, &f->err)),
        MDT_ERR_INVALID_REQUEST);
}

static void test_authorize_and_rate(void **state)
{
    fx *f = *state;
    mdt_reg_ctx ctx = {.origin = "dcr", .source = "192.0.2.1"}, iat_only = {0};
    bool limited = false;
    int64_t retry = 0;

    assert_int_equal(mdt_registration_authorize(&f->env, NULL, T0, &f->a, &ctx, &f->err), MDT_OK);
    f->env.cfg.registration_open = false;
    assert_int_equal(mdt_registration_authorize(&f->env, NULL, T0, &f->a, &ctx, &f->err),
                     MDT_ERR_INVALID_TOKEN);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(mdt_registration_rate(&f->env, &ctx, T0 + 10, &limited, &retry, &f->err),
                         MDT_OK);
        assert_false(limited);
    }
    assert_int_equal(mdt_registration_rate(&f->env, &ctx, T0 + 10, &limited, &retry, &f->err),
                     MDT_OK);
    assert_true(limited);
    assert_int_equal(retry, 50);
    /* the next minute is a new window */
    assert_int_equal(mdt_registration_rate(&f->env, &ctx, T0 + 60, &limited, &retry, &f->err),
                     MDT_OK);
    assert_false(limited);
    iat_only.iat_id = "iat_x";
    assert_int_equal(mdt_registration_rate(&f->env, &iat_only, T0, &limited, &retry, &f->err),
                     MDT_OK);
    assert_false(limited);
    assert_int_equal(mdt_registration_rate(&f->env, &iat_only, T0, &limited, &retry, &f->err),
                     MDT_OK);
    assert_true(limited);
}

/* --- private-use redirect URIs (the shared validation) --- */

static mdt_rc validate_redirect(fx *f, const char *uri)
{
    char json[512];
    const char *meta;
    int64_t exp;

    snprintf(json, sizeof(json), "{\"redirect_uris\":[\"%s\"]}", uri);
    return mdt_client_metadata_validate(&f->env, json, strlen(json), &f->a, &meta, &exp, &f->err);
}

static void test_private_use_redirects(void **state)
{
    fx *f = *state;
    static const char *const good[] = {"com.example.app:/callback", "com.example.app:/",
                                       "io.github.agent-1:/oauth/cb?x=1",
                                       "https://app.example.com/cb", "http://127.0.0.1:9000/cb",
                                       "http://[::1]/cb"};
    static const char *const bad[] = {"myapp:/callback",           /* no dot */
                                      "com.example.app:callback",  /* no slash */
                                      "com.example.app:/cb#frag", ".example.app:/cb",
                                      "com.example.:/cb",          "1com.example:/cb",
                                      "com.exa mple:/cb",          "javascript:alert(1)",
                                      "http://app.example.com/cb", "https://app.example.com/cb#x"};

    for (size_t i = 0; i < MDT_ARRAY_LEN(good); i++)
        assert_int_equal(validate_redirect(f, good[i]), MDT_OK);
    for (size_t i = 0; i < MDT_ARRAY_LEN(bad); i++)
        assert_int_equal(validate_redirect(f, bad[i]), MDT_ERR_INVALID_REDIRECT_URI);
}

/* --- the service --- */

static const char *reg(fx *f, const char *json, mdt_rc want)
{
    mdt_reg_ctx ctx = {.origin = "dcr", .source = "192.0.2.1"};
    const char *doc = NULL;

    assert_int_equal(
        test_ctx_done(&f->tc, mdt_registration_create(&f->env, test_ctx_now(&f->tc), json,
                                                      strlen(json), &ctx, &f->a, &doc, &f->err)),
        want);
    return doc;
}

static void test_inactive_expiry(void **state)
{
    fx *f = *state;
    mdt_cred_rec creds[2] = {{.type = "registration", .last_used_at = T0 + 5},
                             {.type = "secret"}};
    const char *idle, *used, *secret;
    mdt_client c;

    (void)creds;
    assert_int_equal(mdt_registration_inactive_deadline("dcr", T0, 0, creds, 2, DAY), T0 + DAY);
    assert_int_equal(mdt_registration_inactive_deadline("cimd", T0, T0 + 9, creds, 2, DAY),
                     T0 + 9 + DAY);
    assert_int_equal(mdt_registration_inactive_deadline(NULL, T0, 0, creds, 2, DAY), 0);
    creds[1].last_used_at = T0 + 1;
    assert_int_equal(mdt_registration_inactive_deadline("dcr", T0, 0, creds, 2, DAY), 0);

    idle = member(&f->a, reg(f, "{\"scope\":\"read\"}", MDT_OK), "client_id");
    used = member(&f->a, reg(f, "{\"scope\":\"read\"}", MDT_OK), "client_id");
    f->clk.t = T0 + 600;
    secret = member(&f->a, reg(f, "{}", MDT_OK), "client_secret");
    (void)secret;
    f->clk.t = T0 + DAY;
    assert_int_equal(mdt_client_load(&f->env, used, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    for (size_t i = 0; i < c.ncreds; i++)
        if (mdt_str_eq(c.creds[i].type, "secret"))
            mdt_client_cred_used(&f->env, &c, &c.creds[i], f->clk.t - 1);
    f->clk.t = T0 + 7 * DAY;
    assert_int_equal(mdt_client_load(&f->env, idle, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_string_equal(c.status, "expired");
    assert_false(mdt_client_usable(&c, f->clk.t));
    assert_string_equal(c.origin, "dcr");
    assert_int_equal(mdt_client_load(&f->env, used, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_string_equal(c.status, "active");
    {
        const char *shown;
        assert_int_equal(test_ctx_done(&f->tc, mdt_client_show_json(&f->env, test_ctx_now(&f->tc),
                                                                    idle, &f->a, &shown, &f->err)),
                         MDT_OK);
        assert_non_null(strstr(shown, "\"status\":\"expired\""));
    }
}

static void test_pending_and_approval(void **state)
{
    fx *f = *state;
    const char *doc = reg(f, "{\"scope\":\"read write\",\"owner\":\"mallory\"}", MDT_OK), *id,
               *list, *req_id, *out;
    json_t *arr;
    mdt_client c;

    assert_non_null(strstr(doc, "\"status\":\"pending\""));
    assert_non_null(strstr(doc, "mallory")); /* the owner asked for is what is approved */
    assert_non_null(strstr(doc, "\"registration_access_token\""));
    assert_non_null(strstr(doc, "\"registration_client_uri\":\"https://as.example.com/register/"));
    id = member(&f->a, doc, "client_id");
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_list_json(&f->env, test_ctx_now(&f->tc),
                                                                 "pending", &f->a, &list, &f->err)),
                     MDT_OK);
    arr = json_loads(list, 0, NULL);
    assert_int_equal(json_array_size(arr), 1);
    req_id = mdt_arena_strdup(&f->a, json_string_value(json_object_get(json_array_get(arr, 0), "id")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "client_id")), id);
    json_decref(arr);
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_false(mdt_client_usable(&c, f->clk.t));

    f->clk.t = T0 + 100;
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), req_id, true,
                                                 "nobody", NULL, 0, &f->a, &out, &f->err)),
        MDT_ERR_ACCESS_DENIED);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), req_id, true, NULL,
                                                 "fine", DAY, &f->a, &out, &f->err)),
        MDT_OK);
    assert_non_null(strstr(out, "\"status\":\"approved\""));
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), req_id, false, NULL,
                                                 NULL, 0, &f->a, &out, &f->err)),
        MDT_ERR_CONFLICT);
    assert_int_equal(mdt_client_load(&f->env, id, f->clk.t, &f->a, &c, &f->err), MDT_OK);
    assert_string_equal(c.status, "active");
    assert_int_equal(c.nscopes, 2);
    assert_int_equal(c.expires_at, T0 + 100 + DAY);
    assert_int_equal(c.approved_at, T0 + 100);

    /* an undecided request expires after MDT_REQUEST_TTL; the client stays pending */
    doc = reg(f, "{\"scope\":\"pay\"}", MDT_OK);
    assert_non_null(strstr(doc, "\"status\":\"pending\""));
    f->clk.t += MDT_REQUEST_TTL;
    assert_int_equal(test_ctx_done(&f->tc, mdt_request_list_json(&f->env, test_ctx_now(&f->tc),
                                                                 "expired", &f->a, &list, &f->err)),
                     MDT_OK);
    assert_non_null(strstr(list, "\"scope\":\"pay\""));
    arr = json_loads(list, 0, NULL);
    req_id = mdt_arena_strdup(&f->a, json_string_value(json_object_get(json_array_get(arr, 0), "id")));
    json_decref(arr);
    assert_int_equal(
        test_ctx_done(&f->tc, mdt_request_decide(&f->env, test_ctx_now(&f->tc), req_id, true, NULL,
                                                 NULL, 0, &f->a, &out, &f->err)),
        MDT_ERR_CONFLICT);
}

static void test_refusals_create_nothing(void **state)
{
    fx *f = *state;
    const char *list;

    reg(f, "{\"grant_types\":[\"implicit\"]}", MDT_ERR_INVALID_CLIENT_METADATA);
    reg(f, "{\"redirect_uris\":[\"https://a.example/cb#x\"]}", MDT_ERR_INVALID_REDIRECT_URI);
    reg(f, "{\"token_endpoint_auth_method\":\"private_key_jwt\","
           "\"jwks_uri\":\"https://192.168.1.10/jwks\"}",
        MDT_ERR_INVALID_CLIENT_METADATA);
    reg(f, "{\"token_endpoint_auth_method\":\"private_key_jwt\","
           "\"jwks_uri\":\"https://[fd00::1]/jwks\"}",
        MDT_ERR_INVALID_CLIENT_METADATA);
    /* set by admins only (SPEC §2.4) */
    reg(f, "{\"scope\":\"read\",\"introspection_for\":[\"https://api.example\"]}",
        MDT_ERR_INVALID_CLIENT_METADATA);
    reg(f, "[]", MDT_ERR_INVALID_CLIENT_METADATA);
    reg(f, "{\"scope\":", MDT_ERR_INVALID_CLIENT_METADATA);
    assert_int_equal(test_ctx_done(&f->tc, mdt_client_list_json(&f->env, test_ctx_now(&f->tc),
                                                                &f->a, &list, &f->err)),
                     MDT_OK);
    assert_string_equal(list, "[]");
    /* a public host name passes (the fetch checks what it resolves to) */
    f->env.cfg.jwks_uri_allow_private = false;
    reg(f, "{\"token_endpoint_auth_method\":\"private_key_jwt\","
           "\"jwks_uri\":\"https://keys.example.com/jwks\"}",
        MDT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_unverified),
        cmocka_unit_test(test_decide_excess),
        cmocka_unit_test(test_privilege_within),
        cmocka_unit_test(test_decide_consented),
        cmocka_unit_test(test_decide_iat_policy),
        cmocka_unit_test(test_decide_update_never_extends),
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
        T(test_iat_lifecycle),
        T(test_authorize_and_rate),
        T(test_private_use_redirects),
        T(test_inactive_expiry),
        T(test_pending_and_approval),
        T(test_refusals_create_nothing),
#undef T
    };
    return cmocka_run_group_tests_name("registration", tests, NULL, NULL);
}
