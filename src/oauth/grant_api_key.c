/* RFC 8693 token exchange of an API key (SPEC §3.2): a legacy caller holding
 * a long-lived key gets a short-lived access token for its client, without
 * sending a secret in every request.
 *
 *   grant_type=urn:ietf:params:oauth:grant-type:token-exchange
 *   subject_token=mdk_...&subject_token_type=urn:mandate:token-type:api-key
 *
 * The key is the client's credential: a wrong, unknown, revoked or expired
 * key, or a key of a client that is not usable, is a failed client
 * authentication (401 invalid_client, client.auth_failed). The token: sub =
 * client_id, app.auth = "api_key", lifetime [api_keys] token_ttl (or the
 * client's shorter access_token_ttl), never beyond the key or the client;
 * bound to the request's client certificate when the client registered
 * tls_client_certificate_bound_access_tokens (refused without one).
 * The exchange dispatches here on subject_token_type (grant_token_exchange.c);
 * the API key type is open to every client without registering the grant
 * (its row in iga/registry.h). */
#include <string.h>

#include "iga/apikey.h"
#include "oauth/grants.h"
#include "policy/risk.h"

/* The client authenticated by the request besides the key must be the key's. */
static mdt_rc same_client(mdt_env *env, mdt_req *req, const mdt_client_authn *by_key,
                          mdt_err *err)
{
    mdt_client_authn also = {0};
    const char *claimed = NULL;
    mdt_rc rc;

    /* a client certificate alone does not count: a TLS client may always present one */
    if (!mdt_client_auth_exclusive_presented(env, req))
        return MDT_OK;
    if ((rc = mdt_client_authenticate(env, req, &also, &claimed, err)) != MDT_OK)
        return rc;
    if (!mdt_str_eq(also.client.client_id, by_key->client.client_id))
        return mdt_client_auth_fail(err, "API key of %.64s presented by client %.64s",
                                    by_key->client.client_id, also.client.client_id);
    return MDT_OK;
}

mdt_rc mdt_client_auth_api_key(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                               const char **claimed_id, mdt_err *err)
{
    const char *key = mdt_req_form(req, "subject_token");
    const char *form_id = mdt_req_form(req, "client_id");
    mdt_rc rc;

    *claimed_id = form_id;
    if (!key || !*key)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "subject_token is required");
    rc = mdt_apikey_verify(env, key, req->now, req->arena, &out->client, &out->cred_id,
                           claimed_id, err);
    if (!*claimed_id)
        *claimed_id = form_id;
    if (rc == MDT_ERR_INVALID_CLIENT) /* a risk signal of the client named (policy/risk.h) */
        mdt_risk_note_auth_failure(env, *claimed_id, req->now);
    if (rc != MDT_OK)
        return rc;
    out->method = "api_key";
    if (form_id && !mdt_str_eq(form_id, out->client.client_id))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "client_id does not match the API key");
    return same_client(env, req, out, err);
}

/* RFC 8693 §2.1 parameters that an API key exchange does not take. */
static mdt_rc check_params(const mdt_req *req, mdt_err *err)
{
    const char *rtt = mdt_req_form(req, "requested_token_type");

    if (rtt && !mdt_str_eq(rtt, MDT_TOKEN_TYPE_ACCESS_TOKEN))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "requested_token_type must be urn:ietf:params:oauth:token-type:access_token");
    if (mdt_req_form(req, "actor_token") || mdt_req_form(req, "actor_token_type"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "an API key exchange takes no actor_token");
    if (mdt_req_form(req, "audience") && mdt_req_form(req, "resource"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "use resource or audience, not both");
    return MDT_OK;
}

static const mdt_cred_rec *cred_by_id(const mdt_client *c, const char *id)
{
    for (size_t i = 0; i < c->ncreds; i++)
        if (mdt_str_eq(c->creds[i].id, id))
            return &c->creds[i];
    return NULL;
}

/* iat and exp: never before the kill switch, never beyond the key or the client. */
static void lifetime(mdt_env *env, const mdt_client_authn *who, int64_t now, mdt_grant *g)
{
    const mdt_client *c = &who->client;
    const mdt_cred_rec *key = cred_by_id(c, who->cred_id);
    int64_t ttl = env->cfg.api_key_token_ttl;

    if (c->access_token_ttl && c->access_token_ttl < ttl)
        ttl = c->access_token_ttl;
    mdt_token_times(g, c, now, ttl, key ? key->expires_at : 0);
}

mdt_rc mdt_exchange_api_key(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                            mdt_grant_result *out, mdt_err *err)
{
    const mdt_client *c = &who->client;
    const char *resource = mdt_req_form(req, "resource");
    mdt_grant g = {.client = c, .sub = c->client_id, .auth_method = "api_key"};
    mdt_rc rc;

    if (!mdt_str_eq(who->method, "api_key")) /* token.c authenticates by the key first */
        return mdt_fail(err, MDT_ERR_INTERNAL, "API key exchange without the key's authentication");
    if (!resource)
        resource = mdt_req_form(req, "audience");
    if ((rc = check_params(req, err)) != MDT_OK ||
        (rc = mdt_scope_narrow_for(env, req->arena, c, mdt_req_form(req, "scope"), &g.scope, err)) ||
        (rc = mdt_resource_select(req->arena, c, env->cfg.issuer, resource, &g.aud, &g.naud,
                                  err)) ||
        (rc = mdt_client_cert_binding(env, req, who, &g.cnf_x5t, err)) ||
        (rc = mdt_scope_policy(env, req, who, &(mdt_policy_ask){.aud = g.aud, .naud = g.naud},
                               &g.scope, out, err)))
        return rc;
    lifetime(env, who, req->now, &g);
    out->scope = g.scope;
    out->issued_token_type = MDT_TOKEN_TYPE_ACCESS_TOKEN;
    g.cnf_jkt = who->dpop_jkt; /* RFC 9449 §5: bound to the proof's key */
    return mdt_token_mint(env, req->arena, &g, &out->token, err);
}
