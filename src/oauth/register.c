/* Dynamic client registration: POST /register (RFC 7591) and GET, PUT,
 * DELETE /register/{client_id} (RFC 7592). Thin: parse, authenticate (an
 * initial access token, or a registration access token), rate-limit, call
 * the registration service (iga/registration.h), render. Refusals the
 * handler answers itself are audited as registration.refused; the service
 * records its own in the request's context. */
#include <stdio.h>
#include <string.h>

#include "iga/registration.h"
#include "oauth/endpoints.h"
#include "oauth/software_statement.h"
#include "oauth/trust.h"

#define REGISTER_PREFIX "/register/"

/* reason: NULL for the error's own. */
static void audit_refusal(mdt_req *req, mdt_resp *resp, const mdt_reg_ctx *reg,
                          const char *client_id, const mdt_err *err, const char *reason)
{
    mdt_audit_event ev = {
        .type = "registration.refused",
        .actor = "registration",
        .client_id = client_id,
        .decision = "deny",
        .reason = reason ? reason
                         : mdt_arena_printf(req->arena, "%s: %s", mdt_rc_name(err->rc),
                                            mdt_err_text(err)),
        .data =
            mdt_arena_printf(req->arena, "{\"origin\":\"dcr\",\"endpoint\":\"%s\"%s%s%s}",
                             req->method, reg && reg->iat_id ? ",\"iat_id\":\"" : "",
                             reg && reg->iat_id ? reg->iat_id : "", reg && reg->iat_id ? "\"" : ""),
    };

    mdt_resp_audit(req, resp, &ev);
}

