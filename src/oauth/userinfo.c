/* OpenID Connect Core 1.0 §5.3 UserInfo, GET and POST, with an access token
 * of this server in the Authorization header (RFC 6750 §2.1) whose scope has
 * openid: sub always, name with profile, email with email. An unusable
 * token gets 401 with the RFC 6750 challenge; a token without openid 403
 * insufficient_scope. A certificate-bound token (cnf x5t#S256, RFC 8705 §3)
 * is accepted only with the certificate it is bound to, presented on the TLS
 * connection or forwarded by a trusted proxy; without it, or with another,
 * it is 401 invalid_token. A cnf this server does not check (any member but
 * x5t#S256 and jkt) is refused the same way. A DPoP-bound token (cnf jkt,
 * RFC 9449 §7) comes with the DPoP scheme and a proof of its key for this
 * request; as a Bearer token, or with a missing or bad proof, it is 401
 * with a DPoP challenge (oauth/binding.h). */
#include <string.h>

#include "oauth/binding.h"
#include "oauth/dpop.h"
#include "oauth/endpoints.h"
#include "oauth/id_token.h"
#include "oauth/tokens.h"
#include "store/store.h"

static void challenge(mdt_resp *resp, int status, const char *error, const char *desc)
{
    mdt_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    if (mdt_buf_addf(&resp->body, "{\"error\":\"%s\",\"error_description\":\"%s\"}", error,
                     desc) != MDT_OK)
        mdt_buf_reset(&resp->body);
    mdt_resp_header(resp, "WWW-Authenticate",
                    status == 403 ? "Bearer error=\"insufficient_scope\", scope=\"openid\""
                                  : "Bearer error=\"invalid_token\", DPoP algs=\"" MDT_DPOP_ALGS_TEXT "\"");
}

static mdt_rc claims(mdt_env *env, mdt_req *req, const char *sub, const char *scope,
                     mdt_buf *b, mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc = mdt_store_user_get(env->store, sub, req->arena, &u, err);

    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(u.status, "active")))
        return mdt_fail(err, MDT_ERR_INVALID_TOKEN, "the user is no longer active");
    if (rc != MDT_OK)
        return rc;
    if ((rc = mdt_buf_adds(b, "{\"sub\":")) != MDT_OK ||
        (rc = mdt_buf_add_json_str(b, u.username)) != MDT_OK)
        return rc;
    if (mdt_scope_has(scope, "profile") && *u.name &&
        ((rc = mdt_buf_adds(b, ",\"name\":")) != MDT_OK ||
         (rc = mdt_buf_add_json_str(b, u.name)) != MDT_OK))
        return rc;
    if (mdt_scope_has(scope, "email") && *u.email &&
        ((rc = mdt_buf_adds(b, ",\"email\":")) != MDT_OK ||
         (rc = mdt_buf_add_json_str(b, u.email)) != MDT_OK))
        return rc;
    return mdt_buf_adds(b, "}");
}

static void userinfo(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *tok = mdt_req_access_token(req), *scope, *sub;
    mdt_token_info ti = {0};
    mdt_err err = {0};
    mdt_rc rc;

    resp->no_store = true;
    if (!tok) {
        challenge(resp, 401, "invalid_token", "a Bearer access token is required");
        return;
    }
    rc = mdt_bearer_token_check(env, req, tok, &ti, &err);
    if (mdt_token_unusable(rc)) {
        mdt_token_unauthorized(env, req, resp, rc, NULL,
                               rc == MDT_ERR_INVALID_TOKEN ? "the access token is not active"
                                                           : err.msg);
    } else if (rc != MDT_OK) {
        mdt_resp_error(resp, &err);
    } else {
        resp->client_id = mdt_arena_strdup(req->arena, ti.client_id); /* claims are freed below */
        scope = json_string_value(json_object_get(ti.claims, "scope"));
        sub = json_string_value(json_object_get(ti.claims, "sub"));
        if (!mdt_scope_has(scope, "openid") || !sub)
            challenge(resp, 403, "insufficient_scope", "the access token lacks the openid scope");
        else if ((rc = claims(env, req, sub, scope, &resp->body, &err)) == MDT_ERR_INVALID_TOKEN)
            challenge(resp, 401, "invalid_token", "the access token is not active");
        else if (rc != MDT_OK)
            mdt_resp_error(resp, &err);
        else {
            resp->status = 200;
            resp->content_type = "application/json";
        }
    }
    mdt_token_info_clear(&ti);
}

/* The token's checks and the person's claims read one snapshot (store.h,
 * read scopes); every path of userinfo() returns here. */
void mdt_handle_userinfo(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_store_read_begin(env->store);
    userinfo(env, req, resp);
    mdt_store_read_end(env->store);
}
