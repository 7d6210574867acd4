/* The lifecycle of clients: create, update (with the credential plan that
 * follows the metadata and the authentication method), suspend and resume
 * (the kill switch), delete and secret rotation. Every operation validates
 * first (client_metadata.c), changes the store in one transaction and
 * records the change's audit event in the request context (its actor); bad input changes nothing. */
#include "iga/client.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "iga/credentials.h"
#include "iga/internal.h"
#include "iga/secret.h"
#include "store/store.h"

static mdt_rc nomem(mdt_err *err)
{
    return mdt_iga__nomem(err);
}


/* A new secret credential for client_id: *secret is the plain value (the
 * caller wipes it), cr gets its hash. */
static mdt_rc new_secret_cred(mdt_env *env, const char *client_id, int64_t now, mdt_arena *a,
                              mdt_cred_rec *cr, char secret[MDT_SECRET_LEN + 1], mdt_err *err)
{
    mdt_rc rc;

    memset(cr, 0, sizeof(*cr));
    if ((rc = mdt_iga__cred_id(&env->rng, a, &cr->id, err)) != MDT_OK ||
        (rc = mdt_secret_generate(&env->rng, secret, err)) != MDT_OK)
        return rc;
    mdt_secret_hash(secret, MDT_SECRET_LEN, cr->hash);
    cr->client_id = client_id;
    cr->type = mdt_cred_type_name(MDT_CRED_SECRET);
    cr->created_at = now;
    return MDT_OK;
}


static json_t *created_data(const char *metadata)
{
    json_t *m = json_loads(metadata, 0, NULL);
    json_t *d = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "client_name",
                          json_object_get(m, "client_name"), "kind", json_object_get(m, "kind"),
                          "owner", json_object_get(m, "owner"), "scope",
                          json_object_get(m, "scope"), "token_endpoint_auth_method",
                          json_object_get(m, "token_endpoint_auth_method"));
    json_decref(m);
    return d;
}

/* The credentials of a new client: its derived ones, and a secret (in
 * secret, which the caller wipes) when its method is a secret one. */
static mdt_rc initial_creds(mdt_env *env, const mdt_client_rec *rec, mdt_arena *a,
                            mdt_cred_plan *plan, char secret[MDT_SECRET_LEN + 1], mdt_err *err)
{
    mdt_cred_rec *want = NULL;
    size_t nwant = 0;
    mdt_rc rc;

    if ((rc = mdt_creds_derive(rec->metadata, a, &want, &nwant, err)) != MDT_OK ||
        (rc = mdt_creds_plan(&env->rng, rec->client_id, NULL, 0, want, nwant, rec->created_at, a,
                             plan, err)) != MDT_OK)
        return rc;
    if (!mdt_iga__metadata_is_secret(rec->metadata))
        return MDT_OK;
    return new_secret_cred(env, rec->client_id, rec->created_at, a, &plan->add[plan->nadd++],
                           secret, err);
}

/* Audit data with the members of extra (JSON object text; NULL) added. */
static json_t *with_extra(json_t *data, const char *extra)
{
    json_t *x = extra ? json_loads(extra, 0, NULL) : NULL;

    if (data && json_is_object(x))
        json_object_update(data, x);
    json_decref(x);
    return data;
}

/* plan->add followed by extra[], in a. */
static mdt_rc join_creds(mdt_arena *a, const mdt_cred_plan *plan, const mdt_cred_rec *extra,
                         size_t nextra, mdt_cred_rec **out, size_t *n, mdt_err *err)
{
    *n = plan->nadd + nextra;
    *out = mdt_arena_alloc(a, (*n ? *n : 1) * sizeof(**out));
    if (!*out)
        return nomem(err);
    if (plan->nadd)
        memcpy(*out, plan->add, plan->nadd * sizeof(**out));
    if (nextra)
        memcpy(*out + plan->nadd, extra, nextra * sizeof(**out));
    return MDT_OK;
}

static const mdt_client_spec no_spec;

/* An admin names an owner: it must be an existing, active user (SPEC §3.6).
 * owner: the metadata's owner member (NULL or not a string: nothing to
 * check). Self-registration has its own rules (registration.c). */
