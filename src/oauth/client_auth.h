/* Client authentication at the token, introspection, revocation and PAR
 * endpoints: one function per way a request presents it, recognised in the
 * order of the method registry (iga/registry.h: mdt_presentations):
 *   client_assertion (RFC 7523)   -> private_key_jwt or workload identity (client_assertion.c)
 *   Authorization: Basic           -> client_secret_basic (RFC 6749 §2.3.1)
 *   client_secret in the body      -> client_secret_post
 *   a client certificate (RFC 8705) -> tls_client_auth, self_signed_tls_client_auth (client_mtls.c)
 *   client_id alone                -> none: a public client, for the grants open to them
 * Presenting two of the first three at once is invalid_request. */
#ifndef MDT_OAUTH_CLIENT_AUTH_H
#define MDT_OAUTH_CLIENT_AUTH_H

#include "iga/client.h"
#include "iga/registry.h"
#include "msg/msg.h"

typedef struct {
    mdt_client client;
    const char *method;  /* app.auth: client_secret_basic | client_secret_post | private_key_jwt |
                            workload_identity | tls_client_auth | self_signed_tls_client_auth |
                            api_key */
    const char *cred_id; /* the credential that matched */
    const char *cert_thumbprint; /* x5t#S256 of the client certificate of this request, when
                                    one was presented and verified; for bound tokens */
    const char *dpop_jkt;        /* thumbprint of the key of this request's DPoP proof, checked
                                    (oauth/dpop.h); NULL when none: what access tokens issued
                                    now are bound to (cnf jkt) */
    /* A private_key_jwt assertion's jti not recorded yet (jti NULL when
     * none): while the request's client premises are recorded
     * (mdt_client_checks_begin), the token.issued event consumes it in the
     * group commit (mdt_audit_event.uses); a refusal consumes it before it
     * is recorded (mdt_client_authn_consume). */
    mdt_jti_use_rec jti_use;
} mdt_client_authn;

/* A function that authenticates the caller of req (mdt_client_authenticate,
 * one way of presenting client authentication, or a subject token that is
 * the client's credential: oauth/grants.h). */
typedef mdt_rc (*mdt_client_authn_fn)(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                                      const char **claimed_id, mdt_err *err);

/* Authenticates the caller of req (whose form is parsed). On failure returns
 * MDT_ERR_INVALID_CLIENT (or MDT_ERR_INVALID_REQUEST when two methods are
 * used at once) with a public message that never says which part failed,
 * and a private detail for the audit log; *claimed_id gets the client_id the
 * caller claimed, if any. */
mdt_rc mdt_client_authenticate(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                               const char **claimed_id, mdt_err *err) MDT_WARN_UNUSED;

/* Whether req carries client authentication that excludes another one (a
 * client assertion, Basic credentials or client_secret); a client
 * certificate alone does not count. */
bool mdt_client_auth_exclusive_presented(mdt_env *env, mdt_req *req);

/* The methods, each filling out->client, out->method and out->cred_id. */
/* client_assertion_type + client_assertion (RFC 7523 §2.2, RFC 7521 §4.2). */
mdt_rc mdt_client_auth_assertion(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                                 const char **claimed_id, mdt_err *err) MDT_WARN_UNUSED;
/* client_id and the certificate of the connection (or of a trusted proxy). */
mdt_rc mdt_client_auth_certificate(mdt_env *env, mdt_req *req, const char *client_id,
                                   mdt_client_authn *out, mdt_err *err) MDT_WARN_UNUSED;
/* The same against out->client as given (a client ID metadata document's
 * candidate, not stored yet). */
mdt_rc mdt_client_auth_certificate_as(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                                      mdt_err *err) MDT_WARN_UNUSED;
/* RFC 8705 §3: the x5t#S256 an access token for who must carry: NULL when
 * the client did not register tls_client_certificate_bound_access_tokens,
 * else the thumbprint of the certificate of this request (any auth method).
 * No certificate -> MDT_ERR_INVALID_REQUEST; a malformed forwarded one ->
 * MDT_ERR_INVALID_CLIENT. *x5t lives in req's arena. (client_mtls.c) */
mdt_rc mdt_client_cert_binding(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                               const char **x5t, mdt_err *err) MDT_WARN_UNUSED;
/* The same failure for every failed authentication (SPEC §3.2), with the
 * private reason for the audit log. */
mdt_rc mdt_client_auth_fail(mdt_err *err, const char *fmt, ...) MDT_PRINTF(2, 3);

/* Sets resp to the error and records a client.auth_failed event. */
void mdt_client_auth_refuse(mdt_req *req, mdt_resp *resp, const char *claimed_id,
                            const mdt_err *err);
/* The client.auth_failed event mdt_client_auth_refuse records for err (its
 * strings in req's arena). */
mdt_audit_event mdt_client_auth_failed_event(mdt_req *req, const char *claimed_id,
                                             const mdt_err *err);
/* Records who's pending single-use identifier now (who->jti_use), for a
 * request that will not carry it into a token.issued event: MDT_OK, or
 * MDT_ERR_INVALID_CLIENT ("replayed jti") when it was used already. */
mdt_rc mdt_client_authn_consume(mdt_env *env, mdt_req *req, mdt_client_authn *who,
                                mdt_err *err);

#endif
