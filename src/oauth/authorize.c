/* GET and POST /authorize: the authorization code flow with PKCE S256.
 * Order of checks (RFC 6749 §4.1.2.1): the client and the redirect URI
 * first, answered on an error page when wrong; everything else is
 * redirected to the client with state and iss (RFC 9207). */
#include "oauth/authorize.h"

#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/hash.h"
#include "core/words.h"
#include "iga/consent.h"
#include "oauth/grants.h"
#include "oauth/pkce.h"
#include "oauth/redirect.h"
#include "store/store.h"
#include "web/render.h"
#include "web/web.h"

#define AUTHZ_ID_BYTES 32   /* 256-bit request ids */
#define AUTHZ_CODE_BYTES 32 /* 256-bit codes */

static const char *q_get(mdt_req *req, const char *name) { return mdt_req_query(req, name); }
static const char *f_get(mdt_req *req, const char *name) { return mdt_req_form(req, name); }

const char *mdt_authz_request_id(const char *request_uri)
{
    size_t n = strlen(MDT_AUTHZ_REQUEST_URI_PREFIX);

    if (!request_uri || strncmp(request_uri, MDT_AUTHZ_REQUEST_URI_PREFIX, n) != 0 ||
        !request_uri[n] || strlen(request_uri + n) > 64)
        return NULL;
    return request_uri + n;
}

/* ------------------------------------------------------------ validation */

static bool prompt_ok(const char *prompt)
{
    bool none = false;
    size_t count = 0;

    for (mdt_words w = mdt_words_of(prompt); mdt_words_next(&w); count++) {
        if (mdt_words_is(&w, "none"))
            none = true;
        else if (!mdt_words_is(&w, "login") && !mdt_words_is(&w, "consent"))
            return false;
    }
    return !(none && count > 1); /* OIDC Core §3.1.2.1 */
}

static mdt_rc bad(const char **error, const char *code, mdt_err *err, const char *msg)
{
    *error = code;
    return mdt_fail(err, MDT_ERR_INVALID_REQUEST, msg);
}

static mdt_rc check_lengths(mdt_req *req, mdt_authz_get_fn get, const char **error, mdt_err *err)
{
    static const char *const names[] = {"state", "nonce", "scope", "resource", "prompt"};

    for (size_t i = 0; i < MDT_ARRAY_LEN(names); i++) {
        const char *v = get(req, names[i]);
        if (v && strlen(v) > MDT_AUTHZ_PARAM_MAX)
            return bad(error, "invalid_request", err, "a parameter is too long");
    }
    return MDT_OK;
}

/* prompt, max_age, response_mode. */
static mdt_rc check_options(mdt_req *req, mdt_authz_get_fn get, mdt_authz_params *p,
                            const char **error, mdt_err *err)
{
    const char *mode = get(req, "response_mode"), *max_age = get(req, "max_age");
    char *end;

    if (mode && strcmp(mode, "query") != 0 && strcmp(mode, "form_post") != 0)
        return bad(error, "invalid_request", err, "response_mode must be query or form_post");
    p->prompt = get(req, "prompt");
    if (p->prompt && !prompt_ok(p->prompt))
        return bad(error, "invalid_request", err,
                   "prompt must be none, or login and/or consent");
    p->max_age = -1;
    if (max_age) {
        long long v = strtoll(max_age, &end, 10);
        if (!*max_age || *end || v < 0 || max_age[0] == '+' || strlen(max_age) > 10)
            return bad(error, "invalid_request", err, "max_age must be a non-negative integer");
        p->max_age = v;
    }
    return MDT_OK;
}

