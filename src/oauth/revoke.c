/* RFC 7009. A client revokes the tokens issued to it; for anything else
 * (unknown, foreign, already invalid tokens) the answer is 200 and nothing
 * changes, as §2.2 prescribes. */
#include <string.h>

#include "core/hash.h"
#include "oauth/client_auth.h"
#include "oauth/endpoints.h"
#include "oauth/refresh.h"
#include "oauth/tokens.h"
#include "store/store.h"

static void revoked(mdt_req *req, mdt_resp *resp, const mdt_client_authn *who,
                    const mdt_token_info *ti)
{
    mdt_audit_event ev = {
        .type = "token.revoked",
        .actor = who->client.client_id,
        .client_id = who->client.client_id,
        .decision = "allow",
        .data = mdt_arena_printf(req->arena, "{\"jti\":\"%s\",\"format\":\"%s\"}", ti->jti,
                                 ti->opaque ? "opaque" : "jwt"),
    };

    mdt_resp_audit(req, resp, &ev);
}

static mdt_rc revoke_token(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                           mdt_token_info *ti, bool *done, mdt_err *err)
{
    mdt_rc rc = mdt_token_inspect(env, req->arena, mdt_req_form(req, "token"), req->now, ti, err);

    *done = false;
    if (rc == MDT_ERR_INVALID_TOKEN)
        return MDT_OK; /* already inactive or not ours to judge: nothing to do */
    if (rc != MDT_OK)
        return rc;
    if (!mdt_str_eq(ti->client_id, who->client.client_id))
        return MDT_OK;
    if (ti->opaque)
        rc = mdt_store_token_revoke(env->store, ti->has_id ? ti->id : NULL, ti->hash, req->now,
                                    err);
    if (rc == MDT_ERR_NOT_FOUND)
        return MDT_OK;
    /* by jti for both formats: tokens delegated from it name it in their lineage */
    if (rc == MDT_OK)
        rc = mdt_store_jti_revoke(env->store, ti->jti, ti->client_id, ti->exp, req->now, err);
    *done = rc == MDT_OK;
    return rc;
}

/* RFC 7009 §2.1: revoking a refresh token revokes its whole family (and
 * the access tokens issued with it). Used, expired and foreign refresh
 * tokens change nothing. */
static mdt_rc revoke_refresh(mdt_env *env, mdt_req *req, mdt_resp *resp,
                             const mdt_client_authn *who, const char *token, mdt_err *err)
{
    uint8_t hash[MDT_HASH_LEN];
    mdt_refresh_rec r;
    mdt_rc rc;

    if (strlen(token) > MDT_REFRESH_MAX_LEN)
        return MDT_OK;
    mdt_sha256(token, strlen(token), hash);
    rc = mdt_store_refresh_get(env->store, hash, req->arena, &r, err);
    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(r.client_id, who->client.client_id)))
        return MDT_OK;
    if (rc != MDT_OK || (rc = mdt_store_refresh_revoke_family(env->store, r.family, req->now,
                                                             err)) != MDT_OK)
        return rc;
    mdt_audit_event ev = {
        .type = "token.revoked",
        .actor = who->client.client_id,
        .client_id = who->client.client_id,
        .subject = r.subject,
        .decision = "allow",
        .data =
            mdt_arena_printf(req->arena, "{\"family\":\"%s\",\"format\":\"refresh\"}", r.family),
    };

    mdt_resp_audit(req, resp, &ev);
    return MDT_OK;
}

void mdt_handle_revoke(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_client_authn who = {0};
    mdt_token_info ti = {0};
    const char *claimed = NULL, *token;
    mdt_err err = {0};
    bool done = false;

    resp->no_store = true;
    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
        return;
    }
    if (mdt_client_authenticate(env, req, &who, &claimed, &err) != MDT_OK) {
        mdt_client_auth_refuse(req, resp, claimed, &err);
        return;
    }
    resp->client_id = who.client.client_id;
    token = mdt_req_form(req, "token");
    if (!token || !*token) {
        mdt_fail(&err, MDT_ERR_INVALID_REQUEST, "token is required");
        mdt_resp_error(resp, &err);
        return;
    }
    if (mdt_refresh_token_like(token)) {
        if (revoke_refresh(env, req, resp, &who, token, &err) != MDT_OK)
            mdt_resp_error(resp, &err);
        else
            resp->status = 200;
    } else if (revoke_token(env, req, &who, &ti, &done, &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
    } else {
        resp->status = 200;
        if (done)
            revoked(req, resp, &who, &ti);
    }
    mdt_token_info_clear(&ti);
}
