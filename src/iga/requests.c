/* Approval requests: one record and one decision path for every type. What
 * differs by type (who else may decide, whether an approval is still valid,
 * what approvers are shown, what a decision does) is a row of hooks
 * (mdt_request_type, internal.h) found by the stored type; this file names
 * no type. */
#include "iga/requests.h"

#include <jansson.h>
#include <string.h>

#include "audit/audit.h"
#include "core/words.h"
#include "iga/internal.h"
#include "iga/routing.h"
#include "iga/secret.h"
#include "users/users.h"

#define REQUEST_ID_BYTES 12 /* "req_" + 16 characters */

static mdt_rc nomem(mdt_err *err)
{
    return mdt_iga__nomem(err);
}

const mdt_request_type *mdt_iga__request_type_find(const mdt_request_types *reg,
                                                   const char *name)
{
    for (size_t i = 0; reg && name && i < reg->n; i++)
        if (mdt_str_eq(reg->types[i]->name, name))
            return reg->types[i];
    return NULL;
}

static mdt_request_state state_at(const mdt_request_rec *r, int64_t now)
{
    mdt_request_state st = mdt_request_state_from_name(r->status);

    if (st == MDT_REQUEST_PENDING && r->expires_at && r->expires_at <= now)
        return MDT_REQUEST_EXPIRED;
    return st;
}

const char *mdt_request_status(const mdt_request_rec *r, int64_t now)
{
    mdt_request_state st = state_at(r, now);

    return st == MDT_REQUEST_EXPIRED ? mdt_request_state_name(st) : r->status;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *request_doc(const mdt_request_rec *r, int64_t now)
{
    json_t *details = r->authorization_details ? json_loads(r->authorization_details, 0, NULL)
                                               : NULL;

    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
                     "s:o, s:o}",
                     "id", r->id, "type", r->type, "status", mdt_request_status(r, now),
                     "client_id", str_or_null(r->client_id), "subject", str_or_null(r->subject),
                     "scope", str_or_null(r->scope), "resource", str_or_null(r->resource),
                     "binding_message", str_or_null(r->binding_message), "authorization_details",
                     details ? details : json_null(), "created_at",
                     mdt_iga__time_json(r->created_at), "expires_at",
                     mdt_iga__time_json(r->expires_at), "decided_by", str_or_null(r->decided_by),
                     "decided_at", mdt_iga__time_json(r->decided_at), "note",
                     str_or_null(r->note), "justification", str_or_null(r->justification),
                     "duration", r->duration ? json_integer(r->duration) : json_null());
}

static mdt_rc dump(json_t *doc, mdt_arena *a, const char **out, mdt_err *err)
{
    return mdt_iga__dump_take(doc, a, out, err);
}

/* One audit event of this module: actor, client, decision and data. */
static mdt_rc audit(mdt_ctx *ctx, const char *type, const char *actor, const mdt_request_rec *r,
                    const char *decision, json_t *data, mdt_err *err)
{
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    mdt_audit_event ev = {.type = type, .actor = actor, .client_id = r->client_id,
                          .subject = r->subject, .decision = decision, .data = text};
    mdt_rc rc;

    if (!text)
        rc = nomem(err);
    else
        rc = mdt_ctx_audit(ctx, &ev, err);
    free(text);
    json_decref(data);
    return rc;
}

/* A member of a client's metadata (NULL when none or unknown). */
static const char *client_member(mdt_env *env, const char *client_id, const char *member,
                                 mdt_arena *a)
{
    mdt_client_rec rec;
    const char *v = NULL;
    json_t *m;

    if (!client_id || mdt_store_client_get(env->store, client_id, a, &rec, NULL) != MDT_OK)
        return NULL;
    m = json_loads(rec.metadata, 0, NULL);
    v = mdt_arena_strdup(a, json_string_value(json_object_get(m, member)));
    json_decref(m);
    return v;
}

/* The owner of a client (NULL when none or unknown). */
static const char *client_owner(mdt_env *env, const char *client_id, mdt_arena *a)
{
    return client_member(env, client_id, "owner", a);
}

/* The rule of [approvals] routing for r: matched on its type, its scopes
 * and their sensitivity (an unknown scope: none), and its client's risk
 * tier, as they are now. */
