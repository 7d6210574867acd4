/* Grant types: one function per grant, each in its own file. */
#ifndef MDT_OAUTH_GRANTS_H
#define MDT_OAUTH_GRANTS_H

#include "iga/registry.h"
#include "oauth/client_auth.h"
#include "oauth/tokens.h"

typedef struct {
    const char *scope;     /* granted scope, for the response */
    mdt_issued token;
    const char *issued_token_type; /* RFC 8693 §2.2.1, token exchange only; NULL otherwise */
    const char *subject;   /* the token's sub when not the client (JWT bearer); NULL: the client */
    const char *refresh_token; /* oauth/refresh.h; NULL when none is issued */
    const char *id_token;      /* OpenID Connect (oauth/id_token.h); NULL when none */
    const char *audience;      /* an ID-JAG's aud, for the audit event; NULL otherwise */
    const char *audit;         /* JSON members (no braces) added to the data of the token's
                                  audit event, issued or refused; NULL when none */
    const char *approval;      /* the approval request behind the grant (audited); NULL */
    const char *authorization_details; /* RFC 9396 §7: JSON array text granted; NULL */
} mdt_grant_result;

typedef mdt_rc (*mdt_grant_fn)(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                               mdt_grant_result *out, mdt_err *err);

mdt_rc mdt_grant_client_credentials(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                                    mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;

/* RFC 6749 §4.1.3 with PKCE (grant_authorization_code.c): a code issued by
 * /authorize (oauth/authorize.h); sub is the user. */
mdt_rc mdt_grant_authorization_code(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                                    mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;

/* RFC 6749 §6 (grant_refresh.c): rotates the presented refresh token;
 * reuse of a rotated one revokes its family (oauth/refresh.h). */
mdt_rc mdt_grant_refresh_token(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                               mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;

/* RFC 8628 §3.4 (grant_device_code.c): polling with a device_code
 * (oauth/device.h); sub is the person who approved. */
mdt_rc mdt_grant_device_code(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                             mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;

/* The handler of each grant of the registry (iga/registry.h), bound in
 * token.c; NULL for an id without one. */
mdt_grant_fn mdt_grant_handler(mdt_grant_id id);

/* RFC 8693 token exchange (grant_token_exchange.c): dispatches on
 * subject_token_type through a table of subject types, whose descriptive
 * rows (which one authenticates the client, which one needs the grant
 * registered) are in iga/registry.h. mdt_grant_decide has checked the type
 * and the registration rule. */
mdt_rc mdt_grant_token_exchange(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                                mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;
/* The function that authenticates the client by the subject token, for a
 * subject type that authenticates; NULL otherwise. */
mdt_client_authn_fn mdt_token_exchange_authenticator(const mdt_subject_type_def *st);
/* Whether the exchange has a handler for st. */
bool mdt_token_exchange_handles(const mdt_subject_type_def *st);

/* The API key subject type (grant_api_key.c, iga/apikey.h). */
/* Authenticates the client by the API key in subject_token (method
 * "api_key"). Client authentication in the request as well is allowed when
 * it authenticates the same client. Fails as mdt_client_authenticate does. */
mdt_rc mdt_client_auth_api_key(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                               const char **claimed_id, mdt_err *err) MDT_WARN_UNUSED;
/* Exchanges the API key that authenticated who for an access token. */
mdt_rc mdt_exchange_api_key(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                            mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;

/* ID-JAG (id_jag.c, oauth/id_jag.h): exchanges the ID token (or access
 * token naming a person) that this server issued to who for an Identity
 * Assertion JWT Authorization Grant for the audience, a target of the
 * [id_jag] targets file. Any request with
 * requested_token_type=urn:ietf:params:oauth:token-type:id-jag comes here. */
mdt_rc mdt_exchange_id_jag(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                           mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;
/* Delegation (grant_delegation.c, oauth/delegation.h): a person's access
 * token of this server, or a trusted issuer's JWT, exchanged by an agent. */
mdt_rc mdt_exchange_delegation(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                               mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;
mdt_rc mdt_exchange_delegation_jwt(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                                   mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;

/* RFC 7523 §2.1 (grant_jwt_bearer.c): an assertion from a trusted issuer,
 * mapped to a subject and scopes by the claim rules of [jwt_bearer] issuers. */
mdt_rc mdt_grant_jwt_bearer(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                            mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;

/* OpenID CIBA Core 1.0, poll mode (grant_ciba.c): redeems an approved
 * auth_req_id from /bc-authorize once; sub is the person who approved. */
mdt_rc mdt_grant_ciba(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                      mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;

/* Shared protocol checks, pure functions of their inputs. */
/* Narrows a requested scope string to the client's entitlements. NULL
 * requested = the client's whole set. *granted is arena-owned. */
mdt_rc mdt_scope_narrow(mdt_arena *a, const mdt_client *c, const char *requested,
                        const char **granted, mdt_err *err) MDT_WARN_UNUSED;
/* After a scope refusal rc of a request for requested: when the first
 * requested scope the client entitled lacks is of sensitivity `approval`,
 * the refusal becomes invalid_scope with a description naming it and
 * POST /access-requests (a dynamic entitlement would give it); otherwise rc
 * and err as they were. Reads the store only on this failure path. */
mdt_rc mdt_scope_refusal(mdt_env *env, mdt_arena *a, const mdt_client *entitled,
                         const char *requested, mdt_rc rc, mdt_err *err) MDT_WARN_UNUSED;
/* For a grant decided earlier (a code, a device or CIBA approval) and
 * redeemed now: every scope of sensitivity `approval` in scope must still
 * be one of c's entitlements (a dynamic one may have ended meanwhile);
 * otherwise invalid_scope naming POST /access-requests. Scopes c lacks are
 * looked up in the store (a person's consent gives only other ones). */
mdt_rc mdt_scope_still_entitled(mdt_env *env, mdt_arena *a, const mdt_client *c,
                                const char *scope, mdt_err *err) MDT_WARN_UNUSED;
/* mdt_scope_narrow, then mdt_scope_refusal against c on failure. */
mdt_rc mdt_scope_narrow_for(mdt_env *env, mdt_arena *a, const mdt_client *c,
                            const char *requested, const char **granted,
                            mdt_err *err) MDT_WARN_UNUSED;
/* RFC 8707: the audience for the requested resource (NULL = the client's
 * registered resources, or the issuer when it has none). */
mdt_rc mdt_resource_select(mdt_arena *a, const mdt_client *c, const char *issuer,
                           const char *resource, const char *const **aud, size_t *naud,
                           mdt_err *err) MDT_WARN_UNUSED;

/* The decision of the configured PDP at token issuance (scope_policy.c,
 * SPEC §3.8), the same for every grant: called once the grant's scope and
 * audience are final (its scopes passed the entitlement checks) and before
 * its first write. For each scope of *scope one question (subject
 * Client::"client_id", action "token.issue", resource Scope::"scope",
 * context: grant_type, auth_method, delegation_depth, audience, user,
 * entitlement, risk — policy/risk.h), all decided in one mdt_pdp_decide.
 * Every decision is added to out->audit ("policy": {scope: {decision,
 * reasons, errors}}, and "log_only": true when so). A denied scope is
 * refused (invalid_scope naming it) or, with [pdp] on_deny = drop, left out
 * of *scope (arena); none left: refused. [pdp] log_only: nothing refused.
 * MDT_ERR_UNAVAILABLE with req->waiter registered: the request is asked
 * again once an external PDP answered (nothing was written); otherwise an
 * unavailable PDP fails closed, except in log-only mode, where its failure
 * is audited ("policy_error") and nothing is refused. PDP off ([pdp] mode = off): MDT_OK at once,
 * nothing asked nor recorded. */
typedef struct {
    const char *user;           /* the person involved; NULL: none */
    int64_t delegation_depth;   /* actors in the token's act chain; 0: none */
    const char *const *aud;     /* the token's audiences */
    size_t naud;
} mdt_policy_ask;
bool mdt_scope_policy_on(const mdt_env *env);
mdt_rc mdt_scope_policy(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                        const mdt_policy_ask *ask, const char **scope, mdt_grant_result *out,
                        mdt_err *err) MDT_WARN_UNUSED;

/* Flows where a person signs in and consents (SPEC §3.3, §3.7): what that
 * person may grant beyond the client's own entitlements. An unvouched
 * self-registered client (origin set; no software statement, no initial
 * access token) may also ask for the requested scopes listed in
 * consentable (those that exist and are not of sensitivity approval); any
 * client may ask for resource when resource_protected ([forward_auth]
 * resources lists it). *out: c with those added (a shallow copy, new
 * arrays in a). Pure. */
mdt_rc mdt_scope_consented_view(mdt_arena *a, const mdt_client *c, const char *const *consentable,
                                size_t nconsentable, const char *resource, bool resource_protected,
                                mdt_client *out, mdt_err *err) MDT_WARN_UNUSED;
/* mdt_scope_consented_view with the scopes' sensitivities read from the
 * store and the protected resources of env. scope, resource: as requested
 * (NULL: none). */
mdt_rc mdt_consented_client(mdt_env *env, mdt_arena *a, const mdt_client *c, const char *scope,
                            const char *resource, mdt_client *out, mdt_err *err) MDT_WARN_UNUSED;

#endif
