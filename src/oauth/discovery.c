/* RFC 8414 and OpenID Connect Discovery metadata, JWKS and health.
 * Discovery advertises only what works. */
#include <stdio.h>
#include <string.h>

#include "iga/registry.h"
#include "keys/keyring.h"
#include "oauth/dpop.h"
#include "oauth/endpoints.h"
#include "store/store.h"

/* Grants, client authentication methods and assertion algorithms come from
 * the registries (iga/registry.h): a row is there only when it works, and
 * discovery advertises nothing else. */
/* The authorization endpoint (authorize.c). */
static const char *const response_types[] = {"code"};
static const char *const response_modes[] = {"query", "form_post"}; /* form_post: a page */
static const char *const pkce_methods[] = {"S256"};

/* OpenID Connect Discovery 1.0 §3 (id_token.c, userinfo.c). */
static const char *const oidc_scopes[] = {"openid", "profile", "email", "offline_access"};
static const char *const oidc_claims[] = {"iss", "sub", "aud", "exp", "iat", "auth_time",
                                          "nonce", "acr", "amr", "azp", "sid", "at_hash",
                                          "name", "email"};
static const char *const subject_types[] = {"public"};
static const char *const acr_values[] = {"urn:mandate:acr:pwd"};

static mdt_rc add_list(mdt_buf *b, const char *key, const char *const *items, size_t n)
{
    mdt_rc rc = mdt_buf_addf(b, ",\"%s\":[", key);

    for (size_t i = 0; i < n && rc == MDT_OK; i++)
        rc = mdt_buf_addf(b, "%s\"%s\"", i ? "," : "", items[i]);
    return rc == MDT_OK ? mdt_buf_adds(b, "]") : rc;
}

/* grant_types_supported: the advertised rows of the grant registry. */
static mdt_rc add_grants(mdt_buf *b)
{
    size_t n, k = 0;
    const mdt_grant_def *g = mdt_grants(&n);
    mdt_rc rc = mdt_buf_adds(b, ",\"grant_types_supported\":[");

    for (size_t i = 0; i < n && rc == MDT_OK; i++)
        if (g[i].advertised)
            rc = mdt_buf_addf(b, "%s\"%s\"", k++ ? "," : "", g[i].name);
    return rc == MDT_OK ? mdt_buf_adds(b, "]") : rc;
}

/* *_endpoint_auth_methods_supported: the methods of the registry that the
 * token endpoint (token) or the introspection and revocation endpoints take. */
static mdt_rc add_methods(mdt_buf *b, const char *key, bool token)
{
    size_t n, k = 0;
    const mdt_auth_method_def *m = mdt_auth_methods(&n);
    mdt_rc rc = mdt_buf_addf(b, ",\"%s\":[", key);

    for (size_t i = 0; i < n && rc == MDT_OK; i++)
        if (token ? m[i].token_endpoint : m[i].other_endpoints)
            rc = mdt_buf_addf(b, "%s\"%s\"", k++ ? "," : "", m[i].name);
    return rc == MDT_OK ? mdt_buf_adds(b, "]") : rc;
}

/* The methods and the assertion algorithms of each endpoint that
 * authenticates clients. */
static mdt_rc add_client_auth(mdt_buf *b)
{
    static const char *const endpoints[] = {"token", "introspection", "revocation"};
    size_t nalgs;
    const char *const *algs = mdt_auth_signing_algs(&nalgs);
    char key[64];
    mdt_rc rc = MDT_OK;

    for (size_t i = 0; i < MDT_ARRAY_LEN(endpoints) && rc == MDT_OK; i++) {
        snprintf(key, sizeof(key), "%s_endpoint_auth_methods_supported", endpoints[i]);
        rc = add_methods(b, key, i == 0);
    }
    for (size_t i = 0; i < MDT_ARRAY_LEN(endpoints) && rc == MDT_OK; i++) {
        snprintf(key, sizeof(key), "%s_endpoint_auth_signing_alg_values_supported", endpoints[i]);
        rc = add_list(b, key, algs, nalgs);
    }
    return rc;
}

/* The OpenID provider members: userinfo, ID token algorithm, scopes, claims. */
static mdt_rc oidc_metadata(const char *iss, const char *alg, mdt_buf *b)
{
    mdt_rc rc;

    if ((rc = mdt_buf_addf(b, ",\"userinfo_endpoint\":\"%s/userinfo\"", iss)) != MDT_OK ||
        /* RP-Initiated Logout 1.0 (web/login.c) */
        (rc = mdt_buf_addf(b, ",\"end_session_endpoint\":\"%s/logout\"", iss)) != MDT_OK ||
        (rc = add_list(b, "id_token_signing_alg_values_supported", &alg, 1)) != MDT_OK ||
        (rc = add_list(b, "subject_types_supported", subject_types,
                       MDT_ARRAY_LEN(subject_types))) != MDT_OK ||
        (rc = add_list(b, "scopes_supported", oidc_scopes, MDT_ARRAY_LEN(oidc_scopes))) != MDT_OK ||
        (rc = add_list(b, "claims_supported", oidc_claims, MDT_ARRAY_LEN(oidc_claims))) != MDT_OK)
        return rc;
    return add_list(b, "acr_values_supported", acr_values, MDT_ARRAY_LEN(acr_values));
}

