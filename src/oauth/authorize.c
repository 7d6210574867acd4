/* GET and POST /authorize: the authorization code flow with PKCE S256.
 * Order of checks (RFC 6749 §4.1.2.1): the client and the redirect URI
 * first, answered on an error page when wrong; everything else is
 * redirected to the client with state and iss (RFC 9207). Every answer is
 * an outcome (authorize.h) that the pages render (web/authorize.c). */
#include "oauth/authorize.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/words.h"
#include "iga/consent.h"
#include "oauth/cimd.h"
#include "oauth/dpop.h"
#include "oauth/grants.h"
#include "oauth/pkce.h"
#include "oauth/redirect.h"
#include "oauth/tokens.h"
#include "store/store.h"

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

/* A base64url SHA-256 thumbprint (RFC 7638), as dpop_jkt carries it. */
static bool jkt_valid(const char *s)
{
    size_t n = strlen(s);

    if (n != MDT_DPOP_JKT_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    return true;
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
    p->dpop_jkt = get(req, "dpop_jkt");
    if (p->dpop_jkt && !jkt_valid(p->dpop_jkt))
        return bad(error, "invalid_request", err,
                   "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)");
    p->state = get(req, "state");
    p->nonce = get(req, "nonce");
    p->resource = get(req, "resource");
    *error = "invalid_scope";
    if ((rc = mdt_consented_client(env, req->arena, c, get(req, "scope"), p->resource, &view,
                                   err)) != MDT_OK)
        return rc;
    c = &view; /* a person consents: what they may grant (SPEC §3.3, §3.7) */
    if ((rc = mdt_scope_narrow_for(env, req->arena, c, get(req, "scope"), &p->scope, err)) != MDT_OK)
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

/* The stored record of p (borrows p's strings). */
static mdt_authz_request_rec request_rec(const mdt_authz_params *p)
{
    return (mdt_authz_request_rec){
        .client_id = p->client_id, .redirect_uri = p->redirect_uri,
        .redirect_given = p->redirect_given, .scope = p->scope ? p->scope : "",
        .resource = p->resource, .state = p->state, .nonce = p->nonce,
        .code_challenge = p->code_challenge, .prompt = p->prompt, .max_age = p->max_age,
        .login_after = p->login_after, .pushed = p->pushed, .form_post = p->form_post,
        .dpop_jkt = p->dpop_jkt};
}

static bool given(const char *s)
{
    return s && *s;
}

static mdt_rc request_params(const mdt_authz_request_rec *r, mdt_authz_params *p, mdt_err *err)
{
    *p = (mdt_authz_params){
        .client_id = r->client_id, .redirect_uri = r->redirect_uri,
        .redirect_given = r->redirect_given, .scope = r->scope, .resource = r->resource,
        .state = r->state, .nonce = r->nonce, .code_challenge = r->code_challenge,
        .prompt = r->prompt, .max_age = r->max_age, .login_after = r->login_after,
        .pushed = r->pushed, .form_post = r->form_post, .dpop_jkt = r->dpop_jkt};
    if (!given(p->client_id) || !given(p->redirect_uri) || !given(p->code_challenge) || !p->scope)
        return mdt_fail(err, MDT_ERR_STORE, "stored authorization request incomplete");
    return MDT_OK;
}

mdt_rc mdt_authz_request_save(mdt_env *env, mdt_req *req, const mdt_authz_params *p,
                              const char **id, mdt_err *err)
{
    char rnd[64];
    mdt_authz_request_rec r = request_rec(p);
    mdt_rc rc;

    r.created_at = req->now;
    r.expires_at = req->now + (p->pushed ? MDT_AUTHZ_PAR_TTL : MDT_AUTHZ_REQUEST_TTL);
    if ((rc = mdt_random_b64url(&env->rng, AUTHZ_ID_BYTES, rnd)) != MDT_OK)
        return mdt_fail(err, rc, "cannot generate a request id");
    r.id = *id = mdt_arena_strdup(req->arena, rnd);
    if (!r.id)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return mdt_store_authz_request_insert(env->store, &r, err);
}

static mdt_rc load_any(mdt_env *env, mdt_req *req, const char *id, mdt_authz_params *p,
                       mdt_err *err)
{
    mdt_authz_request_rec r;
    mdt_rc rc = mdt_store_authz_request_get(env->store, id, req->now, req->arena, &r, err);

    return rc != MDT_OK ? rc : request_params(&r, p, err);
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

    if (rc == MDT_OK && (rc = request_params(&r, p, err)) == MDT_OK)
        p->pushed = false;
    return rc;
}

/* -------------------------------------------------------------- outcomes */

static void audit(mdt_req *req, mdt_authz_outcome *o, const char *type, const char *decision,
                  const char *client_id, const char *username, const char *reason,
                  const char *data)
{
    o->has_audit = true;
    o->audit = (mdt_audit_event){.type = type, .actor = username ? username : client_id,
                                 .client_id = client_id, .subject = username,
                                 .decision = decision, .reason = reason, .data = data,
                                 .request_id = req->request_id, .ip = req->peer_ip};
}

void mdt_authz_outcome_wipe(mdt_authz_outcome *o)
{
    mdt_wipe(o->code, sizeof(o->code));
}

void mdt_authz_error_page(mdt_req *req, mdt_authz_outcome *o, int status, const char *client_id,
                          const char *message)
{
    o->kind = MDT_AUTHZ_SHOW_ERROR;
    o->status = status;
    o->title = "Cannot authorize";
    o->message = message;
    audit(req, o, "authz.refused", "deny", client_id, NULL, message, NULL);
}

void mdt_authz_fault_page(mdt_req *req, mdt_authz_outcome *o, const mdt_err *err,
                          const char *client_id, const char *message)
{
    int status = mdt_rc_http_status(err->rc);

    mdt_authz_error_page(req, o, status >= 500 ? status : 500, client_id, message);
    o->has_fault = true;
    o->fault = *err;
}

/* A server fault while answering the consent page (not audited). */
static void fault_page(mdt_authz_outcome *o, const mdt_err *err, const char *message)
{
    int status = mdt_rc_http_status(err->rc);

    o->kind = MDT_AUTHZ_SHOW_ERROR;
    o->status = status >= 500 ? status : 500;
    o->title = "Something went wrong";
    o->message = message;
    o->has_audit = false;
    o->has_fault = true;
    o->fault = *err;
}

/* The response to p's redirect URI in p's response mode. */
static void deliver(mdt_authz_outcome *o, mdt_authz_kind kind, const mdt_authz_params *p)
{
    o->kind = kind;
    o->redirect_uri = p->redirect_uri;
    o->form_post = p->form_post;
}

/* error, error_description, state and iss to the client; audited as
 * audit_type (authz.refused, consent.denied). desc is copied. */
static void respond_error(mdt_env *env, mdt_req *req, mdt_authz_outcome *o,
                          const mdt_authz_params *p, const char *error, const char *desc,
                          const char *audit_type, const char *username)
{
    desc = desc ? mdt_arena_strdup(req->arena, desc) : NULL;
    deliver(o, MDT_AUTHZ_REDIRECT_ERROR, p);
    o->params[0] = (mdt_kv){"error", error};
    o->params[1] = (mdt_kv){"error_description", desc};
    o->params[2] = (mdt_kv){"state", p->state};
    o->params[3] = (mdt_kv){"iss", env->cfg.issuer};
    o->nparams = 4;
    audit(req, o, audit_type, "deny", p->client_id, username,
          mdt_arena_printf(req->arena, "%s: %s", error, desc ? desc : ""), NULL);
}

/* What the code for p and u is bound to (borrows their strings). */
static void code_bind(mdt_authz_code_rec *rec, const mdt_authz_params *p, const mdt_authz_user *u)
{
    rec->redirect_uri = p->redirect_uri;
    rec->redirect_given = p->redirect_given;
    rec->code_challenge = p->code_challenge;
    rec->scope = p->scope;
    rec->resource = p->resource;
    rec->nonce = p->nonce;
    rec->auth_time = u->auth_time;
    rec->amr = u->amr;
    rec->sid = u->sid;
    rec->dpop_jkt = p->dpop_jkt;
}

/* Consumes the stored request id (NULL: nothing to do) before it is
 * answered, so that one request is answered once however often its form is
 * sent; false with an error page when it was answered already (or a fault). */
static bool request_use(mdt_env *env, mdt_req *req, mdt_authz_outcome *o, const mdt_client *c,
                        const char *id)
{
    mdt_err err = {0};
    mdt_rc rc = id ? mdt_authz_request_consume(env, req, id, &err) : MDT_OK;

    if (rc == MDT_ERR_NOT_FOUND)
        mdt_authz_error_page(req, o, 400, c->client_id,
                             "This authorization request was already answered or has expired. "
                             "Go back to the application and start again.");
    else if (rc != MDT_OK)
        mdt_authz_fault_page(req, o, &err, c->client_id,
                             "The service could not read the authorization request.");
    return rc == MDT_OK;
}

static const char *code_audit_data(mdt_req *req, const mdt_authz_params *p)
{
    const char *out = NULL;
    mdt_buf b;

    mdt_buf_init(&b, 4096);
    if (mdt_buf_adds(&b, "{\"scope\":") == MDT_OK && !mdt_buf_add_json_str(&b, p->scope) &&
        !mdt_buf_adds(&b, ",\"redirect_uri\":") && !mdt_buf_add_json_str(&b, p->redirect_uri) &&
        !mdt_buf_adds(&b, "}"))
        out = mdt_arena_strdup(req->arena, b.data);
    mdt_buf_free(&b);
    return out;
}

/* Issues a code for u: code, state and iss to the client, audited as
 * authz.code_issued. id: the stored request p was read from (NULL: none),
 * consumed first, so that it yields one code only. */
static void respond_code(mdt_env *env, mdt_req *req, mdt_authz_outcome *o, const mdt_client *c,
                         const mdt_authz_params *p, const mdt_authz_user *u, const char *id)
{
    mdt_authz_code_rec rec = {.client_id = c->client_id, .username = u->username,
                              .created_at = req->now, .expires_at = req->now + MDT_AUTHZ_CODE_TTL};
    mdt_err err = {0};

    if (!request_use(env, req, o, c, id))
        return;
    code_bind(&rec, p, u);
    if (mdt_random_b64url(&env->rng, AUTHZ_CODE_BYTES, o->code) != MDT_OK) {
        mdt_fail(&err, MDT_ERR_CRYPTO, "no random bytes for a code");
        mdt_authz_fault_page(req, o, &err, c->client_id, "The service could not issue a code.");
        return;
    }
    mdt_sha256(o->code, strlen(o->code), rec.hash);
    if (mdt_store_code_insert(env->store, &rec, &err) != MDT_OK) {
        mdt_authz_outcome_wipe(o);
        mdt_authz_fault_page(req, o, &err, c->client_id, "The service could not issue a code.");
        return;
    }
    deliver(o, MDT_AUTHZ_CODE, p);
    o->params[0] = (mdt_kv){"code", o->code};
    o->params[1] = (mdt_kv){"state", p->state};
    o->params[2] = (mdt_kv){"iss", env->cfg.issuer};
    o->nparams = 3;
    audit(req, o, "authz.code_issued", "allow", c->client_id, u->username, NULL,
          code_audit_data(req, p));
}

/* ------------------------------------------------------------- decision */

/* A login made after the request asked for one (prompt=login, or max_age
 * that sent the person to /login) is fresh enough for it: max_age is not
 * checked again, so that a slow return from /login cannot loop. */
bool mdt_authz_needs_login(int64_t now, const mdt_authz_params *p, const mdt_authz_user *u)
{
    if (u->auth_time < p->login_after)
        return true;
    if (p->login_after)
        return false;
    return p->max_age >= 0 && now - u->auth_time > p->max_age;
}

mdt_authz_step mdt_authz_next_step(const mdt_authz_params *p, const mdt_authz_user *u,
                                   bool consented, int64_t now)
{
    bool none = mdt_words_has(p->prompt, "none");

    if (!u || mdt_authz_needs_login(now, p, u))
        return none ? MDT_AUTHZ_STEP_LOGIN_REQUIRED : MDT_AUTHZ_STEP_LOGIN;
    if (!consented || mdt_words_has(p->prompt, "consent"))
        return none ? MDT_AUTHZ_STEP_CONSENT_REQUIRED : MDT_AUTHZ_STEP_CONSENT;
    return MDT_AUTHZ_STEP_CODE;
}

/* Sign-in or consent first: p is stored when it is not yet, and the person
 * is sent to sign in (then back to /authorize) or to the consent page. */
static void send_to(mdt_env *env, mdt_req *req, mdt_authz_outcome *o, const mdt_authz_params *p,
                    const char *id, bool login)
{
    mdt_err err = {0};

    if (!id && mdt_authz_request_save(env, req, p, &id, &err) != MDT_OK) {
        mdt_authz_fault_page(req, o, &err, p->client_id,
                             "The service could not keep the authorization request.");
        return;
    }
    o->kind = login ? MDT_AUTHZ_NEEDS_LOGIN : MDT_AUTHZ_NEEDS_CONSENT;
    o->request_id = id;
    if (!login)
        return;
    o->resume = mdt_arena_printf(
        req->arena, "/authorize?client_id=%s&request_uri=%s",
        mdt_url_encode(req->arena, p->client_id),
        mdt_url_encode(req->arena,
                       mdt_arena_printf(req->arena, "%s%s", MDT_AUTHZ_REQUEST_URI_PREFIX, id)));
    if (!o->resume) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_authz_fault_page(req, o, &err, p->client_id, "Out of memory.");
    }
}

/* Sign-in needed: login_required for prompt=none, else sign in. */
static void to_login(mdt_env *env, mdt_req *req, mdt_authz_outcome *o, mdt_authz_params *p,
                     const char *id, mdt_authz_step step)
{
    if (step == MDT_AUTHZ_STEP_LOGIN_REQUIRED) {
        respond_error(env, req, o, p, "login_required", "the person must sign in",
                      "authz.refused", NULL);
        return;
    }
    if (p->max_age >= 0 && p->login_after < req->now) {
        p->login_after = req->now; /* the login to come satisfies max_age */
        id = NULL;                 /* kept under a new id with login_after */
    }
    send_to(env, req, o, p, id, true);
}

/* The request is valid: sign-in, consent, then the code. */
static void proceed(mdt_env *env, mdt_req *req, mdt_authz_outcome *o, const mdt_authz_user *u,
                    const mdt_client *c, mdt_authz_params *p, const char *id)
{
    mdt_err err = {0};
    bool covered = false;
    mdt_authz_step step;

    /* mandate:admin is never a person's to consent to: only an admin's */
    if (u && !(p->scope = mdt_token_admin_scope_for(env, req->arena, u->username, p->scope, &err))) {
        mdt_authz_fault_page(req, o, &err, c->client_id, "The service could not read scopes.");
        return;
    }
    if (u && !mdt_authz_needs_login(req->now, p, u) &&
        mdt_consent_covers(env, u->username, c->client_id, p->scope, req->arena, &covered,
                           &err) != MDT_OK) {
        mdt_authz_fault_page(req, o, &err, c->client_id, "The service could not read consents.");
        return;
    }
    switch ((step = mdt_authz_next_step(p, u, covered, req->now))) {
    case MDT_AUTHZ_STEP_LOGIN:
    case MDT_AUTHZ_STEP_LOGIN_REQUIRED:
        to_login(env, req, o, p, id, step);
        break;
    case MDT_AUTHZ_STEP_CONSENT_REQUIRED:
        respond_error(env, req, o, p, "consent_required", "the person must consent",
                      "authz.refused", u->username);
        break;
    case MDT_AUTHZ_STEP_CONSENT:
        send_to(env, req, o, p, id, false);
        break;
    case MDT_AUTHZ_STEP_CODE:
        respond_code(env, req, o, c, p, u, id);
        break;
    }
}

/* An unknown, expired or used request_uri: invalid_request_uri redirected
 * when the client has one registered redirect URI (it is then known without
 * the request), else on the error page. */
static void unknown_request(mdt_env *env, mdt_req *req, mdt_authz_outcome *o, const mdt_client *c)
{
    mdt_authz_params p = {.client_id = c->client_id};
    mdt_err err = {0};

    if (mdt_redirect_select((const char *const *)c->redirect_uris, c->nredirect_uris, NULL,
                            loopback_any_port(c), &p.redirect_uri, &err) == MDT_OK)
        respond_error(env, req, o, &p, "invalid_request_uri",
                      "the request_uri is unknown, expired or already used", "authz.refused",
                      NULL);
    else
        mdt_authz_error_page(req, o, 400, c->client_id,
                             "This authorization request is unknown, has expired or was already "
                             "used. Go back to the application and start again.");
}

/* A request pushed (RFC 9126: used once) or saved before login: its stored
 * parameters; every other parameter of this request is ignored. */
static bool resume(mdt_env *env, mdt_req *req, mdt_authz_outcome *o, const mdt_client *c,
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
        unknown_request(env, req, o, c);
    else if (rc != MDT_OK)
        mdt_authz_fault_page(req, o, &err, c->client_id,
                             "The service could not read the authorization request.");
    return rc == MDT_OK;
}

/* The client of the request, or an error page (false). */
static bool find_client(mdt_env *env, mdt_req *req, mdt_authz_outcome *o, const char *client_id,
                        mdt_client *c)
{
    mdt_err err = {0};
    mdt_rc rc;

    if (!client_id || !*client_id) {
        mdt_authz_error_page(req, o, 400, NULL, "The request names no client (client_id).");
        return false;
    }
    if (mdt_cimd_is_url(env, client_id)) {
        /* a client ID metadata document: fetched (or cached) and applied */
        rc = mdt_cimd_resolve(env, req, client_id, c, &err);
        if (rc == MDT_ERR_UNAVAILABLE && req->waiter && req->waiter->registered)
            return false; /* asked again once the document is in */
        if (rc == MDT_ERR_INVALID_CLIENT) {
            MDT_INFO("authorization request of %.200s refused: %s", client_id, err.detail);
            rc = MDT_ERR_NOT_FOUND;
        }
    } else {
        rc = mdt_client_load(env, client_id, req->now, req->arena, c, &err);
    }
    if (rc == MDT_OK && mdt_authz_client_allowed(c, req->now))
        return true;
    if (rc == MDT_OK && mdt_client_usable(c, req->now))
        /* never redirected: its redirect URIs were approved for no sign-in */
        mdt_authz_error_page(req, o, 400, client_id,
                             "The application asking for access is not registered to sign "
                             "people in (authorization_code grant).");
    else if (rc == MDT_OK || rc == MDT_ERR_NOT_FOUND)
        mdt_authz_error_page(req, o, 400, client_id,
                             "The application asking for access is unknown or not active.");
    else
        mdt_authz_fault_page(req, o, &err, client_id, "The service could not read the client.");
    return false;
}

void mdt_authorize(mdt_env *env, mdt_req *req, const mdt_authz_user *u, mdt_authz_outcome *o)
{
    bool post = strcmp(req->method, "POST") == 0;
    mdt_authz_get_fn get = post ? f_get : q_get;
    mdt_authz_params p = {0};
    const char *error = NULL, *id = NULL;
    mdt_client c;
    mdt_err err = {0};
    mdt_rc rc;

    memset(o, 0, sizeof(*o));
    if (post && mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_authz_error_page(req, o, 400, NULL, "The form could not be read.");
        return;
    }
    if (!find_client(env, req, o, get(req, "client_id"), &c))
        return;
    if (get(req, "request_uri")) {
        if (resume(env, req, o, &c, get(req, "request_uri"), &p, &id))
            proceed(env, req, o, u, &c, &p, id);
        return;
    }
    rc = mdt_authz_read(env, req, get, &c, &p, &error, &err);
    if (!p.redirect_uri)
        mdt_authz_error_page(req, o, 400, c.client_id, mdt_arena_strdup(req->arena, err.msg));
    else if (c.require_par)
        respond_error(env, req, o, &p, "invalid_request",
                      "this client must use pushed authorization requests (/par)",
                      "authz.refused", NULL);
    else if (rc != MDT_OK)
        respond_error(env, req, o, &p, error, err.msg, "authz.refused", NULL);
    else
        proceed(env, req, o, u, &c, &p, NULL);
}

/* --------------------------------------------------------------- consent */

bool mdt_authz_consent_pending(mdt_env *env, mdt_req *req, const char *id,
                               const mdt_authz_user *u, const char *resume_to,
                               mdt_authz_params *p, mdt_client *c, mdt_authz_outcome *o)
{
    mdt_err err = {0};
    mdt_rc rc = mdt_authz_request_load(env, req, id, p, &err);

    memset(o, 0, sizeof(*o));
    if (rc == MDT_OK)
        rc = mdt_client_load(env, p->client_id, req->now, req->arena, c, &err);
    if (rc == MDT_OK && !mdt_authz_client_allowed(c, req->now))
        rc = MDT_ERR_NOT_FOUND;
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_authz_error_page(req, o, 400, p->client_id,
                             "This authorization request is unknown, has expired or was "
                             "already answered. Go back to the application and start again.");
        return false;
    }
    if (rc != MDT_OK) {
        fault_page(o, &err, "The service could not read the authorization request.");
        return false;
    }
    /* the request's sign-in requirements (prompt=login, max_age) hold here
     * too: reaching the consent page directly skips no step of /authorize */
    if (mdt_authz_needs_login(req->now, p, u)) {
        o->kind = MDT_AUTHZ_NEEDS_LOGIN;
        o->request_id = id;
        o->resume = resume_to;
        return false;
    }
    /* mandate:admin is never a person's to consent to: only an admin's */
    if (!(p->scope = mdt_token_admin_scope_for(env, req->arena, u->username, p->scope, &err))) {
        fault_page(o, &err, "The service could not read the authorization request.");
        return false;
    }
    return true;
}

