#include "iga/iat.h"

#include <jansson.h>
#include <string.h>

#include "core/words.h"
#include "iga/client.h"
#include "iga/internal.h"
#include "iga/scope.h"
#include "iga/secret.h"
#include "users/users.h"

/* One public answer for every bad token; the detail says why. */
#define BAD_IAT "the initial access token is missing, unknown, expired or used up"

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* A non-empty array (empty allowed when may_be_empty) of strings each
 * passing ok, copied into the arena. */
static mdt_rc str_array(json_t *v, bool may_be_empty, bool (*ok)(const char *), mdt_arena *a,
                        const char ***out, size_t *n, const char *msg, mdt_err *err)
{
    size_t i;
    json_t *x;

    *out = NULL;
    *n = 0;
    if (!json_is_array(v) || (!may_be_empty && json_array_size(v) == 0) ||
        json_array_size(v) > MDT_CLIENT_LIST_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, msg);
    if (!(*out = mdt_arena_alloc(a, (json_array_size(v) + 1) * sizeof(char *))))
        return nomem(err);
    json_array_foreach(v, i, x) {
        if (!json_is_string(x) || !ok(json_string_value(x)))
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, msg);
        if (!((*out)[(*n)++] = mdt_arena_strdup(a, json_string_value(x))))
            return nomem(err);
    }
    return MDT_OK;
}

static bool scope_ok(const char *s) { return mdt_scope_name_valid(s, strlen(s)); }

/* "a b c" -> a JSON array of the names. */
static json_t *scope_array(const char *scope)
{
    json_t *arr = json_array();

    for (mdt_words w = mdt_words_of(scope); arr && mdt_words_next(&w);)
        if (json_array_append_new(arr, json_stringn(w.word, w.len)) != 0) {
            json_decref(arr);
            return NULL;
        }
    return arr;
}

static bool known_member(const char *key)
{
    static const char *const members[] = {"grant_types", "scopes", "scope", "kinds", "owner",
                                          "resources", "risk_tier", "access_token_ttl",
                                          "max_delegation_depth"};

    for (size_t i = 0; i < MDT_ARRAY_LEN(members); i++)
        if (strcmp(key, members[i]) == 0)
            return true;
    return false;
}

/* The bounds a policy sets on privileged members (iga/client.h): resources
 * a client may register, the lowest risk_tier, the longest access_token_ttl
 * and max_delegation_depth. */
static mdt_rc check_privileged(json_t *o, mdt_err *err)
{
    static const char *const tiers[] = {"low", "medium", "high"};
    json_t *v, *x;
    size_t i;
    bool ok = true;

    if ((v = json_object_get(o, "resources"))) {
        ok = json_is_array(v) && json_array_size(v) <= MDT_CLIENT_LIST_MAX;
        json_array_foreach(v, i, x)
            ok = ok && json_is_string(x) && mdt_resource_uri_valid(json_string_value(x));
        if (!ok)
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                            "policy resources must be an array of absolute URIs");
    }
    if ((v = json_object_get(o, "risk_tier"))) {
        ok = false;
        for (i = 0; i < MDT_ARRAY_LEN(tiers); i++)
            ok |= mdt_str_eq(json_string_value(v), tiers[i]);
        if (!ok)
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy risk_tier must be low, medium or high");
    }
    if ((v = json_object_get(o, "access_token_ttl")) &&
        (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 86400))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "policy access_token_ttl must be seconds from 1 to 86400");
    if ((v = json_object_get(o, "max_delegation_depth")) &&
        (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "policy max_delegation_depth must be an integer from 0 to 10");
    return MDT_OK;
}

