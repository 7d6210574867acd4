/* Who may call the admin API: the holder of an access token this server
 * issued (JWT or opaque), checked the way introspection checks it
 * (mdt_token_inspect: signature, issuer, expiry, revocation, delegation
 * chains, the client's kill switch), bound tokens only with their key
 * (RFC 8705, as /userinfo), carrying scope mandate:admin; and when the
 * token is a person's (sub is not the client), that person must exist, be
 * active and hold role admin at this moment, so that taking the role away
 * ends their access at once. RFC 6750 §3 answers: 401 with
 * `WWW-Authenticate: Bearer` (error="invalid_token" when a token was
 * presented), 403 insufficient_scope otherwise. */
#include <string.h>

#include "admin/internal.h"
#include "core/words.h"
#include "oauth/binding.h"
#include "oauth/tokens.h"
#include "store/store.h"
#include "users/users.h"

static void challenge(mdt_resp *resp, int status, const char *header, const char *error,
                      const char *desc)
{
    resp->status = status;
    resp->content_type = "application/json";
    resp->no_store = true;
    mdt_buf_reset(&resp->body);
    if (mdt_buf_addf(&resp->body, "{\"error\":\"%s\",\"error_description\":", error) != MDT_OK ||
        mdt_buf_add_json_str(&resp->body, desc) != MDT_OK ||
        mdt_buf_adds(&resp->body, "}") != MDT_OK)
        mdt_buf_reset(&resp->body);
    mdt_resp_header(resp, "WWW-Authenticate", header);
}

static void unauthorized(mdt_resp *resp, bool presented)
{
    if (presented)
        challenge(resp, 401, "Bearer realm=\"mandate\", error=\"invalid_token\"", "invalid_token",
                  "the access token is not active");
    else
        challenge(resp, 401, "Bearer realm=\"mandate\"", "invalid_token",
                  "a Bearer access token with scope " MDT_ADMIN_SCOPE " is required");
}

/* A refusal of a token that is active: audited, since someone holding a
 * real token tried the admin API. */
static void forbidden(mdt_req *req, mdt_resp *resp, const char *client_id, const char *sub,
                      const char *why)
{
    mdt_audit_event ev = {.type = "admin.refused", .actor = sub ? sub : client_id,
                          .client_id = client_id, .subject = sub, .decision = "deny",
                          .reason = why};

    challenge(resp, 403,
              "Bearer realm=\"mandate\", error=\"insufficient_scope\", scope=\"" MDT_ADMIN_SCOPE
              "\"",
              "insufficient_scope", why);
    mdt_resp_audit(req, resp, &ev);
}

/* The person a token acts for may administer now. */
static mdt_rc person_is_admin(mdt_env *env, mdt_req *req, const char *sub, bool *yes, mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc = mdt_store_user_get(env->store, sub, req->arena, &u, err);

    *yes = false;
    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        return MDT_OK;
    }
    if (rc == MDT_OK)
        *yes = mdt_str_eq(u.status, "active") && mdt_user_has_role(u.roles, "admin");
    return rc;
}

bool mdt_admin__authorize(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_admin_caller *out)
{
    const char *tok = mdt_req_access_token(req), *scope, *sub;
    mdt_token_info ti = {0};
    mdt_err err = {0};
    bool ok = false, admin = false;
    mdt_rc rc;

    if (!tok) {
        unauthorized(resp, mdt_req_header(req, "Authorization") != NULL);
        return false;
    }
    rc = mdt_bearer_token_check(env, req, tok, &ti, &err);
    if (mdt_token_unusable(rc)) { /* RFC 6750 §3, RFC 9449 §7.1 */
        mdt_token_unauthorized(env, req, resp, rc, "mandate",
                               rc == MDT_ERR_INVALID_TOKEN ? "the access token is not active"
                                                           : err.msg);
        goto out;
    }
    if (rc != MDT_OK) {
        mdt_resp_error(resp, &err);
        goto out;
    }
    out->client_id = mdt_arena_strdup(req->arena, ti.client_id);
    scope = json_string_value(json_object_get(ti.claims, "scope"));
    sub = json_string_value(json_object_get(ti.claims, "sub"));
    resp->client_id = out->client_id;
    out->username = sub && !mdt_str_eq(sub, ti.client_id) ? mdt_arena_strdup(req->arena, sub)
                                                         : NULL;
    if (!out->client_id || (sub && !out->username && !mdt_str_eq(sub, ti.client_id))) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_resp_error(resp, &err);
        goto out;
    }
    if (!mdt_words_has(scope, MDT_ADMIN_SCOPE)) {
        forbidden(req, resp, out->client_id, out->username,
                  "the access token lacks the scope " MDT_ADMIN_SCOPE);
        goto out;
    }
    if (out->username && (rc = person_is_admin(env, req, out->username, &admin, &err)) != MDT_OK) {
        mdt_resp_error(resp, &err);
        goto out;
    }
    if (out->username && !admin) {
        forbidden(req, resp, out->client_id, out->username,
                  "the token's user is not an active user with role admin");
        goto out;
    }
    out->actor = out->username ? out->username
                               : mdt_arena_printf(req->arena, "client:%s", out->client_id);
    ok = out->actor != NULL;
    if (!ok) {
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_resp_error(resp, &err);
    }
out:
    mdt_token_info_clear(&ti);
    return ok;
}
