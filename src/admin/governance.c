/* /admin/v1/reviews and a client's entitlements and usage: what `mandate
 * review ...`, `mandate client show` and the console show, through the
 * same services (iga/review.h, iga/entitlements.h, iga/usage.h). */
#include <stdlib.h>
#include <string.h>

#include "admin/internal.h"
#include "core/clock.h"
#include "iga/client.h"
#include "iga/entitlements.h"
#include "iga/review.h"
#include "iga/usage.h"

#define USAGE_DAYS_DEFAULT 30
#define USAGE_DAYS_MAX 400

/* ------------------------------------------------------------ reviews */

static bool known_kind(const char *kind)
{
    for (int k = 0; k < MDT_FINDING_KIND_COUNT; k++)
        if (strcmp(kind, mdt_finding_kind_name((mdt_finding_kind)k)) == 0)
            return true;
    return false;
}

/* ?client= and ?kind= (each optional; both: both hold). */
static bool keep_finding(mdt_admin_call *c, json_t *item)
{
    const char *client = mdt_req_query(c->req, "client"), *kind = mdt_req_query(c->req, "kind");
    const char *ic = json_string_value(json_object_get(item, "client_id"));
    const char *ik = json_string_value(json_object_get(item, "kind"));

    return (!client || (ic && strcmp(client, ic) == 0)) && (!kind || (ik && strcmp(kind, ik) == 0));
}

void mdt_admin__reviews_list(mdt_admin_call *c)
{
    const char *client = mdt_req_query(c->req, "client"), *kind = mdt_req_query(c->req, "kind");
    const char *json = NULL;
    mdt_err err = {0};

    if (client && !*client) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "client must name a client_id");
        return;
    }
    if (kind && !known_kind(kind)) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST,
                        "kind must be ownerless, unused_entitlement, old_credential, "
                        "symmetric_on_high_tier, never_authenticated or "
                        "expired_with_refresh_tokens");
        return;
    }
    if (mdt_review_list_json(c->env, &c->req->ctx, NULL, c->req->arena, &json, &err) != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__page(c, json, "id", keep_finding);
}

/* "until": a date, an RFC 3339 time or a duration from now ("90d"). */
static bool until_of(mdt_admin_call *c, json_t *body, int64_t *out)
{
    const char *s = NULL;

    *out = 0;
    if (!mdt_admin__str(c, body, "until", &s))
        return false;
    if (mdt_review_until_parse(s, c->req->ctx.now, out))
        return true;
    mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST,
                    "until must be a date (2027-03-31), an RFC 3339 time or a duration such as "
                    "\"90d\"");
    return false;
}

/* A person's token decides as that person (by the service's rule: an
 * admin); a service client's token decides as the operator (by NULL: the
 * caller is already an admin), recorded as "client:<client_id>". */
