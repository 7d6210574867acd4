/* Grant types: one function per grant, each in its own file. */
#ifndef MDT_OAUTH_GRANTS_H
#define MDT_OAUTH_GRANTS_H

#include "oauth/client_auth.h"
#include "oauth/tokens.h"

typedef struct {
    const char *scope;     /* granted scope, for the response */
    mdt_issued token;
} mdt_grant_result;

typedef mdt_rc (*mdt_grant_fn)(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                               mdt_grant_result *out, mdt_err *err);

mdt_rc mdt_grant_client_credentials(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                                    mdt_grant_result *out, mdt_err *err) MDT_WARN_UNUSED;

/* Shared protocol checks, pure functions of their inputs. */
/* Narrows a requested scope string to the client's entitlements. NULL
 * requested = the client's whole set. *granted is arena-owned. */
mdt_rc mdt_scope_narrow(mdt_arena *a, const mdt_client *c, const char *requested,
                        const char **granted, mdt_err *err) MDT_WARN_UNUSED;
/* RFC 8707: the audience for the requested resource (NULL = the client's
 * registered resources, or the issuer when it has none). */
mdt_rc mdt_resource_select(mdt_arena *a, const mdt_client *c, const char *issuer,
                           const char *resource, const char *const **aud, size_t *naud,
                           mdt_err *err) MDT_WARN_UNUSED;

#endif