static mdt_route matched_route(mdt_env *env, const mdt_request_rec *r, mdt_arena *a)
{
    mdt_route_facts f = {.type = r->type};
    const char **sens = NULL;
    size_t n = 0;

    if (!env->routing)
        return mdt_routing_match(NULL, &f);
    f.scopes = mdt_words_split(a, r->scope ? r->scope : "", &n);
    if (f.scopes && n && (sens = mdt_arena_alloc(a, n * sizeof(*sens)))) {
        for (size_t i = 0; i < n; i++) {
            mdt_scope_rec sc;
            sens[i] = mdt_store_scope_get(env->store, f.scopes[i], a, &sc, NULL) == MDT_OK
                          ? sc.sensitivity
                          : "none";
        }
        f.sensitivities = sens;
        f.nscopes = n;
    }
    f.risk_tier = client_member(env, r->client_id, "risk_tier", a);
    return mdt_routing_match(env->routing, &f);
}

/* The route of r of type t: its rule, except that a rule naming someone the
 * type does not trust to decide (the owner of a pending registration's
 * client, whom the registration names itself; the person asked, where the
 * type has none it trusts or r names none) gives r to the approvers
 * instead, so that no rule lets a requester approve itself. */
static mdt_route route_of(mdt_env *env, const mdt_request_type *t, const mdt_request_rec *r,
                          mdt_arena *a)
{
    mdt_route route = matched_route(env, r, a);

    if ((route.who == MDT_ROUTE_OWNER && !t->owner_may_decide) ||
        (route.who == MDT_ROUTE_USER && (!t->subject_may_decide || !r->subject)))
        route.who = MDT_ROUTE_APPROVER;
    return route;
}

/* When a new request expires: what its flow asked (expires_at, 0: nothing),
 * at most its rule's expires_in or [approvals] default_ttl from now. */
static int64_t expiry_of(mdt_env *env, const mdt_request_rec *r, mdt_route route, int64_t now)
{
    int64_t ttl = route.expires_in ? route.expires_in
                  : env->cfg.approvals_default_ttl ? env->cfg.approvals_default_ttl
                                                   : MDT_REQUEST_TTL;
    int64_t at = ttl > INT64_MAX - now ? INT64_MAX : now + ttl;

    return r->expires_at && r->expires_at < at ? r->expires_at : at;
}

static json_t *described_doc(const mdt_request_types *reg, mdt_env *env,
                             const mdt_request_rec *r, const mdt_vote_rec *votes, size_t nvotes,
                             int64_t now, mdt_arena *a);

/* The notification of a new pending request (the request as listed), one
 * delivery per endpoint. */
static mdt_rc pending_events(const mdt_request_types *reg, mdt_env *env, const mdt_request_rec *v,
                             mdt_arena *a, mdt_outbox_rec **ev, size_t *nev, mdt_err *err)
{
    json_t *item;
    mdt_rc rc;

    *ev = NULL;
    *nev = 0;
    if (!mdt_env_webhooks(env))
        return MDT_OK;
    if (!(item = described_doc(reg, env, v, NULL, 0, v->created_at, a)))
        return nomem(err);
    rc = mdt_iga__webhook_events(env, "request.pending", item, v->created_at, a, ev, nev, err);
    json_decref(item);
    return rc;
}

mdt_rc mdt_iga__request_create_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                  const mdt_request_rec *r, mdt_arena *a, const char **id,
                                  mdt_err *err)
{
    int64_t now = ctx->now;
    const mdt_request_type *t;
    mdt_request_rec v = *r;
    mdt_outbox_rec *ev = NULL;
    size_t nev = 0;
    mdt_rc rc;

    *id = NULL;
    if (!(t = mdt_iga__request_type_find(reg, r->type)))
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "unknown request type",
                         "unknown request type %.64s", r->type ? r->type : "(none)");
    v.status = mdt_request_state_name(MDT_REQUEST_PENDING);
    v.created_at = now;
    v.expires_at = expiry_of(env, r, route_of(env, t, r, a), now);
    v.decided_by = v.note = NULL;
    v.decided_at = 0;
    if ((rc = mdt_random_id(&env->rng, "req_", REQUEST_ID_BYTES, a, &v.id, err)) ||
        (rc = pending_events(reg, env, &v, a, &ev, &nev, err)) ||
        (rc = mdt_store_request_insert_notify(env->store, &v, ev, nev, err)))
        return rc;
    rc = audit(ctx, "request.created", ctx->actor, &v, NULL,
               json_pack("{s:s, s:s, s:s?}", "id", v.id, "type", v.type, "scope", v.scope), err);
    if (rc == MDT_OK)
        *id = v.id;
    return rc;
}