static mdt_rc validate(mdt_env *env, mdt_req *req, mdt_authz_get_fn get, const mdt_client *c,
                       mdt_authz_params *p, const char **error, mdt_err *err)
{
    const char *rt = get(req, "response_type"), *const *aud;
    mdt_client view;
    size_t naud;
    mdt_rc rc;

    if (!rt)
        return bad(error, "invalid_request", err, "response_type is required");
    if (strcmp(rt, "code") != 0)
        return bad(error, "unsupported_response_type", err, "response_type must be code");
    if (!mdt_client_has_grant(c, "authorization_code"))
        return bad(error, "unauthorized_client", err,
                   "the client is not registered for the authorization_code grant");
    if ((rc = check_lengths(req, get, error, err)) != MDT_OK ||
        (rc = check_options(req, get, p, error, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_pkce_request_check(get(req, "code_challenge"),
                                     get(req, "code_challenge_method"), err)) != MDT_OK)
        return bad(error, "invalid_request", err, err->msg);
    p->code_challenge = get(req, "code_challenge");
    p->state = get(req, "state");
    p->nonce = get(req, "nonce");
    p->resource = get(req, "resource");
    *error = "invalid_scope";
    if ((rc = mdt_consented_client(env, req->arena, c, get(req, "scope"), p->resource, &view,
                                   err)) != MDT_OK)
        return rc;
    c = &view; /* a person consents: what they may grant (SPEC §3.3, §3.7) */
    if ((rc = mdt_scope_narrow(req->arena, c, get(req, "scope"), &p->scope, err)) != MDT_OK)
        return rc;
    *error = "invalid_target";
    if ((rc = mdt_resource_select(req->arena, c, env->cfg.issuer, p->resource, &aud, &naud,
                                  err)) != MDT_OK)
        return rc;
    *error = NULL;
    return MDT_OK;
}

/* RFC 8252 §7.3: a native app's loopback redirect URI may name any port at
 * the time of the request. Public clients are native apps (an MCP client is
 * one, whatever kind it was given at registration), as are the native and
 * cli kinds. */
static bool loopback_any_port(const mdt_client *c)
{
    return mdt_str_eq(c->kind, "native") || mdt_str_eq(c->kind, "cli") ||
           mdt_str_eq(c->auth_method, "none");
}

mdt_rc mdt_authz_read(mdt_env *env, mdt_req *req, mdt_authz_get_fn get, const mdt_client *c,
                      mdt_authz_params *p, const char **error, mdt_err *err)
{
    const char *given = get(req, "redirect_uri");
    mdt_rc rc;

    memset(p, 0, sizeof(*p));
    *error = "invalid_request";
    if ((rc = mdt_redirect_select((const char *const *)c->redirect_uris, c->nredirect_uris, given,
                                  loopback_any_port(c), &p->redirect_uri, err)) != MDT_OK) {
        p->redirect_uri = NULL;
        return rc;
    }
    p->client_id = c->client_id;
    p->redirect_given = given != NULL;
    p->max_age = -1;
    p->form_post = mdt_str_eq(get(req, "response_mode"), "form_post"); /* errors too */
    p->state = get(req, "state");
    if (p->state && strlen(p->state) > MDT_AUTHZ_PARAM_MAX)
        p->state = NULL;
    if ((rc = validate(env, req, get, c, p, error, err)) != MDT_OK)
        return rc;
    if (mdt_words_has(p->prompt, "login"))
        p->login_after = req->now;
    return MDT_OK;
}

bool mdt_authz_client_allowed(const mdt_client *c, int64_t now)
{
    return mdt_client_usable(c, now) && mdt_client_has_grant(c, "authorization_code");
}

/* ------------------------------------------------------- stored requests */

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

static const char *params_json(const mdt_authz_params *p, mdt_arena *a)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:s, s:I, s:I}", "client_id", p->client_id,
                          "redirect_uri", p->redirect_uri, "redirect_given", p->redirect_given,
                          "scope", p->scope ? p->scope : "", "code_challenge", p->code_challenge,
                          "max_age", (json_int_t)p->max_age, "login_after",
                          (json_int_t)p->login_after);
    char *s;
    const char *out;

    if (!o)
        return NULL;
    set_str(o, "resource", p->resource);
    set_str(o, "state", p->state);
    set_str(o, "nonce", p->nonce);
    set_str(o, "prompt", p->prompt);
    if (p->pushed)
        json_object_set_new(o, "pushed", json_true());
    if (p->form_post)
        json_object_set_new(o, "form_post", json_true());
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    out = s ? mdt_arena_strdup(a, s) : NULL;
    free(s);
    return out;
}

