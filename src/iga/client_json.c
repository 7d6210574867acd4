/* The typed client and its JSON documents: a stored client record (its
 * normalized metadata text and the fields Mandate decides on) mapped to the
 * mdt_client the token path decides on, its effective status, the checks
 * made on it, and the RFC 7591 documents the CLI, the admin API and
 * registration show. */
#include "iga/client.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/words.h"
#include "iga/internal.h"
#include "iga/secret.h"
#include "store/store.h"

static mdt_rc nomem(mdt_err *err)
{
    return mdt_iga__nomem(err);
}

/* ---------------------------------------------------------------------
 * The typed client of the token endpoint.
 * --------------------------------------------------------------------- */

const char *mdt_iga__effective_status(const char *status, int64_t expires_at, int64_t now)
{
    mdt_client_status st = mdt_client_status_from_name(status);

    if (expires_at && expires_at <= now && (st == MDT_CLIENT_ACTIVE || st == MDT_CLIENT_SUSPENDED))
        return mdt_client_status_name(MDT_CLIENT_EXPIRED);
    return status;
}

/* Copies the string member key of m into a (NULL when absent). False on NOMEM. */
static bool get_str(mdt_arena *a, json_t *m, const char *key, const char **out)
{
    const char *s = json_string_value(json_object_get(m, key));

    *out = s ? mdt_arena_strdup(a, s) : NULL;
    return !s || *out;
}

/* A member as compact JSON text in the arena; NULL when absent. */
static bool get_json(mdt_arena *a, json_t *m, const char *key, const char **out)
{
    json_t *v = json_object_get(m, key);
    char *text;

    *out = NULL;
    if (!v)
        return true;
    if (!(text = json_dumps(v, JSON_COMPACT)))
        return false;
    *out = mdt_arena_strdup(a, text);
    free(text);
    return *out != NULL;
}

static bool get_list(mdt_arena *a, json_t *m, const char *key, const char ***out, size_t *n)
{
    json_t *arr = json_object_get(m, key), *x;
    size_t i;

    *out = NULL;
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return true;
    if (!(*out = mdt_arena_alloc(a, json_array_size(arr) * sizeof(char *))))
        return false;
    json_array_foreach(arr, i, x) {
        if (json_is_string(x) && !((*out)[(*n)++] = mdt_arena_strdup(a, json_string_value(x))))
            return false;
    }
    return true;
}

static bool client_from_json(mdt_arena *a, json_t *m, mdt_client *c)
{
    const char *scope = json_string_value(json_object_get(m, "scope"));
    bool ok = get_str(a, m, "client_name", &c->name) && get_str(a, m, "kind", &c->kind) &&
              get_str(a, m, "owner", &c->owner) && get_str(a, m, "risk_tier", &c->tier) &&
              get_str(a, m, "token_endpoint_auth_method", &c->auth_method) &&
              get_str(a, m, "software_id", &c->software_id) &&
              get_str(a, m, "software_version", &c->software_version) &&
              get_str(a, m, "access_token_format", &c->access_token_format);

    ok = ok && get_list(a, m, "resources", &c->resources, &c->nresources) &&
         get_list(a, m, "introspection_for", &c->introspection_for, &c->nintrospection_for) &&
         get_list(a, m, "grant_types", &c->grant_types, &c->ngrant_types) &&
         get_list(a, m, "redirect_uris", &c->redirect_uris, &c->nredirect_uris) &&
         get_list(a, m, "post_logout_redirect_uris", &c->post_logout_redirect_uris,
                  &c->npost_logout_redirect_uris) &&
         (c->scopes = mdt_words_split(a, scope, &c->nscopes)) != NULL;
    ok = ok && get_str(a, m, "jwks_uri", &c->jwks_uri) &&
         get_str(a, m, "token_endpoint_auth_signing_alg", &c->auth_signing_alg) &&
         get_str(a, m, "tls_client_auth_subject_dn", &c->tls_subject_dn) &&
         get_str(a, m, "tls_client_auth_san_dns", &c->tls_san_dns) &&
         get_str(a, m, "tls_client_auth_san_uri", &c->tls_san_uri) &&
         get_str(a, m, "tls_client_auth_san_ip", &c->tls_san_ip) &&
         get_str(a, m, "tls_client_auth_san_email", &c->tls_san_email) &&
         get_json(a, m, "jwks", &c->jwks);
    if (ok && json_is_object(json_object_get(m, "workload_identity"))) {
        json_t *w = json_object_get(m, "workload_identity");
        ok = get_str(a, w, "issuer", &c->workload_issuer) &&
             get_str(a, w, "subject", &c->workload_subject);
    }
    ok = ok && get_str(a, m, "origin", &c->origin) && get_str(a, m, "vouched_by", &c->vouched_by) &&
         get_str(a, m, "iat_id", &c->iat_id);
    if (json_is_string(json_object_get(m, "approved_at")) &&
        mdt_time_parse(json_string_value(json_object_get(m, "approved_at")), &c->approved_at) !=
            MDT_OK)
        c->approved_at = 0;
    c->cert_bound_tokens =
        json_is_true(json_object_get(m, "tls_client_certificate_bound_access_tokens"));
    c->dpop_bound_tokens = json_is_true(json_object_get(m, "dpop_bound_access_tokens"));
    c->require_par = json_is_true(json_object_get(m, "require_pushed_authorization_requests"));
    c->access_token_ttl = json_integer_value(json_object_get(m, "access_token_ttl"));
    c->max_delegation_depth = json_is_integer(json_object_get(m, "max_delegation_depth"))
                                  ? json_integer_value(json_object_get(m, "max_delegation_depth"))
                                  : 2;
    return ok;
}