static mdt_rc check_members(json_t *o, mdt_err *err)
{
    const char *key;
    json_t *v;
    mdt_rc rc;

    json_object_foreach(o, key, v) {
        if (!known_member(key))
            return mdt_failf(err, MDT_ERR_INVALID_REQUEST,
                             "policy members are grant_types, scopes (or scope), kinds, owner, "
                             "resources, risk_tier, access_token_ttl and max_delegation_depth",
                             "unknown policy member %.64s", key);
    }
    if ((rc = check_privileged(o, err)) != MDT_OK)
        return rc;
    if (json_object_get(o, "scope") && json_object_get(o, "scopes"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy has both scope and scopes");
    if (json_object_get(o, "scope") && !json_is_string(json_object_get(o, "scope")))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy scope must be a string");
    return MDT_OK;
}

static mdt_rc parse_lists(json_t *o, mdt_arena *a, mdt_reg_policy *p, mdt_err *err)
{
    json_t *v;
    mdt_rc rc = MDT_OK;

    if ((v = json_object_get(o, "grant_types")) && (p->has_grant_types = true))
        rc = str_array(v, false, mdt_client_grant_type_known, a, &p->grant_types,
                       &p->ngrant_types,
                       "policy grant_types must be a non-empty array of supported grant types",
                       err);
    if (rc == MDT_OK && (v = json_object_get(o, "scopes")) && (p->has_scopes = true))
        rc = str_array(v, true, scope_ok, a, &p->scopes, &p->nscopes,
                       "policy scopes must be an array of scope names", err);
    if (rc == MDT_OK && (v = json_object_get(o, "kinds")) && (p->has_kinds = true))
        rc = str_array(v, false, mdt_client_kind_known, a, &p->kinds, &p->nkinds,
                       "policy kinds must be a non-empty array of agent, service, web, native, "
                       "cli",
                       err);
    if (rc == MDT_OK && (v = json_object_get(o, "owner"))) {
        const char *s = json_string_value(v);
        if (!s || !mdt_username_valid(s, strlen(s)))
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy owner must be a username");
        rc = (p->owner = mdt_arena_strdup(a, s)) ? MDT_OK : nomem(err);
    }
    return rc;
}

mdt_rc mdt_iat_policy_parse(const char *json, mdt_arena *a, mdt_reg_policy *out,
                            const char **normalized, mdt_err *err)
{
    json_error_t je;
    json_t *o = NULL, *sc;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (normalized)
        *normalized = NULL;
    if (!json || strlen(json) > MDT_IAT_POLICY_MAX)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy must be at most 8 KiB of JSON");
    if (!(o = json_loads(json, JSON_REJECT_DUPLICATES, &je)) || !json_is_object(o)) {
        json_decref(o);
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "policy must be a JSON object");
    }
    rc = check_members(o, err);
    if (rc == MDT_OK && (sc = json_object_get(o, "scope"))) {
        /* a policy whose scope cannot be converted must not pass unrestricted */
        if (json_object_set_new(o, "scopes", scope_array(json_string_value(sc))) != 0)
            rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        else
            json_object_del(o, "scope");
    }
    if (rc == MDT_OK)
        rc = parse_lists(o, a, out, err);
    if (rc == MDT_OK && normalized)
        rc = mdt_iga__dump(o, a, normalized, err);
    json_decref(o);
    return rc;
}

/* Every scope of the policy must exist (as every scope of a client must). */
static mdt_rc policy_scopes_exist(mdt_env *env, const mdt_reg_policy *p, mdt_arena *a,
                                  mdt_err *err)
{
    mdt_scope_rec rec;
    mdt_rc rc;

    for (size_t i = 0; i < p->nscopes; i++) {
        rc = mdt_store_scope_get(env->store, p->scopes[i], a, &rec, err);
        if (rc == MDT_ERR_NOT_FOUND)
            return mdt_failf(err, MDT_ERR_INVALID_REQUEST, "policy names a scope that does not exist",
                             "policy names a scope that does not exist: %.128s", p->scopes[i]);
        if (rc != MDT_OK)
            return rc;
    }
    return MDT_OK;
}

static mdt_rc created_doc(const mdt_iat_rec *t, const char *token, mdt_arena *a,
                          const char **out, mdt_err *err)
{
    json_t *pol = t->policy[0] ? json_loads(t->policy, 0, NULL) : json_null();
    json_t *o = json_pack("{s:s, s:o, s:I, s:s, s:o}", "initial_access_token", token, "expires_at",
                          mdt_iga__time_json(t->expires_at), "max_uses", (json_int_t)t->max_uses,
                          "id", t->id, "policy", pol ? pol : json_null());
    mdt_rc rc = o ? mdt_iga__dump(o, a, out, err) : nomem(err);

    json_decref(o);
    return rc;
}

static mdt_rc audit_created(mdt_ctx *ctx, const mdt_iat_rec *t, mdt_err *err)
{
    json_t *pol = t->policy[0] ? json_loads(t->policy, 0, NULL) : json_null();
    json_t *d = json_pack("{s:s, s:I, s:o, s:o}", "id", t->id, "max_uses", (json_int_t)t->max_uses,
                          "expires_at", mdt_iga__time_json(t->expires_at), "policy",
                          pol ? pol : json_null());
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    mdt_rc rc = text ? mdt_iga__audit(ctx, "iat.created", NULL, text, err) : nomem(err);

    free(text);
    json_decref(d);
    return rc;
}

mdt_rc mdt_iat_create(mdt_env *env, mdt_ctx *ctx, int64_t max_uses, int64_t expires_in,
                      const char *policy, mdt_arena *a, const char **response_json, mdt_err *err)
{
    int64_t now = ctx->now;
    mdt_iat_rec t = {.max_uses = max_uses,
                     .created_at = now,
                     .policy = "",
                     .created_by = ctx->actor ? ctx->actor : ""};
    mdt_reg_policy p;
    char token[MDT_SECRET_LEN + 1] = "";
    mdt_rc rc;

    *response_json = NULL;
    if (max_uses < 1 || max_uses > MDT_IAT_MAX_USES)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "max-uses must be from 1 to 1000000");
    if (expires_in < 0 || expires_in > INT64_MAX / 2)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "expires must be a positive duration");
    t.expires_at = expires_in ? now + expires_in : 0;
    if (policy && ((rc = mdt_iat_policy_parse(policy, a, &p, &t.policy, err)) ||
                   (rc = policy_scopes_exist(env, &p, a, err))))
        return rc;
    if ((rc = mdt_random_id(&env->rng, "iat_", MDT_CRED_ID_BYTES, a, &t.id, err)) ||
        (rc = mdt_secret_generate(&env->rng, token, err)))
        goto out;
    mdt_secret_hash(token, MDT_SECRET_LEN, t.hash);
    if ((rc = mdt_store_iat_insert(env->store, &t, err)) || (rc = audit_created(ctx, &t, err)))
        goto out;
    rc = created_doc(&t, token, a, response_json, err);
