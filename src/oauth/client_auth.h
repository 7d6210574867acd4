/* Client authentication at the token, introspection and revocation
 * endpoints: client_secret_basic and client_secret_post (RFC 6749 §2.3.1). */
#ifndef MDT_OAUTH_CLIENT_AUTH_H
#define MDT_OAUTH_CLIENT_AUTH_H

#include "http/http.h"
#include "iga/client.h"

typedef struct {
    mdt_client client;
    const char *method;  /* the method used: client_secret_basic | client_secret_post */
    const char *cred_id; /* the credential that matched */
} mdt_client_authn;

/* Authenticates the caller of req (whose form is parsed). On failure returns
 * MDT_ERR_INVALID_CLIENT (or MDT_ERR_INVALID_REQUEST when two methods are
 * used at once) with a public message that never says which part failed,
 * and a private detail for the audit log; *claimed_id gets the client_id the
 * caller claimed, if any. */
mdt_rc mdt_client_authenticate(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                               const char **claimed_id, mdt_err *err) MDT_WARN_UNUSED;

/* Sets resp to the error and records a client.auth_failed event. */
void mdt_client_auth_refuse(mdt_req *req, mdt_resp *resp, const char *claimed_id,
                            const mdt_err *err);

#endif
