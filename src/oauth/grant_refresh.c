/* RFC 6749 §6 with rotation (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): the
 * presented refresh token must have been issued to this client (another
 * client gets invalid_grant and the token is left as it was: presenting
 * it proves nothing against its holder); it is then consumed in one
 * statement and a new one joins its family. A consumed token presented
 * again is a reuse: the whole family is revoked, its access tokens with it,
 * and token.refresh_reused is audited. The scope may only narrow; the
 * refresh token keeps the grant's scope. */
#include <string.h>

#include "core/hash.h"
#include "core/words.h"
#include "oauth/grants.h"
#include "oauth/id_token.h"
#include "oauth/refresh.h"
#include "store/store.h"

static mdt_rc invalid(mdt_err *err, const char *detail)
{
    return mdt_failf(err, MDT_ERR_INVALID_GRANT, "the refresh token is invalid", "%s", detail);
}

/* A rotated token presented again: revoke the family, record it, refuse. */
static mdt_rc reused(mdt_env *env, mdt_req *req, const mdt_client *c, const mdt_refresh_rec *r,
                     mdt_err *err)
{
    mdt_audit_event ev = {.type = "token.refresh_reused", .actor = c->client_id,
                          .client_id = r->client_id, .subject = r->subject,
                          .decision = "deny", .reason = "rotated refresh token used again",
                          .request_id = req->request_id, .ip = req->peer_ip};
    mdt_err e2 = {0};

    if (mdt_store_refresh_revoke_family(env->store, r->family, req->now, &e2) != MDT_OK)
        return mdt_fail(err, e2.rc, "cannot revoke a refresh token family");
    ev.data = mdt_arena_printf(req->arena, "{\"family\":\"%s\"}", r->family);
    if (mdt_ctx_audit_outcome(&req->ctx, &ev, &e2) != MDT_OK)
        return mdt_fail(err, e2.rc, "cannot record a refresh token reuse");
    return invalid(err, "refresh token used before: its family is revoked");
}

/* Finds the token and checks its client; nothing changes yet. */
static mdt_rc lookup(mdt_env *env, mdt_req *req, const mdt_client *c, mdt_refresh_rec *r,
                     uint8_t hash[MDT_HASH_LEN], mdt_err *err)
{
    const char *tok = mdt_req_form(req, "refresh_token");
    bool ended = false;
    mdt_rc rc;

    if (!tok || !*tok)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "refresh_token is required");
    if (!mdt_refresh_token_like(tok) || strlen(tok) > MDT_REFRESH_MAX_LEN)
        return invalid(err, "not a refresh token of this server");
    mdt_sha256(tok, strlen(tok), hash);
    rc = mdt_store_refresh_get(env->store, hash, req->arena, r, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return invalid(err, "unknown refresh token");
    if (rc != MDT_OK)
        return rc;
    if (!mdt_str_eq(r->client_id, c->client_id))
        return invalid(err, "refresh token issued to another client");
    /* a grant without offline_access ends with the person's session */
    if ((rc = mdt_token_session_ended(env, mdt_token_session_sid(r->sid, r->scope), &ended,
                                      err)) != MDT_OK)
        return rc;
    return ended ? invalid(err, "the session it was issued in ended") : MDT_OK;
}

/* Consumes the token in one statement, once the request is known good. */
static mdt_rc redeem(mdt_env *env, mdt_req *req, const mdt_client *c, mdt_refresh_rec *r,
                     const uint8_t hash[MDT_HASH_LEN], mdt_err *err)
{
    bool revoked = false;
    mdt_rc rc = mdt_store_refresh_consume(env->store, hash, req->now, req->arena, r, err);
    if (rc == MDT_ERR_CONFLICT)
        return reused(env, req, c, r, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return invalid(err, "refresh token revoked or expired");
    if (rc != MDT_OK)
        return rc;
    if ((rc = mdt_store_jti_is_revoked(env->store, r->family, &revoked, err)) != MDT_OK)
        return rc;
    if (revoked)
        return invalid(err, "refresh token family revoked");
    if (r->created_at < c->tokens_valid_after)
        return invalid(err, "refresh token revoked with its client");
    return MDT_OK;
}

/* The requested scope, each of whose words the grant holds; NULL = all. */
static mdt_rc narrow(mdt_env *env, mdt_req *req, const mdt_client *c, const mdt_refresh_rec *r,
                     const char **scope, mdt_err *err)
{
    const char *want = mdt_req_form(req, "scope");

    if (!want) {
        want = r->scope;
    } else {
        for (mdt_words w = mdt_words_of(want); mdt_words_next(&w);) {
            char *word = mdt_arena_strndup(req->arena, w.word, w.len);
            if (!word)
                return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
            if (!mdt_scope_has(r->scope, word))
                return mdt_failf(err, MDT_ERR_INVALID_SCOPE,
                                 "the scope exceeds the one originally granted",
                                 "scope '%.64s' not in the grant", word);
        }
    }
    /* and the client must still be entitled to it */
    return mdt_scope_narrow_for(env, req->arena, c, want, scope, err);
}

static mdt_rc check_subject(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                            const mdt_refresh_rec *r, const char **x5t, mdt_err *err)
{
    const char *res = mdt_req_form(req, "resource");
    mdt_user_rec u;
    mdt_rc rc = mdt_store_user_get(env->store, r->subject, req->arena, &u, err);

    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(u.status, "active")))
        return invalid(err, "the user is no longer active");
    if (rc != MDT_OK)
        return rc;
    if (res && !mdt_str_eq(res, r->resource))
        return mdt_failf(err, MDT_ERR_INVALID_TARGET, "resource differs from the grant's",
                         "resource '%.64s' not the grant's", res);
    if ((rc = mdt_client_cert_binding(env, req, who, x5t, err)) != MDT_OK)
        return rc;
    /* RFC 8705 §4: a public client's refresh token is bound to its certificate */
    if (mdt_str_eq(who->method, "none") && *r->cnf_x5t && !mdt_str_eq(*x5t, r->cnf_x5t))
        return invalid(err, "refresh token bound to another certificate");
    /* RFC 9449 §5: a public client's refresh token is bound to its DPoP key */
    if (mdt_str_eq(who->method, "none") && r->cnf_jkt && *r->cnf_jkt && !who->dpop_jkt)
        return mdt_fail(err, MDT_ERR_INVALID_DPOP_PROOF,
                        "this refresh token is DPoP-bound: a DPoP proof of its key is required");
    if (mdt_str_eq(who->method, "none") && r->cnf_jkt && *r->cnf_jkt &&
        !mdt_str_eq(who->dpop_jkt, r->cnf_jkt))
        return invalid(err, "refresh token bound to another DPoP key");
    return MDT_OK;
}

