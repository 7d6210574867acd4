/* RFC 8705 client certificates: not accepted yet. */
#include "oauth/client_auth.h"

mdt_rc mdt_client_auth_certificate(mdt_env *env, mdt_req *req, const char *client_id,
                                   mdt_client_authn *out, mdt_err *err)
{
    (void)env;
    (void)req;
    (void)client_id;
    (void)out;
    return mdt_client_auth_fail(err, "client certificates are not supported yet");
}
