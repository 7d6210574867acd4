/* Entitlements (static and dynamic) and the filing of access requests
 * (iga/entitlements.h). The decision of an access request goes the way of
 * every approval request (requests.c); its approval creates the
 * entitlements through the row of its type (request_access.c). */
#include "iga/entitlements.h"

#include <jansson.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/words.h"
#include "iga/internal.h"
#include "iga/requests.h"
#include "iga/scope.h"

static mdt_rc nomem(mdt_err *err)
{
    return mdt_iga__nomem(err);
}

/* ------------------------------------------------- the union at a time */

static bool listed(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(list[i], s))
            return true;
    return false;
}

static bool live_at(const mdt_entitlement_rec *e, int64_t now)
{
    return !e->ended_at && (e->expires_at == 0 || e->expires_at > now);
}

mdt_rc mdt_iga__entitlements_merge(mdt_arena *a, struct mdt_client *c, int64_t now, mdt_err *err)
{
    const mdt_entitlement_rec *all = c->ents;
    size_t n = c->nents, ns = c->nscopes, nr = c->nresources, k = 0;
    const char **scopes, **resources;
    mdt_entitlement_rec *behind;

    c->ents = NULL;
    c->nents = 0;
    if (!n)
        return MDT_OK;
    scopes = mdt_arena_alloc(a, (ns + n) * sizeof(*scopes));
    resources = mdt_arena_alloc(a, (nr + n) * sizeof(*resources));
    behind = mdt_arena_alloc(a, n * sizeof(*behind));
    if (!scopes || !resources || !behind)
        return nomem(err);
    if (ns)
        memcpy(scopes, c->scopes, ns * sizeof(*scopes));
    if (nr)
        memcpy(resources, c->resources, nr * sizeof(*resources));
    for (size_t i = 0; i < n; i++) {
        const mdt_entitlement_rec *e = &all[i];
        if (!live_at(e, now) || !e->scope)
            continue;
        if (e->resource && !listed(resources, nr, e->resource))
            resources[nr++] = e->resource;
        if (listed(scopes, ns, e->scope))
            continue; /* static, or an older live entitlement gives it already */
        scopes[ns++] = e->scope;
        behind[k++] = *e;
    }
    c->scopes = scopes;
    c->nscopes = ns;
    c->resources = resources;
    c->nresources = nr;
    c->ents = k ? behind : NULL;
    c->nents = k;
    return MDT_OK;
}

/* ------------------------------------------------------------- listing */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *static_item(const char *scope, const char *resource)
{
    return json_pack("{s:n, s:o, s:o, s:s, s:n, s:n, s:n, s:n}", "id", "scope",
                     str_or_null(scope), "resource", str_or_null(resource), "source", "static",
                     "request_id", "approved_by", "created_at", "expires_at");
}

static json_t *dynamic_item(const mdt_entitlement_rec *e)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o}", "id", e->id, "scope", e->scope,
                     "resource", str_or_null(e->resource), "source", MDT_ACCESS_REQUEST_TYPE,
                     "request_id", str_or_null(e->request_id), "approved_by",
                     str_or_null(e->approved_by), "created_at",
                     mdt_iga__time_json(e->created_at), "expires_at",
                     mdt_iga__time_json(e->expires_at));
}

static bool append(json_t *arr, json_t *item)
{
    return item && json_array_append_new(arr, item) == 0;
}

mdt_rc mdt_entitlement_list_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, mdt_arena *a,
                                 const char **json, mdt_err *err)
{
    mdt_client c;
    mdt_entitlement_rec *ents = NULL;
    size_t n = 0;
    json_t *arr;
    bool ok;
    mdt_rc rc;

    *json = NULL;
    if ((rc = mdt_iga__client_read(env, client_id, a, &c, err)) != MDT_OK ||
        (rc = mdt_store_entitlement_list(env->store, client_id, ctx->now, a, &ents, &n, err)) !=
            MDT_OK)
        return rc;
    ok = (arr = json_array()) != NULL;
    for (size_t i = 0; ok && i < c.nscopes; i++)
        ok = append(arr, static_item(c.scopes[i], NULL));
    for (size_t i = 0; ok && i < c.nresources; i++)
        ok = append(arr, static_item(NULL, c.resources[i]));
    for (size_t i = 0; ok && i < n; i++)
        ok = append(arr, dynamic_item(&ents[i]));
    if (!ok) {
        json_decref(arr);
        return nomem(err);
    }
    return mdt_iga__dump_take(arr, a, json, err);
}

mdt_rc mdt_client_show_entitlements_json(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                                         mdt_arena *a, const char **json, mdt_err *err)
{
    const char *show, *ents;
    json_t *doc, *arr;
    mdt_rc rc;

    *json = NULL;
    if ((rc = mdt_client_show_json(env, ctx, client_id, a, &show, err)) != MDT_OK ||
        (rc = mdt_entitlement_list_json(env, ctx, client_id, a, &ents, err)) != MDT_OK)
        return rc;
    doc = json_loads(show, 0, NULL);
    arr = json_loads(ents, 0, NULL);
    if (!doc || !arr || json_object_set_new(doc, "entitlements", arr) != 0) {
        if (!doc)
            json_decref(arr);
        json_decref(doc);
        return nomem(err);
    }
    return mdt_iga__dump_take(doc, a, json, err);
}