/* The decision of the PDP (mdt_scope_policy) on scope, before the token is
 * used up: a request asked again once an external PDP answered finds it as
 * it was. */
static mdt_rc refresh_policy(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                             const mdt_client *view, const mdt_refresh_rec *r, const char **scope,
                             mdt_grant_result *out, mdt_err *err)
{
    mdt_policy_ask ask = {.user = r->subject};
    mdt_rc rc;

    if (!mdt_scope_policy_on(env))
        return MDT_OK;
    if ((rc = mdt_resource_select(req->arena, view, env->cfg.issuer,
                                  *r->resource ? r->resource : NULL, &ask.aud, &ask.naud, err)) !=
        MDT_OK)
        return rc;
    return mdt_scope_policy(env, req, who, &ask, scope, out, err);
}

mdt_rc mdt_grant_refresh_token(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                               mdt_grant_result *out, mdt_err *err)
{
    const mdt_client *c = &who->client;
    mdt_grant g = {.client = c, .auth_method = who->method};
    int64_t ttl = c->access_token_ttl ? c->access_token_ttl : env->cfg.access_token_ttl;
    uint8_t hash[MDT_HASH_LEN];
    mdt_refresh_rec r, next;
    mdt_client view;
    mdt_rc rc;

    /* the checks that do not depend on the token's state come first, so
     * that a bad request does not use the token up */
    if ((rc = lookup(env, req, c, &r, hash, err)) != MDT_OK ||
        /* the grant was consented to by a person: what they could grant */
        (rc = mdt_consented_client(env, req->arena, c, r.scope, r.resource, &view, err)) ||
        (!r.used_at && !r.revoked_at &&
         ((rc = check_subject(env, req, who, &r, &g.cnf_x5t, err)) != MDT_OK ||
          (rc = narrow(env, req, &view, &r, &g.scope, err)) != MDT_OK ||
          (rc = refresh_policy(env, req, who, &view, &r, &g.scope, out, err)) != MDT_OK)) ||
        (rc = redeem(env, req, c, &r, hash, err)) != MDT_OK ||
        (rc = mdt_resource_select(req->arena, &view, env->cfg.issuer,
                                  *r.resource ? r.resource : NULL, &g.aud, &g.naud, err)) != MDT_OK)
        return rc;
    g.sub = r.subject;
    g.auth_time = r.auth_time;
    g.amr = r.amr;
    g.sid = mdt_token_session_sid(r.sid, r.scope);
    mdt_token_times(&g, c, req->now, ttl, 0);
    out->scope = g.scope;
    out->subject = r.subject;
    g.cnf_jkt = who->dpop_jkt; /* RFC 9449 §5: bound to the proof's key */
    if ((rc = mdt_token_mint(env, req->arena, &g, &out->token, err)) != MDT_OK)
        return rc;
    next = r;
    memcpy(next.parent, r.hash, MDT_HASH_LEN);
    next.created_at = g.iat; /* as the access token: not before the kill switch */
    /* the family does not outlive its first token, nor its client */
    next.expires_at = mdt_token_exp_clamp(c, r.expires_at);
    next.cnf_x5t = g.cnf_x5t ? g.cnf_x5t : r.cnf_x5t;
    next.cnf_jkt = r.cnf_jkt && *r.cnf_jkt ? r.cnf_jkt : mdt_refresh_dpop_jkt(&g);
    next.access_jti = out->token.jti;
    next.access_exp = g.exp;
    rc = mdt_refresh_issue(env, req->arena, &next, &out->refresh_token, err);
    if (rc == MDT_ERR_CONFLICT)
        return invalid(err, "refresh token family revoked during rotation");
    return rc;
}