static void consent_granted(mdt_env *env, mdt_req *req, const mdt_authz_user *u,
                            const mdt_client *c, const mdt_authz_params *p, const char *id,
                            mdt_authz_outcome *o)
{
    mdt_err err = {0};
    mdt_audit_event ev = {.type = "consent.granted", .actor = u->username,
                          .client_id = c->client_id, .subject = u->username,
                          .decision = "allow", .request_id = req->request_id, .ip = req->peer_ip};
    mdt_buf b;

    if (!request_use(env, req, o, c, id))
        return; /* answered before: one request, one code */
    mdt_buf_init(&b, 4096);
    if (mdt_buf_adds(&b, "{\"scope\":") == MDT_OK && mdt_buf_add_json_str(&b, p->scope) == MDT_OK &&
        mdt_buf_adds(&b, "}") == MDT_OK)
        ev.data = mdt_arena_strdup(req->arena, b.data);
    mdt_buf_free(&b);
    if (mdt_consent_remember(env, u->username, c->client_id, p->scope, req->now, req->arena,
                             &err) != MDT_OK ||
        mdt_ctx_audit_outcome(&req->ctx, &ev, &err) != MDT_OK) {
        fault_page(o, &err, "The service could not record your consent.");
        return;
    }
    respond_code(env, req, o, c, p, u, NULL);
}

void mdt_authz_consent_answer(mdt_env *env, mdt_req *req, const mdt_authz_user *u,
                              const mdt_client *c, const mdt_authz_params *p, const char *id,
                              bool allow, mdt_authz_outcome *o)
{
    memset(o, 0, sizeof(*o));
    if (allow)
        consent_granted(env, req, u, c, p, id, o);
    else if (request_use(env, req, o, c, id))
        respond_error(env, req, o, p, "access_denied", "the person denied the request",
                      "consent.denied", u->username);
}