static const char *get_s(mdt_arena *a, json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? mdt_arena_strdup(a, v) : NULL;
}

static mdt_rc params_parse(const char *text, mdt_arena *a, mdt_authz_params *p, mdt_err *err)
{
    json_t *o = json_loads(text, 0, NULL);

    memset(p, 0, sizeof(*p));
    if (!o)
        return mdt_fail(err, MDT_ERR_STORE, "stored authorization request is not JSON");
    p->client_id = get_s(a, o, "client_id");
    p->redirect_uri = get_s(a, o, "redirect_uri");
    p->redirect_given = json_is_true(json_object_get(o, "redirect_given"));
    p->scope = get_s(a, o, "scope");
    p->resource = get_s(a, o, "resource");
    p->state = get_s(a, o, "state");
    p->nonce = get_s(a, o, "nonce");
    p->code_challenge = get_s(a, o, "code_challenge");
    p->prompt = get_s(a, o, "prompt");
    p->max_age = json_integer_value(json_object_get(o, "max_age"));
    p->login_after = json_integer_value(json_object_get(o, "login_after"));
    p->pushed = json_is_true(json_object_get(o, "pushed"));
    p->form_post = json_is_true(json_object_get(o, "form_post"));
    json_decref(o);
    if (!p->client_id || !p->redirect_uri || !p->code_challenge || !p->scope)
        return mdt_fail(err, MDT_ERR_STORE, "stored authorization request incomplete");
    return MDT_OK;
}

mdt_rc mdt_authz_request_save(mdt_env *env, mdt_req *req, const mdt_authz_params *p,
                              const char **id, mdt_err *err)
{
    char rnd[64];
    mdt_authz_request_rec r = {.client_id = p->client_id, .created_at = req->now,
                               .expires_at = req->now + (p->pushed ? MDT_AUTHZ_PAR_TTL
                                                                   : MDT_AUTHZ_REQUEST_TTL)};
    mdt_rc rc;

    if ((rc = mdt_random_b64url(&env->rng, AUTHZ_ID_BYTES, rnd)) != MDT_OK)
        return mdt_fail(err, rc, "cannot generate a request id");
    r.id = *id = mdt_arena_strdup(req->arena, rnd);
    r.params = params_json(p, req->arena);
    if (!r.id || !r.params)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return mdt_store_authz_request_insert(env->store, &r, err);
}

static mdt_rc load_any(mdt_env *env, mdt_req *req, const char *id, mdt_authz_params *p,
                       mdt_err *err)
{
    mdt_authz_request_rec r;
    mdt_rc rc = mdt_store_authz_request_get(env->store, id, req->now, req->arena, &r, err);

    return rc != MDT_OK ? rc : params_parse(r.params, req->arena, p, err);
}

mdt_rc mdt_authz_request_load(mdt_env *env, mdt_req *req, const char *id, mdt_authz_params *p,
                              mdt_err *err)
{
    mdt_rc rc = load_any(env, req, id, p, err);

    if (rc == MDT_OK && p->pushed)
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "a pushed request is used through /authorize");
    return rc;
}

mdt_rc mdt_authz_request_consume(mdt_env *env, mdt_req *req, const char *id, mdt_err *err)
{
    mdt_authz_request_rec r;

    return mdt_store_authz_request_take(env->store, id, req->now, req->arena, &r, err);
}

/* Uses a pushed request (RFC 9126 §7.3: once): it leaves the store, and
 * what follows (login, consent) keeps a copy under a new id. */
static mdt_rc take_pushed(mdt_env *env, mdt_req *req, const char *id, mdt_authz_params *p,
                          mdt_err *err)
{
    mdt_authz_request_rec r;
    mdt_rc rc = mdt_store_authz_request_take(env->store, id, req->now, req->arena, &r, err);

    if (rc == MDT_OK && (rc = params_parse(r.params, req->arena, p, err)) == MDT_OK)
        p->pushed = false;
    return rc;
}

