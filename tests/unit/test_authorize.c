/* The authorization endpoint's decision (src/oauth/authorize.c) as outcomes:
 * given a request, a client, who signed in (or nobody) and the consent
 * state, what the pages must show. The next step is a pure function; the
 * whole decision runs on a real SQLite store in a mkdtemp directory with an
 * injected clock, and a request whose query comes from a table (no server). */
#include "unit.h"

#include <stdio.h>
#include <unistd.h>

#include "app/env.h"
#include "test_ctx.h"
#include "core/arena.h"
#include "iga/client.h"
#include "iga/internal.h"
#include "iga/consent.h"
#include "iga/scope.h"
#include "msg/msg.h"
#include "msg/transport.h"
#include "oauth/authorize.h"
#include "store/store.h"

#define T0 1767225600 /* 2026-01-01T00:00:00Z */
#define CB "https://app.example/cb"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

typedef struct {
    test_env e; /* first */
    const char *client_id;
    mdt_kv query[16];
    size_t nquery;
    mdt_req req;
} fx;

/* ---------------------------------------------------------- pure decision */

/* The next step of a valid request: sign-in (no user, prompt=login,
 * max_age exceeded), consent (none yet, or prompt=consent), the code; with
 * prompt=none, the errors instead of pages. */
static void test_next_step(void **state)
{
    mdt_authz_params p = {.max_age = -1};
    mdt_authz_user u = {.username = "alice", .auth_time = T0 - 100};

    (void)state;
    assert_int_equal(mdt_authz_next_step(&p, NULL, true, T0), MDT_AUTHZ_STEP_LOGIN);
    assert_int_equal(mdt_authz_next_step(&p, &u, false, T0), MDT_AUTHZ_STEP_CONSENT);
    assert_int_equal(mdt_authz_next_step(&p, &u, true, T0), MDT_AUTHZ_STEP_CODE);
    p.prompt = "consent"; /* asked again even when consent covers the scope */
    assert_int_equal(mdt_authz_next_step(&p, &u, true, T0), MDT_AUTHZ_STEP_CONSENT);
    p.prompt = "login";
    p.login_after = T0 - 10; /* prompt=login asked at T0-10: the T0-100 sign-in is too old */
    assert_int_equal(mdt_authz_next_step(&p, &u, true, T0), MDT_AUTHZ_STEP_LOGIN);
    u.auth_time = T0 - 5; /* signed in again since */
    assert_int_equal(mdt_authz_next_step(&p, &u, true, T0), MDT_AUTHZ_STEP_CODE);
    p.prompt = NULL;
    p.login_after = 0;
    p.max_age = 60;
    u.auth_time = T0 - 61; /* max_age exceeded */
    assert_int_equal(mdt_authz_next_step(&p, &u, true, T0), MDT_AUTHZ_STEP_LOGIN);
    u.auth_time = T0 - 60;
    assert_int_equal(mdt_authz_next_step(&p, &u, true, T0), MDT_AUTHZ_STEP_CODE);
    p.max_age = -1;
    p.prompt = "none";
    assert_int_equal(mdt_authz_next_step(&p, NULL, true, T0), MDT_AUTHZ_STEP_LOGIN_REQUIRED);
    assert_int_equal(mdt_authz_next_step(&p, &u, false, T0), MDT_AUTHZ_STEP_CONSENT_REQUIRED);
    assert_int_equal(mdt_authz_next_step(&p, &u, true, T0), MDT_AUTHZ_STEP_CODE);
}

/* ------------------------------------------------------ the whole decision */

static const char *t_query(const mdt_req *req, const char *name)
{
    const fx *f = (const fx *)((const char *)req - offsetof(fx, req));

    for (size_t i = 0; i < f->nquery; i++)
        if (strcmp(f->query[i].name, name) == 0)
            return f->query[i].value;
    return NULL;
}

static const mdt_req_transport t_transport = {.query = t_query};

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    const char *resp = NULL;
    static const char meta[] =
        "{\"client_name\":\"App\",\"kind\":\"agent\",\"owner\":\"alice\","
        "\"grant_types\":[\"authorization_code\"],\"redirect_uris\":[\"" CB "\"],"
        "\"scope\":\"read write\",\"token_endpoint_auth_method\":\"none\"}";
    mdt_client_spec spec = {.client_id = "app"};
    static const char *const scopes[] = {"read", "write", "admin"};

    assert_non_null(f);
    test_env_open(&f->e, "mdt_authz", T0, "test");
    f->e.env.cfg.issuer = (char *)"https://as.example.com";
    for (size_t i = 0; i < MDT_ARRAY_LEN(scopes); i++)
        assert_int_equal(test_ctx_done(&f->e.tc, mdt_scope_create(&f->e.env,
                                                                  test_ctx_now(&f->e.tc), scopes[i],
                                                                  NULL, NULL, NULL, &f->e.err)),
                         MDT_OK);


    assert_int_equal(
        test_ctx_done(&f->e.tc,
                      mdt_client_create_with(&f->e.env, test_ctx_now(&f->e.tc), meta, strlen(meta),
                                             &spec, &f->e.a, &resp, &f->e.err)),
        MDT_OK);
    f->client_id = "app";
    f->req = (mdt_req){.arena = &f->e.a, .now = T0, .method = "GET", .path = "/authorize",
                       .request_id = "req-1", .peer_ip = "127.0.0.1", .body = "",
                       .transport = &t_transport};
    mdt_ctx_init(&f->req.ctx, &f->e.tc.events, NULL, T0, "req-1", "127.0.0.1");
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;

    test_env_close(&f->e);
    free(f);
    return 0;
}