static void review_decide(mdt_admin_call *c, bool certify)
{
    static const char *const certify_members[] = {"note", "until", NULL};
    static const char *const revoke_members[] = {"note", NULL};
    const char *note = NULL, *json = NULL;
    json_t *body = NULL;
    int64_t until = 0;
    mdt_err err = {0};
    mdt_rc rc;
    bool ok = mdt_admin__body(c, !certify, &body) &&
              mdt_admin__only(c, body, certify ? certify_members : revoke_members) &&
              mdt_admin__str(c, body, "note", &note) && (!certify || until_of(c, body, &until));

    if (!ok)
        goto out;
    if (certify)
        rc = mdt_review_certify(c->env, &c->req->ctx, c->p1, c->caller->username, note, until,
                                c->req->arena, &json, &err);
    else
        rc = mdt_review_revoke(c->env, &c->req->ctx, c->p1, c->caller->username, note,
                               c->req->arena, &json, &err);
    if (rc != MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__json(c, 200, json);
out:
    json_decref(body);
}

void mdt_admin__review_certify(mdt_admin_call *c)
{
    review_decide(c, true);
}

void mdt_admin__review_revoke(mdt_admin_call *c)
{
    review_decide(c, false);
}

/* ------------------------------------------------------- entitlements */

/* {"items": [...], "next": null}: a client's entitlements are few (its
 * scopes and resources, and what its approved requests added); one page. */
void mdt_admin__entitlements_list(mdt_admin_call *c)
{
    const char *json = NULL;
    json_t *arr = NULL, *doc = NULL;
    char *text = NULL;
    mdt_err err = {0};

    if (mdt_entitlement_list_json(c->env, &c->req->ctx, c->p1, c->req->arena, &json, &err) !=
        MDT_OK) {
        mdt_admin__error(c, &err);
        return;
    }
    if (!(arr = json_loads(json, 0, NULL)) ||
        !(doc = json_pack("{s:O, s:n}", "items", arr, "next")) ||
        !(text = json_dumps(doc, JSON_COMPACT)))
        mdt_admin__fail(c, MDT_ERR_NOMEM, "out of memory");
    else
        mdt_admin__json(c, 200, text);
    free(text);
    json_decref(doc);
    json_decref(arr);
}

/* Whether ent names one of the client's static entitlements (a scope or a
 * resource of its metadata): those change by PATCHing the client. */
static bool is_static(mdt_admin_call *c, const char *ent)
{
    const char *json = NULL;
    json_t *arr = NULL, *item;
    size_t i;
    bool found = false;
    mdt_err err = {0};

    if (mdt_entitlement_list_json(c->env, &c->req->ctx, c->p1, c->req->arena, &json, &err) !=
            MDT_OK ||
        !(arr = json_loads(json, 0, NULL)))
        return false;
    json_array_foreach(arr, i, item) {
        const char *scope = json_string_value(json_object_get(item, "scope"));
        const char *resource = json_string_value(json_object_get(item, "resource"));
        if (json_is_null(json_object_get(item, "id")) &&
            ((scope && strcmp(scope, ent) == 0) || (resource && strcmp(resource, ent) == 0)))
            found = true;
    }
    json_decref(arr);
    return found;
}

void mdt_admin__entitlement_revoke(mdt_admin_call *c)
{
    mdt_err err = {0};

    if (mdt_entitlement_revoke(c->env, &c->req->ctx, c->p1, c->p2, &err) == MDT_OK) {
        c->resp->status = 204;
        c->resp->content_type = NULL;
        mdt_buf_reset(&c->resp->body);
        return;
    }
    if (err.rc == MDT_ERR_NOT_FOUND && is_static(c, c->p2)) {
        mdt_admin__fail(c, MDT_ERR_CONFLICT,
                        "a static entitlement (the client's scope or resources metadata) cannot be "
                        "revoked here: PATCH /admin/v1/clients/{id} with the scope without it");
        return;
    }
    mdt_admin__error(c, &err);
}

/* ------------------------------------------------------------ usage */

/* ?days=: 1..USAGE_DAYS_MAX, default USAGE_DAYS_DEFAULT. */
static bool days_of(mdt_admin_call *c, int *out)
{
    const char *s = mdt_req_query(c->req, "days");
    int n = 0;

    *out = USAGE_DAYS_DEFAULT;
    if (!s)
        return true;
    for (const char *p = s; *p && n <= USAGE_DAYS_MAX; p++)
        n = *p >= '0' && *p <= '9' ? n * 10 + (*p - '0') : USAGE_DAYS_MAX + 1;
    if (!*s || n < 1 || n > USAGE_DAYS_MAX) {
        mdt_admin__fail(c, MDT_ERR_INVALID_REQUEST, "days must be an integer from 1 to 400");
        return false;
    }
    *out = n;
    return true;
}

void mdt_admin__usage(mdt_admin_call *c)
{
    const char *json = NULL;
    mdt_client client;
    int days = 0;
    mdt_err err = {0};

    if (!days_of(c, &days))
        return;
    if (mdt_client_load(c->env, c->p1, c->req->ctx.now, c->req->arena, &client, &err) != MDT_OK ||
        mdt_usage_client_json(c->env, &c->req->ctx, c->p1, days, c->req->arena, &json, &err) !=
        MDT_OK)
        mdt_admin__error(c, &err);
    else
        mdt_admin__json(c, 200, json);
}
