#include "oauth/binding.h"

#include <string.h>
#include <strings.h>

#include "jose/x509.h"
#include "msg/client_cert.h"
#include "oauth/dpop.h"

/* The token after "<scheme> " in the Authorization header, or NULL. */
static const char *auth_token(mdt_req *req, const char *scheme)
{
    const char *h = mdt_req_header(req, "Authorization");
    size_t n = strlen(scheme);

    if (!h || strncasecmp(h, scheme, n) != 0 || h[n] != ' ')
        return NULL;
    h += n;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

const char *mdt_req_access_token(mdt_req *req)
{
    const char *t = auth_token(req, "Bearer");

    return t ? t : auth_token(req, "DPoP");
}

bool mdt_token_unusable(mdt_rc rc)
{
    return rc == MDT_ERR_INVALID_TOKEN || rc == MDT_ERR_INVALID_DPOP_PROOF ||
           rc == MDT_ERR_USE_DPOP_NONCE;
}

void mdt_token_unauthorized(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_rc rc,
                            const char *realm, const char *desc)
{
    const char *error = mdt_rc_name(rc == MDT_OK ? MDT_ERR_INVALID_TOKEN : rc);
    bool dpop = rc == MDT_ERR_INVALID_DPOP_PROOF || rc == MDT_ERR_USE_DPOP_NONCE ||
                auth_token(req, "DPoP") || mdt_req_header(req, "DPoP");
    const char *r = realm ? mdt_arena_printf(req->arena, "realm=\"%s\", ", realm) : "";
    const char *h = dpop ? mdt_arena_printf(req->arena, "DPoP %serror=\"%s\", algs=\"%s\"", r ? r : "",
                                            error, MDT_DPOP_ALGS_TEXT)
                         : mdt_arena_printf(req->arena, "Bearer %serror=\"%s\", DPoP algs=\"%s\"",
                                            r ? r : "", error, MDT_DPOP_ALGS_TEXT);

    mdt_buf_reset(&resp->body);
    resp->status = 401;
    resp->content_type = "application/json";
    if (mdt_buf_addf(&resp->body, "{\"error\":\"%s\",\"error_description\":", error) != MDT_OK ||
        mdt_buf_add_json_str(&resp->body, desc) != MDT_OK || mdt_buf_adds(&resp->body, "}") != MDT_OK)
        mdt_buf_reset(&resp->body);
    mdt_resp_header(resp, "WWW-Authenticate", h ? h : "Bearer, DPoP");
    mdt_dpop_nonce_header(env, req, resp, true, rc);
}

static mdt_rc x5t_check(mdt_env *env, mdt_req *req, const char *want, mdt_err *err)
{
    mdt_der certs[MDT_X509_CHAIN_MAX];
    char have[MDT_X5T_LEN + 1];
    size_t n = 0;
    mdt_rc rc = mdt_req_client_certs(env, req, certs, &n, err);

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

/* RFC 9449 §7: the token of an `Authorization: DPoP` header with a proof
 * of the key jkt for this request. */
static mdt_rc jkt_check(mdt_env *env, mdt_req *req, const char *jkt, mdt_err *err)
{
    const char *tok = auth_token(req, "DPoP"), *proof = mdt_req_header(req, "DPoP");
    mdt_dpop_expect exp = {.htm = req->method, .access_token = tok,
                           .nonce = mdt_dpop_nonce_required(env, true)};
    mdt_dpop_proof p;
    mdt_rc rc;

    if (!tok)
        return mdt_fail(err, MDT_ERR_INVALID_TOKEN,
                        "the token is DPoP-bound: present it with the DPoP scheme and a proof");
    if (!proof)
        return mdt_fail(err, MDT_ERR_INVALID_DPOP_PROOF, "a DPoP proof is required");
    if (!(exp.htu = mdt_arena_printf(req->arena, "%s%s", env->cfg.issuer, req->path)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if ((rc = mdt_dpop_check(env, proof, &exp, &p, err)) != MDT_OK)
        return rc;
    if (!mdt_ct_eq(p.jkt, strlen(p.jkt), jkt, strlen(jkt)))
        return mdt_fail(err, MDT_ERR_INVALID_DPOP_PROOF,
                        "the DPoP proof is not signed by the key the token is bound to");
    return MDT_OK;
}

mdt_rc mdt_token_binding_check(mdt_env *env, mdt_req *req, json_t *claims, mdt_err *err)
{
    json_t *cnf = json_object_get(claims, "cnf");
    const char *x5t = json_string_value(json_object_get(cnf, "x5t#S256"));
    const char *jkt = json_string_value(json_object_get(cnf, "jkt"));
    mdt_rc rc;

    if (!cnf)
        return MDT_OK;
    if ((!x5t && !jkt) || json_object_size(cnf) != (size_t)(!!x5t + !!jkt))
        return mdt_fail(err, MDT_ERR_INVALID_TOKEN,
                        "the token's confirmation method is not supported here");
    if (x5t && (rc = x5t_check(env, req, x5t, err)) != MDT_OK)
        return rc;
    return jkt ? jkt_check(env, req, jkt, err) : MDT_OK;
}

mdt_rc mdt_bearer_token_check(mdt_env *env, mdt_req *req, const char *tok, mdt_token_info *ti,
                              mdt_err *err)
{
    mdt_rc rc = mdt_token_inspect_cached(env, req->arena, tok, req->now, ti, NULL, err);

    if (rc == MDT_OK && auth_token(req, "DPoP") &&
        !json_object_get(json_object_get(ti->claims, "cnf"), "jkt"))
        rc = mdt_fail(err, MDT_ERR_INVALID_TOKEN,
                      "the token is not DPoP-bound: present it with the Bearer scheme");
    if (rc == MDT_OK)
        rc = mdt_token_binding_check(env, req, ti->claims, err);
    if (rc == MDT_OK)
        rc = mdt_token_use_once(env, ti, err); /* [ciba] single_use_tokens */
    return rc;
}