mdt_rc mdt_entitlement_revoke(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                              const char *ent_id, mdt_err *err)
{
    mdt_entitlement_rec e;
    mdt_arena a;
    mdt_rc rc;

    if (!client_id || !ent_id)
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "unknown entitlement");
    mdt_arena_init(&a, 1024);
    rc = mdt_store_entitlement_end(env->store, client_id, ent_id, ctx->now, &a, &e, err);
    if (rc == MDT_ERR_NOT_FOUND)
        rc = mdt_failf(err, rc, "unknown entitlement", "no live entitlement %.64s of %.64s",
                       ent_id, client_id);
    if (rc == MDT_OK)
        rc = mdt_iga__audit_json(ctx, "entitlement.revoked", client_id,
                                 json_pack("{s:s, s:s, s:o, s:o}", "id", e.id, "scope", e.scope,
                                           "resource", str_or_null(e.resource), "request",
                                           str_or_null(e.request_id)),
                                 err);
    mdt_arena_free(&a);
    return rc;
}

/* ------------------------------------------------------------ durations */

mdt_rc mdt_access_duration_parse(const char *text, int64_t *out, mdt_err *err)
{
    *out = 0;
    if (!text || !*text || strlen(text) > 32 || mdt_duration_parse(text, out) != MDT_OK ||
        *out <= 0) {
        *out = 0;
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "duration must be a positive number of seconds or a duration such as 8h");
    }
    return MDT_OK;
}

int64_t mdt_access_duration_grant(int64_t asked, int64_t for_secs, int64_t dflt, int64_t max)
{
    int64_t d = asked > 0 ? asked : dflt;

    if (for_secs > 0 && for_secs < d)
        d = for_secs;
    if (max > 0 && d > max)
        d = max;
    return d;
}

/* ------------------------------------------------------- filing requests */

static bool printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Every scope of ask exists (and may be asked for by c); *canon: the
 * scopes, space-separated, each once. */
static mdt_rc check_scopes(mdt_env *env, const mdt_client *c, const char *scope, mdt_arena *a,
                           const char **canon, mdt_err *err)
{
    mdt_buf b;
    size_t n = 0;
    mdt_rc rc = MDT_OK;

    *canon = NULL;
    if (!scope || !*scope)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "scope is required");
    mdt_buf_init(&b, 8192);
    for (mdt_words w = mdt_words_of(scope); rc == MDT_OK && mdt_words_next(&w);) {
        char *name = mdt_arena_strndup(a, w.word, w.len);
        mdt_scope_rec sc;
        if (!name) {
            rc = nomem(err);
            break;
        }
        if (b.data && mdt_words_has(b.data, name))
            continue;
        if (++n > MDT_ACCESS_SCOPES_MAX)
            rc = mdt_fail(err, MDT_ERR_INVALID_SCOPE, "too many scopes in one access request");
        else if (!mdt_scope_name_valid(name, w.len))
            rc = mdt_fail(err, MDT_ERR_INVALID_SCOPE, "malformed scope");
        else if ((rc = mdt_store_scope_get(env->store, name, a, &sc, err)) == MDT_ERR_NOT_FOUND)
            rc = mdt_failf(err, MDT_ERR_INVALID_SCOPE, "unknown scope", "unknown scope %.64s",
                           name);
        else if (rc == MDT_OK && mdt_str_eq(name, "mandate:admin") && mdt_client_unvouched(c))
            rc = mdt_fail(err, MDT_ERR_INVALID_SCOPE,
                          "a self-registered client may not ask for mandate:admin");
        if (rc == MDT_OK)
            rc = mdt_buf_addf(&b, "%s%s", b.len ? " " : "", name);
    }
    if (rc == MDT_OK && !(*canon = mdt_arena_strdup(a, b.data ? b.data : "")))
        rc = nomem(err);
    mdt_buf_free(&b);
    if (rc == MDT_OK && !**canon)
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST, "scope is required");
    return rc;
}

static mdt_rc check_ask(mdt_env *env, const mdt_access_ask *ask, mdt_err *err)
{
    size_t jlen = ask->justification ? strlen(ask->justification) : 0;
    int64_t max = env->cfg.access_requests_max_duration;

    if (ask->resource && (strlen(ask->resource) > MDT_ACCESS_RESOURCE_MAX ||
                          !mdt_resource_uri_valid(ask->resource)))
        return mdt_fail(err, MDT_ERR_INVALID_TARGET,
                        "resource must be an absolute URI without fragment");
    if (jlen == 0)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "justification is required");
    if (jlen > MDT_ACCESS_JUSTIFICATION_MAX || !printable(ask->justification))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "justification must be at most 1000 bytes of printable text");
    if (ask->duration < 0)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "duration must be positive");
    if (ask->duration > max)
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST,
                         "duration exceeds the longest access this server grants "
                         "([access_requests] max_duration)",
                         "duration %lld s over max_duration %lld s", (long long)ask->duration,
                         (long long)max);
    return MDT_OK;
}