static mdt_rc metadata(const char *iss, const char *alg, bool cimd, mdt_buf *b)
{
    mdt_rc rc;

    if ((rc = mdt_buf_adds(b, "{\"issuer\":")) != MDT_OK ||
        (rc = mdt_buf_add_json_str(b, iss)) != MDT_OK ||
        (rc = mdt_buf_addf(b,
                           ",\"token_endpoint\":\"%s/token\""
                           ",\"jwks_uri\":\"%s/jwks\""
                           ",\"introspection_endpoint\":\"%s/introspect\""
                           ",\"revocation_endpoint\":\"%s/revoke\""
                           ",\"registration_endpoint\":\"%s/register\""
                           ",\"authorization_endpoint\":\"%s/authorize\""
                           ",\"tls_client_certificate_bound_access_tokens\":true"
                           ",\"authorization_response_iss_parameter_supported\":true"
                           ",\"dpop_signing_alg_values_supported\":" MDT_DPOP_ALGS_JSON,
                           iss, iss, iss, iss, iss, iss)) != MDT_OK ||
        (rc = add_list(b, "response_types_supported", response_types,
                       MDT_ARRAY_LEN(response_types))) ||
        (rc = add_list(b, "response_modes_supported", response_modes,
                       MDT_ARRAY_LEN(response_modes))) ||
        (rc = add_list(b, "code_challenge_methods_supported", pkce_methods,
                       MDT_ARRAY_LEN(pkce_methods))) ||
        (rc = add_grants(b)) || (rc = add_client_auth(b)))
        return rc;
    /* pushed authorization requests (par.c); no server-wide requirement yet */
    if ((rc = mdt_buf_addf(b, ",\"pushed_authorization_request_endpoint\":\"%s/par\""
                              ",\"require_pushed_authorization_requests\":false", iss)))
        return rc;
    /* RFC 8628 §4 (device.c) */
    if ((rc = mdt_buf_addf(b, ",\"device_authorization_endpoint\":\"%s/device_authorization\"",
                           iss)))
        return rc;
    /* CIBA, poll mode only (bc_authorize.c, grant_ciba.c) */
    if ((rc = mdt_buf_addf(b, ",\"backchannel_authentication_endpoint\":\"%s/bc-authorize\""
                              ",\"backchannel_token_delivery_modes_supported\":[\"poll\"]"
                              ",\"backchannel_user_code_parameter_supported\":false", iss)))
        return rc;
    if ((rc = oidc_metadata(iss, alg, b)) != MDT_OK)
        return rc;
    /* client ID metadata documents (cimd.c): private_key_jwt with the URL as client_id */
    if (cimd && (rc = mdt_buf_adds(b, ",\"client_id_metadata_document_supported\":true")))
        return rc;
    return mdt_buf_adds(b, "}");
}

void mdt_handle_discovery(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    (void)req;
    resp->status = 200;
    resp->content_type = "application/json";
    if (metadata(env->cfg.issuer, env->cfg.signing_alg, env->cfg.cimd, &resp->body) != MDT_OK) {
        mdt_err err;
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_resp_error(resp, &err);
        return;
    }
    mdt_resp_header(resp, "Cache-Control", "public, max-age=300");
    mdt_resp_header(resp, "Access-Control-Allow-Origin", "*");
}

void mdt_handle_jwks(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_err err;

    resp->status = 200;
    resp->content_type = "application/jwk-set+json";
    if (mdt_keyring_jwks(env->keys, req->now, &resp->body, &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
        return;
    }
    mdt_resp_header(resp, "Cache-Control",
                    mdt_arena_printf(req->arena, "public, max-age=%lld",
                                     (long long)env->cfg.jwks_cache_ttl));
    mdt_resp_header(resp, "Access-Control-Allow-Origin", "*");
}

void mdt_handle_healthz(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    (void)env;
    (void)req;
    mdt_resp_json(resp, 200, "{\"status\":\"ok\"}", 15);
}

void mdt_handle_readyz(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_err err;

    if (mdt_store_ping(env->store, &err) != MDT_OK) {
        mdt_resp_json(resp, 503, "{\"status\":\"storage unavailable\"}", 32);
        return;
    }
    mdt_keyring_maybe_refresh(env->keys, req->now);
    if (!mdt_keyring_ready(env->keys, req->now)) {
        mdt_resp_json(resp, 503, "{\"status\":\"no signing key\"}", 27);
        return;
    }
    mdt_resp_json(resp, 200, "{\"status\":\"ready\"}", 18);
}
