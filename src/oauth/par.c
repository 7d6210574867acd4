/* POST /par: pushed authorization requests (RFC 9126). The client
 * authenticates as at /token (a public client by its client_id), the
 * request passes the very checks of /authorize (mdt_authz_read), and is
 * kept MDT_AUTHZ_PAR_TTL seconds for one use at /authorize. Audited:
 * authz.pushed, par.refused, client.auth_failed. */
#include <string.h>

#include "core/buf.h"
#include "oauth/authorize.h"
#include "oauth/client_auth.h"
#include "oauth/dpop.h"

static const char *form_get(mdt_req *req, const char *name) { return mdt_req_form(req, name); }

static void audit(mdt_req *req, mdt_resp *resp, const char *type, const char *decision,
                  const char *client_id, const char *reason)
{
    mdt_audit_event ev = {.type = type,
                          .actor = client_id,
                          .client_id = client_id,
                          .decision = decision,
                          .reason = reason};

    mdt_resp_audit(req, resp, &ev);
}

/* 400 {"error": error, "error_description": desc}, audited as par.refused. */
static void refuse(mdt_req *req, mdt_resp *resp, const char *client_id, const char *error,
                   const char *desc)
{
    mdt_buf *b = &resp->body;

    resp->status = 400;
    resp->content_type = "application/json";
    mdt_buf_reset(b);
    if (mdt_buf_addf(b, "{\"error\":\"%s\",\"error_description\":", error) != MDT_OK ||
        mdt_buf_add_json_str(b, desc ? desc : "") != MDT_OK || mdt_buf_adds(b, "}") != MDT_OK) {
        mdt_buf_reset(b);
        resp->status = 500;
    }
    audit(req, resp, "par.refused", "deny", client_id,
          mdt_arena_printf(req->arena, "%s: %s", error, desc ? desc : ""));
}

static void accepted(mdt_req *req, mdt_resp *resp, const char *client_id, const char *id)
{
    mdt_buf *b = &resp->body;

    resp->status = 201;
    resp->content_type = "application/json";
    if (mdt_buf_addf(b, "{\"request_uri\":\"%s%s\",\"expires_in\":%d}",
                     MDT_AUTHZ_REQUEST_URI_PREFIX, id, MDT_AUTHZ_PAR_TTL) != MDT_OK) {
        mdt_err err;
        mdt_fail(&err, MDT_ERR_NOMEM, "out of memory");
        mdt_resp_error(resp, &err);
        return;
    }
    audit(req, resp, "authz.pushed", "allow", client_id, NULL);
}

/* Stores the validated request: 201, or a server fault. */
static void push(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_authz_params *p)
{
    const char *id = NULL;
    mdt_err err = {0};

    p->pushed = true;
    if (mdt_authz_request_save(env, req, p, &id, &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
        audit(req, resp, "par.refused", "deny", p->client_id, mdt_err_text(&err));
        return;
    }
    accepted(req, resp, p->client_id, id);
}

/* RFC 9449 §10.1: a DPoP proof at /par (htm POST, htu this server's /par)
 * binds the code to its key, as dpop_jkt does; both must then name the
 * same key. MDT_OK when there is none. */
static mdt_rc par_dpop(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_authz_params *p,
                       mdt_err *err)
{
    const char *proof = mdt_req_header(req, "DPoP");
    mdt_dpop_expect exp = {.htm = "POST", .nonce = mdt_dpop_nonce_required(env, false)};
    mdt_dpop_proof d;
    mdt_rc rc;

    if (!proof)
        return MDT_OK;
    if (!(exp.htu = mdt_arena_printf(req->arena, "%s/par", env->cfg.issuer)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    rc = mdt_dpop_check(env, proof, &exp, &d, err);
    mdt_dpop_nonce_header(env, req, resp, false, rc);
    if (rc != MDT_OK)
        return rc;
    if (p->dpop_jkt && !mdt_str_eq(p->dpop_jkt, d.jkt))
        return mdt_fail(err, MDT_ERR_INVALID_DPOP_PROOF,
                        "dpop_jkt does not name the key of the DPoP proof");
    if (!(p->dpop_jkt = mdt_arena_strdup(req->arena, d.jkt)))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}

void mdt_handle_par(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_client_authn who = {0};
    mdt_authz_params p;
    const char *claimed = NULL, *error = NULL;
    mdt_err err = {0};

    resp->no_store = true;
    if (mdt_req_parse_form(req, &err) != MDT_OK) {
        mdt_resp_error(resp, &err);
        audit(req, resp, "par.refused", "deny", NULL, mdt_err_text(&err));
        return;
    }
    if (mdt_client_authenticate(env, req, &who, &claimed, &err) != MDT_OK) {
        mdt_client_auth_refuse(req, resp, claimed, &err);
        return;
    }
    resp->client_id = who.client.client_id;
    if (mdt_req_form(req, "request_uri"))
        refuse(req, resp, who.client.client_id, "invalid_request",
               "request_uri cannot be pushed (RFC 9126 §2.1)");
    else if (mdt_req_form(req, "request"))
        refuse(req, resp, who.client.client_id, "request_not_supported",
               "request objects are not supported");
    else if (mdt_authz_read(env, req, form_get, &who.client, &p, &error, &err) != MDT_OK)
        refuse(req, resp, who.client.client_id, error ? error : "invalid_request", err.msg);
    else if (par_dpop(env, req, resp, &p, &err) != MDT_OK)
        mdt_rc_is_server_fault(err.rc) ? mdt_resp_error(resp, &err)
                                       : refuse(req, resp, who.client.client_id,
                                                mdt_rc_name(err.rc), err.msg);
    else
        push(env, req, resp, &p);
}
