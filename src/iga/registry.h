/* The protocol registries, descriptive half: one row per grant type and one
 * per client authentication method, with what every layer needs to know
 * about them and no code (data and pure decisions only).
 *
 * Who reads them:
 *   iga/client.c       client metadata validation (which grant_types and
 *                      token_endpoint_auth_method a client may register, and
 *                      the metadata each one requires);
 *   oauth/discovery.c  grant_types_supported, *_auth_methods_supported and
 *                      *_auth_signing_alg_values_supported;
 *   oauth/token.c      dispatch: it binds a handler to each grant id
 *                      (oauth/grants.h), and oauth/client_auth.c one to each
 *                      way a request presents client authentication.
 *
 * These rows live here, below oauth, because metadata validation (iga) must
 * read them and may not include protocol headers; the handlers stay in
 * oauth and are bound to the same ids. Adding a grant: one row here, one
 * handler file in oauth/ and its entry in oauth/token.c's handler table.
 * Adding a method: one row here and its function in oauth/client_auth.c.
 * tests/unit/test_registry.c fails while a row has no handler, or while a
 * registrable name is missing from the metadata error messages of
 * iga/client.c (static text, so that errors need no allocation). */
#ifndef MDT_IGA_REGISTRY_H
#define MDT_IGA_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/mdt.h"

/* ---------------------------------------------------------------------
 * Grants (RFC 6749 §4, RFC 7523 §2.1, RFC 8693)
 * --------------------------------------------------------------------- */

typedef enum {
    MDT_GRANT_ID_CLIENT_CREDENTIALS,
    MDT_GRANT_ID_TOKEN_EXCHANGE,
    MDT_GRANT_ID_JWT_BEARER,
    MDT_GRANT_ID_AUTHORIZATION_CODE,
    MDT_GRANT_ID_REFRESH_TOKEN,
    MDT_GRANT_ID_DEVICE_CODE,
    MDT_GRANT_ID_CIBA,
    MDT_GRANT_ID_COUNT
} mdt_grant_id;

#define MDT_GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define MDT_GRANT_DEVICE_CODE "urn:ietf:params:oauth:grant-type:device_code"
#define MDT_GRANT_CIBA "urn:openid:params:grant-type:ciba"
#define MDT_TOKEN_TYPE_API_KEY "urn:mandate:token-type:api-key"
#define MDT_TOKEN_TYPE_ACCESS_TOKEN "urn:ietf:params:oauth:token-type:access_token"
#define MDT_TOKEN_TYPE_ID_TOKEN "urn:ietf:params:oauth:token-type:id_token"
#define MDT_TOKEN_TYPE_JWT "urn:ietf:params:oauth:token-type:jwt"

/* A subject_token_type of a grant that dispatches on it (token exchange). */
typedef struct {
    const char *name;    /* subject_token_type */
    bool authenticates;  /* the subject token is the client's credential: it
                            authenticates the client in place of client
                            authentication */
    bool needs_grant;    /* the client must have registered the grant */
} mdt_subject_type_def;

typedef struct {
    mdt_grant_id id;
    const char *name;           /* grant_type */
    bool advertised;            /* listed in grant_types_supported */
    bool registrable;           /* client metadata grant_types may name it */
    bool needs_grant;           /* the client must have registered it (unless
                                   its subject types decide) */
    bool public_clients;        /* a public client (method none) may use it */
    /* token exchange: the grant dispatches on subject_token_type, and each
     * type decides authentication and the registration rule (needs_grant
     * above is then not read) */
    const mdt_subject_type_def *subject_types;
    size_t nsubject_types;
    /* client metadata rules (RFC 7591 §2.1) */
    const char *response_type;  /* the response type that goes with it, or NULL */
    const char *response_msg;   /* error when grant and response type disagree */
    bool needs_redirect_uris;
    const char *redirect_msg;   /* error when redirect_uris are missing */
    const char *goes_with;      /* other grants (space-separated), one of which it needs in
                                   grant_types, or NULL */
    const char *goes_with_msg;
} mdt_grant_def;

/* Every grant, in discovery order. */
const mdt_grant_def *mdt_grants(size_t *n);
/* The grant of that grant_type; NULL when unknown (or name NULL). */
const mdt_grant_def *mdt_grant_find(const char *name);
/* The subject token type of g named name; NULL when g takes none, or name
 * is NULL or unknown. */
