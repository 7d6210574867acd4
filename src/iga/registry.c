/* The protocol registries (iga/registry.h): grants and client
 * authentication methods, one row each. */
#include "iga/registry.h"

#include <string.h>

/* RFC 8693 subject token types. An API key is the client's own credential
 * and is open to every client; delegation (oauth/grant_delegation.c: a
 * person's access token of this server, or a trusted issuer's JWT) and
 * ID-JAGs (oauth/id_jag.c: an ID token or an access token of this server
 * naming a person) need the grant registered. */
static const mdt_subject_type_def exchange_subjects[] = {
    {.name = MDT_TOKEN_TYPE_API_KEY, .authenticates = true, .needs_grant = false},
    {.name = MDT_TOKEN_TYPE_ACCESS_TOKEN, .authenticates = false, .needs_grant = true},
    {.name = MDT_TOKEN_TYPE_JWT, .authenticates = false, .needs_grant = true},
    {.name = MDT_TOKEN_TYPE_ID_TOKEN, .authenticates = false, .needs_grant = true},
};

/* What the token endpoint accepts, in the order of grant_types_supported.
 * A row is here only when it works. */
static const mdt_grant_def grants[] = {
    {.id = MDT_GRANT_ID_CLIENT_CREDENTIALS, .name = "client_credentials", .advertised = true,
     .registrable = true, .needs_grant = true},
    /* API keys, delegation and ID-JAGs (oauth/grant_token_exchange.c): a client registers it
     * to delegate; the API key subject type is open to every client */
    {.id = MDT_GRANT_ID_TOKEN_EXCHANGE, .name = MDT_GRANT_TOKEN_EXCHANGE, .advertised = true,
     .registrable = true, .subject_types = exchange_subjects,
     .nsubject_types = MDT_ARRAY_LEN(exchange_subjects)},
    /* RFC 7523 §2.1 (oauth/grant_jwt_bearer.c) */
    {.id = MDT_GRANT_ID_JWT_BEARER, .name = "urn:ietf:params:oauth:grant-type:jwt-bearer",
     .advertised = true, .registrable = true, .needs_grant = true},
    /* RFC 6749 §4.1 with PKCE (oauth/authorize.c, oauth/grant_authorization_code.c): the
     * code's verifier proves possession, so a public client may redeem it */
    {.id = MDT_GRANT_ID_AUTHORIZATION_CODE, .name = "authorization_code", .advertised = true,
     .registrable = true, .needs_grant = true, .public_clients = true,
     .response_type = "code",
     .response_msg = "response_types [\"code\"] goes with the authorization_code grant",
     .needs_redirect_uris = true,
     .redirect_msg = "the authorization_code grant needs redirect_uris"},
    /* RFC 6749 §6 with rotation (oauth/grant_refresh.c): the refresh token was issued to
     * this client, and rotation detects a stolen one (RFC 9700 §4.14.2) */
    {.id = MDT_GRANT_ID_REFRESH_TOKEN, .name = "refresh_token", .advertised = true,
     .registrable = true, .needs_grant = true, .public_clients = true,
     .goes_with = "authorization_code " MDT_GRANT_DEVICE_CODE,
     .goes_with_msg = "the refresh_token grant goes with the authorization_code grant or the "
                      "device_code grant"},
    /* RFC 8628 (oauth/device.c, oauth/grant_device_code.c): a person approves the request
     * on /device; the device_code is consumed once, so a public client (a CLI) may poll */
    {.id = MDT_GRANT_ID_DEVICE_CODE, .name = MDT_GRANT_DEVICE_CODE, .advertised = true,
     .registrable = true, .needs_grant = true, .public_clients = true},
    /* OpenID CIBA Core 1.0, poll mode (oauth/bc_authorize.c, oauth/grant_ciba.c): the
     * person approves in /approvals; only a confidential client may ask (CIBA §7.1) */
    {.id = MDT_GRANT_ID_CIBA, .name = MDT_GRANT_CIBA, .advertised = true, .registrable = true,
     .needs_grant = true},
};

const mdt_grant_def *mdt_grants(size_t *n)
{
    *n = MDT_ARRAY_LEN(grants);
    return grants;
}

const mdt_grant_def *mdt_grant_find(const char *name)
{
    for (size_t i = 0; name && i < MDT_ARRAY_LEN(grants); i++)
        if (strcmp(grants[i].name, name) == 0)
            return &grants[i];
    return NULL;
}

const mdt_subject_type_def *mdt_grant_subject_find(const mdt_grant_def *g, const char *name)
{
    for (size_t i = 0; g && name && i < g->nsubject_types; i++)
        if (strcmp(g->subject_types[i].name, name) == 0)
            return &g->subject_types[i];
    return NULL;
}

bool mdt_grant_needs_registration(const mdt_grant_def *g, const mdt_subject_type_def *st)
{
    if (g->nsubject_types)
        return !st || st->needs_grant;
    return g->needs_grant;
}

static bool listed(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], s) == 0)
            return true;
    return false;
}