mdt_rc mdt_request_create(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r, mdt_arena *a,
                          const char **id, mdt_err *err)
{
    return mdt_iga__request_create_in(&mdt_iga__request_types, env, ctx, r, a, id, err);
}

/* The votes on r among votes[0..n) as a JSON array: {approver, decision,
 * voted_at, note}. */
static json_t *votes_doc(const mdt_request_rec *r, const mdt_vote_rec *votes, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n; i++)
        if (mdt_str_eq(votes[i].request_id, r->id) &&
            json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o}", "approver",
                                                 votes[i].approver, "decision", votes[i].decision,
                                                 "voted_at", mdt_iga__time_json(votes[i].voted_at),
                                                 "note", str_or_null(votes[i].note))) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    return arr;
}

/* The JSON object of r, with its votes, and what its type shows approvers
 * of a pending one and who must decide it ("approve": the routing rule,
 * and "quorum" under a quorum). */
static json_t *described_doc(const mdt_request_types *reg, mdt_env *env,
                             const mdt_request_rec *r, const mdt_vote_rec *votes, size_t nvotes,
                             int64_t now, mdt_arena *a)
{
    const mdt_request_type *t = mdt_iga__request_type_find(reg, r->type);
    json_t *doc = request_doc(r, now), *v = votes_doc(r, votes, nvotes);

    if (!doc || !v || json_object_set_new(doc, "votes", v) != 0) {
        json_decref(doc);
        return NULL;
    }
    if (t && state_at(r, now) == MDT_REQUEST_PENDING) {
        mdt_route route = route_of(env, t, r, a);
        json_object_set_new(doc, "approve", json_string(mdt_route_who_name(route.who)));
        if (route.who == MDT_ROUTE_QUORUM)
            json_object_set_new(doc, "quorum", json_integer(route.quorum));
        if (t->describe)
            t->describe(env, r, a, doc);
    }
    return doc;
}