const mdt_subject_type_def *mdt_grant_subject_find(const mdt_grant_def *g, const char *name);
/* Whether a client must have registered g to use it with that subject type
 * (st may be NULL). */
bool mdt_grant_needs_registration(const mdt_grant_def *g, const mdt_subject_type_def *st);

/* What the token endpoint decides before a grant runs, from the request's
 * grant_type and subject_token_type and the client's registered grant
 * types: *g (and *st for a grant that dispatches on its subject type).
 * Fails with invalid_request (grant_type or subject_token_type missing, or
 * an unsupported subject_token_type), unsupported_grant_type, or
 * unauthorized_client (the client did not register a grant it needs).
 * Pure. */
mdt_rc mdt_grant_decide(const char *grant_type, const char *subject_token_type,
                        const char *const *registered, size_t nregistered,
                        const mdt_grant_def **g, const mdt_subject_type_def **st,
                        mdt_err *err) MDT_WARN_UNUSED;

/* ---------------------------------------------------------------------
 * Client authentication methods (RFC 6749 §2.3, RFC 7523 §2.2, RFC 8705)
 * --------------------------------------------------------------------- */

/* How a request presents client authentication, in the order the token,
 * introspection, revocation and PAR endpoints recognise it: the first one
 * present wins. */
typedef enum {
    MDT_PRESENT_ASSERTION,   /* client_assertion or client_assertion_type */
    MDT_PRESENT_BASIC,       /* Authorization: Basic */
    MDT_PRESENT_POST,        /* client_secret in the body */
    MDT_PRESENT_CERTIFICATE, /* a client certificate (TLS or a trusted proxy's header) */
    MDT_PRESENT_CLIENT_ID,   /* client_id alone */
    MDT_PRESENT_COUNT
} mdt_presentation;

typedef struct {
    mdt_presentation id;
    const char *what;  /* for messages: what the request carries */
    bool exclusive;    /* two exclusive ones in one request: invalid_request */
} mdt_presentation_def;

/* What client metadata a method requires. */
typedef enum {
    MDT_METHOD_NEEDS_NOTHING,
    MDT_METHOD_NEEDS_KEYS,             /* jwks or jwks_uri */
    MDT_METHOD_NEEDS_KEYS_OR_WORKLOAD, /* jwks, jwks_uri or workload_identity */
    MDT_METHOD_NEEDS_TLS_SUBJECT,      /* exactly one tls_client_auth_* subject */
} mdt_method_needs;

typedef struct {
    const char *name;            /* token_endpoint_auth_method */
    mdt_presentation presented;  /* how a request authenticating with it looks */
    bool token_endpoint;         /* token_endpoint_auth_methods_supported */
    bool other_endpoints;        /* introspection_ and revocation_endpoint_auth_methods_supported */
    bool secret;                 /* Mandate generates a shared secret (a "secret" row) */
    bool public_client;          /* no credential: only grants open to public clients */
    mdt_method_needs needs;      /* metadata it requires */
    const char *needs_msg;       /* error when that metadata is missing */
    const char *creds;           /* the credential rows it authenticates with (iga/credentials.h):
                                    space-separated types; "" for none */
} mdt_auth_method_def;

/* Every method, in discovery order. */
const mdt_auth_method_def *mdt_auth_methods(size_t *n);
/* The method of that name; NULL when unknown (or name NULL). */
const mdt_auth_method_def *mdt_auth_method_find(const char *name);
/* Whether the method named name is authenticated by presentation p. */
bool mdt_auth_method_presented_as(const char *name, mdt_presentation p);
/* The presentations, in recognition order. */
const mdt_presentation_def *mdt_presentations(size_t *n);
/* Which presentation a request makes, given which ones it carries:
 * invalid_request when it carries two exclusive ones, the uniform
 * invalid_client when none. Pure. */
mdt_rc mdt_presentation_recognise(const bool present[MDT_PRESENT_COUNT], mdt_presentation *out,
                                  mdt_err *err) MDT_WARN_UNUSED;
/* The JWS algorithms of client assertions and of
 * token_endpoint_auth_signing_alg (asymmetric only), in discovery order. */
const char *const *mdt_auth_signing_algs(size_t *n);

#endif
