/* /admin/v1/clients: what `mandate client ...` does, through the same
 * services (iga/client.h, iga/apikey.h), with RFC 7591 names. */
#include <string.h>

#include "admin/internal.h"
#include "iga/apikey.h"
#include "iga/client.h"
#include "iga/client_query.h"

static const char *const no_members[] = {NULL};

/* ?kind=&owner=&status=&tier= (each optional; several filters: all hold),
 * by the rule of the console's list (iga/client_query.h). */
static mdt_client_filter filter_of(mdt_admin_call *c)
{
    return (mdt_client_filter){.kind = mdt_req_query(c->req, "kind"),
                               .owner = mdt_req_query(c->req, "owner"),
                               .status = mdt_req_query(c->req, "status"),
                               .tier = mdt_req_query(c->req, "tier")};
}

static const char *member(json_t *item, const char *key)
{
    const char *v = json_string_value(json_object_get(item, key));
    return v ? v : "";
}

static bool keep_client(mdt_admin_call *c, json_t *item)
{
    mdt_client_filter f = filter_of(c);
    mdt_client_summary s = {.kind = member(item, "kind"), .owner = member(item, "owner"),
                            .status = member(item, "status"), .tier = member(item, "risk_tier")};

    return mdt_client_filter_match(&f, &s);
}

static bool filters_valid(mdt_admin_call *c)
{
    mdt_client_filter f = filter_of(c);
    mdt_err err = {0};

    if (mdt_client_filter_check(&f, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        return false;
    }
    return true;
}

void mdt_admin__clients_list(mdt_admin_call *c)
{
    const char *json = NULL;
    mdt_err err = {0};

    if (!filters_valid(c))
        return;
    if (mdt_client_list_json(c->env, &c->req->ctx, c->req->arena, &json, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        return;
    }
    mdt_admin__page(c, json, "client_id", keep_client);
}

/* A document that may hold a secret: no-store, wiped once copied. */
static void secret_answer(mdt_admin_call *c, int status, const char *json)
{
    c->resp->no_store = true;
    mdt_admin__json(c, status, json);
    mdt_wipe((char *)json, strlen(json));
}

void mdt_admin__clients_create(mdt_admin_call *c)
{
    const char *json = NULL;
    json_t *body = NULL;
    mdt_err err = {0};

    if (!mdt_admin__body(c, false, &body))
        return;
    json_decref(body); /* checked; the service parses the text itself */
    if (mdt_client_create(c->env, &c->req->ctx, c->req->body, c->req->body_len, c->req->arena,
                          &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        secret_answer(c, 201, json);
}

void mdt_admin__client_get(mdt_admin_call *c)
{
    const char *json = NULL;
    mdt_err err = {0};

    if (mdt_client_show_json(c->env, &c->req->ctx, c->p1, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__json(c, 200, json);
}

void mdt_admin__client_patch(mdt_admin_call *c)
{
    const char *json = NULL;
    json_t *body = NULL;
    mdt_err err = {0};

    if (!mdt_admin__body(c, false, &body))
        return;
    json_decref(body);
    if (mdt_client_update(c->env, &c->req->ctx, c->p1, c->req->body, c->req->body_len,
                          c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        secret_answer(c, 200, json);
}

void mdt_admin__client_delete(mdt_admin_call *c)
{
    mdt_err err = {0};

    if (mdt_client_delete(c->env, &c->req->ctx, c->p1, &err) != MDT_OK) {
        mdt_admin__error(c, &err);
        return;
    }
    c->resp->status = 204;
    c->resp->content_type = NULL;
    mdt_buf_reset(&c->resp->body);
}

/* {"client_id": id, "status": status} */
static void status_answer(mdt_admin_call *c, const char *status)
{
    json_t *doc = json_pack("{s:s, s:s}", "client_id", c->p1, "status", status);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    if (text)
        mdt_admin__json(c, 200, text);
    else
        mdt_admin__fail(c, MDT_ERR_NOMEM, "out of memory");
    free(text);
    json_decref(doc);
}

/* The kill switch and its undoing (mdt_client_set_status, as `mandate
 * client suspend|resume`): suspending revokes every token, refresh token
 * and delegated token of the client at once. The body, if any, is {}. */
static void set_status(mdt_admin_call *c, const char *status)
{
    json_t *body = NULL;
    mdt_err err = {0};
    bool ok = mdt_admin__body(c, true, &body) && mdt_admin__only(c, body, no_members);

    json_decref(body);
    if (!ok)
        return;
    if (mdt_client_set_status(c->env, &c->req->ctx, c->p1, status, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        status_answer(c, status);
}

void mdt_admin__client_suspend(mdt_admin_call *c)
{
    set_status(c, "suspended");
}

void mdt_admin__client_resume(mdt_admin_call *c)
{
    set_status(c, "active");
}

/* {"keep": DURATION}: how long the old secrets stay valid (default 0). */
void mdt_admin__client_secret(mdt_admin_call *c)
{
    static const char *const members[] = {"keep", NULL};
    const char *json = NULL;
    json_t *body = NULL;
    int64_t keep = 0;
    mdt_err err = {0};
    bool ok = mdt_admin__body(c, true, &body) && mdt_admin__only(c, body, members) &&
              mdt_admin__duration(c, body, "keep", &keep);

    json_decref(body);
    if (!ok)
        return;
    if (mdt_client_rotate_secret(c->env, &c->req->ctx, c->p1, keep, c->req->arena, &json,
                                 &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        secret_answer(c, 200, json);
}

/* {"expires_in": DURATION} (default: never). */
void mdt_admin__apikey_create(mdt_admin_call *c)
{
    static const char *const members[] = {"expires_in", NULL};
    const char *json = NULL;
    json_t *body = NULL;
    int64_t expires = 0;
    mdt_err err = {0};
    bool ok = mdt_admin__body(c, true, &body) && mdt_admin__only(c, body, members) &&
              mdt_admin__duration(c, body, "expires_in", &expires);

    json_decref(body);
    if (!ok)
        return;
    if (mdt_apikey_create(c->env, &c->req->ctx, c->p1, expires, c->req->arena, &json, &err) !=
        MDT_OK)
        mdt_admin__error(c, &err);
    else
        secret_answer(c, 201, json);
}

void mdt_admin__apikey_revoke(mdt_admin_call *c)
{
    const char *json = NULL;
    mdt_err err = {0};

    if (mdt_apikey_revoke(c->env, &c->req->ctx, c->p1, c->p2, c->req->arena, &json, &err) !=
        MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__json(c, 200, json);
}
