#include "oauth/client_auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/b64.h"
#include "msg/client_cert.h"
#include "oauth/cimd.h"

mdt_rc mdt_client_auth_fail(mdt_err *err, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return MDT_ERR_INVALID_CLIENT;
    err->rc = MDT_ERR_INVALID_CLIENT;
    err->msg = "client authentication failed";
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    return MDT_ERR_INVALID_CLIENT;
}

/* Which method the request presents; NULL when none. */
static const char *presented(mdt_env *env, mdt_req *req, mdt_err *err)
{
    const char *hdr = mdt_req_header(req, "Authorization");
    bool basic = hdr && strncasecmp(hdr, "Basic ", 6) == 0;
    bool post = mdt_req_form(req, "client_secret") != NULL;
    bool assertion = mdt_req_form(req, "client_assertion") != NULL ||
                     mdt_req_form(req, "client_assertion_type") != NULL;

    if (basic + post + assertion > 1) {
        mdt_fail(err, MDT_ERR_INVALID_REQUEST, "use exactly one client authentication method");
        return NULL;
    }
    if (assertion)
        return "private_key_jwt";
    if (basic)
        return "client_secret_basic";
    if (post)
        return "client_secret_post";
    if (mdt_req_client_cert_present(env, req))
        return "tls_client_auth";
    if (mdt_req_form(req, "client_id"))
        return "none";
    mdt_client_auth_fail(err, "no client identified");
    return NULL;
}

/* Where a public client may present its client_id alone: what it does
 * there needs a secret it was given by this server, not a client secret.
 * /par (RFC 9126 §2); /token for the authorization code (the code's PKCE
 * verifier proves possession) and for refresh tokens (RFC 6749 §6: the
 * refresh token was issued to this client; rotation detects a stolen one,
 * RFC 9700 §4.14.2); /revoke (RFC 7009 §2.1: only tokens issued to it). */
static bool public_client_may(mdt_req *req)
{
    const char *grant = mdt_req_form(req, "grant_type");

    if (mdt_str_eq(req->path, "/par") || mdt_str_eq(req->path, "/revoke"))
        return true;
    return mdt_str_eq(req->path, "/token") &&
           (mdt_str_eq(grant, "authorization_code") || mdt_str_eq(grant, "refresh_token"));
}

/* A public client (RFC 6749 §2.1): client_id only, registered with method
 * "none", where public_client_may says so. */
static mdt_rc by_none(mdt_env *env, mdt_req *req, const char *id, mdt_client_authn *out,
                      mdt_err *err)
{
    mdt_rc rc;

    if (mdt_cimd_is_url(env, id))
        return mdt_client_auth_fail(err, "no client credentials presented");
    rc = mdt_client_load(env, id, req->arena, &out->client, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_client_auth_fail(err, "unknown client");
    if (rc != MDT_OK)
        return rc;
    if (!mdt_str_eq(out->client.auth_method, "none"))
        return mdt_client_auth_fail(err, "no client credentials presented (client registered "
                                    "for %s)", out->client.auth_method);
    if (!public_client_may(req))
        return mdt_client_auth_fail(err, "a public client may only push authorization requests, "
                                    "redeem codes and use or revoke its refresh tokens");
    out->method = "none";
    return MDT_OK;
}

static mdt_rc by_secret(mdt_env *env, mdt_req *req, const char *method, mdt_client_authn *out,
                        const char **claimed_id, mdt_err *err)
{
    const char *id = NULL, *secret = NULL;
    const char *form_id = mdt_req_form(req, "client_id");
    mdt_rc rc;

    if (mdt_str_eq(method, "client_secret_basic")) {
        if ((rc = mdt_basic_parse(req->arena, mdt_req_header(req, "Authorization"), &id,
                                  &secret, err)))
            return rc;
        if (form_id && strcmp(form_id, id) != 0)
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                            "client_id does not match the authenticated client");
    } else {
        id = form_id;
        secret = mdt_req_form(req, "client_secret");
        if (!id)
            return mdt_client_auth_fail(err, "client_secret without client_id");
    }
    *claimed_id = id;
    if (mdt_cimd_is_url(env, id)) /* a public document: never a secret */
        return mdt_client_auth_fail(err, "a client ID metadata document client has no secret");
    rc = mdt_client_load(env, id, req->arena, &out->client, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_client_auth_fail(err, "unknown client");
    if (rc != MDT_OK)
        return rc;
    if (!mdt_str_eq(out->client.auth_method, method))
        return mdt_client_auth_fail(err, "client registered for %s, used %s",
                                    out->client.auth_method, method);
    rc = mdt_client_verify_secret(env, &out->client, secret, strlen(secret), req->now, req->arena,
                                  &out->cred_id, err);
    if (rc == MDT_ERR_INVALID_CLIENT)
        return mdt_client_auth_fail(err, "wrong or expired secret");
    out->method = method;
    return rc;
}

/* A certificate for client_id, which may name a metadata document: then
 * the certificate is checked against the document, and the client row is
 * created or refreshed only once it matched. */
static mdt_rc by_certificate(mdt_env *env, mdt_req *req, const char *id, mdt_client_authn *out,
                             mdt_err *err)
{
    mdt_cimd_doc doc;
    mdt_rc rc;

    if (!mdt_cimd_is_url(env, id))
        return mdt_client_auth_certificate(env, req, id, out, err);
    if ((rc = mdt_cimd_prepare(env, req, id, &doc, &out->client, err)) != MDT_OK ||
        (rc = mdt_client_auth_certificate_as(env, req, out, err)) != MDT_OK)
        return rc;
    return mdt_cimd_register(env, req, id, &doc, &out->client, err);
}

mdt_rc mdt_client_authenticate(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                               const char **claimed_id, mdt_err *err)
{
    const char *method;
    mdt_rc rc;

    *claimed_id = mdt_req_form(req, "client_id");
    if (!(method = presented(env, req, err)))
        return err->rc;
    if (mdt_str_eq(method, "private_key_jwt"))
        rc = mdt_client_auth_assertion(env, req, out, claimed_id, err);
    else if (mdt_str_eq(method, "tls_client_auth"))
        rc = by_certificate(env, req, *claimed_id, out, err);
    else if (mdt_str_eq(method, "none"))
        rc = by_none(env, req, *claimed_id, out, err);
    else
        rc = by_secret(env, req, method, out, claimed_id, err);
    if (rc != MDT_OK)
        return rc;
    if (!mdt_client_usable(&out->client, req->now))
        return mdt_client_auth_fail(err, "client is %s",
                                    mdt_str_eq(out->client.status, "active") ? "expired"
                                                                             : out->client.status);
    return MDT_OK;
}

void mdt_client_auth_refuse(mdt_req *req, mdt_resp *resp, const char *claimed_id,
                            const mdt_err *err)
{
    mdt_resp_error(resp, err);
    resp->has_audit = true;
    resp->audit.type = "client.auth_failed";
    resp->audit.actor = claimed_id;
    resp->audit.client_id = claimed_id;
    resp->audit.decision = "deny";
    resp->audit.reason = mdt_arena_printf(req->arena, "%s: %s", mdt_rc_name(err->rc),
                                          mdt_err_audit_text(err));
    resp->audit.data = mdt_arena_printf(req->arena, "{\"endpoint\":\"%s\"}", req->path);
}