/* An error; 401 invalid_token carries the RFC 6750 challenge. */
static void fail(mdt_resp *resp, const mdt_err *err)
{
    mdt_resp_error(resp, err);
    resp->no_store = true;
    if (err->rc == MDT_ERR_INVALID_TOKEN)
        mdt_resp_header(resp, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
}

static void refuse(mdt_req *req, mdt_resp *resp, const mdt_reg_ctx *reg, const char *client_id,
                   const mdt_err *err)
{
    fail(resp, err);
    if (!mdt_rc_is_server_fault(err->rc))
        audit_refusal(req, resp, reg, client_id, err, NULL);
}

/* 429 with Retry-After (no result code maps to it: it is this endpoint's). */
static void too_many(mdt_req *req, mdt_resp *resp, const mdt_reg_ctx *reg, int64_t retry_after)
{
    static const char body[] = "{\"error\":\"rate_limited\",\"error_description\":"
                               "\"too many registrations; retry later\"}";
    mdt_err why;

    mdt_resp_json(resp, 429, body, sizeof(body) - 1);
    resp->no_store = true;
    mdt_resp_header(resp, "Retry-After",
                    mdt_arena_printf(req->arena, "%lld", (long long)retry_after));
    mdt_failf(&why, MDT_ERR_INVALID_REQUEST, "rate limited", "rate limited: %s",
              reg->iat_id ? "per source or initial access token" : "per source");
    audit_refusal(req, resp, reg, NULL, &why,
                  mdt_arena_printf(req->arena, "rate_limited: %s", why.detail));
}

/* Sends a service document (which may hold a secret) and wipes it. */
static void send_doc(mdt_resp *resp, int status, const char *doc)
{
    mdt_resp_json(resp, status, doc, strlen(doc));
    resp->no_store = true;
    mdt_wipe((char *)doc, strlen(doc));
}

/* RFC 7591 §2.3: a software statement vouches for the request. */
static mdt_rc statement(mdt_env *env, mdt_req *req, json_t *body, mdt_reg_ctx *reg, mdt_err *err)
{
    json_t *st = json_object_get(body, "software_statement");

    if (!st)
        return MDT_OK;
    if (!json_is_string(st))
        return mdt_fail(err, MDT_ERR_INVALID_SOFTWARE_STATEMENT,
                        "software_statement must be a signed JWT");
    const mdt_trusted_issuer *ti;
    mdt_rc rc = mdt_software_statement_verify(env, json_string_value(st), req->now, req->arena,
                                              &reg->statement, &reg->vouched_by, err);

    if (rc == MDT_OK &&
        (ti = mdt_trust_find(env->trust, MDT_TRUST_SOFTWARE_STATEMENT, reg->vouched_by)))
        reg->single_instance = ti->single_instance;
    return rc;
}

/* The gate before the service: source rate, token, token rate. */
static bool admitted(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_reg_ctx *reg)
{
    mdt_reg_ctx only_iat = {0};
    int64_t retry = 0;
    bool limited = false;
    mdt_err err = {0};

    if (mdt_registration_rate(env, reg, req->now, &limited, &retry, &err) == MDT_OK && !limited &&
        mdt_registration_authorize(env, mdt_req_bearer(req), req->now, req->arena, reg, &err) == MDT_OK) {
        only_iat.iat_id = reg->iat_id;
        if (mdt_registration_rate(env, &only_iat, req->now, &limited, &retry, &err) == MDT_OK &&
            !limited)
            return true;
    }
    if (limited)
        too_many(req, resp, reg, retry);
    else
        refuse(req, resp, reg, NULL, &err);
    return false;
}

void mdt_handle_register(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_reg_ctx reg = {.origin = "dcr", .source = req->peer_ip};
    const char *doc = NULL;
    json_t *body = NULL;
    mdt_err err = {0};

    resp->no_store = true;
    if (!admitted(env, req, resp, &reg))
        return;
    if (mdt_req_parse_json(req, &body, &err) != MDT_OK ||
        statement(env, req, body, &reg, &err) != MDT_OK) {
        json_decref(body);
        refuse(req, resp, &reg, NULL, &err);
        return;
    }
    json_decref(body);
    if (mdt_registration_create(env, &req->ctx, req->body, req->body_len, &reg, req->arena, &doc,
                                &err) != MDT_OK) {
        fail(resp, &err); /* the service recorded its refusal */
        return;
    }
    send_doc(resp, 201, doc);
}

/* PUT: the body is parsed (and its statement verified) here, then the
 * service validates, decides and records its own refusals in the request's
 * context. */
static mdt_rc put(mdt_env *env, mdt_req *req, const char *id, const char *rat, mdt_reg_ctx *reg,
                  const char **doc, mdt_err *err)
{
    json_t *body = NULL;
    mdt_rc rc = mdt_req_parse_json(req, &body, err);

    if (rc == MDT_OK)
        rc = statement(env, req, body, reg, err);
    json_decref(body);
    if (rc != MDT_OK)
        return rc;
    return mdt_registration_update(env, &req->ctx, id, rat, req->body, req->body_len, reg,
                                   req->arena, doc, err);
}

/* GET, PUT and DELETE /register/{client_id} with the registration access
 * token. */
void mdt_handle_register_client(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *id = req->path + strlen(REGISTER_PREFIX), *doc = NULL, *rat = mdt_req_bearer(req);
    mdt_reg_ctx reg = {.origin = "dcr", .source = req->peer_ip};
    size_t before = req->ctx.events->n;
    mdt_err err = {0};
    mdt_rc rc;

    resp->no_store = true;
    if (strcmp(req->method, "DELETE") == 0)
        rc = mdt_registration_delete(env, &req->ctx, id, rat, &err);
    else if (strcmp(req->method, "PUT") == 0)
        rc = put(env, req, id, rat, &reg, &doc, &err);
    else
        rc = mdt_registration_read(env, &req->ctx, id, rat, req->arena, &doc, &err);
    if (rc != MDT_OK && req->ctx.events->n > before)
        fail(resp, &err);  /* the service recorded its refusal: one event */
    else if (rc != MDT_OK) /* a wrong token names no client: it may not exist */
        refuse(req, resp, &reg, rc == MDT_ERR_INVALID_TOKEN ? NULL : id, &err);
    else if (doc)
        send_doc(resp, 200, doc);
    else
        resp->status = 204;
    if (rc == MDT_OK)
        resp->client_id = id;
}
