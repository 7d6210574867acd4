#include "oauth/client_auth.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/b64.h"
#include "msg/client_cert.h"
#include "oauth/cimd.h"
#include "policy/risk.h"

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

static bool presents_assertion(mdt_env *env, mdt_req *req)
{
    (void)env;
    return mdt_req_form(req, "client_assertion") || mdt_req_form(req, "client_assertion_type");
}

static bool presents_basic(mdt_env *env, mdt_req *req)
{
    const char *hdr = mdt_req_header(req, "Authorization");

    (void)env;
    return hdr && strncasecmp(hdr, "Basic ", 6) == 0;
}

static bool presents_post(mdt_env *env, mdt_req *req)
{
    (void)env;
    return mdt_req_form(req, "client_secret") != NULL;
}

static bool presents_certificate(mdt_env *env, mdt_req *req)
{
    return mdt_req_client_cert_present(env, req);
}

static bool presents_client_id(mdt_env *env, mdt_req *req)
{
    (void)env;
    return mdt_req_form(req, "client_id") != NULL;
}

/* Where a public client may present its client_id alone: what it does
 * there needs a secret it was given by this server, not a client secret.
 * /par (RFC 9126 §2); /token for the grants open to public clients
 * (iga/registry.h: the authorization code, whose PKCE verifier proves
 * possession, and refresh tokens, issued to this client and rotated);
 * /revoke (RFC 7009 §2.1: only tokens issued to it); /device_authorization
 * (RFC 8628 §3.1: a person approves what the device asks for). */
static bool public_client_may(mdt_req *req)
{
    const mdt_grant_def *g = mdt_grant_find(mdt_req_form(req, "grant_type"));

    if (mdt_str_eq(req->path, "/par") || mdt_str_eq(req->path, "/revoke") ||
        mdt_str_eq(req->path, "/device_authorization"))
        return true;
    return mdt_str_eq(req->path, "/token") && g && g->public_clients;
}

/* A client ID metadata document of a public client (method "none"),
 * presenting its client_id alone where public_client_may says so: the
 * document is checked first, its row created or refreshed only then. */
static mdt_rc public_document(mdt_env *env, mdt_req *req, mdt_client_authn *out, const char *id,
                              mdt_err *err)
{
    mdt_cimd_doc doc;
    mdt_rc rc;

    if (!public_client_may(req))
        return mdt_client_auth_fail(err, "no client credentials presented");
    if ((rc = mdt_cimd_prepare(env, req, id, &doc, &out->client, err)) != MDT_OK)
        return rc;
    if (!mdt_auth_method_presented_as(out->client.auth_method, MDT_PRESENT_CLIENT_ID))
        return mdt_client_auth_fail(err, "no client credentials presented (client registered "
                                    "for %s)", out->client.auth_method);
    if ((rc = mdt_cimd_register(env, req, id, &doc, &out->client, err)) != MDT_OK)
        return rc;
    out->method = out->client.auth_method;
    return MDT_OK;
}

/* A public client (RFC 6749 §2.1): client_id only, registered with method
 * "none", where public_client_may says so. */
