#include "oauth/client_auth.h"

#include <string.h>
#include <strings.h>

#include "core/b64.h"

#define MAX_BASIC_LEN 1024

/* RFC 6749 §2.3.1: base64(urlencode(id) ":" urlencode(secret)) */
static mdt_rc parse_basic(mdt_req *req, const char *hdr, const char **id, const char **secret,
                          mdt_err *err)
{
    const char *p = hdr + 6;
    size_t n, outlen = 0;
    uint8_t *raw;
    const char *colon;

    while (*p == ' ')
        p++;
    n = strlen(p);
    if (n == 0 || n > MAX_BASIC_LEN || !(raw = mdt_arena_alloc(req->arena, n)))
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT, "client authentication failed");
    if (mdt_b64_decode(p, n, raw, n, &outlen) != MDT_OK)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         "malformed Basic credentials");
    colon = memchr(raw, ':', outlen);
    if (!colon)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         "Basic credentials without ':'");
    *id = mdt_url_decode(req->arena, (const char *)raw, (size_t)(colon - (const char *)raw));
    *secret = mdt_url_decode(req->arena, colon + 1, outlen - (size_t)(colon + 1 - (const char *)raw));
    mdt_wipe(raw, outlen);
    if (!*id || !*secret || !**id)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         "malformed Basic credentials");
    return MDT_OK;
}

static mdt_rc presented(mdt_req *req, const char **id, const char **secret, const char **method,
                        mdt_err *err)
{
    const char *hdr = mdt_req_header(req, "Authorization");
    const char *form_id = mdt_req_form(req, "client_id");
    const char *form_secret = mdt_req_form(req, "client_secret");
    mdt_rc rc;

    if (hdr && strncasecmp(hdr, "Basic ", 6) == 0) {
        if (form_secret)
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                            "use exactly one client authentication method");
        if ((rc = parse_basic(req, hdr, id, secret, err)) != MDT_OK)
            return rc;
        if (form_id && strcmp(form_id, *id) != 0)
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                            "client_id does not match the authenticated client");
        *method = "client_secret_basic";
        return MDT_OK;
    }
    *id = form_id;
    if (!form_id || !form_secret)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                         form_id ? "no client credentials presented" : "no client identified");
    *secret = form_secret;
    *method = "client_secret_post";
    return MDT_OK;
}

mdt_rc mdt_client_authenticate(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                               const char **claimed_id, mdt_err *err)
{
    static const char *failed = "client authentication failed";
    const char *id = NULL, *secret = NULL, *method = NULL;
    mdt_rc rc;

    *claimed_id = NULL;
    rc = presented(req, &id, &secret, &method, err);
    *claimed_id = id;
    if (rc != MDT_OK)
        return rc;
    rc = mdt_client_load(env, id, req->arena, &out->client, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, failed, "unknown client");
    if (rc != MDT_OK)
        return rc;
    if (!mdt_str_eq(out->client.auth_method, method))
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, failed,
                         "client registered for %s, used %s", out->client.auth_method, method);
    rc = mdt_client_verify_secret(env, &out->client, secret, strlen(secret), req->now, req->arena,
                                  &out->cred_id, err);
    if (rc == MDT_ERR_INVALID_CLIENT)
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, failed, "wrong or expired secret");
    if (rc != MDT_OK)
        return rc;
    if (!mdt_client_usable(&out->client, req->now))
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT, failed, "client is %s",
                         mdt_str_eq(out->client.status, "active") ? "expired" : out->client.status);
    out->method = method;
    return MDT_OK;
}

void mdt_client_auth_refuse(mdt_req *req, mdt_resp *resp, const char *claimed_id,
                            const mdt_err *err)
{
    mdt_resp_error(resp, err);
    if (mdt_rc_is_server_fault(err->rc))
        return;
    resp->has_audit = true;
    resp->audit.type = "client.auth_failed";
    resp->audit.actor = claimed_id;
    resp->audit.client_id = claimed_id;
    resp->audit.decision = "deny";
    resp->audit.reason = mdt_arena_printf(req->arena, "%s: %s", mdt_rc_name(err->rc),
                                          mdt_err_text(err));
    resp->audit.data = mdt_arena_printf(req->arena, "{\"endpoint\":\"%s\"}", req->path);
}