/* ------------------------------------------------------------- responses */

static void audit(mdt_req *req, mdt_resp *resp, const char *type, const char *decision,
                  const char *client_id, const char *username, const char *reason,
                  const char *data)
{
    resp->has_audit = true;
    resp->audit.type = type;
    resp->audit.actor = username ? username : client_id;
    resp->audit.client_id = client_id;
    resp->audit.subject = username;
    resp->audit.decision = decision;
    resp->audit.reason = reason;
    resp->audit.data = data;
    resp->audit.request_id = req->request_id;
    resp->audit.ip = req->peer_ip;
}

static void redirect(mdt_resp *resp, const char *location)
{
    resp->status = 303;
    mdt_resp_header(resp, "Location", location);
    mdt_web_security_headers(resp);
}

static const char form_post_tpl[] =
    "<p>Continue to <strong>{{host}}</strong> to finish.</p>\n"
    "<form method=\"post\" action=\"{{uri}}\">\n"
    "{{!fields}}"
    "<button type=\"submit\">Continue to {{host}}</button>\n"
    "</form>\n";

/* The host[:port] of uri (its scheme when it has no authority). */
static const char *uri_host(mdt_arena *a, const char *uri)
{
    const char *p = strstr(uri, "://");

    return p ? mdt_arena_strndup(a, p + 3, strcspn(p + 3, "/?#"))
             : mdt_arena_strndup(a, uri, strcspn(uri, ":"));
}

/* OAuth 2.0 Form Post Response Mode, without script (the CSP forbids it):
 * a form of hidden fields that the person sends with a button; the page's
 * form-action allows the redirect URI's origin. False when it cannot be
 * rendered. */
static bool form_post(mdt_req *req, mdt_resp *resp, const char *uri, const mdt_kv *q, size_t n)
{
    static const char field[] = "<input type=\"hidden\" name=\"{{n}}\" value=\"{{v}}\">\n";
    const char *fields, *body;
    mdt_err err = {0};
    mdt_buf b;
    bool ok = true;

    mdt_buf_init(&b, MDT_REDIRECT_MAX);
    for (size_t i = 0; i < n && ok; i++) {
        mdt_kv kv[] = {{"n", q[i].name}, {"v", q[i].value}};
        ok = !q[i].value || mdt_web_render(&b, field, kv, 2, &err) == MDT_OK;
    }
    fields = ok ? mdt_arena_strndup(req->arena, b.data ? b.data : "", b.len) : NULL;
    mdt_buf_free(&b);
    mdt_kv vars[] = {{"host", uri_host(req->arena, uri)}, {"uri", uri}, {"fields", fields}};
    if (!fields || mdt_web_render_str(req->arena, form_post_tpl, vars, MDT_ARRAY_LEN(vars), &body,
                                      &err) != MDT_OK)
        return false;
    mdt_web_page(resp, 200, "Continue", body);
    mdt_web_allow_form_target(req, resp, uri);
    return true;
}

/* The authorization response q[n] to p's redirect URI in p's response mode. */
static bool respond(mdt_req *req, mdt_resp *resp, const mdt_authz_params *p, const mdt_kv *q,
                    size_t n)
{
    const char *loc;

    if (p->form_post)
        return form_post(req, resp, p->redirect_uri, q, n);
    if (!(loc = mdt_redirect_build(req->arena, p->redirect_uri, q, n)))
        return false;
    redirect(resp, loc);
    return true;
}

void mdt_authz_error_page(mdt_req *req, mdt_resp *resp, int status, const char *client_id,
                          const char *message)
{
    mdt_web_message_page(resp, status, "Cannot authorize", message);
    audit(req, resp, "authz.refused", "deny", client_id, NULL, message, NULL);
}

