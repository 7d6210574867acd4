#include "iga/requests.h"

#include <jansson.h>
#include <string.h>

#include "audit/audit.h"
#include "iga/registration.h"
#include "iga/scope.h"
#include "iga/secret.h"
#include "users/users.h"

#define REQUEST_ID_BYTES 12 /* "req_" + 16 characters */

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

const char *mdt_request_status(const mdt_request_rec *r, int64_t now)
{
    if (mdt_str_eq(r->status, "pending") && r->expires_at && r->expires_at <= now)
        return "expired";
    return r->status;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *request_doc(const mdt_request_rec *r, int64_t now)
{
    json_t *details = r->authorization_details ? json_loads(r->authorization_details, 0, NULL)
                                               : NULL;

    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "id", r->id, "type", r->type, "status", mdt_request_status(r, now),
                     "client_id", str_or_null(r->client_id), "subject", str_or_null(r->subject),
                     "scope", str_or_null(r->scope), "resource", str_or_null(r->resource),
                     "binding_message", str_or_null(r->binding_message), "authorization_details",
                     details ? details : json_null(), "created_at",
                     mdt_iga__time_json(r->created_at), "expires_at",
                     mdt_iga__time_json(r->expires_at), "decided_by", str_or_null(r->decided_by),
                     "decided_at", mdt_iga__time_json(r->decided_at), "note",
                     str_or_null(r->note));
}

static mdt_rc dump(json_t *doc, mdt_arena *a, const char **out, mdt_err *err)
{
    mdt_rc rc = doc ? mdt_iga__dump(doc, a, out, err) : nomem(err);

    json_decref(doc);
    return rc;
}

/* One audit event of this module: actor, client, decision and data. */
static mdt_rc audit(mdt_env *env, const char *type, const char *actor, const mdt_request_rec *r,
                    const char *decision, json_t *data, mdt_err *err)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    mdt_audit_event ev = {.type = type, .actor = actor, .client_id = r->client_id,
                          .subject = r->subject, .decision = decision, .data = text};
    mdt_rc rc;

    if (!text)
        rc = nomem(err);
    else if (env->audit)
        rc = mdt_audit_record(env->audit, &ev, err);
    else
        rc = mdt_audit_append_now(env->store, &env->clock, &ev, err);
    free(text);
    json_decref(data);
    return rc;
}

mdt_rc mdt_request_create(mdt_env *env, const mdt_request_rec *r, mdt_arena *a, const char **id,
                          mdt_err *err)
{
    int64_t now = mdt_now(&env->clock);
    mdt_request_rec v = *r;
    mdt_rc rc;

    *id = NULL;
    v.status = "pending";
    v.created_at = now;
    v.expires_at = r->expires_at ? r->expires_at : now + MDT_REQUEST_TTL;
    v.decided_by = v.note = NULL;
    v.decided_at = 0;
    if ((rc = mdt_random_id(&env->rng, "req_", REQUEST_ID_BYTES, a, &v.id, err)) ||
        (rc = mdt_store_request_insert(env->store, &v, err)))
        return rc;
    rc = audit(env, "request.created", env->actor, &v, NULL,
               json_pack("{s:s, s:s, s:s?}", "id", v.id, "type", v.type, "scope", v.scope), err);
    if (rc == MDT_OK)
        *id = v.id;
    return rc;
}

mdt_rc mdt_request_list_json(mdt_env *env, const char *status, mdt_arena *a, const char **json,
                             mdt_err *err)
{
    int64_t now = mdt_now(&env->clock);
    mdt_request_rec *list = NULL;
    size_t n = 0;
    json_t *arr;
    mdt_rc rc;

    *json = NULL;
    if ((rc = mdt_store_request_list(env->store, a, &list, &n, err)) != MDT_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *doc;
        if (status && !mdt_str_eq(mdt_request_status(&list[i], now), status))
            continue;
        doc = request_doc(&list[i], now);
        /* a pending registration shows the metadata its approval approves */
        if (doc && mdt_str_eq(list[i].type, "registration") &&
            mdt_str_eq(mdt_request_status(&list[i], now), "pending")) {
            json_t *m = mdt_registration_shown(env, &list[i], a);
            json_object_set_new(doc, "metadata", m ? m : json_null());
        }
        if (json_array_append_new(arr, doc) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return dump(arr, a, json, err);
}

/* The owner of a client (NULL when none or unknown). */
static const char *client_owner(mdt_env *env, const char *client_id, mdt_arena *a)
{
    mdt_client_rec rec;
    const char *owner = NULL;
    json_t *m;

    if (!client_id || mdt_store_client_get(env->store, client_id, a, &rec, NULL) != MDT_OK)
        return NULL;
    m = json_loads(rec.metadata, 0, NULL);
    owner = mdt_arena_strdup(a, json_string_value(json_object_get(m, "owner")));
    json_decref(m);
    return owner;
}

/* Whether user `by` may decide r: an active approver or admin, or the
 * owner of r's client. */
static mdt_rc may_decide(mdt_env *env, const char *by, const mdt_request_rec *r, mdt_arena *a,
                         mdt_err *err)
{
    mdt_user_rec u;
    mdt_rc rc = mdt_store_user_get(env->store, by, a, &u, err);

    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(u.status, "active")))
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED, "unknown or disabled user",
                         "user %.64s is unknown or disabled", by);
    if (rc != MDT_OK)
        return rc;
    if (mdt_user_has_role(u.roles, "approver") || mdt_user_has_role(u.roles, "admin"))
        return MDT_OK;
    /* a pending registration names its owner itself: that owner is what is
     * to be approved, not who approves */
    if (!mdt_str_eq(r->type, "registration") && mdt_str_eq(client_owner(env, r->client_id, a), by))
        return MDT_OK;
    return mdt_failf(err, MDT_ERR_ACCESS_DENIED,
                     "only an approver, an admin or the owner of the client may decide",
                     "user %.64s is neither an approver, an admin nor the owner of %.64s", by,
                     r->client_id ? r->client_id : "-");
}

