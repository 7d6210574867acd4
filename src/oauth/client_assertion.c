/* RFC 7523 client assertions: not accepted yet (private_key_jwt and
 * workload identity are being built). */
#include "oauth/client_auth.h"

mdt_rc mdt_client_auth_assertion(mdt_env *env, mdt_req *req, mdt_client_authn *out,
                                 const char **claimed_id, mdt_err *err)
{
    (void)env;
    (void)req;
    (void)out;
    (void)claimed_id;
    return mdt_client_auth_fail(err, "client assertions are not supported yet");
}
