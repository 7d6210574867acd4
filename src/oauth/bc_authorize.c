/* POST /bc-authorize: the backchannel authentication endpoint of OpenID
 * CIBA Core 1.0 (§7), poll mode. A confidential client, authenticated as
 * at /token and registered for the CIBA grant, names the person
 * (login_hint: a username, or id_token_hint: an ID token this server issued
 * to it), the scope (with openid), an optional binding_message and
 * authorization_details (RFC 9396), and a requested_expiry. The request
 * becomes an approval request of type "ciba" (iga/ciba.h) that the person
 * decides in /approvals; the client gets {auth_req_id, expires_in,
 * interval} and polls /token (grant_ciba.c). Errors as CIBA §13. Audited:
 * ciba.requested, ciba.refused, client.auth_failed. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "iga/ciba.h"
#include "oauth/authorization_details.h"
#include "oauth/endpoints.h"
#include "oauth/grants.h"
#include "oauth/id_token.h"

#define BINDING_MESSAGE_MAX 128 /* bytes: shown on the person's screen */
#define LOGIN_HINT_MAX 256

static void audit(mdt_req *req, mdt_resp *resp, const char *type, const char *decision,
                  const char *client_id, const char *subject, const char *reason)
{
    mdt_audit_event ev = {.type = type, .actor = client_id, .client_id = client_id,
                          .subject = subject, .decision = decision, .reason = reason};

    mdt_resp_audit(req, resp, &ev);
}

static void refuse(mdt_req *req, mdt_resp *resp, const char *client_id, const mdt_err *err)
{
    mdt_resp_error(resp, err);
    audit(req, resp, "ciba.refused", "deny", client_id, NULL,
          mdt_arena_printf(req->arena, "%s: %s", mdt_rc_name(err->rc), mdt_err_audit_text(err)));
}

/* CIBA §7.1: printable UTF-8 text, no control characters, bounded. */
static mdt_rc check_binding_message(const char *m, mdt_err *err)
{
    size_t n = strlen(m);
    json_t *utf8 = json_stringn(m, n); /* NULL unless valid UTF-8 */

    json_decref(utf8);
    if (n == 0 || n > BINDING_MESSAGE_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_BINDING_MESSAGE,
                        "binding_message must be 1 to 128 bytes");
    if (!utf8)
        return mdt_fail(err, MDT_ERR_INVALID_BINDING_MESSAGE, "binding_message must be UTF-8 text");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)m[i];
        if (c < 0x20 || c == 0x7f)
            return mdt_fail(err, MDT_ERR_INVALID_BINDING_MESSAGE,
                            "binding_message must be printable text");
    }
    return MDT_OK;
}

/* requested_expiry: a positive number of seconds, at most [ciba] max_expiry;
 * absent: [ciba] expiry. */
static mdt_rc read_expiry(mdt_env *env, const char *s, int64_t *out, mdt_err *err)
{
    int64_t v = 0;

    *out = env->cfg.ciba_expiry < env->cfg.ciba_max_expiry ? env->cfg.ciba_expiry
                                                           : env->cfg.ciba_max_expiry;
    if (!s)
        return MDT_OK;
    if (!*s || strlen(s) > 9)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "requested_expiry must be a positive integer");
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                            "requested_expiry must be a positive integer");
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > env->cfg.ciba_max_expiry)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "requested_expiry is beyond what this server allows");
    *out = v;
    return MDT_OK;
}

/* Exactly one hint (CIBA §7.1): the username it names. */
static mdt_rc read_hint(mdt_env *env, mdt_req *req, const mdt_client *c, const char **user,
                        mdt_err *err)
{
    const char *lh = mdt_req_form(req, "login_hint"), *ih = mdt_req_form(req, "id_token_hint");
    const char *aud = NULL;
    mdt_rc rc;

    if (mdt_req_form(req, "login_hint_token"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "login_hint_token is not supported");
    if (!lh == !ih)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "exactly one of login_hint and id_token_hint is required");
    if (lh) {
        if (!*lh || strlen(lh) > LOGIN_HINT_MAX)
            return mdt_fail(err, MDT_ERR_UNKNOWN_USER_ID, "unknown user");
        *user = lh;
        return MDT_OK;
    }
    if (strlen(ih) > MDT_ID_TOKEN_HINT_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "id_token_hint is too long");
    rc = mdt_id_token_hint_verify(env, req->now, req->arena, ih, &aud, user, err);
    if (rc != MDT_OK && !mdt_rc_is_server_fault(rc)) {
        char why[sizeof(err->detail)];
        snprintf(why, sizeof(why), "%s", mdt_err_text(err)); /* err is written below */
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "id_token_hint is not an ID token of ours",
                         "%s", why);
    }
    if (rc == MDT_OK && !mdt_str_eq(aud, c->client_id))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "id_token_hint was issued to another client");
    return rc;
}