mdt_rc mdt_iga__request_list_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                const char *client_id, const char *status, mdt_arena *a,
                                const char **json, mdt_err *err)
{
    int64_t now = ctx->now;
    mdt_request_rec *list = NULL;
    mdt_vote_rec *votes = NULL;
    size_t n = 0, nvotes = 0;
    json_t *arr;
    mdt_rc rc;

    *json = NULL;
    if ((rc = mdt_store_request_list(env->store, a, &list, &n, err)) != MDT_OK ||
        (rc = mdt_store_vote_list(env->store, a, &votes, &nvotes, err)) != MDT_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *doc;
        if (status && !mdt_str_eq(mdt_request_status(&list[i], now), status))
            continue;
        if (client_id && !mdt_str_eq(list[i].client_id, client_id))
            continue;
        doc = described_doc(reg, env, &list[i], votes, nvotes, now, a);
        if (json_array_append_new(arr, doc) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return dump(arr, a, json, err);
}

mdt_rc mdt_request_list_json(mdt_env *env, mdt_ctx *ctx, const char *status, mdt_arena *a,
                             const char **json, mdt_err *err)
{
    return mdt_iga__request_list_in(&mdt_iga__request_types, env, ctx, NULL, status, a, json, err);
}

mdt_rc mdt_request_list_client_json(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                                    const char *status, mdt_arena *a, const char **json,
                                    mdt_err *err)
{
    return mdt_iga__request_list_in(&mdt_iga__request_types, env, ctx, client_id, status, a, json, err);
}

/* Whether user has voted on r (with decision allow only, when allow_only). */
static bool has_voted_as(mdt_env *env, const char *username, const mdt_request_rec *r,
                         bool allow_only, mdt_arena *a)
{
    mdt_vote_rec *votes = NULL;
    size_t n = 0;

    if (!username || mdt_store_request_votes(env->store, r->id, a, &votes, &n, NULL) != MDT_OK)
        return false;
    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(votes[i].approver, username) &&
            (!allow_only || mdt_str_eq(votes[i].decision, "allow")))
            return true;
    return false;
}

/* Whether routing asks others to approve after the person r asks, whose
 * own decision comes first (their consent, as their authentication in CIBA
 * and the device flow: a token names them). */
static bool others_after_subject(const mdt_request_type *t, mdt_route route,
                                 const mdt_request_rec *r)
{
    return t->subject_may_decide && r->subject && route.who != MDT_ROUTE_DEFAULT &&
           route.who != MDT_ROUTE_USER;
}

/* Why user u (by) may not decide r under route; NULL when they may. The
 * default: an approver or an admin, or the owner of r's client when its
 * type allows that. A type whose subject decides (CIBA, device) is the
 * person's decision first: by default theirs alone; when routing asks
 * others too, they decide after the person allowed. Under a quorum, the
 * owner of r's client is no voter. */
static const char *why_not(mdt_env *env, const mdt_request_type *t, mdt_route route,
                           const mdt_user_rec *u, const char *by, const mdt_request_rec *r,
                           mdt_arena *a)
{
    bool approver = mdt_user_has_role(u->roles, "approver") || mdt_user_has_role(u->roles, "admin");
    bool subject = r->subject && mdt_str_eq(r->subject, by);

    if (t->subject_may_decide && r->subject) {
        if (!others_after_subject(t, route, r))
            return subject ? NULL : "only the person the request asks may decide it";
        if (subject)
            return has_voted_as(env, by, r, false, a) ? "the person asked has decided already"
                                                      : NULL;
        if (!has_voted_as(env, r->subject, r, true, a))
            return "the request waits for the decision of the person it asks";
    }
    switch (route.who) {
    case MDT_ROUTE_USER: /* route_of: only where the type trusts the person asked */
        return subject ? NULL : "only the person the request asks may decide it";
    case MDT_ROUTE_OWNER: /* route_of: only where the type trusts the owner */
        return mdt_str_eq(client_owner(env, r->client_id, a), by)
                   ? NULL
                   : "only the owner of the client may decide it";
    case MDT_ROUTE_APPROVER:
        return approver ? NULL : "only an approver or an admin may decide it";
    case MDT_ROUTE_QUORUM:
        if (mdt_str_eq(client_owner(env, r->client_id, a), by))
            return "the owner of the client may not vote on its request when a quorum is required";
        return approver ? NULL : "only an approver or an admin may vote on it";
    case MDT_ROUTE_DEFAULT:
        break;
    }
    if (approver || (t->owner_may_decide && mdt_str_eq(client_owner(env, r->client_id, a), by)))
        return NULL;
    return "only an approver, an admin or the owner of the client may decide";
}

/* Whether user `by` (who must exist and be active) may decide r under
 * route (MDT_ERR_ACCESS_DENIED with the reason when not). */
static mdt_rc may_decide(mdt_env *env, const mdt_request_type *t, mdt_route route, const char *by,
                         const mdt_request_rec *r, mdt_arena *a, mdt_err *err)
{
    mdt_user_rec u;
    const char *why;
    mdt_rc rc = mdt_store_user_get(env->store, by, a, &u, err);

    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && !mdt_str_eq(u.status, "active")))
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED, "unknown or disabled user",
                         "user %.64s is unknown or disabled", by);
    if (rc != MDT_OK)
        return rc;
    if (!(why = why_not(env, t, route, &u, by, r, a)))
        return MDT_OK;
    return mdt_failf(err, MDT_ERR_ACCESS_DENIED, why, "user %.64s may not decide %.64s (%s): %s",
                     by, r->id, mdt_route_who_name(route.who), why);
}

bool mdt_iga__request_may_decide_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                     const char *username, const mdt_request_rec *r)
{
    const mdt_request_type *t = mdt_iga__request_type_find(reg, r->type);
    mdt_arena a;
    mdt_err err;
    mdt_route route;
    bool ok;

    if (!t || !username || state_at(r, ctx->now) != MDT_REQUEST_PENDING)
        return false;
    mdt_arena_init(&a, 2048);
    route = route_of(env, t, r, &a);
    ok = may_decide(env, t, route, username, r, &a, &err) == MDT_OK &&
         !(route.who == MDT_ROUTE_QUORUM && has_voted_as(env, username, r, false, &a));
    mdt_arena_free(&a);
    return ok;
}

bool mdt_request_may_decide(mdt_env *env, mdt_ctx *ctx, const char *username,
                            const mdt_request_rec *r)
{
    return mdt_iga__request_may_decide_in(&mdt_iga__request_types, env, ctx, username, r);
}

