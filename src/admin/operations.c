/* /admin/v1/requests, /admin/v1/keys, /admin/v1/audit and the OpenAPI
 * document: what `mandate request ...`, `mandate keys ...` and `mandate
 * audit export` do, through the same services. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/internal.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "iga/requests.h"
#include "keys/keyring.h"
#include "oauth/redirect.h"

void mdt_admin__requests_list(mdt_admin_call *c)
{
    static const char *const statuses[] = {"pending", "approved", "denied", "expired"};
    const char *status = mdt_req_query(c->req, "status"), *json = NULL;
    mdt_err err = {0};
    bool known = !status;

    for (size_t i = 0; !known && i < MDT_ARRAY_LEN(statuses); i++)
        known = strcmp(status, statuses[i]) == 0;
    if (!known) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST,
                        "status must be pending, approved, denied or expired");
        return;
    }
    if (mdt_request_list_json(c->env, &c->req->ctx, status, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__page(c, json, "id", NULL);
}

/* A person's token decides as that person, by the routing's rule (the
 * inbox's rule); a service client's token decides as the operator would,
 * but approves only what no person has to (mdt_request_decide_unattended). */
static void decide(mdt_admin_call *c, bool approve)
{
    static const char *const approve_members[] = {"note", "for", NULL};
    static const char *const deny_members[] = {"note", NULL};
    const char *note = NULL, *json = NULL;
    json_t *body = NULL;
    int64_t for_secs = 0;
    mdt_err err = {0};
    mdt_rc rc;
    bool ok = mdt_admin__body(c, true, &body) &&
              mdt_admin__only(c, body, approve ? approve_members : deny_members) &&
              mdt_admin__str(c, body, "note", &note) &&
              mdt_admin__duration(c, body, "for", &for_secs);

    if (!ok)
        goto out;
    if (c->caller->username)
        rc = mdt_request_decide(c->env, &c->req->ctx, c->p1, approve, c->caller->username, note,
                                for_secs, c->req->arena, &json, &err);
    else
        rc = mdt_request_decide_unattended(c->env, &c->req->ctx, c->p1, approve, note, for_secs,
                                           c->req->arena, &json, &err);
    if (rc != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__json(c, 200, json);
out:
    json_decref(body);
}

void mdt_admin__request_approve(mdt_admin_call *c)
{
    decide(c, true);
}

void mdt_admin__request_deny(mdt_admin_call *c)
{
    decide(c, false);
}

void mdt_admin__keys_list(mdt_admin_call *c)
{
    const char *json = NULL;
    mdt_err err = {0};

    if (mdt_keys_list_json(c->env, &c->req->ctx, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__page(c, json, "kid", NULL);
}

void mdt_admin__keys_rotate(mdt_admin_call *c)
{
    static const char *const no_members[] = {NULL};
    const char *kid = NULL;
    int64_t activate_at = 0;
    json_t *body = NULL, *doc = NULL;
    char when[21], *text = NULL;
    mdt_err err = {0};
    bool ok = mdt_admin__body(c, true, &body) && mdt_admin__only(c, body, no_members);

    if (!ok)
        goto out;
    if (mdt_keys_rotate(c->env, &c->req->ctx, c->req->arena, &kid, &activate_at, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        goto out;
    }
    mdt_time_format(activate_at, when);
    if (!(doc = json_pack("{s:s, s:s, s:s}", "kid", kid, "alg", c->env->cfg.signing_alg,
                          "activate_at", when)) ||
        !(text = json_dumps(doc, JSON_COMPACT)))
        mdt_admin__fail(c, MDT_ERR_NOMEM, "out of memory");
    else
        mdt_admin__json(c, 201, text);
out:
    free(text);
    json_decref(doc);
    json_decref(body);
}

/* ?after=SEQ: a non-negative integer. */
static bool after_of(mdt_admin_call *c, int64_t *out)
{
    const char *s = mdt_req_query(c->req, "after");
    int64_t n = 0;

    *out = 0;
    if (!s)
        return true;
    for (const char *p = s; *p && n >= 0; p++)
        n = *p >= '0' && *p <= '9' && n < INT64_MAX / 10 ? n * 10 + (*p - '0') : -1;
    if (!*s || n < 0) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "after must be an event's seq (an integer)");
        return false;
    }
    *out = n;
    return true;
}

/* The URL of the page after seq, with the same filters. */
static const char *next_link(mdt_admin_call *c, const mdt_audit_filter *f, const char *since,
                             int64_t seq)
{
    mdt_arena *a = c->req->arena;

    return mdt_arena_printf(
        a, "<" MDT_ADMIN_PREFIX "audit?after=%" PRId64 "%s%s%s%s>; rel=\"next\"", seq,
        f->client_id ? "&client=" : "", f->client_id ? mdt_url_encode(a, f->client_id) : "",
        since ? "&since=" : "", since ? mdt_url_encode(a, since) : "");
}

/* NDJSON, as `mandate audit export [--since] [--client]`: at most
 * MDT_ADMIN_AUDIT_EVENTS_MAX events or MDT_ADMIN_AUDIT_BYTES_MAX bytes a
 * page; a Link header (rel="next") names the next page. */
void mdt_admin__audit(mdt_admin_call *c)
{
    const char *since = mdt_req_query(c->req, "since"), *link;
    mdt_audit_filter f = {.client_id = mdt_req_query(c->req, "client")};
    int64_t next = 0;
    mdt_err err = {0};

    if (since && mdt_time_parse(since, &f.since) != MDT_OK) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "since must be an RFC 3339 time");
        return;
    }
    if ((f.client_id && !*f.client_id) || !after_of(c, &f.after_seq)) {
        if (f.client_id && !*f.client_id)
            mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "client must name a client_id");
        return;
    }
    mdt_buf_reset(&c->resp->body);
    if (mdt_audit_export_page(c->env->store, &f, MDT_ADMIN_AUDIT_EVENTS_MAX,
                              MDT_ADMIN_AUDIT_BYTES_MAX, &c->resp->body, &next, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        return;
    }
    c->resp->status = 200;
    c->resp->content_type = "application/x-ndjson";
    c->resp->no_store = true;
    if (next && (link = next_link(c, &f, since, next)))
        mdt_resp_header(c->resp, "Link", link);
}

void mdt_admin__openapi(mdt_admin_call *c)
{
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    mdt_buf_reset(&c->resp->body);
    if (mdt_buf_add(&c->resp->body, mdt_admin_openapi_json, mdt_admin_openapi_json_len) !=
        MDT_OK)
        mdt_admin__fail(c, MDT_ERR_NOMEM, "out of memory");
}
