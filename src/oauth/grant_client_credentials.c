/* RFC 6749 §4.4: the client acts for itself. */
#include "oauth/grants.h"

mdt_rc mdt_grant_client_credentials(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                                    mdt_grant_result *out, mdt_err *err)
{
    const mdt_client *c = &who->client;
    mdt_grant g = {.client = c, .sub = c->client_id, .auth_method = who->method};
    int64_t ttl = c->access_token_ttl ? c->access_token_ttl : env->cfg.access_token_ttl;
    mdt_rc rc;

    if ((rc = mdt_scope_narrow_for(env, req->arena, c, mdt_req_form(req, "scope"), &g.scope, err)) != MDT_OK ||
        (rc = mdt_resource_select(req->arena, c, env->cfg.issuer, mdt_req_form(req, "resource"),
                                  &g.aud, &g.naud, err)) != MDT_OK ||
        (rc = mdt_client_cert_binding(env, req, who, &g.cnf_x5t, err)) != MDT_OK ||
        (rc = mdt_scope_policy(env, req, who, &(mdt_policy_ask){.aud = g.aud, .naud = g.naud},
                               &g.scope, out, err)) != MDT_OK)
        return rc;
    mdt_token_times(&g, c, req->now, ttl, 0);
    out->scope = g.scope;
    g.cnf_jkt = who->dpop_jkt; /* RFC 9449 §5: bound to the proof's key */
    return mdt_token_mint(env, req->arena, &g, &out->token, err);
}
