/* RFC 8414 and OpenID Connect Discovery metadata, JWKS and health.
 * Discovery advertises only what works. */
#include <stdio.h>
#include <string.h>

#include "keys/keyring.h"
#include "oauth/endpoints.h"
#include "store/store.h"

/* What the token endpoint accepts. A row is here only when it works:
 * discovery advertises nothing else. */
static const char *const grant_types[] = {
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:token-exchange", /* API keys (grant_api_key.c) */
    "urn:ietf:params:oauth:grant-type:jwt-bearer",     /* RFC 7523 §2.1 (grant_jwt_bearer.c) */
    "authorization_code", /* RFC 6749 §4.1 with PKCE (authorize.c, grant_authorization_code.c) */
    "refresh_token",      /* RFC 6749 §6 with rotation (grant_refresh.c) */
};
static const char *const auth_methods[] = {
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",             /* RFC 7523 §2.2, and workload identity (client_assertion.c) */
    "tls_client_auth",             /* RFC 8705 §2.1 (client_mtls.c) */
    "self_signed_tls_client_auth", /* RFC 8705 §2.2 */
};
/* The token endpoint also takes public clients (client_id only, PKCE). */
static const char *const token_auth_methods[] = {
    "client_secret_basic", "client_secret_post", "private_key_jwt", "tls_client_auth",
    "self_signed_tls_client_auth", "none",
};
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

/* JWS algorithms of client assertions (private_key_jwt): asymmetric only. */
static const char *const auth_signing_algs[] = {"ES256", "RS256", "PS256", "EdDSA", "Ed25519"};

static mdt_rc add_list(mdt_buf *b, const char *key, const char *const *items, size_t n)
{
    mdt_rc rc = mdt_buf_addf(b, ",\"%s\":[", key);

    for (size_t i = 0; i < n && rc == MDT_OK; i++)
        rc = mdt_buf_addf(b, "%s\"%s\"", i ? "," : "", items[i]);
    return rc == MDT_OK ? mdt_buf_adds(b, "]") : rc;
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
                           ",\"authorization_response_iss_parameter_supported\":true",
                           iss, iss, iss, iss, iss, iss)) != MDT_OK ||
        (rc = add_list(b, "response_types_supported", response_types,
                       MDT_ARRAY_LEN(response_types))) ||
        (rc = add_list(b, "response_modes_supported", response_modes,
                       MDT_ARRAY_LEN(response_modes))) ||
        (rc = add_list(b, "code_challenge_methods_supported", pkce_methods,
                       MDT_ARRAY_LEN(pkce_methods))) ||
        (rc = add_list(b, "grant_types_supported", grant_types, MDT_ARRAY_LEN(grant_types))) ||
        (rc = add_list(b, "token_endpoint_auth_methods_supported", token_auth_methods,
                       MDT_ARRAY_LEN(token_auth_methods))) ||
        (rc = add_list(b, "introspection_endpoint_auth_methods_supported", auth_methods,
                       MDT_ARRAY_LEN(auth_methods))) ||
        (rc = add_list(b, "revocation_endpoint_auth_methods_supported", auth_methods,
                       MDT_ARRAY_LEN(auth_methods))) ||
        (rc = add_list(b, "token_endpoint_auth_signing_alg_values_supported", auth_signing_algs,
                       MDT_ARRAY_LEN(auth_signing_algs))) ||
        (rc = add_list(b, "introspection_endpoint_auth_signing_alg_values_supported",
                       auth_signing_algs, MDT_ARRAY_LEN(auth_signing_algs))) ||
        (rc = add_list(b, "revocation_endpoint_auth_signing_alg_values_supported",
                       auth_signing_algs, MDT_ARRAY_LEN(auth_signing_algs))))
        return rc;
    /* pushed authorization requests (par.c); no server-wide requirement yet */
    if ((rc = mdt_buf_addf(b, ",\"pushed_authorization_request_endpoint\":\"%s/par\""
                              ",\"require_pushed_authorization_requests\":false", iss)))
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