/* The pending access requests of client_id at now: how many, and the one
 * for exactly scope and resource (NULL when none). */
static mdt_rc pending_of(mdt_env *env, const char *client_id, const char *scope,
                         const char *resource, int64_t now, mdt_arena *a, size_t *count,
                         const char **same, mdt_err *err)
{
    mdt_request_rec *list = NULL;
    size_t n = 0;
    mdt_rc rc = mdt_store_request_list_pending(env->store, now, a, &list, &n, err);

    *count = 0;
    *same = NULL;
    for (size_t i = 0; rc == MDT_OK && i < n; i++) {
        if (!mdt_str_eq(list[i].type, MDT_ACCESS_REQUEST_TYPE) ||
            !mdt_str_eq(list[i].client_id, client_id))
            continue;
        (*count)++;
        if (!*same && mdt_str_eq(list[i].scope, scope) &&
            (list[i].resource ? mdt_str_eq(list[i].resource, resource) : !resource))
            *same = list[i].id;
    }
    return rc;
}

mdt_rc mdt_access_request_create(mdt_env *env, mdt_ctx *ctx, const mdt_client *c,
                                 const mdt_access_ask *ask, mdt_arena *a, const char **id,
                                 bool *existing, mdt_err *err)
{
    mdt_request_rec r = {.type = MDT_ACCESS_REQUEST_TYPE, .client_id = c->client_id,
                         .resource = ask->resource, .justification = ask->justification};
    const char *same = NULL;
    size_t pending = 0;
    mdt_rc rc;

    *id = NULL;
    *existing = false;
    if (!mdt_client_usable(c, ctx->now))
        return mdt_fail(err, MDT_ERR_ACCESS_DENIED, "the client is not active");
    if ((rc = check_scopes(env, c, ask->scope, a, &r.scope, err)) != MDT_OK ||
        (rc = check_ask(env, ask, err)) != MDT_OK ||
        (rc = pending_of(env, c->client_id, r.scope, r.resource, ctx->now, a, &pending, &same,
                         err)) != MDT_OK)
        return rc;
    if (same) { /* the same question waits already: its answer will do */
        *id = same;
        *existing = true;
        return MDT_OK;
    }
    if ((int64_t)pending >= env->cfg.access_requests_max_pending)
        return mdt_failf(err, MDT_ERR_SLOW_DOWN,
                         "too many pending access requests for this client; wait for their "
                         "decision",
                         "%zu pending access requests (max_pending %lld)", pending,
                         (long long)env->cfg.access_requests_max_pending);
    r.duration = mdt_access_duration_grant(ask->duration, 0,
                                           env->cfg.access_requests_default_duration,
                                           env->cfg.access_requests_max_duration);
    return mdt_request_create(env, ctx, &r, a, id, err);
}

/* When the access given by the approval of request r (of client_id) ends:
 * the latest expiry of its entitlements not ended early; 0 when none. */
static int64_t granted_until(mdt_env *env, const char *client_id, const char *request_id,
                             mdt_arena *a)
{
    mdt_entitlement_rec *ents = NULL;
    size_t n = 0;
    int64_t until = 0;

    /* at time 0 every entitlement not ended counts, expired ones too */
    if (mdt_store_entitlement_list(env->store, client_id, 0, a, &ents, &n, NULL) != MDT_OK)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(ents[i].request_id, request_id) && ents[i].expires_at > until)
            until = ents[i].expires_at;
    return until;
}

mdt_rc mdt_access_request_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *id,
                               mdt_arena *a, const char **json, mdt_err *err)
{
    mdt_request_rec r;
    int64_t until = 0;
    mdt_rc rc;

    *json = NULL;
    if (!id || strlen(id) > 128)
        return mdt_fail(err, MDT_ERR_NOT_FOUND, "unknown access request");
    rc = mdt_store_request_get(env->store, id, a, &r, err);
    if (rc == MDT_ERR_NOT_FOUND || (rc == MDT_OK && (!mdt_str_eq(r.type, MDT_ACCESS_REQUEST_TYPE) ||
                                                     !mdt_str_eq(r.client_id, client_id))))
        return mdt_failf(err, MDT_ERR_NOT_FOUND, "unknown access request",
                         "access request %.64s unknown to %.64s", id, client_id);
    if (rc != MDT_OK)
        return rc;
    if (mdt_str_eq(r.status, "approved"))
        until = granted_until(env, client_id, r.id, a);
    return mdt_iga__dump_take(
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", r.id, "status",
                  mdt_request_status(&r, ctx->now), "scope", r.scope ? r.scope : "", "resource",
                  str_or_null(r.resource), "justification", str_or_null(r.justification),
                  "duration", r.duration ? json_integer(r.duration) : json_null(), "created_at",
                  mdt_iga__time_json(r.created_at), "expires_at",
                  mdt_iga__time_json(r.expires_at), "decided_at",
                  mdt_iga__time_json(r.decided_at), "entitlement_expires_at",
                  mdt_iga__time_json(until)),
        a, json, err);
}