void mdt_authz_respond_error(mdt_env *env, mdt_req *req, mdt_resp *resp,
                             const mdt_authz_params *p, const char *error, const char *desc,
                             const char *audit_type, const char *username)
{
    mdt_kv q[] = {{"error", error}, {"error_description", desc}, {"state", p->state},
                  {"iss", env->cfg.issuer}};

    if (!respond(req, resp, p, q, MDT_ARRAY_LEN(q))) {
        mdt_authz_error_page(req, resp, 400, p->client_id, "The response is too large.");
        return;
    }
    audit(req, resp, audit_type, "deny", p->client_id, username,
          mdt_arena_printf(req->arena, "%s: %s", error, desc ? desc : ""), NULL);
}

static const char *code_params(mdt_req *req, const mdt_authz_params *p, const mdt_web_session *s)
{
    uint8_t sid[32];
    char sid64[64];
    json_t *o;
    char *text;
    const char *out;

    mdt_sha256(s->rec.hash, sizeof(s->rec.hash), sid); /* never the session's own hash */
    mdt_b64url_encode(sid, 16, sid64);
    o = json_pack("{s:s, s:b, s:s, s:s, s:I, s:s, s:s}", "redirect_uri", p->redirect_uri,
                  "redirect_given", p->redirect_given, "code_challenge", p->code_challenge,
                  "scope", p->scope, "auth_time", (json_int_t)s->rec.auth_time, "amr",
                  s->rec.amr, "sid", sid64);
    if (!o)
        return NULL;
    set_str(o, "resource", p->resource);
    set_str(o, "nonce", p->nonce);
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    out = text ? mdt_arena_strdup(req->arena, text) : NULL;
    free(text);
    return out;
}

bool mdt_authz_request_use(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_client *c,
                           const char *id)
{
    mdt_err err = {0};
    mdt_rc rc = id ? mdt_authz_request_consume(env, req, id, &err) : MDT_OK;

    if (rc == MDT_ERR_NOT_FOUND)
        mdt_authz_error_page(req, resp, 400, c->client_id,
                             "This authorization request was already answered or has expired. "
                             "Go back to the application and start again.");
    else if (rc != MDT_OK)
        mdt_authz_error_page(req, resp, 500, c->client_id,
                             "The service could not read the authorization request.");
    return rc == MDT_OK;
}

void mdt_authz_respond_code(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_client *c,
                            const mdt_authz_params *p, const mdt_web_session *s, const char *id)
{
    char code[64];
    mdt_authz_code_rec rec = {.client_id = c->client_id, .username = s->rec.username,
                              .created_at = req->now, .expires_at = req->now + MDT_AUTHZ_CODE_TTL};
    mdt_err err = {0};
    bool sent;

    if (!mdt_authz_request_use(env, req, resp, c, id))
        return;
    if (mdt_random_b64url(&env->rng, AUTHZ_CODE_BYTES, code) != MDT_OK ||
        !(rec.params = code_params(req, p, s))) {
        mdt_authz_error_page(req, resp, 500, c->client_id, "The service could not issue a code.");
        return;
    }
    mdt_sha256(code, strlen(code), rec.hash);
    mdt_kv q[] = {{"code", code}, {"state", p->state}, {"iss", env->cfg.issuer}};
    sent = mdt_store_code_insert(env->store, &rec, &err) == MDT_OK &&
           respond(req, resp, p, q, MDT_ARRAY_LEN(q));
    mdt_wipe(code, sizeof(code));
    if (!sent) {
        mdt_authz_error_page(req, resp, 500, c->client_id, "The service could not issue a code.");
        return;
    }
    mdt_buf b;
    mdt_buf_init(&b, 4096);
    if (mdt_buf_adds(&b, "{\"scope\":") != MDT_OK || mdt_buf_add_json_str(&b, p->scope) ||
        mdt_buf_adds(&b, ",\"redirect_uri\":") || mdt_buf_add_json_str(&b, p->redirect_uri) ||
        mdt_buf_adds(&b, "}"))
        mdt_buf_reset(&b);
    audit(req, resp, "authz.code_issued", "allow", c->client_id, s->rec.username, NULL,
          b.len ? mdt_arena_strdup(req->arena, b.data) : NULL);
    mdt_buf_free(&b);
}

/* --------------------------------------------------------------- handler */