static mdt_rc check_owner_user(mdt_env *env, const json_t *owner, mdt_err *err)
{
    mdt_arena a;
    mdt_user_rec u;
    mdt_rc rc;

    if (!json_is_string(owner))
        return MDT_OK;
    mdt_arena_init(&a, 1024);
    rc = mdt_store_user_get(env->store, json_string_value(owner), &a, &u, err);
    if (rc == MDT_OK && mdt_str_eq(u.status, "active"))
        rc = MDT_OK;
    else if (rc == MDT_OK || rc == MDT_ERR_NOT_FOUND)
        rc = mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                       "owner must name an existing, active user",
                       "owner %.64s is %s", json_string_value(owner),
                       rc == MDT_OK ? "disabled" : "not a user");
    mdt_arena_free(&a);
    return rc;
}

/* check_owner_user on the owner member of metadata text. */
static mdt_rc check_owner_of(mdt_env *env, const char *metadata, mdt_err *err)
{
    json_t *m = json_loads(metadata, 0, NULL);
    mdt_rc rc = check_owner_user(env, json_object_get(m, "owner"), err);

    json_decref(m);
    return rc;
}

mdt_rc mdt_client_create_with(mdt_env *env, mdt_ctx *ctx, const char *json, size_t len,
                              const mdt_client_spec *spec, mdt_arena *a, const char **response_json,
                              mdt_err *err)
{
    int64_t now = ctx->now;
    mdt_client_rec rec = {.created_at = now, .updated_at = now};
    mdt_cred_plan plan;
    mdt_cred_rec *creds = NULL;
    size_t ncreds = 0;
    char secret[MDT_SECRET_LEN + 1] = "";
    mdt_rc rc;

    *response_json = NULL;
    bool admin = spec == NULL;
    spec = spec ? spec : &no_spec;
    rec.status = spec->status ? spec->status : mdt_client_status_name(MDT_CLIENT_ACTIVE);
    rec.client_id = spec->client_id;
    rc = mdt_client_metadata_validate(env, json, len, a, &rec.metadata, &rec.expires_at, err);
    if (rc == MDT_OK && admin)
        rc = check_owner_of(env, rec.metadata, err);
    if (rc != MDT_OK)
        return rc;
    if ((!rec.client_id &&
         (rc = mdt_random_id(&env->rng, "mdt_", MDT_CLIENT_ID_BYTES, a, &rec.client_id, err))) ||
        (rc = mdt_iga__metadata_server_members(a, &rec.metadata, NULL, spec->server_meta, err)) ||
        (rc = initial_creds(env, &rec, a, &plan, secret, err)) ||
        (rc = join_creds(a, &plan, spec->extra, spec->nextra, &creds, &ncreds, err)) ||
        (rc = mdt_iga__metadata_workload_unique(env, rec.client_id, creds, ncreds, a, err)) ||
        (rc = mdt_store_client_insert(env->store, &rec, creds, ncreds, err)))
        goto out;
    if ((rc = mdt_iga__audit_json(ctx, spec->event ? spec->event : "client.created", rec.client_id,
                                  with_extra(created_data(rec.metadata), spec->event_data), err)))
        goto out;
    rc = mdt_iga__dump_take(
        mdt_iga__client_doc(env, &rec, creds, ncreds, secret[0] ? secret : NULL, now), a,
        response_json, err);
out:
    mdt_wipe(secret, sizeof(secret));
    return rc;
}

mdt_rc mdt_client_create(mdt_env *env, mdt_ctx *ctx, const char *json, size_t len, mdt_arena *a,
                         const char **response_json, mdt_err *err)
{
    return mdt_client_create_with(env, ctx, json, len, NULL, a, response_json, err);
}


/* The method left the secret ones: every live secret expires now (the row
 * is rewritten in the same transaction, keeping its id and times). */
static void expire_secrets(const mdt_cred_rec *have, size_t nhave, int64_t now,
                           mdt_cred_plan *plan)
{
    for (size_t i = 0; i < nhave; i++) {
        if (!mdt_iga__secret_live(&have[i], now))
            continue;
        plan->del[plan->ndel++] = have[i].id;
        plan->add[plan->nadd] = have[i];
        plan->add[plan->nadd++].expires_at = now;
    }
}

static bool any_live_secret(const mdt_cred_rec *have, size_t nhave, int64_t now)
{
    for (size_t i = 0; i < nhave; i++)
        if (mdt_iga__secret_live(&have[i], now))
            return true;
    return false;
}

/* The credential changes of an update: derived rows follow the metadata;
 * secrets follow a change of method (see mdt_client_update). */
