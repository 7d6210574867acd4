/* Access requests (iga/entitlements.h) as approval requests: the row of
 * hooks of the type "access_request". The owner of the client may decide
 * (with approvers and admins, by default); nobody is asked as a person. An
 * approval creates one dynamic entitlement per scope asked, expiring at the
 * decision + min(duration asked, the approver's `for`, [access_requests]
 * max_duration); a denial or an expiry creates nothing. */
#include <jansson.h>
#include <string.h>

#include "core/words.h"
#include "iga/entitlements.h"
#include "iga/internal.h"
#include "iga/secret.h"

#define ENT_ID_BYTES 12 /* "ent_" + 16 characters */

/* "8h", "90m", "2s": d in its largest whole unit. */
static const char *duration_text(mdt_arena *a, int64_t d)
{
    static const struct {
        int64_t secs;
        const char *unit;
    } units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};

    for (size_t i = 0; i < MDT_ARRAY_LEN(units); i++)
        if (d >= units[i].secs && d % units[i].secs == 0)
            return mdt_arena_printf(a, "%lld%s", (long long)(d / units[i].secs), units[i].unit);
    return mdt_arena_printf(a, "%llds", (long long)d);
}

static void access_describe(mdt_env *env, const mdt_request_rec *r, mdt_arena *a, json_t *doc)
{
    int64_t d = mdt_access_duration_grant(r->duration, 0, env->cfg.access_requests_default_duration,
                                          env->cfg.access_requests_max_duration);
    const char *text = duration_text(a, d);

    if (r->justification)
        json_object_set_new(doc, "justification", json_string(r->justification));
    if (text)
        json_object_set_new(doc, "access_for", json_string(text));
    if (r->resource)
        json_object_set_new(doc, "for_resource", json_string(r->resource));
}

static mdt_rc access_approved(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r,
                              int64_t for_secs, mdt_err *err)
{
    int64_t at = r->decided_at ? r->decided_at : ctx->now;
    int64_t d = mdt_access_duration_grant(r->duration, for_secs,
                                          env->cfg.access_requests_default_duration,
                                          env->cfg.access_requests_max_duration);
    mdt_entitlement_rec e = {.client_id = r->client_id, .resource = r->resource,
                             .request_id = r->id, .approved_by = mdt_ctx_actor(ctx),
                             .created_at = at, .expires_at = at + d};
    mdt_arena a;
    mdt_rc rc = MDT_OK;

    mdt_arena_init(&a, 1024);
    for (mdt_words w = mdt_words_of(r->scope ? r->scope : ""); rc == MDT_OK && mdt_words_next(&w);) {
        if (!(e.scope = mdt_arena_strndup(&a, w.word, w.len))) {
            rc = mdt_iga__nomem(err);
            break;
        }
        if ((rc = mdt_random_id(&env->rng, "ent_", ENT_ID_BYTES, &a, &e.id, err)) != MDT_OK ||
            (rc = mdt_store_entitlement_insert(env->store, &e, err)) != MDT_OK)
            break;
        rc = mdt_iga__audit_json(ctx, "entitlement.created", r->client_id,
                                 json_pack("{s:s, s:s, s:s?, s:s, s:I, s:I}", "id", e.id, "scope",
                                           e.scope, "resource", e.resource, "request", r->id,
                                           "duration", (json_int_t)d, "expires_at",
                                           (json_int_t)e.expires_at),
                                 err);
    }
    mdt_arena_free(&a);
    return rc;
}

const mdt_request_type mdt_iga__request_access = {
    .name = MDT_ACCESS_REQUEST_TYPE,
    .owner_may_decide = true,
    .subject_may_decide = false,
    .describe = access_describe,
    .approved = access_approved,
};