/* Sends the browser to path?name=<id or request_uri> after saving p when
 * it is not stored yet. */
static void send_to(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_authz_params *p,
                    const char **id, bool login)
{
    mdt_err err = {0};
    const char *loc;

    if (!*id && mdt_authz_request_save(env, req, p, id, &err) != MDT_OK) {
        mdt_authz_error_page(req, resp, 500, p->client_id,
                             "The service could not keep the authorization request.");
        return;
    }
    if (login) {
        const char *back = mdt_arena_printf(
            req->arena, "/authorize?client_id=%s&request_uri=%s",
            mdt_url_encode(req->arena, p->client_id),
            mdt_url_encode(req->arena, mdt_arena_printf(req->arena, "%s%s",
                                                        MDT_AUTHZ_REQUEST_URI_PREFIX, *id)));
        loc = back ? mdt_arena_printf(req->arena, "/login?return_to=%s",
                                      mdt_url_encode(req->arena, back))
                   : NULL;
    } else {
        loc = mdt_arena_printf(req->arena, "/consent?request=%s", *id);
    }
    if (!loc) {
        mdt_authz_error_page(req, resp, 500, p->client_id, "Out of memory.");
        return;
    }
    redirect(resp, loc);
}

/* A login made after the request asked for one (prompt=login, or max_age
 * that sent the person to /login) is fresh enough for it: max_age is not
 * checked again, so that a slow return from /login cannot loop. */
bool mdt_authz_needs_login(const mdt_req *req, const mdt_authz_params *p,
                           const mdt_web_session *s)
{
    if (s->rec.auth_time < p->login_after)
        return true;
    if (p->login_after)
        return false;
    return p->max_age >= 0 && req->now - s->rec.auth_time > p->max_age;
}

/* Sign-in needed: login_required for prompt=none, else /login. */
static void to_login(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_authz_params *p,
                     const char *id)
{
    if (mdt_words_has(p->prompt, "none")) {
        mdt_authz_respond_error(env, req, resp, p, "login_required", "the person must sign in",
                                "authz.refused", NULL);
        return;
    }
    if (p->max_age >= 0 && p->login_after < req->now) {
        p->login_after = req->now; /* the login to come satisfies max_age */
        id = NULL;                 /* kept under a new id with login_after */
    }
    send_to(env, req, resp, p, &id, true);
}

/* The request is valid: sign-in, consent, then the code. */
static void proceed(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_client *c,
                    mdt_authz_params *p, const char *id)
{
    mdt_web_session s;
    mdt_err err = {0};
    bool covered = false;
    mdt_rc rc = mdt_web_session_get(env, req, req->arena, &s, &err);

    if (rc != MDT_OK && rc != MDT_ERR_NOT_FOUND) {
        mdt_authz_error_page(req, resp, 500, c->client_id, "The service could not read the session.");
        return;
    }
    if (rc == MDT_ERR_NOT_FOUND || mdt_authz_needs_login(req, p, &s)) {
        to_login(env, req, resp, p, id);
        return;
    }
    if (mdt_consent_covers(env, s.rec.username, c->client_id, p->scope, req->arena, &covered,
                           &err) != MDT_OK) {
        mdt_authz_error_page(req, resp, 500, c->client_id, "The service could not read consents.");
        return;
    }
    if (!covered || mdt_words_has(p->prompt, "consent")) {
        if (mdt_words_has(p->prompt, "none"))
            mdt_authz_respond_error(env, req, resp, p, "consent_required",
                                    "the person must consent", "authz.refused", s.rec.username);
        else
            send_to(env, req, resp, p, &id, false);
        return;
    }
    mdt_authz_respond_code(env, req, resp, c, p, &s, id);
}

/* An unknown, expired or used request_uri: invalid_request_uri redirected
 * when the client has one registered redirect URI (it is then known without
 * the request), else on the error page. */