out:
    mdt_wipe(token, sizeof(token));
    return rc;
}

mdt_rc mdt_iat_check(mdt_env *env, const char *token, int64_t now, mdt_arena *a, mdt_iat_rec *out,
                     mdt_err *err)
{
    uint8_t h[MDT_SECRET_HASH_LEN];
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if (!token || strlen(token) != MDT_SECRET_LEN)
        return mdt_failf(err, MDT_ERR_INVALID_TOKEN, BAD_IAT, "initial access token malformed");
    mdt_secret_hash(token, MDT_SECRET_LEN, h);
    rc = mdt_store_iat_find(env->store, h, a, out, err);
    mdt_wipe(h, sizeof(h));
    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, MDT_ERR_INVALID_TOKEN, BAD_IAT, "initial access token unknown");
    if (rc != MDT_OK)
        return rc;
    if (out->expires_at && out->expires_at <= now)
        return mdt_failf(err, MDT_ERR_INVALID_TOKEN, BAD_IAT,
                         "initial access token %s expired", out->id);
    if (out->uses >= out->max_uses)
        return mdt_failf(err, MDT_ERR_INVALID_TOKEN, BAD_IAT,
                         "initial access token %s used up (%lld uses)", out->id,
                         (long long)out->max_uses);
    return MDT_OK;
}

mdt_rc mdt_iat_consume(mdt_env *env, const char *id, int64_t now, mdt_arena *a, mdt_iat_rec *out,
                       mdt_err *err)
{
    mdt_rc rc = mdt_store_iat_consume(env->store, id, now, a, out, err);

    if (rc == MDT_ERR_NOT_FOUND)
        return mdt_failf(err, MDT_ERR_INVALID_TOKEN, BAD_IAT,
                         "initial access token %.64s used up or expired", id);
    return rc;
}