static mdt_rc by_none(mdt_env *env, mdt_req *req, mdt_client_authn *out, const char **claimed_id,
                      mdt_err *err)
{
    const char *id = *claimed_id;
    mdt_rc rc;

    if (mdt_cimd_is_url(env, id))
        return public_document(env, req, out, id, err);
    rc = mdt_client_load(env, id, req->now, req->arena, &out->client, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_client_auth_fail(err, "unknown client");
    if (rc != MDT_OK)
        return rc;
    if (!mdt_auth_method_presented_as(out->client.auth_method, MDT_PRESENT_CLIENT_ID))
        return mdt_client_auth_fail(err, "no client credentials presented (client registered "
                                    "for %s)", out->client.auth_method);
    if (!public_client_may(req))
        return mdt_client_auth_fail(err, "a public client may only push authorization requests, "
                                    "redeem codes and use or revoke its refresh tokens");
    out->method = out->client.auth_method;
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
    rc = mdt_client_load(env, id, req->now, req->arena, &out->client, err);
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
static mdt_rc by_certificate(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                             const char **claimed_id, mdt_err *err)
{
    const char *id = *claimed_id;
    mdt_cimd_doc doc;
    mdt_rc rc;

    if (!mdt_cimd_is_url(env, id))
        return mdt_client_auth_certificate(env, req, id, out, err);
    if ((rc = mdt_cimd_prepare(env, req, id, &doc, &out->client, err)) != MDT_OK ||
        (rc = mdt_client_auth_certificate_as(env, req, out, err)) != MDT_OK)
        return rc;
    return mdt_cimd_register(env, req, id, &doc, &out->client, err);
}

static mdt_rc by_basic(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                       const char **claimed_id, mdt_err *err)
{
    return by_secret(env, req, "client_secret_basic", out, claimed_id, err);
}

static mdt_rc by_post(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                      const char **claimed_id, mdt_err *err)
{
    return by_secret(env, req, "client_secret_post", out, claimed_id, err);
}

/* The ways a request presents client authentication (iga/registry.h lists
 * them in recognition order, with which ones exclude each other, and which
 * registered methods each serves): how to see one, and the function that
 * authenticates by it. */
typedef struct {
    bool (*present)(mdt_env *env, mdt_req *req);
    mdt_client_authn_fn authenticate;
} presentation_handler;

static const presentation_handler presentations[MDT_PRESENT_COUNT] = {
    [MDT_PRESENT_ASSERTION] = {presents_assertion, mdt_client_auth_assertion},
    [MDT_PRESENT_BASIC] = {presents_basic, by_basic},
    [MDT_PRESENT_POST] = {presents_post, by_post},
    [MDT_PRESENT_CERTIFICATE] = {presents_certificate, by_certificate},
    [MDT_PRESENT_CLIENT_ID] = {presents_client_id, by_none},
};

/* Which presentations req carries. A non-exclusive one is looked at only
 * while nothing before it was found (the first one present wins). */
static void presented(mdt_env *env, mdt_req *req, bool present[MDT_PRESENT_COUNT])
{
    size_t n;
    const mdt_presentation_def *defs = mdt_presentations(&n);
    bool found = false;

    for (size_t i = 0; i < n; i++) {
        mdt_presentation p = defs[i].id;
        present[p] = (defs[i].exclusive || !found) && presentations[p].present(env, req);
        found = found || present[p];
    }
}

bool mdt_client_auth_exclusive_presented(mdt_env *env, mdt_req *req)
{
    size_t n;
    const mdt_presentation_def *defs = mdt_presentations(&n);

    for (size_t i = 0; i < n; i++)
        if (defs[i].exclusive && presentations[defs[i].id].present(env, req))
            return true;
    return false;
}

mdt_rc mdt_client_authenticate(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                               const char **claimed_id, mdt_err *err)
{
    bool present[MDT_PRESENT_COUNT] = {0};
    mdt_presentation p;
    mdt_rc rc;

    *claimed_id = mdt_req_form(req, "client_id");
    presented(env, req, present);
    if ((rc = mdt_presentation_recognise(present, &p, err)) != MDT_OK)
        return rc;
    rc = presentations[p].authenticate(env, req, out, claimed_id, err);
    if (rc == MDT_OK && !mdt_client_usable(&out->client, req->now))
        rc = mdt_client_auth_fail(err, "client is %s",
                                  mdt_str_eq(out->client.status, "active") ? "expired"
                                                                           : out->client.status);
    if (rc == MDT_ERR_INVALID_CLIENT) /* a risk signal of the client named (policy/risk.h) */
        mdt_risk_note_auth_failure(env, *claimed_id, req->now);
    return rc;
}

mdt_audit_event mdt_client_auth_failed_event(mdt_req *req, const char *claimed_id,
                                             const mdt_err *err)
{
    return (mdt_audit_event){
        .type = "client.auth_failed",
        .actor = claimed_id,
        .client_id = claimed_id,
        .decision = "deny",
        .reason =
            mdt_arena_printf(req->arena, "%s: %s", mdt_rc_name(err->rc), mdt_err_audit_text(err)),
        .data = mdt_arena_printf(req->arena, "{\"endpoint\":\"%s\"}", req->path),
    };
}

void mdt_client_auth_refuse(mdt_req *req, mdt_resp *resp, const char *claimed_id,
                            const mdt_err *err)
{
    mdt_audit_event ev = mdt_client_auth_failed_event(req, claimed_id, err);

    mdt_resp_error(resp, err);
    mdt_resp_audit(req, resp, &ev);
}

mdt_rc mdt_client_authn_consume(mdt_env *env, mdt_req *req, mdt_client_authn *who, mdt_err *err)
{
    mdt_rc rc = mdt_store_jti_use_pending(env->store, &who->jti_use, req->now, err);

    return rc == MDT_ERR_CONFLICT ? mdt_client_auth_fail(err, "replayed jti") : rc;
}
