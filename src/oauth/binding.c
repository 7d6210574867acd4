#include "oauth/binding.h"

#include "jose/x509.h"
#include "msg/client_cert.h"

mdt_rc mdt_token_binding_check(mdt_env *env, mdt_req *req, json_t *claims, mdt_err *err)
{
    json_t *cnf = json_object_get(claims, "cnf");
    const char *want = json_string_value(json_object_get(cnf, "x5t#S256"));
    mdt_der certs[MDT_X509_CHAIN_MAX];
    char have[MDT_X5T_LEN + 1];
    size_t n = 0;
    mdt_rc rc;

    if (!cnf)
        return MDT_OK;
    if (!want || json_object_size(cnf) != 1)
        return mdt_fail(err, MDT_ERR_INVALID_TOKEN,
                        "the token's confirmation method is not supported here");
    rc = mdt_req_client_certs(env, req, certs, &n, err);
    if (rc == MDT_ERR_NOT_FOUND || rc == MDT_ERR_INVALID_CLIENT)
        return mdt_fail(err, MDT_ERR_INVALID_TOKEN,
                        "the token is bound to a client certificate that was not presented");
    if (rc != MDT_OK)
        return rc;
    mdt_x509_thumbprint(certs[0].der, certs[0].len, have);
    if (!mdt_str_eq(have, want))
        return mdt_fail(err, MDT_ERR_INVALID_TOKEN,
                        "the token is bound to another client certificate");
    return MDT_OK;
}

mdt_rc mdt_bearer_token_check(mdt_env *env, mdt_req *req, const char *tok, mdt_token_info *ti,
                              mdt_err *err)
{
    mdt_rc rc = mdt_token_inspect(env, req->arena, tok, req->now, ti, err);

    if (rc == MDT_OK)
        rc = mdt_token_binding_check(env, req, ti->claims, err);
    if (rc == MDT_OK)
        rc = mdt_token_use_once(env, ti, err); /* [ciba] single_use_tokens */
    return rc;
}
