/* RFC 8628 §3.4, §3.5: the device polls with its device_code. Each poll is
 * recorded in one statement that also says whether it came too soon
 * (slow_down, and the interval grows by 5 seconds); the answer follows the
 * approval request the person's entry created: authorization_pending while
 * nobody entered the code or the request waits, access_denied once denied,
 * expired_token once the code or the request expired. An approved request
 * issues its tokens once: the device_code is redeemed in one conditional
 * statement, and a second redemption is invalid_grant. A device_code of
 * another client is unknown to this one. */
#include <string.h>

#include "iga/requests.h"
#include "oauth/device.h"
#include "oauth/grants.h"
#include "oauth/id_token.h"
#include "oauth/refresh.h"

static mdt_rc invalid(mdt_err *err, const char *detail)
{
    return mdt_failf(err, MDT_ERR_INVALID_GRANT, "the device_code is invalid", "%s", detail);
}

static mdt_rc pending(mdt_err *err, const char *detail)
{
    return mdt_failf(err, MDT_ERR_AUTHORIZATION_PENDING,
                     "the person has not approved the request yet", "%s", detail);
}

static mdt_rc expired(mdt_err *err, const char *detail)
{
    return mdt_failf(err, MDT_ERR_EXPIRED_TOKEN,
                     "the device_code has expired: start a new device authorization", "%s",
                     detail);
}

/* What a poll of an authorization that is still open answers; MDT_OK with
 * the approved request in *r. */
static mdt_rc poll_state(mdt_env *env, mdt_req *req, const mdt_device_rec *d, mdt_request_rec *r,
                         mdt_err *err)
{
    const char *status;
    mdt_rc rc;

    if (d->consumed_at)
        return invalid(err, "device_code already redeemed");
    if (d->expires_at <= req->now)
        return expired(err, "device_code expired");
    if (d->slow_down)
        return mdt_failf(err, MDT_ERR_SLOW_DOWN, "polling too fast: wait longer between requests",
                         "polled within %lld seconds", (long long)d->interval);
    if (!d->request_id)
        return pending(err, "the user code was not entered yet");
    if ((rc = mdt_store_request_get(env->store, d->request_id, req->arena, r, err)) != MDT_OK)
        return rc == MDT_ERR_NOT_FOUND ? invalid(err, "the approval request is gone") : rc;
    status = mdt_request_status(r, req->now);
    if (mdt_str_eq(status, "denied"))
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED, "the request was denied",
                         "request %s denied by %s", r->id, r->decided_by ? r->decided_by : "-");
    if (mdt_str_eq(status, "expired"))
        return expired(err, "the approval request expired undecided");
    if (!mdt_str_eq(status, "approved"))
        return pending(err, "the approval request is pending");
    return MDT_OK;
}

static mdt_rc user_active(mdt_env *env, mdt_req *req, const char *username, mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc = mdt_store_user_get(env->store, username, req->arena, &u, err);

    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(u.status, "active")))
        return invalid(err, "the user is no longer active");
    return rc;
}

/* The checks of an approved authorization that need no write: its person,
 * the client's entitlements, the audience. */
static mdt_rc ready(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                    const mdt_request_rec *r, mdt_grant *g, mdt_err *err)
{
    const mdt_client *c = &who->client;
    mdt_client view;
    mdt_rc rc;

    if ((rc = user_active(env, req, r->subject, err)) != MDT_OK ||
        (rc = mdt_scope_still_entitled(env, req->arena, c, r->scope, err)) != MDT_OK ||
        (rc = mdt_consented_client(env, req->arena, c, r->scope, r->resource, &view, err)) != MDT_OK)
        return rc;
    return mdt_resource_select(req->arena, &view, env->cfg.issuer, r->resource, &g->aud, &g->naud,
                               err);
}

/* The decision of the PDP (mdt_scope_policy) on the authorization this
 * poll would redeem, read without recording the poll: a request asked again
 * once an external PDP answered finds it as it was. One not ready (pending,
 * denied, expired, redeemed, or failing a check) is not judged: the poll
 * answers it as without a PDP. *scope: the scope the tokens get (fewer when
 * the PDP dropped some); NULL when not judged. */