mdt_rc mdt_iga__client_read(mdt_env *env, const char *client_id, mdt_arena *a, mdt_client *out,
                            mdt_err *err)
{
    mdt_client_rec rec;
    mdt_cred_rec *creds = NULL;
    json_t *m;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if ((rc = mdt_iga__client_get(env, client_id, a, &rec, err)) != MDT_OK ||
        (rc = mdt_store_cred_list(env->store, client_id, a, &creds, &out->ncreds, err)) != MDT_OK)
        return rc;
    m = json_loads(rec.metadata, 0, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return mdt_failf(err, MDT_ERR_STORE, "stored client is corrupt",
                         "metadata of client %.64s is not a JSON object", client_id);
    }
    rc = client_from_json(a, m, out) ? MDT_OK : nomem(err);
    json_decref(m);
    out->client_id = rec.client_id;
    out->status = rec.status; /* as stored: mdt_client_load derives "expired" */
    out->expires_at = rec.expires_at;
    out->created_at = rec.created_at;
    out->version = rec.version;
    out->tokens_valid_after = rec.tokens_valid_after;
    out->metadata = rec.metadata;
    out->creds = creds;
    return rc;
}

/* The earlier of expires_at and the inactivity deadline of a self-registered
 * client (0 when neither applies). */
static int64_t expiry_of(const mdt_env *env, int64_t expires_at, const char *origin,
                         int64_t created_at, int64_t approved_at, const mdt_cred_rec *creds,
                         size_t n)
{
    int64_t idle = mdt_registration_inactive_deadline(origin, created_at, approved_at, creds, n,
                                                      env->cfg.registration_inactive_expiry);

    return idle && (!expires_at || idle < expires_at) ? idle : expires_at;
}

const char *mdt_iga__client_status(const mdt_env *env, const mdt_client *c, int64_t now)
{
    int64_t expiry = expiry_of(env, c->expires_at, c->origin, c->created_at, c->approved_at,
                               c->creds, c->ncreds);

    return mdt_iga__effective_status(c->status, expiry, now);
}

int64_t mdt_registration_inactive_deadline(const char *origin, int64_t created_at,
                                           int64_t approved_at, const mdt_cred_rec *creds,
                                           size_t n, int64_t inactive_expiry)
{
    if (inactive_expiry <= 0 || (!mdt_str_eq(origin, "dcr") && !mdt_str_eq(origin, "cimd")))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (creds[i].last_used_at &&
            mdt_cred_type_from_name(creds[i].type) != MDT_CRED_REGISTRATION)
            return 0;
    return (approved_at > created_at ? approved_at : created_at) + inactive_expiry;
}

/* ---------------------------------------------------------------------
 * Checks of the typed client.
 * --------------------------------------------------------------------- */

bool mdt_client_usable(const mdt_client *c, int64_t now)
{
    return mdt_client_status_from_name(c->status) == MDT_CLIENT_ACTIVE &&
           (c->expires_at == 0 || c->expires_at > now);
}

