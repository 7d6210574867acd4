#include <string.h>

#include "core/log.h"
#include "msg/msg.h"

void mdt_resp_header(mdt_resp *resp, const char *name, const char *value)
{
    if (resp->nheaders < MDT_HTTP_MAX_HEADERS) {
        resp->headers[resp->nheaders].name = name;
        resp->headers[resp->nheaders].value = value;
        resp->nheaders++;
    }
}

void mdt_resp_json(mdt_resp *resp, int status, const char *json, size_t len)
{
    resp->status = status;
    resp->content_type = "application/json";
    mdt_buf_reset(&resp->body);
    if (mdt_buf_add(&resp->body, json, len) != MDT_OK) {
        resp->status = 500;
        mdt_buf_reset(&resp->body);
    }
}

void mdt_resp_text(mdt_resp *resp, int status, const char *text)
{
    resp->status = status;
    resp->content_type = "text/plain; charset=utf-8";
    mdt_buf_reset(&resp->body);
    if (mdt_buf_adds(&resp->body, text) != MDT_OK)
        resp->status = 500;
}

void mdt_resp_fault(mdt_resp *resp, const mdt_err *err)
{
    mdt_err_fault_text(err, resp->fault, sizeof(resp->fault));
    if (resp->fault[0])
        MDT_ERROR("%s", resp->fault);
}

void mdt_resp_error(mdt_resp *resp, const mdt_err *err)
{
    mdt_rc rc = err->rc == MDT_OK ? MDT_ERR_INTERNAL : err->rc;
    const char *desc = mdt_err_public_text(err);

    mdt_resp_fault(resp, err);
    resp->status = mdt_rc_http_status(rc);
    resp->content_type = "application/json";
    resp->no_store = true;
    mdt_buf_reset(&resp->body);
    if (mdt_buf_addf(&resp->body, "{\"error\":\"%s\"", mdt_rc_name(rc)) != MDT_OK ||
        (desc && (mdt_buf_adds(&resp->body, ",\"error_description\":") != MDT_OK ||
                  mdt_buf_add_json_str(&resp->body, desc) != MDT_OK)) ||
        mdt_buf_adds(&resp->body, "}") != MDT_OK) {
        resp->status = 500;
        mdt_buf_reset(&resp->body);
    }
    if (rc == MDT_ERR_INVALID_CLIENT)
        mdt_resp_header(resp, "WWW-Authenticate", "Basic realm=\"mandate\", error=\"invalid_client\"");
    else if (rc == MDT_ERR_UNAVAILABLE)
        mdt_resp_header(resp, "Retry-After", "1");
}

void mdt_resp_audit(mdt_req *req, mdt_resp *resp, const mdt_audit_event *ev)
{
    mdt_err err;

    if (mdt_ctx_audit_outcome(&req->ctx, ev, &err) == MDT_OK)
        return;
    resp->nheaders = 0;
    if (resp->body.data)
        mdt_wipe(resp->body.data, resp->body.len); /* it may hold a token */
    mdt_resp_error(resp, &err);                    /* nothing leaves without its event */
}
