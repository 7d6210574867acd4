/* OpenID CIBA Core 1.0 §10-11, poll mode: the client polls with its
 * auth_req_id (iga/ciba.h answers authorization_pending, slow_down,
 * expired_token, access_denied, or redeems it once). An approved request
 * gives an access token for the person (sub) with the scope and the
 * authorization_details (RFC 9396) exactly as approved and app.approval
 * naming the approval, and an ID token. With [ciba] single_use_tokens the
 * access token's jti is recorded as usable once (mdt_token_use_once). */
#include <string.h>

#include "iga/ciba.h"
#include "oauth/grants.h"
#include "oauth/id_token.h"

static mdt_rc user_active(mdt_env *env, mdt_req *req, const char *username, mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc = mdt_store_user_get(env->store, username, req->arena, &u, err);

    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(u.status, "active")))
        return mdt_fail(err, MDT_ERR_INVALID_GRANT, "the user is no longer active");
    return rc;
}

/* The jti of a single-use token, recorded before the token exists. */
static mdt_rc single_use(mdt_env *env, mdt_req *req, mdt_grant *g, mdt_err *err)
{
    char jti[32];

    if (!env->cfg.ciba_single_use_tokens)
        return MDT_OK;
    if (mdt_random_b64url(&env->rng, MDT_JTI_BYTES, jti) != MDT_OK)
        return mdt_fail(err, MDT_ERR_CRYPTO, "cannot generate a token id");
    if (!(g->jti = mdt_arena_strdup(req->arena, jti)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return mdt_store_single_use_add(env->store, g->jti, g->exp, err);
}

/* The checks of an approved request that need no write: its person, the
 * client's entitlements, the audience. */
static mdt_rc ready(mdt_env *env, mdt_req *req, const mdt_client *c, const mdt_request_rec *r,
                    mdt_grant *g, mdt_err *err)
{
    mdt_client view;
    mdt_rc rc;

    if ((rc = user_active(env, req, r->subject, err)) != MDT_OK ||
        (rc = mdt_scope_still_entitled(env, req->arena, c, r->scope, err)) != MDT_OK ||
        (rc = mdt_consented_client(env, req->arena, c, NULL, r->resource, &view, err)) != MDT_OK)
        return rc;
    return mdt_resource_select(req->arena, &view, env->cfg.issuer, r->resource, &g->aud, &g->naud,
                               err);
}

/* The decision of the PDP (mdt_scope_policy) on the request this poll
 * would redeem, read without recording the poll (mdt_ciba_peek): a request
 * asked again once an external PDP answered finds it as it was. One a poll
 * would not redeem now is not judged. *scope: the scope the tokens get
 * (fewer when the PDP dropped some); NULL when not judged. */
static mdt_rc ciba_policy(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                          const char **scope, mdt_grant_result *out, mdt_err *err)
{
    mdt_grant g = {0};
    mdt_request_rec r;
    mdt_err ignored;
    mdt_rc rc;

    *scope = NULL;
    if (!mdt_scope_policy_on(env))
        return MDT_OK;
    rc = mdt_ciba_peek(env, mdt_req_form(req, "auth_req_id"), who->client.client_id, req->now,
                       req->arena, &r, err);
    if (rc != MDT_OK)
        return rc == MDT_ERR_NOT_FOUND ? MDT_OK : rc;
    if (ready(env, req, &who->client, &r, &g, &ignored) != MDT_OK)
        return MDT_OK;
    *scope = r.scope;
    return mdt_scope_policy(env, req, who,
                            &(mdt_policy_ask){.user = r.subject, .aud = g.aud, .naud = g.naud},
                            scope, out, err);
}

mdt_rc mdt_grant_ciba(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                      mdt_grant_result *out, mdt_err *err)
{
    const mdt_client *c = &who->client;
    mdt_grant g = {.client = c, .auth_method = who->method};
    int64_t ttl = c->access_token_ttl ? c->access_token_ttl : env->cfg.access_token_ttl;
    mdt_request_rec r;
    const char *judged;
    mdt_rc rc;

    if ((rc = ciba_policy(env, req, who, &judged, out, err)) != MDT_OK ||
        (rc = mdt_ciba_poll(env, &req->ctx, mdt_req_form(req, "auth_req_id"), c->client_id,
                            req->arena, &r, err)) != MDT_OK ||
        (rc = ready(env, req, c, &r, &g, err)) != MDT_OK ||
        (rc = mdt_client_cert_binding(env, req, who, &g.cnf_x5t, err)) != MDT_OK)
        return rc;
    /* the same request was judged, unless it was approved since it was read
       (then it is redeemed already: refused rather than undecided) */
    if (mdt_scope_policy_on(env) && !judged)
        return mdt_fail(err, MDT_ERR_INVALID_GRANT, "the request changed while it was redeemed");
    g.sub = r.subject;
    g.scope = judged ? judged : r.scope;
    g.auth_time = r.decided_at; /* when the person approved, signed in */
    g.approval = r.id;
    g.authorization_details = r.authorization_details;
    mdt_token_times(&g, c, req->now, ttl, 0);
    if ((rc = single_use(env, req, &g, err)) != MDT_OK)
        return rc;
    out->scope = g.scope;
    out->subject = g.sub;
    out->approval = r.id;
    out->authorization_details = r.authorization_details;
    g.cnf_jkt = who->dpop_jkt; /* RFC 9449 §5: bound to the proof's key */
    if ((rc = mdt_token_mint(env, req->arena, &g, &out->token, err)) != MDT_OK)
        return rc;
    return mdt_id_token_beside(env, req->arena, req->now, g.scope,
                               (mdt_id_token_params){.client = c, .sub = g.sub,
                                                     .auth_time = g.auth_time,
                                                     .access_token = out->token.access_token},
                               &out->id_token, err);
}