static mdt_rc device_policy(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                            const uint8_t hash[MDT_HASH_LEN], const char **scope,
                            mdt_grant_result *out, mdt_err *err)
{
    mdt_grant g = {0};
    mdt_request_rec r;
    mdt_device_rec d;
    mdt_err ignored;
    mdt_rc rc;

    *scope = NULL;
    if (!mdt_scope_policy_on(env))
        return MDT_OK;
    rc = mdt_store_device_get(env->store, hash, who->client.client_id, req->arena, &d, err);
    if (rc != MDT_OK)
        return rc == MDT_ERR_NOT_FOUND ? MDT_OK : rc;
    d.slow_down = false; /* the poll tells */
    if (poll_state(env, req, &d, &r, &ignored) != MDT_OK ||
        ready(env, req, who, &r, &g, &ignored) != MDT_OK)
        return MDT_OK;
    *scope = r.scope ? r.scope : "";
    return mdt_scope_policy(env, req, who,
                            &(mdt_policy_ask){.user = r.subject, .aud = g.aud, .naud = g.naud},
                            scope, out, err);
}

/* A refresh token when the client registered the refresh_token grant and,
 * for OpenID Connect, offline_access was approved (OIDC Core §11). */
static mdt_rc issue_refresh(mdt_env *env, mdt_req *req, const mdt_grant *g, const char *resource,
                            mdt_grant_result *out, mdt_err *err)
{
    mdt_refresh_rec r = {.client_id = g->client->client_id, .subject = g->sub, .scope = g->scope,
                         .resource = resource ? resource : "", .amr = "", .sid = "",
                         .cnf_x5t = g->cnf_x5t ? g->cnf_x5t : "", .created_at = g->iat,
                         .cnf_jkt = mdt_refresh_dpop_jkt(g),
                         .access_jti = out->token.jti, .access_exp = g->exp};

    if (!mdt_client_has_grant(g->client, "refresh_token") ||
        (mdt_scope_has(g->scope, "openid") && !mdt_scope_has(g->scope, "offline_access")))
        return MDT_OK;
    r.expires_at = mdt_token_exp_clamp(g->client, req->now + env->cfg.refresh_token_ttl);
    return mdt_refresh_issue(env, req->arena, &r, &out->refresh_token, err);
}

mdt_rc mdt_grant_device_code(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                             mdt_grant_result *out, mdt_err *err)
{
    const mdt_client *c = &who->client;
    const char *code = mdt_req_form(req, "device_code");
    int64_t ttl = c->access_token_ttl ? c->access_token_ttl : env->cfg.access_token_ttl;
    mdt_grant g = {.client = c, .auth_method = who->method};
    uint8_t hash[MDT_HASH_LEN];
    mdt_request_rec r;
    mdt_device_rec d;
    const char *judged;
    mdt_rc rc;

    if (!code || !*code || strlen(code) > MDT_DEVICE_CODE_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "device_code is required");
    mdt_sha256(code, strlen(code), hash);
    if ((rc = device_policy(env, req, who, hash, &judged, out, err)) != MDT_OK)
        return rc;
    rc = mdt_store_device_poll(env->store, hash, c->client_id, req->now, req->arena, &d, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return invalid(err, "unknown device_code, or issued to another client");
    if (rc != MDT_OK || (rc = poll_state(env, req, &d, &r, err)) != MDT_OK)
        return rc;
    if ((rc = ready(env, req, who, &r, &g, err)) != MDT_OK ||
        (rc = mdt_client_cert_binding(env, req, who, &g.cnf_x5t, err)) != MDT_OK)
        return rc;
    if (mdt_scope_policy_on(env) && !judged) /* approved since it was read: never undecided */
        return pending(err, "approved while this poll ran: decided at the next poll");
    rc = mdt_store_device_consume(env->store, hash, c->client_id, req->now, req->arena, &d, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return invalid(err, "device_code redeemed meanwhile");
    if (rc != MDT_OK)
        return rc;
    g.sub = r.subject; /* RFC 9068 §2.2: the person who approved */
    g.scope = judged ? judged : r.scope ? r.scope : ""; /* what the PDP left of it */
    g.approval = r.id;
    mdt_token_times(&g, c, req->now, ttl, 0);
    out->approval = r.id; /* the token.issued event names it too */
    out->scope = g.scope;
    out->subject = r.subject;
    g.cnf_jkt = who->dpop_jkt; /* RFC 9449 §5: bound to the proof's key */
    if ((rc = mdt_token_mint(env, req->arena, &g, &out->token, err)) != MDT_OK ||
        (rc = mdt_id_token_beside(env, req->arena, req->now, g.scope,
                                  (mdt_id_token_params){.client = c, .sub = g.sub,
                                                        .access_token = out->token.access_token},
                                  &out->id_token, err)) != MDT_OK)
        return rc;
    return issue_refresh(env, req, &g, r.resource, out, err);
}