mdt_rc mdt_grant_decide(const char *grant_type, const char *subject_token_type,
                        const char *const *registered, size_t nregistered,
                        const mdt_grant_def **g, const mdt_subject_type_def **st, mdt_err *err)
{
    *st = NULL;
    if (!grant_type || !*grant_type)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "grant_type is required");
    if (!(*g = mdt_grant_find(grant_type)))
        return mdt_failf(err, MDT_ERR_UNSUPPORTED_GRANT_TYPE, "unsupported grant_type",
                         "grant_type '%.64s' unsupported", grant_type);
    if ((*g)->nsubject_types && !(*st = mdt_grant_subject_find(*g, subject_token_type)))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        subject_token_type ? "unsupported subject_token_type"
                                           : "subject_token_type is required");
    if (mdt_grant_needs_registration(*g, *st) && !listed(registered, nregistered, grant_type))
        return mdt_failf(err, MDT_ERR_UNAUTHORIZED_CLIENT,
                         "the client is not registered for this grant type",
                         "grant_type '%.64s' not registered", grant_type);
    return MDT_OK;
}

/* ------------------------------------------------------------------ */

static const mdt_presentation_def presentations[] = {
    {MDT_PRESENT_ASSERTION, "a client assertion", true},
    {MDT_PRESENT_BASIC, "Basic credentials", true},
    {MDT_PRESENT_POST, "client_secret", true},
    {MDT_PRESENT_CERTIFICATE, "a client certificate", false},
    {MDT_PRESENT_CLIENT_ID, "client_id alone", false},
};

/* In the order of token_endpoint_auth_methods_supported. */
static const mdt_auth_method_def methods[] = {
    {.name = "client_secret_basic", .presented = MDT_PRESENT_BASIC, .token_endpoint = true,
     .other_endpoints = true, .secret = true, .creds = "secret"},
    {.name = "client_secret_post", .presented = MDT_PRESENT_POST, .token_endpoint = true,
     .other_endpoints = true, .secret = true, .creds = "secret"},
    /* RFC 7523 §2.2, and workload identity (oauth/client_assertion.c) */
    {.name = "private_key_jwt", .presented = MDT_PRESENT_ASSERTION, .token_endpoint = true,
     .other_endpoints = true, .needs = MDT_METHOD_NEEDS_KEYS_OR_WORKLOAD,
     .needs_msg = "private_key_jwt needs jwks, jwks_uri or workload_identity",
     .creds = "jwk workload"},
    /* RFC 8705 §2.1 (oauth/client_mtls.c) */
    {.name = "tls_client_auth", .presented = MDT_PRESENT_CERTIFICATE, .token_endpoint = true,
     .other_endpoints = true, .needs = MDT_METHOD_NEEDS_TLS_SUBJECT,
     .needs_msg = "tls_client_auth needs exactly one of tls_client_auth_subject_dn, "
                  "tls_client_auth_san_dns, _san_uri, _san_ip, _san_email",
     .creds = "certificate"},
    /* RFC 8705 §2.2 */
    {.name = "self_signed_tls_client_auth", .presented = MDT_PRESENT_CERTIFICATE,
     .token_endpoint = true, .other_endpoints = true, .needs = MDT_METHOD_NEEDS_KEYS,
     .needs_msg = "self_signed_tls_client_auth needs jwks or jwks_uri", .creds = "jwk"},
    /* a public client (RFC 6749 §2.1): client_id alone, at the token endpoint only for the
     * grants open to public clients, and at /par and /revoke */
    {.name = "none", .presented = MDT_PRESENT_CLIENT_ID, .token_endpoint = true,
     .public_client = true, .creds = ""},
};

static const char *const signing_algs[] = {"ES256", "RS256", "PS256", "EdDSA", "Ed25519"};

const mdt_auth_method_def *mdt_auth_methods(size_t *n)
{
    *n = MDT_ARRAY_LEN(methods);
    return methods;
}

const mdt_auth_method_def *mdt_auth_method_find(const char *name)
{
    for (size_t i = 0; name && i < MDT_ARRAY_LEN(methods); i++)
        if (strcmp(methods[i].name, name) == 0)
            return &methods[i];
    return NULL;
}

bool mdt_auth_method_presented_as(const char *name, mdt_presentation p)
{
    const mdt_auth_method_def *m = mdt_auth_method_find(name);
    return m && m->presented == p;
}

const mdt_presentation_def *mdt_presentations(size_t *n)
{
    *n = MDT_ARRAY_LEN(presentations);
    return presentations;
}

mdt_rc mdt_presentation_recognise(const bool present[MDT_PRESENT_COUNT], mdt_presentation *out,
                                  mdt_err *err)
{
    size_t exclusive = 0;

    for (size_t i = 0; i < MDT_ARRAY_LEN(presentations); i++)
        exclusive += presentations[i].exclusive && present[presentations[i].id];
    if (exclusive > 1)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "use exactly one client authentication method");
    for (size_t i = 0; i < MDT_ARRAY_LEN(presentations); i++)
        if (present[presentations[i].id]) {
            *out = presentations[i].id;
            return MDT_OK;
        }
    return mdt_failf(err, MDT_ERR_INVALID_CLIENT, "client authentication failed",
                     "no client identified");
}

const char *const *mdt_auth_signing_algs(size_t *n)
{
    *n = MDT_ARRAY_LEN(signing_algs);
    return signing_algs;
}