static mdt_rc plan_update(mdt_env *env, const mdt_client_rec *rec, bool was_secret, int64_t now,
                          mdt_arena *a, mdt_cred_plan *plan, char secret[MDT_SECRET_LEN + 1],
                          mdt_err *err)
{
    mdt_cred_rec *have = NULL, *want = NULL;
    size_t nhave = 0, nwant = 0;
    bool is_secret = mdt_iga__metadata_is_secret(rec->metadata);
    mdt_rc rc;

    if ((rc = mdt_store_cred_list(env->store, rec->client_id, a, &have, &nhave, err)) ||
        (rc = mdt_creds_derive(rec->metadata, a, &want, &nwant, err)) ||
        (rc = mdt_creds_plan(&env->rng, rec->client_id, have, nhave, want, nwant, now, a, plan,
                             err)))
        return rc;
    if (was_secret && !is_secret)
        expire_secrets(have, nhave, now, plan);
    else if (!was_secret && is_secret && !any_live_secret(have, nhave, now))
        return new_secret_cred(env, rec->client_id, now, a, &plan->add[plan->nadd++], secret, err);
    return MDT_OK;
}

/* {fields, credentials_added, credentials_removed}: ids only. */
static json_t *updated_data(json_t *keys, const mdt_cred_plan *plan)
{
    json_t *added = json_array(), *removed = json_array();

    for (size_t i = 0; added && i < plan->nadd; i++)
        json_array_append_new(added, json_string(plan->add[i].id));
    for (size_t i = 0; removed && i < plan->ndel; i++)
        json_array_append_new(removed, json_string(plan->del[i]));
    return json_pack("{s:O, s:o*, s:o*}", "fields", keys, "credentials_added", added,
                     "credentials_removed", removed);
}

mdt_rc mdt_client_update_with(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *json,
                              size_t len, const mdt_client_spec *spec, mdt_arena *a,
                              const char **response_json, mdt_err *err)
{
    int64_t now = ctx->now;
    mdt_client_rec rec;
    mdt_cred_plan plan;
    char secret[MDT_SECRET_LEN + 1] = "";
    json_t *in = NULL, *keys = NULL;
    const char *stored;
    bool was_secret;
    mdt_rc rc;

    *response_json = NULL;
    bool admin = spec == NULL;
    spec = spec ? spec : &no_spec;
    if ((rc = mdt_iga__metadata_parse(json, len, &in, err)) != MDT_OK)
        return rc;
    if (admin && (rc = check_owner_user(env, json_object_get(in, "owner"), err)) != MDT_OK)
        goto out;
    if ((rc = mdt_iga__client_get(env, client_id, a, &rec, err)))
        goto out;
    was_secret = mdt_iga__metadata_is_secret(rec.metadata);
    stored = rec.metadata;
    if ((rc = mdt_iga__metadata_update(env, stored, in, spec->replace, a, &rec.metadata,
                                        &rec.expires_at, &keys, err)) ||
        (rc = mdt_iga__metadata_server_members(a, &rec.metadata, stored, spec->server_meta, err)) ||
        (rc = plan_update(env, &rec, was_secret, now, a, &plan, secret, err)))
        goto out;
    rec.updated_at = now;
    if (spec->status)
        rec.status = spec->status;
    if ((rc = mdt_iga__metadata_workload_unique(env, rec.client_id, plan.add, plan.nadd, a, err)) ||
        (rc = mdt_store_client_update_creds(env->store, &rec, plan.add, plan.nadd, plan.del,
                                            plan.ndel, err)))
        goto out;
    rc = mdt_iga__audit_json(ctx, spec->event ? spec->event : "client.updated", rec.client_id,
                             with_extra(updated_data(keys, &plan), spec->event_data), err);
    if (rc == MDT_OK)
        rc = mdt_iga__dump_take(
            mdt_iga__client_doc(env, &rec, NULL, 0, secret[0] ? secret : NULL, now), a,
            response_json, err);
out:
    mdt_wipe(secret, sizeof(secret));
    json_decref(in);
    json_decref(keys);
    return rc;
}

mdt_rc mdt_client_update(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *json,
                         size_t len, mdt_arena *a, const char **response_json, mdt_err *err)
{
    return mdt_client_update_with(env, ctx, client_id, json, len, NULL, a, response_json, err);
}

/* Suspends (the kill switch: tokens issued before now + 1 are inactive) or
 * resumes rec; *event: the audit type, NULL when nothing changes. */