static bool list_has(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(list[i], s))
            return true;
    return false;
}

bool mdt_client_has_scope(const mdt_client *c, const char *scope)
{
    return scope && list_has(c->scopes, c->nscopes, scope);
}

bool mdt_client_unvouched(const mdt_client *c)
{
    return c->origin && !c->vouched_by && !c->iat_id;
}

const mdt_entitlement_rec *mdt_client_scope_entitlement(const mdt_client *c, const char *scope)
{
    for (size_t i = 0; scope && i < c->nents; i++)
        if (mdt_str_eq(c->ents[i].scope, scope))
            return &c->ents[i];
    return NULL;
}

const char *mdt_client_scope_approval(const mdt_client *c, const char *scope)
{
    const char *one = NULL;

    for (size_t i = 0; scope && i < c->nents; i++) {
        const char *req = c->ents[i].request_id;
        if (!mdt_words_has(scope, c->ents[i].scope) || !req)
            continue;
        if (one && !mdt_str_eq(one, req))
            return NULL; /* several approvals: none names the grant alone */
        one = req;
    }
    return one;
}

int64_t mdt_client_scope_expiry(const mdt_client *c, const char *scope)
{
    int64_t until = 0;

    for (size_t i = 0; scope && i < c->nents; i++)
        if (c->ents[i].expires_at && mdt_words_has(scope, c->ents[i].scope) &&
            (!until || c->ents[i].expires_at < until))
            until = c->ents[i].expires_at;
    return until;
}

bool mdt_client_has_resource(const mdt_client *c, const char *uri)
{
    return uri && list_has(c->resources, c->nresources, uri);
}

bool mdt_client_introspects_for(const mdt_client *c, const char *uri)
{
    return uri && list_has(c->introspection_for, c->nintrospection_for, uri);
}

bool mdt_client_has_grant(const mdt_client *c, const char *grant_type)
{
    return grant_type && list_has(c->grant_types, c->ngrant_types, grant_type);
}

mdt_rc mdt_client_verify_secret(mdt_env *env, const mdt_client *c, const char *secret, size_t len,
                                int64_t now, mdt_arena *a, const char **cred_id, mdt_err *err)
{
    const mdt_cred_rec *creds = c->creds, *hit = NULL;
    uint8_t h[MDT_SECRET_HASH_LEN];
    size_t n = c->ncreds;

    (void)a;
    if (cred_id)
        *cred_id = NULL;
    mdt_secret_hash(secret, len, h);
    for (size_t i = 0; i < n; i++) {   /* no early exit: every live secret is compared */
        bool eq = mdt_ct_eq(h, sizeof(h), creds[i].hash, sizeof(creds[i].hash));
        if (eq && mdt_iga__secret_live(&creds[i], now) && !hit)
            hit = &creds[i];
    }
    mdt_wipe(h, sizeof(h));
    if (!hit)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT, "client authentication failed");
    mdt_client_cred_used(env, c, hit, now);
    if (cred_id)
        *cred_id = hit->id;
    return MDT_OK;
}

const mdt_cred_rec *mdt_client_cred_find(const mdt_client *c, const char *type,
                                         const uint8_t hash[MDT_HASH_LEN])
{
    for (size_t i = 0; i < c->ncreds; i++)
        if (mdt_str_eq(c->creds[i].type, type) &&
            memcmp(c->creds[i].hash, hash, MDT_HASH_LEN) == 0)
            return &c->creds[i];
    return NULL;
}

void mdt_client_cred_used(mdt_env *env, const mdt_client *c, const mdt_cred_rec *cred,
                          int64_t now)
{
    mdt_err err = {0};

    /* a client that may not authenticate (suspended, pending, expired — also
     * by never having authenticated) does not get a use recorded: a right
     * secret presented after the fact must not bring it back */
    if (!mdt_client_usable(c, now) || now - cred->last_used_at < MDT_CLIENT_TOUCH_INTERVAL)
        return;
    if (mdt_store_cred_touch(env->store, cred->id, now, &err) != MDT_OK) {
        MDT_WARN("cannot record use of credential %s: %s", cred->id, mdt_err_text(&err));
        return;
    }
    mdt_iga__cache_touched(c->client_id, cred->id, now);
}

/* ---------------------------------------------------------------------
 * JSON documents of clients.
 * --------------------------------------------------------------------- */

