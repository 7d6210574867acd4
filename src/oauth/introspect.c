/* RFC 7662. Callers authenticate as clients; a client may introspect the
 * tokens issued to it, and tokens whose audience names a resource an admin
 * made it the resource server of (introspection_for, SPEC §2.4). Being
 * entitled to request tokens for a resource (resources) is not enough.
 * Anything else, and every inactive token, is answered {"active":false}
 * (RFC 7662 §4), JWT and opaque alike. */
#include <string.h>

#include "oauth/client_auth.h"
#include "oauth/endpoints.h"
#include "oauth/refresh.h"
#include "oauth/tokens.h"
#include "store/store.h"

static bool may_see(const mdt_client *caller, json_t *claims)
{
    json_t *aud = json_object_get(claims, "aud");
    size_t i;
    json_t *v;

    if (mdt_str_eq(json_string_value(json_object_get(claims, "client_id")), caller->client_id))
        return true;
    if (json_is_string(aud))
        return mdt_client_introspects_for(caller, json_string_value(aud));
    json_array_foreach(aud, i, v)
        if (mdt_client_introspects_for(caller, json_string_value(v)))
            return true;
    return false;
}

/* The answer for an active token from the claims' own text: the members
 * this server adds, then the claims as they were signed or stored (valid
 * JSON: they were just parsed). False when the text is not there or the
 * claims name a member added here (never in tokens this server issues). */
static bool answer_text(mdt_resp *resp, const mdt_token_info *ti, bool dpop)
{
    const char *p = ti->claims_text;
    size_t n = ti->claims_len;
    bool ok;

    if (!p || n < 2 || p[0] != '{' || json_object_get(ti->claims, "active") ||
        json_object_get(ti->claims, "token_type"))
        return false;
    for (p++, n--; n && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'); p++, n--)
        ;
    mdt_buf_reset(&resp->body);
    ok = mdt_buf_adds(&resp->body, "{\"active\":true,\"token_type\":\"") == MDT_OK &&
         mdt_buf_adds(&resp->body, dpop ? "DPoP\"" : "Bearer\"") == MDT_OK &&
         (!n || *p == '}' || mdt_buf_add(&resp->body, ",", 1) == MDT_OK) &&
         mdt_buf_add(&resp->body, p, n) == MDT_OK;
    if (!ok) {
        mdt_buf_reset(&resp->body);
        return false;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    return true;
}

static void answer(mdt_resp *resp, const mdt_token_info *ti)
{
    json_t *claims = ti ? ti->claims : NULL;
    bool dpop;
    char *text;

    resp->no_store = true;
    if (!claims) {
        mdt_resp_json(resp, 200, "{\"active\":false}", 16);
        return;
    }
    /* RFC 9449 §6.2 */
    dpop = json_object_get(json_object_get(claims, "cnf"), "jkt") != NULL;
    if (answer_text(resp, ti, dpop))
        return;
    /* a copy: the claims may be shared with the cache of verified tokens */
    if ((claims = json_copy(claims))) {
        json_object_set_new(claims, "active", json_true());
        json_object_set_new(claims, "token_type", json_string(dpop ? "DPoP" : "Bearer"));
    }
    text = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
    json_decref(claims);
    if (!text) {
        mdt_err err;
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_resp_error(resp, &err);
        return;
    }
    mdt_resp_json(resp, 200, text, strlen(text));
    free(text);
}

/* A refresh token: active for the client it was issued to only. */
static void answer_refresh(mdt_env *env, mdt_req *req, mdt_resp *resp, const mdt_client *caller,
                           const char *token)
{
    mdt_refresh_rec r;
    mdt_err err = {0};
    mdt_rc rc = mdt_refresh_inspect(env, req->arena, token, req->now, &r, &err);
    const char *body;

    resp->no_store = true;
    if (rc != MDT_OK && rc != MDT_ERR_INVALID_TOKEN) {
        mdt_resp_error(resp, &err);
        return;
    }
    if (rc != MDT_OK || !mdt_str_eq(r.client_id, caller->client_id) ||
        !(body = mdt_refresh_introspection(req->arena, &r))) {
        mdt_resp_json(resp, 200, "{\"active\":false}", 16);
        return;
    }
    mdt_resp_json(resp, 200, body, strlen(body));
}

static void introspect(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_client_authn who = {0};
    mdt_token_info ti;
    const char *claimed = NULL, *token;
    mdt_err err = {0};
    mdt_rc rc;

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
        answer_refresh(env, req, resp, &who.client, token);
        return;
    }
    rc = mdt_token_inspect_cached(env, req->arena, token, req->now, &ti, NULL, &err);
    if (rc == MDT_OK && may_see(&who.client, ti.claims))
        rc = mdt_token_use_once(env, &ti, &err); /* [ciba] single_use_tokens */
    if (rc == MDT_OK && may_see(&who.client, ti.claims))
        answer(resp, &ti);
    else if (rc == MDT_OK || rc == MDT_ERR_INVALID_TOKEN)
        answer(resp, NULL);
    else
        mdt_resp_error(resp, &err);
    mdt_token_info_clear(&ti);
}

/* The caller's client, the token's revocation entry and the token's client
 * are read in one read scope (one snapshot, one transaction); a single-use
 * token's consumption, a write, ends it first. Every path of introspect()
 * returns here, so the scope ends before the answer leaves. */
void mdt_handle_introspect(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_store_read_begin(env->store);
    introspect(env, req, resp);
    mdt_store_read_end(env->store);
}