static void q(fx *f, const char *name, const char *value)
{
    for (size_t i = 0; i < f->nquery; i++)
        if (strcmp(f->query[i].name, name) == 0) {
            f->query[i].value = value;
            return;
        }
    f->query[f->nquery++] = (mdt_kv){name, value};
}

/* A valid request of the client: code flow with PKCE, scope read. */
static void valid_request(fx *f)
{
    f->nquery = 0;
    q(f, "client_id", f->client_id);
    q(f, "response_type", "code");
    q(f, "redirect_uri", CB);
    q(f, "scope", "read");
    q(f, "state", "s-1");
    q(f, "code_challenge", CHALLENGE);
    q(f, "code_challenge_method", "S256");
}

static const char *param(const mdt_authz_outcome *o, const char *name)
{
    for (size_t i = 0; i < o->nparams; i++)
        if (strcmp(o->params[i].name, name) == 0)
            return o->params[i].value;
    return NULL;
}

static void assert_error_page(const mdt_authz_outcome *o, int status)
{
    assert_int_equal(o->kind, MDT_AUTHZ_SHOW_ERROR);
    assert_int_equal(o->status, status);
    assert_null(o->redirect_uri); /* never redirected */
    assert_non_null(o->message);
    assert_true(o->has_audit);
    assert_string_equal(o->audit.type, "authz.refused");
}

/* No client, an unknown one, or a redirect URI it did not register: an
 * error page, never a redirect. */
static void test_untrusted_shown(void **state)
{
    fx *f = *state;
    mdt_authz_outcome o;

    valid_request(f);
    q(f, "client_id", "");
    mdt_authorize(&f->e.env, &f->req, NULL, &o);
    assert_error_page(&o, 400);
    q(f, "client_id", "nobody");
    mdt_authorize(&f->e.env, &f->req, NULL, &o);
    assert_error_page(&o, 400);
    assert_string_equal(o.audit.client_id, "nobody");
    valid_request(f);
    q(f, "redirect_uri", "https://evil.example/cb");
    mdt_authorize(&f->e.env, &f->req, NULL, &o);
    assert_error_page(&o, 400);
    q(f, "redirect_uri", CB "/more");
    mdt_authorize(&f->e.env, &f->req, NULL, &o);
    assert_error_page(&o, 400);
}

/* With a trusted redirect URI, a bad request goes back to the client:
 * invalid_scope for a scope it may not have, unsupported_response_type,
 * invalid_request for missing PKCE; with state and iss. */
static void test_errors_redirected(void **state)
{
    fx *f = *state;
    mdt_authz_user u = {.username = "alice", .auth_time = T0, .amr = "pwd", .sid = "x"};
    mdt_authz_outcome o;

    valid_request(f);
    q(f, "scope", "read admin");
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_REDIRECT_ERROR);
    assert_string_equal(o.redirect_uri, CB);
    assert_false(o.form_post);
    assert_string_equal(param(&o, "error"), "invalid_scope");
    assert_string_equal(param(&o, "state"), "s-1");
    assert_string_equal(param(&o, "iss"), "https://as.example.com");
    assert_string_equal(o.audit.type, "authz.refused");
    valid_request(f);
    q(f, "response_type", "token");
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_REDIRECT_ERROR);
    assert_string_equal(param(&o, "error"), "unsupported_response_type");
    valid_request(f);
    q(f, "code_challenge", NULL);
    q(f, "response_mode", "form_post");
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_REDIRECT_ERROR);
    assert_true(o.form_post); /* errors follow the response mode too */
    assert_string_equal(param(&o, "error"), "invalid_request");
}

/* Nobody signed in: sign in first, coming back to the stored request;
 * prompt=none: login_required to the client instead. */
static void test_needs_login(void **state)
{
    fx *f = *state;
    mdt_authz_outcome o;
    mdt_authz_params p;

    valid_request(f);
    mdt_authorize(&f->e.env, &f->req, NULL, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_NEEDS_LOGIN);
    assert_non_null(o.request_id);
    assert_non_null(strstr(o.resume, "/authorize?client_id=app&request_uri=urn%3Aietf"));
    assert_int_equal(mdt_authz_request_load(&f->e.env, &f->req, o.request_id, &p, &f->e.err),
                     MDT_OK);
    assert_string_equal(p.scope, "read");
    assert_false(o.has_audit);
    q(f, "prompt", "none");
    mdt_authorize(&f->e.env, &f->req, NULL, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_REDIRECT_ERROR);
    assert_string_equal(param(&o, "error"), "login_required");
}