/* Why a decision could not be recorded: unknown, or no longer pending. */
static mdt_rc not_pending(mdt_env *env, const char *id, mdt_arena *a, mdt_err *err)
{
    mdt_request_rec r;
    mdt_rc rc = mdt_store_request_get(env->store, id, a, &r, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown request", "unknown request %.64s", id);
    if (rc != MDT_OK)
        return rc;
    return mdt_failf(err, MDT_ERR_CONFLICT, "the request is no longer pending",
                     "request %.64s is %s", id, mdt_request_status(&r, mdt_now(&env->clock)));
}

static mdt_rc check_args(const char *note, int64_t for_secs, bool approve, mdt_err *err)
{
    if (note && strlen(note) > MDT_REQUEST_NOTE_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "note must be at most 1000 bytes");
    if (for_secs < 0 || for_secs > INT64_MAX / 2 || (for_secs && !approve))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "for is a positive duration of an approval");
    return MDT_OK;
}

mdt_rc mdt_request_decide(mdt_env *env, const char *id, bool approve, const char *by,
                          const char *note, int64_t for_secs, mdt_arena *a, const char **json,
                          mdt_err *err)
{
    int64_t now = mdt_now(&env->clock);
    const char *who = by ? by : env->actor ? env->actor : "system";
    mdt_request_rec r;
    mdt_rc rc;

    *json = NULL;
    if ((rc = check_args(note, for_secs, approve, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_store_request_get(env->store, id, a, &r, err)) == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown request", "unknown request %.64s", id);
    if (rc != MDT_OK || (by && (rc = may_decide(env, by, &r, a, err)) != MDT_OK))
        return rc;
    /* an approval approves exactly what the request showed */
    if (approve && mdt_str_eq(r.type, "registration") &&
        mdt_str_eq(mdt_request_status(&r, now), "pending") &&
        (rc = mdt_registration_check_request(env, &r, a, err)) != MDT_OK)
        return rc;
    rc = mdt_store_request_decide(env->store, id, approve ? "approved" : "denied", who, note, now,
                                  a, &r, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return not_pending(env, id, a, err);
    if (rc != MDT_OK)
        return rc;
    rc = audit(env, approve ? "request.approved" : "request.denied", who, &r,
               approve ? "allow" : "deny",
               json_pack("{s:s, s:s, s:s?, s:I}", "id", r.id, "type", r.type, "note", r.note,
                         "for", (json_int_t)for_secs),
               err);
    if (rc == MDT_OK && mdt_str_eq(r.type, "registration"))
        rc = mdt_registration_decided(env, &r, approve, for_secs, err);
    if (rc == MDT_OK)
        rc = dump(request_doc(&r, now), a, json, err);
    return rc;
}

mdt_rc mdt_request_supersede(mdt_env *env, const char *client_id, const char *type, mdt_arena *a,
                             mdt_err *err)
{
    int64_t now = mdt_now(&env->clock);
    const char *who = env->actor ? env->actor : "system";
    mdt_request_rec *list = NULL, r;
    size_t n = 0;
    mdt_rc rc = mdt_store_request_list(env->store, a, &list, &n, err);

    for (size_t i = 0; rc == MDT_OK && i < n; i++) {
        if (!mdt_str_eq(list[i].client_id, client_id) || !mdt_str_eq(list[i].type, type) ||
            !mdt_str_eq(mdt_request_status(&list[i], now), "pending"))
            continue;
        rc = mdt_store_request_decide(env->store, list[i].id, "denied", who, "superseded", now, a,
                                      &r, err);
        if (rc == MDT_ERR_NOT_FOUND) { /* decided meanwhile */
            mdt_err_clear(err);
            rc = MDT_OK;
            continue;
        }
        if (rc == MDT_OK)
            rc = audit(env, "request.superseded", who, &r, "deny",
                       json_pack("{s:s, s:s}", "id", r.id, "type", r.type), err);
    }
    return rc;
}