/* CIBA §7.1: scope with openid, within what the client may be granted in a
 * flow where a person approves. */
static mdt_rc read_scope(mdt_env *env, mdt_req *req, const mdt_client *c, const char **scope,
                         mdt_err *err)
{
    const char *s = mdt_req_form(req, "scope");
    mdt_client view;
    mdt_rc rc;

    if (!s || !*s)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "scope is required");
    if (!mdt_scope_has(s, "openid"))
        return mdt_fail(err, MDT_ERR_INVALID_SCOPE, "scope must contain openid");
    if ((rc = mdt_consented_client(env, req->arena, c, s, NULL, &view, err)) != MDT_OK)
        return rc;
    return mdt_scope_narrow_for(env, req->arena, &view, s, scope, err);
}

static mdt_rc read_ask(mdt_env *env, mdt_req *req, const mdt_client *c, mdt_ciba_ask *ask,
                       mdt_err *err)
{
    const char *bm = mdt_req_form(req, "binding_message");
    const char *ad = mdt_req_form(req, "authorization_details");
    mdt_rc rc;

    memset(ask, 0, sizeof(*ask));
    ask->client_id = c->client_id;
    if (!mdt_client_has_grant(c, MDT_GRANT_CIBA))
        return mdt_fail(err, MDT_ERR_UNAUTHORIZED_CLIENT,
                        "the client is not registered for the CIBA grant");
    if (mdt_req_form(req, "request"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "signed authentication requests are not supported");
    if (mdt_req_form(req, "user_code"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "user_code is not supported");
    if ((rc = read_scope(env, req, c, &ask->scope, err)) != MDT_OK ||
        (rc = read_hint(env, req, c, &ask->subject, err)) != MDT_OK ||
        (rc = read_expiry(env, mdt_req_form(req, "requested_expiry"), &ask->expires_in, err)))
        return rc;
    if (bm && (rc = check_binding_message(bm, err)) != MDT_OK)
        return rc;
    ask->binding_message = bm;
    if (ad && (rc = mdt_authorization_details_check(ad, req->arena, &ask->authorization_details,
                                                    err)) != MDT_OK)
        return rc;
    return MDT_OK;
}

static void accepted(mdt_req *req, mdt_resp *resp, const mdt_ciba_ask *ask, const char *id,
                     int64_t interval)
{
    mdt_buf *b = &resp->body;

    resp->status = 200;
    resp->content_type = "application/json";
    if (mdt_buf_adds(b, "{\"auth_req_id\":") != MDT_OK || mdt_buf_add_json_str(b, id) != MDT_OK ||
        mdt_buf_addf(b, ",\"expires_in\":%lld,\"interval\":%lld}", (long long)ask->expires_in,
                     (long long)interval) != MDT_OK) {
        mdt_err err;
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        refuse(req, resp, ask->client_id, &err);
        return;
    }
    audit(req, resp, "ciba.requested", "allow", ask->client_id, ask->subject, NULL);
}

void mdt_handle_bc_authorize(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_client_authn who = {0};
    mdt_ciba_ask ask;
    const char *claimed = NULL, *id = NULL;
    int64_t interval = 0;
    mdt_err err = {0};

    resp->no_store = true;
    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        refuse(req, resp, NULL, &err);
        return;
    }
    if (mdt_client_authenticate(env, req, &who, &claimed, &err) != MDT_OK) {
        mdt_client_auth_refuse(req, resp, claimed, &err);
        return;
    }
    resp->client_id = who.client.client_id;
    if (read_ask(env, req, &who.client, &ask, &err) != MDT_OK ||
        mdt_ciba_start(env, &req->ctx, &ask, req->arena, &id, &interval, &err) != MDT_OK) {
        refuse(req, resp, who.client.client_id, &err);
        return;
    }
    accepted(req, resp, &ask, id, interval);
}