/* What t shows approvers of r beyond the record, as JSON object text in a;
 * NULL when nothing. */
static const char *shown_text(const mdt_request_type *t, mdt_env *env, const mdt_request_rec *r,
                              mdt_arena *a)
{
    json_t *doc;
    const char *text = NULL;

    if (!t->describe || !(doc = json_object()))
        return NULL;
    t->describe(env, r, a, doc);
    if (json_object_size(doc) == 0 || mdt_iga__dump(doc, a, &text, NULL) != MDT_OK)
        text = NULL;
    json_decref(doc);
    return text;
}

mdt_rc mdt_request_list_for(mdt_env *env, mdt_ctx *ctx, const char *username, mdt_arena *a,
                            mdt_request_item **out, size_t *n, mdt_err *err)
{
    const mdt_request_types *reg = &mdt_iga__request_types;
    mdt_request_rec *list = NULL;
    size_t total = 0, k = 0;
    mdt_rc rc;

    *out = NULL;
    *n = 0;
    if ((rc = mdt_store_request_list_pending(env->store, ctx->now, a, &list, &total, err)) !=
        MDT_OK)
        return rc;
    if (total && !(*out = mdt_arena_alloc(a, total * sizeof(**out))))
        return nomem(err);
    for (size_t i = 0; i < total; i++) {
        const mdt_request_type *t = mdt_iga__request_type_find(reg, list[i].type);

        /* the rule mdt_request_decide applies: routing, quorum votes, owner */
        if (!t || !mdt_iga__request_may_decide_in(reg, env, ctx, username, &list[i]))
            continue;
        (*out)[k].rec = list[i];
        (*out)[k++].shown = shown_text(t, env, &list[i], a);
    }
    *n = k;
    return MDT_OK;
}

/* Why a decision could not be recorded: unknown, or no longer pending. */
static mdt_rc not_pending(mdt_env *env, mdt_ctx *ctx, const char *id, mdt_arena *a, mdt_err *err)
{
    mdt_request_rec r;
    mdt_rc rc = mdt_store_request_get(env->store, id, a, &r, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown request", "unknown request %.64s", id);
    if (rc != MDT_OK)
        return rc;
    return mdt_failf(err, MDT_ERR_CONFLICT, "the request is no longer pending",
                     "request %.64s is %s", id, mdt_request_status(&r, ctx->now));
}

static mdt_rc check_args(const char *note, int64_t for_secs, bool approve, mdt_err *err)
{
    if (note && strlen(note) > MDT_REQUEST_NOTE_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "note must be at most 1000 bytes");
    if (for_secs < 0 || for_secs > INT64_MAX / 2 || (for_secs && !approve))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "for is a positive duration of an approval");
    return MDT_OK;
}

/* Applies a recorded decision through the hooks of its type. */
static mdt_rc apply(const mdt_request_type *t, mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r,
                    bool approve, int64_t for_secs, mdt_err *err)
{
    if (approve)
        return t->approved ? t->approved(env, ctx, r, for_secs, err) : MDT_OK;
    return t->denied ? t->denied(env, ctx, r, err) : MDT_OK;
}

/* Audits the final decision of r (as recorded) and applies it through
 * the hooks of its type, for whoever decided it. *json: r after it. */
static mdt_rc finish(const mdt_request_type *t, mdt_env *env, mdt_ctx *ctx,
                     const mdt_request_rec *r, bool approve, const char *who, int64_t for_secs,
                     mdt_arena *a, const char **json, mdt_err *err)
{
    mdt_ctx as_who; /* the decision is applied for whoever decided it */
    mdt_rc rc = audit(ctx, approve ? "request.approved" : "request.denied", who, r,
                      approve ? "allow" : "deny",
                      json_pack("{s:s, s:s, s:s?, s:I}", "id", r->id, "type", r->type, "note",
                                r->note, "for", (json_int_t)for_secs),
                      err);

    as_who = mdt_ctx_as(ctx, r->decided_by ? r->decided_by : who);
    if (rc == MDT_OK)
        rc = apply(t, env, &as_who, r, approve, for_secs, err);
    if (rc == MDT_OK)
        rc = dump(request_doc(r, ctx->now), a, json, err);
    return rc;
}

/* One vote of a quorum (route): recorded and audited (request.voted); the
 * vote that makes the decision final (a deny, or the n-th distinct allow)
 * also finishes it. */