/* The effective status of a stored client with metadata m. creds: its
 * credentials, or NULL to read them when the inactivity rule needs them (a
 * failed read leaves that rule out). */
const char *mdt_iga__rec_status(mdt_env *env, const mdt_client_rec *rec, json_t *m,
                                const mdt_cred_rec *creds, size_t n, int64_t now)
{
    const char *origin = json_string_value(json_object_get(m, "origin"));
    const char *approved = json_string_value(json_object_get(m, "approved_at"));
    int64_t at = 0, expiry;
    mdt_cred_rec *list = NULL;
    mdt_arena a;

    if (!origin)
        return mdt_iga__effective_status(rec->status, rec->expires_at, now);
    if (approved && mdt_time_parse(approved, &at) != MDT_OK)
        at = 0;
    mdt_arena_init(&a, 2048);
    if (!creds && mdt_store_cred_list(env->store, rec->client_id, &a, &list, &n, NULL) != MDT_OK)
        origin = NULL;
    expiry = expiry_of(env, rec->expires_at, origin, rec->created_at, at, creds ? creds : list, n);
    mdt_arena_free(&a);
    return mdt_iga__effective_status(rec->status, expiry, now);
}

/* {client_id, [client_secret, client_secret_expires_at,] client_id_issued_at,
 *  ...metadata, status}. creds as for rec_status. */
json_t *mdt_iga__client_doc(mdt_env *env, const mdt_client_rec *rec, const mdt_cred_rec *creds,
                            size_t ncreds, const char *secret, int64_t now)
{
    json_t *m = json_loads(rec->metadata, 0, NULL);
    json_t *o = json_pack("{s:s}", "client_id", rec->client_id);
    bool ok = o && json_is_object(m);

    if (ok && secret)
        ok = json_object_set_new(o, "client_secret", json_string(secret)) == 0 &&
             json_object_set_new(o, "client_secret_expires_at", json_integer(0)) == 0;
    ok = ok && json_object_set_new(o, "client_id_issued_at", json_integer(rec->created_at)) == 0 &&
         json_object_update(o, m) == 0 &&
         json_object_set_new(o, "status", json_string(mdt_iga__rec_status(env, rec, m, creds, ncreds,
                                                                 now))) == 0;
    json_decref(m);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

mdt_rc mdt_client_show_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, mdt_arena *a,
                            const char **json, mdt_err *err)
{
    mdt_client_rec rec;
    mdt_cred_rec *creds = NULL;
    size_t n = 0;
    json_t *doc, *arr;
    mdt_rc rc;

    *json = NULL;
    if ((rc = mdt_iga__client_get(env, client_id, a, &rec, err)) ||
        (rc = mdt_store_cred_list(env->store, client_id, a, &creds, &n, err)))
        return rc;
    doc = mdt_iga__client_doc(env, &rec, creds, n, NULL, ctx->now);
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, mdt_iga__cred_json(&creds[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    if (!doc || !arr || json_object_set_new(doc, "credentials", arr) != 0) {
        if (!doc)
            json_decref(arr);
        json_decref(doc);
        doc = NULL;
    }
    return mdt_iga__dump_take(doc, a, json, err);
}

mdt_rc mdt_client_doc_json(mdt_env *env, mdt_ctx *ctx, const char *client_id, mdt_arena *a,
                           const char **json, mdt_err *err)
{
    mdt_client_rec rec;
    mdt_rc rc;

    *json = NULL;
    if ((rc = mdt_iga__client_get(env, client_id, a, &rec, err)) != MDT_OK)
        return rc;
    return mdt_iga__dump_take(mdt_iga__client_doc(env, &rec, NULL, 0, NULL, ctx->now), a, json,
                              err);
}

mdt_rc mdt_client_list_json(mdt_env *env, mdt_ctx *ctx, mdt_arena *a, const char **json,
                            mdt_err *err)
{
    mdt_client_rec *list = NULL;
    size_t n = 0;
    int64_t now = ctx->now;
    json_t *arr;
    mdt_rc rc;

    *json = NULL;
    if ((rc = mdt_store_client_list(env->store, a, &list, &n, err)) != MDT_OK)
        return rc;
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *doc = mdt_iga__client_doc(env, &list[i], NULL, 0, NULL, now);
        if (json_array_append_new(arr, doc) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return mdt_iga__dump_take(arr, a, json, err);
}