static mdt_rc change_status(mdt_client_rec *rec, mdt_client_status to, int64_t now,
                            const char **event, mdt_err *err)
{
    const char *at = mdt_iga__effective_status(rec->status, rec->expires_at, now);

    *event = NULL;
    switch (to) {
    case MDT_CLIENT_SUSPENDED:
        rec->status = mdt_client_status_name(MDT_CLIENT_SUSPENDED);
        rec->tokens_valid_after = now + 1;
        *event = "client.suspended";
        return MDT_OK;
    case MDT_CLIENT_ACTIVE:
        if (mdt_client_status_from_name(at) == MDT_CLIENT_EXPIRED)
            return mdt_failf(err, MDT_ERR_CONFLICT, "client has expired and cannot be resumed",
                             "client %.64s has expired (expires_at passed) and cannot be resumed",
                             rec->client_id);
        if (mdt_client_status_from_name(rec->status) == MDT_CLIENT_ACTIVE)
            return MDT_OK; /* nothing to do */
        rec->status = mdt_client_status_name(MDT_CLIENT_ACTIVE);
        *event = "client.resumed";
        return MDT_OK;
    case MDT_CLIENT_STATUS_UNKNOWN:
    case MDT_CLIENT_PENDING:
    case MDT_CLIENT_EXPIRED:
        break;
    }
    return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "status must be active or suspended");
}

mdt_rc mdt_client_set_status(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *status,
                             mdt_err *err)
{
    int64_t now = ctx->now;
    mdt_arena a;
    mdt_client_rec rec;
    mdt_client_status to = mdt_client_status_from_name(status);
    const char *event = NULL;
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    if ((rc = mdt_iga__client_get(env, client_id, &a, &rec, err)))
        goto out;
    if (to == MDT_CLIENT_ACTIVE) {
        /* expired by expires_at or, self-registered, by never authenticating */
        mdt_client c;
        if ((rc = mdt_client_load(env, client_id, now, &a, &c, err)))
            goto out;
        if (mdt_client_status_from_name(c.status) == MDT_CLIENT_EXPIRED) {
            rc = mdt_failf(err, MDT_ERR_CONFLICT, "client has expired and cannot be resumed",
                           "client %.64s has expired and cannot be resumed", client_id);
            goto out;
        }
    }
    if ((rc = change_status(&rec, to, now, &event, err)) || !event)
        goto out;
    rec.updated_at = now;
    if ((rc = mdt_store_client_update(env->store, &rec, err)))
        goto out;
    rc = mdt_iga__audit_json(ctx, event, rec.client_id, NULL, err);
out:
    mdt_arena_free(&a);
    return rc;
}

mdt_rc mdt_client_delete(mdt_env *env, mdt_ctx *ctx, const char *client_id, mdt_err *err)
{
    mdt_rc rc = mdt_store_client_delete(env->store, client_id, ctx->now, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown client", "unknown client %.64s", client_id);
    if (rc != MDT_OK)
        return rc;
    return mdt_iga__audit_json(ctx, "client.deleted", client_id, NULL, err);
}

static json_t *rotate_doc(const char *client_id, const char *secret)
{
    return json_pack("{s:s, s:s, s:i}", "client_id", client_id, "client_secret", secret,
                     "client_secret_expires_at", 0);
}

mdt_rc mdt_client_rotate_secret(mdt_env *env, mdt_ctx *ctx, const char *client_id, int64_t keep,
                                mdt_arena *a, const char **response_json, mdt_err *err)
{
    int64_t now = ctx->now;
    mdt_client_rec rec;
    mdt_cred_rec cred;
    char secret[MDT_SECRET_LEN + 1] = "";
    mdt_rc rc;

    *response_json = NULL;
    if (keep < 0 || keep > INT64_MAX / 2)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "keep must be a non-negative duration");
    if ((rc = mdt_iga__client_get(env, client_id, a, &rec, err)))
        goto out;
    if (!mdt_iga__metadata_is_secret(rec.metadata)) {
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                      "the client does not authenticate with a secret (its "
                      "token_endpoint_auth_method is not client_secret_basic or client_secret_post)");
        goto out;
    }
    if ((rc = new_secret_cred(env, rec.client_id, now, a, &cred, secret, err)) ||
        (rc = mdt_store_cred_insert(env->store, &cred, err)) ||
        (rc = mdt_store_cred_expire_others(env->store, rec.client_id, cred.type, cred.id,
                                           now + keep, err)))
        goto out;
    rc = mdt_iga__audit_json(
        ctx, "client.secret_rotated", rec.client_id,
        json_pack("{s:s, s:I}", "credential_id", cred.id, "keep", (json_int_t)keep), err);
    if (rc == MDT_OK)
        rc = mdt_iga__dump_take(rotate_doc(rec.client_id, secret), a, response_json, err);
out:
    mdt_wipe(secret, sizeof(secret));
    return rc;
}