static mdt_rc vote(const mdt_request_type *t, mdt_env *env, mdt_ctx *ctx, const char *id,
                   mdt_route route, bool approve, const char *by, const char *note,
                   int64_t for_secs, mdt_arena *a, const char **json, mdt_err *err)
{
    mdt_request_rec r;
    int64_t allows = 0;
    mdt_rc rc = mdt_store_request_vote(env->store, id, by, approve, route.quorum, note, ctx->now,
                                       a, &r, &allows, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return not_pending(env, ctx, id, a, err);
    if (rc == MDT_ERR_CONFLICT)
        return mdt_failf(err, rc, "this approver has voted on the request already",
                         "%.64s has voted on %.64s already", by, id);
    if (rc != MDT_OK)
        return rc;
    rc = audit(ctx, "request.voted", by, &r, approve ? "allow" : "deny",
               json_pack("{s:s, s:s, s:s?, s:I, s:I}", "id", r.id, "type", r.type, "note", note,
                         "allows", (json_int_t)allows, "quorum", (json_int_t)route.quorum),
               err);
    if (rc != MDT_OK)
        return rc;
    if (state_at(&r, ctx->now) != MDT_REQUEST_PENDING)
        return finish(t, env, ctx, &r, approve, by, for_secs, a, json, err);
    return dump(request_doc(&r, ctx->now), a, json, err);
}

mdt_rc mdt_iga__request_decide_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                  const char *id, bool approve, const char *by, const char *note,
                                  int64_t for_secs, mdt_arena *a, const char **json, mdt_err *err)
{
    int64_t now = ctx->now;
    const char *who = by ? by : mdt_ctx_actor(ctx);
    const mdt_request_type *t;
    mdt_request_rec r;
    mdt_route route;
    mdt_rc rc;

    *json = NULL;
    if ((rc = check_args(note, for_secs, approve, err)) != MDT_OK)
        return rc;
    if ((rc = mdt_store_request_get(env->store, id, a, &r, err)) == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown request", "unknown request %.64s", id);
    if (rc != MDT_OK)
        return rc;
    if (!(t = mdt_iga__request_type_find(reg, r.type)))
        return mdt_failf(err, MDT_ERR_CONFLICT, "requests of this type cannot be decided",
                         "request %.64s has the unknown type %.64s", id, r.type);
    route = route_of(env, t, &r, a);
    if (by && (rc = may_decide(env, t, route, by, &r, a, err)) != MDT_OK)
        return rc;
    /* the operator may deny anything, but approve for a person only as them */
    if (!by && approve && t->subject_may_decide && r.subject)
        return mdt_failf(err, MDT_ERR_ACCESS_DENIED,
                         "a request that asks a person is approved by that person (--by)",
                         "request %.64s asks %.64s: approve it --by them", id, r.subject);
    /* an approval approves exactly what the request showed */
    if (approve && t->validate && state_at(&r, now) == MDT_REQUEST_PENDING &&
        (rc = t->validate(env, &r, a, err)) != MDT_OK)
        return rc;
    if (by && others_after_subject(t, route, &r)) {
        /* the person's allow is recorded as their vote and waits for the
           others; a quorum counts it besides its n approvers */
        if (approve && mdt_str_eq(by, r.subject)) {
            mdt_route consent = {.who = MDT_ROUTE_QUORUM,
                                 .quorum = route.who == MDT_ROUTE_QUORUM ? route.quorum + 1 : 2};
            return vote(t, env, ctx, id, consent, approve, by, note, for_secs, a, json, err);
        }
        if (route.who == MDT_ROUTE_QUORUM)
            route.quorum++;
    }
    if (by && route.who == MDT_ROUTE_QUORUM && !(!approve && mdt_str_eq(by, r.subject)))
        return vote(t, env, ctx, id, route, approve, by, note, for_secs, a, json, err);
    rc = mdt_store_request_decide(
        env->store, id,
        mdt_request_state_name(approve ? MDT_REQUEST_APPROVED : MDT_REQUEST_DENIED), who, note,
        now, a, &r, err);
    if (rc == MDT_ERR_NOT_FOUND)
        return not_pending(env, ctx, id, a, err);
    if (rc != MDT_OK)
        return rc;
    return finish(t, env, ctx, &r, approve, who, for_secs, a, json, err);
}

mdt_rc mdt_request_decide(mdt_env *env, mdt_ctx *ctx, const char *id, bool approve, const char *by,
                          const char *note, int64_t for_secs, mdt_arena *a, const char **json,
                          mdt_err *err)
{
    return mdt_iga__request_decide_in(&mdt_iga__request_types, env, ctx, id, approve, by, note,
                                      for_secs, a, json, err);
}

mdt_rc mdt_request_decide_unattended(mdt_env *env, mdt_ctx *ctx, const char *id, bool approve,
                                     const char *note, int64_t for_secs, mdt_arena *a,
                                     const char **json, mdt_err *err)
{
    const mdt_request_type *t;
    mdt_request_rec r;
    mdt_route route;
    mdt_rc rc;

    *json = NULL;
    if (!approve)
        return mdt_request_decide(env, ctx, id, false, NULL, note, for_secs, a, json, err);
    if ((rc = mdt_store_request_get(env->store, id, a, &r, err)) == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, rc, "unknown request", "unknown request %.64s", id);
    if (rc != MDT_OK)
        return rc;
    if ((t = mdt_iga__request_type_find(&mdt_iga__request_types, r.type))) {
        route = route_of(env, t, &r, a);
        if ((t->subject_may_decide && r.subject) ||
            (route.who != MDT_ROUTE_DEFAULT && route.who != MDT_ROUTE_APPROVER))
            return mdt_failf(err, MDT_ERR_ACCESS_DENIED,
                             "this request is for a person to approve: use the token of an admin "
                             "whom its routing names",
                             "request %.64s (%.32s, route %s) approved without a person", id,
                             r.type, mdt_route_who_name(route.who));
    }
    return mdt_request_decide(env, ctx, id, true, NULL, note, for_secs, a, json, err);
}

mdt_rc mdt_request_supersede(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *type,
                             mdt_arena *a, mdt_err *err)
{
    int64_t now = ctx->now;
    const char *who = mdt_ctx_actor(ctx);
    mdt_request_rec *list = NULL, r;
    size_t n = 0;
    mdt_rc rc = mdt_store_request_list(env->store, a, &list, &n, err);

    for (size_t i = 0; rc == MDT_OK && i < n; i++) {
        if (!mdt_str_eq(list[i].client_id, client_id) || !mdt_str_eq(list[i].type, type) ||
            state_at(&list[i], now) != MDT_REQUEST_PENDING)
            continue;
        rc = mdt_store_request_decide(env->store, list[i].id,
                                      mdt_request_state_name(MDT_REQUEST_DENIED), who,
                                      "superseded", now, a, &r, err);
        if (rc == MDT_ERR_NOT_FOUND) { /* decided meanwhile */
            mdt_err_clear(err);
            rc = MDT_OK;
            continue;
        }
        if (rc == MDT_OK)
            rc = audit(ctx, "request.superseded", who, &r, "deny",
                       json_pack("{s:s, s:s}", "id", r.id, "type", r.type), err);
    }
    return rc;
}

mdt_rc mdt_iga__request_expire_in(const mdt_request_types *reg, mdt_env *env, mdt_ctx *ctx,
                                  mdt_arena *a, size_t *closed, mdt_err *err)
{
    mdt_request_rec *list = NULL;
    size_t n = 0;
    mdt_rc rc = mdt_store_request_expire_due(env->store, ctx->now, MDT_REQUEST_EXPIRE_BATCH, a,
                                             &list, &n, err);

    *closed = 0;
    for (size_t i = 0; rc == MDT_OK && i < n; i++) {
        const mdt_request_type *t = mdt_iga__request_type_find(reg, list[i].type);
        rc = audit(ctx, "request.expired", mdt_ctx_actor(ctx), &list[i], "deny",
                   json_pack("{s:s, s:s, s:I}", "id", list[i].id, "type", list[i].type,
                             "expires_at", (json_int_t)list[i].expires_at),
                   err);
        if (rc == MDT_OK && t && t->denied) /* an expired request counts as denied */
            rc = t->denied(env, ctx, &list[i], err);
        if (rc == MDT_OK)
            (*closed)++;
    }
    return rc;
}

mdt_rc mdt_request_expire_due(mdt_env *env, mdt_ctx *ctx, mdt_arena *a, size_t *closed,
                              mdt_err *err)
{
    return mdt_iga__request_expire_in(&mdt_iga__request_types, env, ctx, a, closed, err);
}
