/* Dynamic client registration: POST /register (RFC 7591) and GET, PUT,
 * DELETE /register/{client_id} (RFC 7592). Thin: parse, authenticate (an
 * initial access token, or a registration access token), rate-limit, call
 * the registration service (iga/registration.h), render. Refusals the
 * handler answers itself are audited as registration.refused; the service
 * audits its own. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "iga/registration.h"
#include "oauth/endpoints.h"
#include "oauth/software_statement.h"
#include "oauth/trust.h"

#define REGISTER_PREFIX "/register/"

/* The Bearer token of the request; NULL when none. */
static const char *bearer(mdt_req *req)
{
    const char *h = mdt_req_header(req, "Authorization");

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

static void audit_refusal(mdt_req *req, mdt_resp *resp, const mdt_reg_ctx *ctx,
                          const char *client_id, const mdt_err *err)
{
    resp->has_audit = true;
    resp->audit.type = "registration.refused";
    resp->audit.actor = "registration";
    resp->audit.client_id = client_id;
    resp->audit.decision = "deny";
    resp->audit.reason = mdt_arena_printf(req->arena, "%s: %s", mdt_rc_name(err->rc),
                                          mdt_err_text(err));
    resp->audit.data = mdt_arena_printf(req->arena, "{\"origin\":\"dcr\",\"endpoint\":\"%s\"%s%s%s}",
                                        req->method, ctx && ctx->iat_id ? ",\"iat_id\":\"" : "",
                                        ctx && ctx->iat_id ? ctx->iat_id : "",
                                        ctx && ctx->iat_id ? "\"" : "");
}

/* An error; 401 invalid_token carries the RFC 6750 challenge. */
static void fail(mdt_resp *resp, const mdt_err *err)
{
    mdt_resp_error(resp, err);
    resp->no_store = true;
    if (err->rc == MDT_ERR_INVALID_TOKEN)
        mdt_resp_header(resp, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
}

static void refuse(mdt_req *req, mdt_resp *resp, const mdt_reg_ctx *ctx, const char *client_id,
                   const mdt_err *err)
{
    fail(resp, err);
    if (!mdt_rc_is_server_fault(err->rc))
        audit_refusal(req, resp, ctx, client_id, err);
}

/* 429 with Retry-After (no result code maps to it: it is this endpoint's). */
static void too_many(mdt_req *req, mdt_resp *resp, const mdt_reg_ctx *ctx, int64_t retry_after)
{
    static const char body[] = "{\"error\":\"rate_limited\",\"error_description\":"
                               "\"too many registrations; retry later\"}";
    mdt_err why;

    mdt_resp_json(resp, 429, body, sizeof(body) - 1);
    resp->no_store = true;
    mdt_resp_header(resp, "Retry-After",
                    mdt_arena_printf(req->arena, "%lld", (long long)retry_after));
    mdt_failf(&why, MDT_ERR_INVALID_REQUEST, "rate limited", "rate limited: %s",
              ctx->iat_id ? "per source or initial access token" : "per source");
    audit_refusal(req, resp, ctx, NULL, &why);
    resp->audit.reason = mdt_arena_printf(req->arena, "rate_limited: %s", why.detail);
}

/* Sends a service document (which may hold a secret) and wipes it. */
static void send_doc(mdt_resp *resp, int status, const char *doc)
{
    mdt_resp_json(resp, status, doc, strlen(doc));
    resp->no_store = true;
    mdt_wipe((char *)doc, strlen(doc));
}

/* RFC 7591 §2.3: a software statement vouches for the request. */
static mdt_rc statement(mdt_env *env, mdt_req *req, json_t *body, mdt_reg_ctx *ctx,
                        mdt_err *err)
{
    json_t *st = json_object_get(body, "software_statement");

    if (!st)
        return MDT_OK;
    if (!json_is_string(st))
        return mdt_fail(err, MDT_ERR_INVALID_SOFTWARE_STATEMENT,
                        "software_statement must be a signed JWT");
    const mdt_trusted_issuer *ti;
    mdt_rc rc = mdt_software_statement_verify(env, json_string_value(st), req->now, req->arena,
                                              &ctx->statement, &ctx->vouched_by, err);

    if (rc == MDT_OK &&
        (ti = mdt_trust_find(env->trust, MDT_TRUST_SOFTWARE_STATEMENT, ctx->vouched_by)))
        ctx->single_instance = ti->single_instance;
    return rc;
}

/* The gate before the service: source rate, token, token rate. */
static bool admitted(mdt_env *env, mdt_req *req, mdt_resp *resp, mdt_reg_ctx *ctx)
{
    mdt_reg_ctx only_iat = {0};
    int64_t retry = 0;
    bool limited = false;
    mdt_err err = {0};

    if (mdt_registration_rate(env, ctx, req->now, &limited, &retry, &err) == MDT_OK && !limited &&
        mdt_registration_authorize(env, bearer(req), req->now, req->arena, ctx, &err) == MDT_OK) {
        only_iat.iat_id = ctx->iat_id;
        if (mdt_registration_rate(env, &only_iat, req->now, &limited, &retry, &err) == MDT_OK &&
            !limited)
            return true;
    }
    if (limited)
        too_many(req, resp, ctx, retry);
    else
        refuse(req, resp, ctx, NULL, &err);
    return false;
}

void mdt_handle_register(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    mdt_reg_ctx ctx = {.origin = "dcr", .source = req->peer_ip};
    const char *doc = NULL;
    json_t *body = NULL;
    mdt_err err = {0};

    resp->no_store = true;
    if (!admitted(env, req, resp, &ctx))
        return;
    if (mdt_req_parse_json(req, &body, &err) != MDT_OK ||
        statement(env, req, body, &ctx, &err) != MDT_OK) {
        json_decref(body);
        refuse(req, resp, &ctx, NULL, &err);
        return;
    }
    json_decref(body);
    if (mdt_registration_create(env, req->body, req->body_len, &ctx, req->arena, &doc, &err) !=
        MDT_OK) {
        fail(resp, &err); /* the service audited it */
        return;
    }
    send_doc(resp, 201, doc);
}

/* PUT: the body is parsed (and its statement verified) here, then the
 * service validates, decides and audits its own refusals. *audited: the
 * service recorded the outcome. */
static mdt_rc put(mdt_env *env, mdt_req *req, const char *id, const char *rat, mdt_reg_ctx *ctx,
                  const char **doc, bool *audited, mdt_err *err)
{
    json_t *body = NULL;
    mdt_rc rc = mdt_req_parse_json(req, &body, err);

    if (rc == MDT_OK)
        rc = statement(env, req, body, ctx, err);
    json_decref(body);
    if (rc != MDT_OK)
        return rc;
    rc = mdt_registration_update(env, id, rat, req->body, req->body_len, ctx, req->arena, doc,
                                 err);
    *audited = rc != MDT_ERR_INVALID_TOKEN;
    return rc;
}

/* GET, PUT and DELETE /register/{client_id} with the registration access
 * token. */
void mdt_handle_register_client(mdt_env *env, mdt_req *req, mdt_resp *resp)
{
    const char *id = req->path + strlen(REGISTER_PREFIX), *doc = NULL, *rat = bearer(req);
    mdt_reg_ctx ctx = {.origin = "dcr", .source = req->peer_ip};
    bool audited = false;
    mdt_err err = {0};
    mdt_rc rc;

    resp->no_store = true;
    if (strcmp(req->method, "DELETE") == 0)
        rc = mdt_registration_delete(env, id, rat, &err);
    else if (strcmp(req->method, "PUT") == 0)
        rc = put(env, req, id, rat, &ctx, &doc, &audited, &err);
    else
        rc = mdt_registration_read(env, id, rat, req->arena, &doc, &err);
    if (rc != MDT_OK && audited)
        fail(resp, &err);
    else if (rc != MDT_OK) /* a wrong token names no client: it may not exist */
        refuse(req, resp, &ctx, rc == MDT_ERR_INVALID_TOKEN ? NULL : id, &err);
    else if (doc)
        send_doc(resp, 200, doc);
    else
        resp->status = 204;
    if (rc == MDT_OK)
        resp->client_id = id;
}