/* Signed in too long ago for max_age, or prompt=login: sign in again. */
static void test_login_too_old(void **state)
{
    fx *f = *state;
    mdt_authz_user u = {.username = "alice", .auth_time = T0 - 120, .amr = "pwd", .sid = "x"};
    mdt_authz_outcome o;

    valid_request(f);
    q(f, "max_age", "60");
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_NEEDS_LOGIN);
    valid_request(f);
    q(f, "prompt", "login");
    u.auth_time = T0 - 1; /* any sign-in before the request */
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_NEEDS_LOGIN);
}

/* Signed in, no consent yet: the consent page of the stored request;
 * prompt=none: consent_required. Once consented: the code, in the
 * response mode asked for, audited as authz.code_issued. */
static void test_consent_then_code(void **state)
{
    fx *f = *state;
    mdt_authz_user u = {.username = "alice", .auth_time = T0, .amr = "pwd", .sid = "x"};
    mdt_authz_outcome o;

    valid_request(f);
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_NEEDS_CONSENT);
    assert_non_null(o.request_id);
    q(f, "prompt", "none");
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_REDIRECT_ERROR);
    assert_string_equal(param(&o, "error"), "consent_required");
    assert_int_equal(
        mdt_consent_remember(&f->e.env, "alice", "app", "read", T0, &f->e.a, &f->e.err), MDT_OK);
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_CODE);
    assert_string_equal(o.redirect_uri, CB);
    assert_false(o.form_post);
    assert_int_equal(strlen(param(&o, "code")), 43);
    assert_string_equal(param(&o, "state"), "s-1");
    assert_string_equal(o.audit.type, "authz.code_issued");
    assert_string_equal(o.audit.subject, "alice");
    mdt_authz_outcome_wipe(&o);
    assert_int_equal(o.code[0], 0);
    q(f, "response_mode", "form_post");
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_CODE);
    assert_true(o.form_post);
    q(f, "prompt", "consent"); /* asked again */
    q(f, "response_mode", NULL);
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_NEEDS_CONSENT);
}

/* The consent page's answer: deny sends access_denied; the stored request
 * is used once, so a second answer gets an error page; allow issues the
 * code and remembers the consent. */
static void test_consent_answer(void **state)
{
    fx *f = *state;
    mdt_authz_user u = {.username = "alice", .auth_time = T0, .amr = "pwd", .sid = "x"};
    mdt_authz_outcome o;
    mdt_authz_params p;
    mdt_client c;
    const char *id;
    bool covered = false;

    valid_request(f);
    mdt_authorize(&f->e.env, &f->req, &u, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_NEEDS_CONSENT);
    id = o.request_id;
    assert_true(mdt_authz_consent_pending(&f->e.env, &f->req, id, &u, "/back", &p, &c, &o));
    mdt_authz_consent_answer(&f->e.env, &f->req, &u, &c, &p, id, false, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_REDIRECT_ERROR);
    assert_string_equal(param(&o, "error"), "access_denied");
    assert_string_equal(o.audit.type, "consent.denied");
    mdt_authz_consent_answer(&f->e.env, &f->req, &u, &c, &p, id, true, &o);
    assert_error_page(&o, 400);
    assert_false(mdt_authz_consent_pending(&f->e.env, &f->req, id, &u, "/back", &p, &c, &o));
    assert_error_page(&o, 400);

    mdt_authorize(&f->e.env, &f->req, &u, &o);
    id = o.request_id;
    u.auth_time = T0 - 10;
    q(f, "prompt", "login"); /* a stored request asking for a fresh sign-in */
    mdt_authorize(&f->e.env, &f->req, NULL, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_NEEDS_LOGIN);
    assert_false(mdt_authz_consent_pending(&f->e.env, &f->req, o.request_id, &u, "/back", &p, &c,
                                           &o));
    assert_int_equal(o.kind, MDT_AUTHZ_NEEDS_LOGIN);
    assert_string_equal(o.resume, "/back");
    assert_true(mdt_authz_consent_pending(&f->e.env, &f->req, id, &u, "/back", &p, &c, &o));
    mdt_authz_consent_answer(&f->e.env, &f->req, &u, &c, &p, id, true, &o);
    assert_int_equal(o.kind, MDT_AUTHZ_CODE);
    assert_int_equal(mdt_consent_covers(&f->e.env, "alice", "app", "read", &f->e.a, &covered,
                                        &f->e.err),
                     MDT_OK);
    assert_true(covered);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_step),
        cmocka_unit_test_setup_teardown(test_untrusted_shown, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_errors_redirected, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_needs_login, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_login_too_old, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_consent_then_code, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_consent_answer, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