static void unknown_request(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_client *c)
{
    mdt_authz_params p = {.client_id = c->client_id};
    mdt_err err = {0};

    if (mdt_redirect_select((const char *const *)c->redirect_uris, c->nredirect_uris, NULL,
                            loopback_any_port(c), &p.redirect_uri, &err) == MDT_OK)
        mdt_authz_respond_error(env, req, resp, &p, "invalid_request_uri",
                                "the request_uri is unknown, expired or already used",
                                "authz.refused", NULL);
    else
        mdt_authz_error_page(req, resp, 400, c->client_id,
                             "This authorization request is unknown, has expired or was already "
                             "used. Go back to the application and start again.");
}

/* A request pushed (RFC 9126: used once) or saved before login: its stored
 * parameters; every other parameter of this request is ignored. */
static bool resume(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_client *c,
                   const char *request_uri, mdt_authz_params *p, const char **id)
{
    mdt_err err = {0};
    mdt_rc rc;

    *id = mdt_authz_request_id(request_uri);
    rc = *id ? load_any(env, req, *id, p, &err) : MDT_ERR_NOT_FOUND;
    if (rc == MDT_OK && !mdt_str_eq(p->client_id, c->client_id))
        rc = MDT_ERR_NOT_FOUND;
    if (rc == MDT_OK && p->pushed) {
        rc = take_pushed(env, req, *id, p, &err); /* NOT_FOUND: another request took it */
        *id = NULL;
    }
    if (rc == MDT_ERR_NOT_FOUND)
        unknown_request(env, req, resp, c);
    else if (rc != MDT_OK)
        mdt_authz_error_page(req, resp, 500, c->client_id,
                             "The service could not read the authorization request.");
    return rc == MDT_OK;
}

/* The client of the request, or an error page (false). */
static bool find_client(mdt_env *env, mdt_req *req, mdt_resp *resp, const char *client_id,
                        mdt_client *c)
{
    mdt_err err = {0};
    mdt_rc rc;

    if (!client_id || !*client_id) {
        mdt_authz_error_page(req, resp, 400, NULL, "The request names no client (client_id).");
        return false;
    }
    rc = mdt_client_load(env, client_id, req->arena, c, &err);
    if (rc == MDT_OK && mdt_authz_client_allowed(c, req->now))
        return true;
    if (rc == MDT_OK && mdt_client_usable(c, req->now))
        /* never redirected: its redirect URIs were approved for no sign-in */
        mdt_authz_error_page(req, resp, 400, client_id,
                             "The application asking for access is not registered to sign "
                             "people in (authorization_code grant).");
    else
        mdt_authz_error_page(req, resp, rc == MDT_OK || rc == MDT_ERR_NOT_FOUND ? 400 : 500,
                             client_id, rc == MDT_OK || rc == MDT_ERR_NOT_FOUND
                                            ? "The application asking for access is unknown "
                                              "or not active."
                                            : "The service could not read the client.");
    return false;
}

void mdt_handle_authorize(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    bool post = strcmp(req->method, "POST") == 0;
    mdt_authz_get_fn get = post ? f_get : q_get;
    mdt_authz_params p = {0};
    const char *error = NULL, *id = NULL;
    mdt_client c;
    mdt_err err = {0};
    mdt_rc rc;

    if (post && mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_authz_error_page(req, resp, 400, NULL, "The form could not be read.");
        return;
    }
    if (!find_client(env, req, resp, get(req, "client_id"), &c))
        return;
    if (get(req, "request_uri")) {
        if (resume(env, req, resp, &c, get(req, "request_uri"), &p, &id))
            proceed(env, req, resp, &c, &p, id);
        return;
    }
    rc = mdt_authz_read(env, req, get, &c, &p, &error, &err);
    if (!p.redirect_uri)
        mdt_authz_error_page(req, resp, 400, c.client_id, err.msg);
    else if (c.require_par)
        mdt_authz_respond_error(env, req, resp, &p, "invalid_request",
                                "this client must use pushed authorization requests (/par)",
                                "authz.refused", NULL);
    else if (rc != MDT_OK)
        mdt_authz_respond_error(env, req, resp, &p, error, err.msg, "authz.refused", NULL);
    else
        proceed(env, req, resp, &c, &p, NULL);
}
