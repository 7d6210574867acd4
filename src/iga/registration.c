/* Self-registration under governance (SPEC §3.3). The policy decision is a
 * pure function (mdt_registration_decide); the service around it parses,
 * validates through the same code as `mandate client create`
 * (mdt_client_metadata_validate), decides, and creates or changes the client
 * through iga/client.h with the server-assigned members origin, vouched_by
 * and iat_id. */
#include "iga/registration.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "core/b64.h"
#include "core/buf.h"
#include "core/hash.h"
#include "core/url.h"
#include "core/words.h"
#include "iga/client.h"
#include "iga/iat.h"
#include "iga/internal.h"
#include "iga/requests.h"
#include "iga/resources.h"
#include "iga/scope.h"
#include "iga/secret.h"
#include "net/fetch.h"

#define REG_ACTOR "registration"
#define REG_REQUEST_TYPE "registration" /* the type of its approval requests */
/* Length of the metadata hash an approval request records (base64url of
 * SHA-256 of the metadata shown, without server-assigned members). */
#define MDT_REG_HASH_LEN 43

static mdt_client_status status_of(const char *status)
{
    return mdt_client_status_from_name(status);
}
#define BAD_RAT "invalid registration access token"

static mdt_rc nomem(mdt_err *err)
{
    return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

/* ---------------------------------------------------------------------
 * The policy.
 * --------------------------------------------------------------------- */

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (mdt_str_eq(list[i], s))
            return true;
    return false;
}

/* Whether s is an entry of the comma-separated list csv. */
static bool in_csv(const char *csv, const char *s)
{
    size_t n = strlen(s);

    for (const char *p = csv; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, s, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* Asking outside an initial access token's policy is refused outright. */
static mdt_rc within_policy(const mdt_reg_policy *p, const mdt_reg_ask *ask, mdt_err *err)
{
    if (!p)
        return MDT_OK;
    for (size_t i = 0; p->has_grant_types && i < ask->ngrant_types; i++)
        if (!in_list(p->grant_types, p->ngrant_types, ask->grant_types[i]))
            return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                             "grant_types holds a grant type the initial access token does not "
                             "allow",
                             "grant type %.80s outside the initial access token's policy",
                             ask->grant_types[i]);
    if (p->has_kinds && !in_list(p->kinds, p->nkinds, ask->kind))
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                         "kind is not one the initial access token allows",
                         "kind %.32s outside the initial access token's policy",
                         ask->kind ? ask->kind : "-");
    for (size_t i = 0; p->has_scopes && i < ask->nscopes; i++)
        if (!in_list(p->scopes, p->nscopes, ask->scopes[i]))
            return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                             "scope holds a scope the initial access token does not allow",
                             "scope %.80s outside the initial access token's policy",
                             ask->scopes[i]);
    return MDT_OK;
}

static bool grant_free(const mdt_reg_rules *r, const char *g)
{
    return r->vouched_grants || r->iat || in_csv(r->unverified_grant_types, g) ||
           in_list(r->granted_grants, r->ngranted_grants, g);
}

/* Granted without approval: kept from before, or not an approval scope and
 * vouched for (statement, token policy) or given to unverified clients. */
static bool scope_free(const mdt_reg_rules *r, const char *s)
{
    if (in_list(r->granted_scopes, r->ngranted_scopes, s))
        return true;
    if (in_list(r->approval, r->napproval, s))
        return false;
    return r->vouched_scopes || r->iat || r->consented || in_csv(r->unverified_scopes, s);
}

/* Keeps the scopes that ok allows (all when !filter) as one string. */
static mdt_rc join_scopes(const mdt_reg_rules *r, const mdt_reg_ask *ask, bool filter,
                          mdt_arena *a, const char **out, mdt_err *err)
{
    mdt_buf b;
    mdt_rc rc = MDT_OK;

    mdt_buf_init(&b, MDT_CLIENT_METADATA_MAX);
    for (size_t i = 0; rc == MDT_OK && i < ask->nscopes; i++) {
        if (filter && !scope_free(r, ask->scopes[i]))
            continue;
        if (b.len)
            rc = mdt_buf_adds(&b, " ");
        if (rc == MDT_OK)
            rc = mdt_buf_adds(&b, ask->scopes[i]);
    }
    if (rc == MDT_OK && !(*out = mdt_arena_strdup(a, b.data ? b.data : "")))
        rc = MDT_ERR_NOMEM;
    mdt_buf_free(&b);
    return rc == MDT_OK ? MDT_OK : nomem(err);
}

static mdt_rc keep_grants(const mdt_reg_rules *r, const mdt_reg_ask *ask, bool filter,
                          mdt_arena *a, mdt_reg_decision *out, mdt_err *err)
{
    out->grant_types = mdt_arena_alloc(a, (ask->ngrant_types + 1) * sizeof(char *));
    if (!out->grant_types)
        return nomem(err);
    for (size_t i = 0; i < ask->ngrant_types; i++)
        if (!filter || grant_free(r, ask->grant_types[i]))
            out->grant_types[out->ngrant_types++] = ask->grant_types[i];
    if (out->ngrant_types == 0)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "none of the grant types asked for is allowed for a self-registered "
                        "client without approval");
    return MDT_OK;
}

/* Why the client asks for more than it may get without approval; NULL when
 * it does not. */
static const char *excess_of(const mdt_reg_rules *r, const mdt_reg_ask *ask)
{
    if (r->excess)
        return r->excess;
    for (size_t i = 0; i < ask->nscopes; i++) {
        if (in_list(r->granted_scopes, r->ngranted_scopes, ask->scopes[i]))
            continue;
        if (in_list(r->approval, r->napproval, ask->scopes[i]))
            return "asks for a scope of sensitivity approval";
        if (!scope_free(r, ask->scopes[i]))
            return "asks for scopes beyond those of unverified clients";
    }
    for (size_t i = 0; i < ask->ngrant_types; i++)
        if (!grant_free(r, ask->grant_types[i]))
            return "asks for grant types beyond those of unverified clients";
    return NULL;
}

static int64_t decide_expiry(const mdt_reg_rules *r, int64_t asked)
{
    int64_t e = asked;

    if (!r->vouched && !r->iat && r->max_lifetime > 0) {
        int64_t cap = r->since + r->max_lifetime;
        if (!e || e > cap)
            e = cap;
    }
    if (r->current_expires_at && (!e || e > r->current_expires_at))
        e = r->current_expires_at;
    return e;
}

mdt_rc mdt_registration_decide(const mdt_reg_rules *rules, const mdt_reg_ask *ask, mdt_arena *a,
                               mdt_reg_decision *out, mdt_err *err)
{
    const char *why;
    bool reduce;
    mdt_rc rc;

    memset(out, 0, sizeof(*out));
    if ((rc = within_policy(rules->policy, ask, err)) != MDT_OK)
        return rc;
    why = excess_of(rules, ask);
    reduce = why && rules->reduce;
    out->pending = why && !rules->reduce;
    out->reason = why;
    if ((rc = join_scopes(rules, ask, reduce, a, &out->scope, err)) != MDT_OK ||
        (rc = keep_grants(rules, ask, reduce, a, out, err)) != MDT_OK)
        return rc;
    out->reduced = reduce || rules->privileged_reduced; /* an excess is always taken away */
    /* the owner is privileged: the caller kept it only when it was vouched
     * for or is to be approved */
    if (rules->policy && rules->policy->owner)
        out->owner = rules->policy->owner;
    else
        out->owner = ask->owner;
    out->expires_at = decide_expiry(rules, ask->expires_at);
    return MDT_OK;
}

/* ---------------------------------------------------------------------
 * Audit.
 * --------------------------------------------------------------------- */

/* Records why a registration (or an update) was refused and returns the
 * refusal's code; err keeps the refusal unless the audit itself fails. */
static mdt_rc refuse(mdt_ctx *ctx, const mdt_reg_ctx *reg, const char *client_id, mdt_rc why,
                     mdt_err *err)
{
    char reason[320];
    json_t *d;
    char *data;
    mdt_err aerr = {0};
    mdt_audit_event ev = {.type = "registration.refused",
                          .actor = REG_ACTOR,
                          .client_id = client_id,
                          .decision = "deny",
                          .reason = reason,
                          .ip = reg ? reg->source : NULL};

    if (mdt_rc_is_server_fault(why))
        return why;
    snprintf(reason, sizeof(reason), "%s: %s", mdt_rc_name(why), mdt_err_text(err));
    d = json_pack("{s:s?, s:s?, s:s?}", "origin", reg ? reg->origin : NULL, "iat_id",
                  reg ? reg->iat_id : NULL, "vouched_by", reg ? reg->vouched_by : NULL);
    data = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    ev.data = data;
    if (!data || mdt_ctx_audit(ctx, &ev, &aerr) != MDT_OK) {
        free(data);
        if (err)
            *err = aerr;
        return data ? aerr.rc : nomem(err);
    }
    free(data);
    return why;
}

/* ---------------------------------------------------------------------
 * Preparing a registration: parse, vouch, validate, decide.
 * --------------------------------------------------------------------- */

typedef struct {
    json_t *m;                 /* the metadata to store (owned) */
    mdt_reg_decision d;
    const char *asked_scope;   /* the scope as asked: what an approval grants */
} reg_plan;

/* The status a registration plan gives the client. */
static const char *plan_status(const reg_plan *plan)
{
    return mdt_client_status_name(plan->d.pending ? MDT_CLIENT_PENDING : MDT_CLIENT_ACTIVE);
}

/* Members the server assigns beside the metadata (never from input). */
static const char *const server_members[] = {"origin", "vouched_by", "iat_id", "approved_at"};

/* What an approval approves: base64url SHA-256 of metadata m without the
 * server-assigned members, keys sorted. false when out of memory. */
static bool metadata_hash(json_t *m, char out[MDT_REG_HASH_LEN + 1])
{
    json_t *c = json_deep_copy(m);
    char *text;
    uint8_t h[32];

    for (size_t i = 0; c && i < MDT_ARRAY_LEN(server_members); i++)
        json_object_del(c, server_members[i]);
    text = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(c);
    if (!text)
        return false;
    mdt_sha256(text, strlen(text), h);
    free(text);
    mdt_b64url_encode(h, sizeof(h), out);
    return true;
}

/* Whether the stored metadata (minus server members) equals plan's. */
static bool unchanged(const mdt_client *cur, const reg_plan *plan)
{
    json_t *m = json_loads(cur->metadata, 0, NULL);
    bool same;

    for (size_t i = 0; i < MDT_ARRAY_LEN(server_members); i++)
        json_object_del(m, server_members[i]);
    same = m && json_equal(m, plan->m);
    json_decref(m);
    return same;
}

static mdt_rc parse_obj(const char *json, size_t len, json_t **out, mdt_err *err)
{
    json_error_t je;

    *out = NULL;
    if (len > MDT_CLIENT_METADATA_MAX)
        return mdt_fail(err, MDT_ERR_TOO_LARGE, "client metadata is larger than 64 KiB");
    *out = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (json_is_object(*out))
        return MDT_OK;
    json_decref(*out);
    *out = NULL;
    return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                     "client metadata must be a JSON object",
                     "client metadata is not a JSON object: %s", je.text);
}

/* The verified statement's claims take precedence over the request's. */
static mdt_rc apply_statement(json_t *in, const char *statement, mdt_err *err)
{
    json_t *st = statement ? json_loads(statement, 0, NULL) : NULL;
    mdt_rc rc = MDT_OK;

    if (statement && (!json_is_object(st) || json_object_update(in, st) != 0))
        rc = mdt_fail(err, MDT_ERR_INTERNAL, "software statement claims are not an object");
    json_object_del(in, "software_statement");
    json_decref(st);
    return rc;
}

/* The shared validation of client metadata, on the object in. */
static mdt_rc validate(mdt_env *env, json_t *in, mdt_arena *a, json_t **norm, mdt_err *err)
{
    char *text = json_dumps(in, JSON_COMPACT);
    const char *meta = NULL;
    int64_t expires_at;
    mdt_rc rc;

    *norm = NULL;
    if (!text)
        return nomem(err);
    rc = mdt_client_metadata_validate(env, text, strlen(text), a, &meta, &expires_at, err);
    free(text);
    if (rc != MDT_OK)
        return rc;
    *norm = json_loads(meta, 0, NULL);
    return *norm ? MDT_OK : nomem(err);
}

/* Whether the host of an https URL is a literal loopback, private or other
 * non-public address (or localhost). Host names are left to the fetch, which
 * checks the addresses they resolve to. */
static bool host_not_public(const char *uri)
{
    char *host = mdt_url_host(uri);
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    bool bad = false;

    memset(&addr, 0, sizeof(addr));
    if (host) {
        size_t n = strlen(host);
        if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
            host[n - 1] = '\0';
            addr.v6.sin6_family = AF_INET6;
            bad = inet_pton(AF_INET6, host + 1, &addr.v6.sin6_addr) == 1;
        } else if (inet_pton(AF_INET, host, &addr.v4.sin_addr) == 1) {
            addr.v4.sin_family = AF_INET;
            bad = true;
        }
        bad = (bad && !mdt_fetch_addr_public(&addr.sa)) || mdt_host_is_loopback(host);
    }
    free(host);
    return bad;
}

/* MDT_SCOPE_ADMIN is an admin's to give (`mandate client create|update`,
 * the admin API): whatever vouches for a registration (an initial access
 * token's policy, a software statement, the unverified defaults), a
 * self-registered client never holds it. */
static mdt_rc admin_scope_refused(const char *scope, mdt_err *err)
{
    if (!mdt_words_has(scope, MDT_SCOPE_ADMIN))
        return MDT_OK;
    return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                    "the scope " MDT_SCOPE_ADMIN " cannot be registered: an admin gives it");
}

/* Rules of self-registration on top of the shared validation. */
static mdt_rc registration_checks(mdt_env *env, json_t *m, const mdt_reg_ctx *reg, mdt_err *err)
{
    const char *jwks_uri = json_string_value(json_object_get(m, "jwks_uri"));
    const char *method = json_string_value(json_object_get(m, "token_endpoint_auth_method"));

    if (jwks_uri && !env->cfg.jwks_uri_allow_private && host_not_public(jwks_uri))
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                         "jwks_uri must not point at a private or loopback address",
                         "jwks_uri host is not a public address: %.200s", jwks_uri);
    if (mdt_str_eq(reg->origin, "cimd") && mdt_client_auth_method_is_secret(method))
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "a client ID metadata document cannot register a secret method");
    return admin_scope_refused(json_string_value(json_object_get(m, "scope")), err);
}

static const char **str_list(json_t *arr, mdt_arena *a, size_t *n)
{
    const char **out = mdt_arena_alloc(a, (json_array_size(arr) + 1) * sizeof(char *));
    size_t i;
    json_t *x;

    *n = 0;
    if (!out)
        return NULL;
    json_array_foreach(arr, i, x)
        if (json_is_string(x))
            out[(*n)++] = json_string_value(x);
    return out;
}

/* What normalized metadata m asks for; strings borrowed from m or in a. */
static mdt_rc gather_ask(json_t *m, mdt_arena *a, mdt_reg_ask *ask, mdt_err *err)
{
    const char *exp = json_string_value(json_object_get(m, "expires_at"));

    memset(ask, 0, sizeof(*ask));
    ask->grant_types = str_list(json_object_get(m, "grant_types"), a, &ask->ngrant_types);
    ask->scopes = mdt_words_split(a, json_string_value(json_object_get(m, "scope")), &ask->nscopes);
    ask->kind = json_string_value(json_object_get(m, "kind"));
    ask->owner = json_string_value(json_object_get(m, "owner"));
    if (exp && mdt_time_parse(exp, &ask->expires_at) != MDT_OK)
        ask->expires_at = 0;
    return ask->grant_types && ask->scopes ? MDT_OK : nomem(err);
}

/* The asked scopes whose sensitivity is approval. */
static mdt_rc approval_scopes(mdt_env *env, const mdt_reg_ask *ask, mdt_arena *a,
                              mdt_reg_rules *r, mdt_err *err)
{
    const char **out = mdt_arena_alloc(a, (ask->nscopes + 1) * sizeof(char *));
    mdt_scope_rec sc;
    mdt_rc rc;

    if (!out)
        return nomem(err);
    for (size_t i = 0; i < ask->nscopes; i++) {
        if ((rc = mdt_store_scope_get(env->store, ask->scopes[i], a, &sc, err)) != MDT_OK)
            return rc;
        if (mdt_str_eq(sc.sensitivity, "approval"))
            out[r->napproval++] = ask->scopes[i];
    }
    r->approval = out;
    return MDT_OK;
}

/* The rules for a registration (cur NULL) or an update of cur. */
/* Whether the verified statement of reg signs member key. */
static bool statement_has(const mdt_reg_ctx *reg, const char *key)
{
    json_t *st = reg->statement ? json_loads(reg->statement, 0, NULL) : NULL;
    bool has = json_object_get(st, key) != NULL;

    json_decref(st);
    return has;
}

/* Flows where a person signs in and consents: what that person grants is
 * gated by their consent. */
static bool consented_grant(const char *g)
{
    return mdt_str_eq(g, "authorization_code") || mdt_str_eq(g, "refresh_token");
}

static bool consented_only(const mdt_reg_ask *ask)
{
    for (size_t i = 0; i < ask->ngrant_types; i++)
        if (!consented_grant(ask->grant_types[i]))
            return false;
    return ask->ngrant_types > 0;
}

static mdt_rc make_rules(mdt_env *env, mdt_ctx *ctx, const mdt_reg_ctx *reg, const mdt_client *cur,
                         const mdt_reg_ask *ask, mdt_arena *a, mdt_reg_rules *r, mdt_reg_policy *p,
                         mdt_err *err)
{
    mdt_rc rc;

    memset(r, 0, sizeof(*r));
    r->unverified_scopes = env->cfg.unverified_scopes;
    r->unverified_grant_types = env->cfg.unverified_grant_types;
    r->max_lifetime = env->cfg.unverified_max_lifetime;
    r->reduce = mdt_str_eq(env->cfg.registration_excess, "reduce");
    r->vouched = reg->vouched_by != NULL;
    r->vouched_scopes = r->vouched && statement_has(reg, "scope");
    r->vouched_grants = r->vouched && statement_has(reg, "grant_types");
    r->iat = reg->iat_id != NULL;
    r->consented = consented_only(ask);
    r->since = cur ? cur->created_at : ctx->now;
    if (reg->iat_policy) {
        if ((rc = mdt_iat_policy_parse(reg->iat_policy, a, p, NULL, err)) != MDT_OK) {
            char why[sizeof(err->detail)];
            snprintf(why, sizeof(why), "%s", mdt_err_text(err)); /* err is written below */
            return mdt_failf(err, MDT_ERR_INTERNAL, "stored policy unreadable", "iat policy: %s",
                             why);
        }
        r->policy = p;
    }
    if (cur && status_of(cur->status) == MDT_CLIENT_ACTIVE) {
        /* what its metadata holds: not the time-bound scopes of approved
           access requests, which an update must not make permanent */
        json_t *m = json_loads(cur->metadata ? cur->metadata : "{}", 0, NULL);
        r->granted_scopes = (const char *const *)mdt_words_split(
            a, json_string_value(json_object_get(m, "scope")), &r->ngranted_scopes);
        json_decref(m);
        if (!r->granted_scopes)
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        r->granted_grants = cur->grant_types;
        r->ngranted_grants = cur->ngrant_types;
    }
    r->current_expires_at = cur ? cur->expires_at : 0;
    return MDT_OK;
}

static mdt_rc apply_decision(json_t *m, const mdt_reg_decision *d, mdt_err *err)
{
    json_t *grants = json_array();
    char when[21];
    int bad = !grants;

    for (size_t i = 0; !bad && i < d->ngrant_types; i++)
        bad = json_array_append_new(grants, json_string(d->grant_types[i]));
    bad = bad || json_object_set_new(m, "grant_types", grants);
    grants = NULL;
    if (d->scope[0])
        bad = bad || json_object_set_new(m, "scope", json_string(d->scope));
    else
        json_object_del(m, "scope");
    if (d->owner)
        bad = bad || json_object_set_new(m, "owner", json_string(d->owner));
    else
        json_object_del(m, "owner");
    mdt_time_format(d->expires_at, when);
    if (d->expires_at)
        bad = bad || json_object_set_new(m, "expires_at", json_string(when));
    else
        json_object_del(m, "expires_at");
    return bad ? nomem(err) : MDT_OK;
}

/* ---------------------------------------------------------------------
 * Privileged members (client.h): set by an admin, an initial access
 * token's policy or the signed claims of a trusted statement; an unvouched
 * client gets the [registration] values of unverified clients.
 * --------------------------------------------------------------------- */

static json_t *csv_array(const char *csv)
{
    json_t *arr = json_array();

    for (const char *p = csv; arr && p && *p;) {
        size_t len = strcspn(p, ",");
        if (len)
            json_array_append_new(arr, json_stringn(p, len));
        p += len + (p[len] == ',');
    }
    return arr;
}

/* What an unverified client may have of member key (new reference; NULL:
 * nothing). consented: it asks only for consented flows, where the
 * operator's protected resources may be asked for as well. */
static json_t *unverified_allowed(const mdt_env *env, const char *key, bool consented)
{
    json_t *arr;
    const mdt_resources *res = mdt_env_resources(env);

    if (mdt_str_eq(key, "resources")) {
        arr = csv_array(env->cfg.unverified_resources);
        for (size_t i = 0; arr && consented && i < mdt_resources_count(res); i++)
            json_array_append_new(arr, json_string(mdt_resources_uri(res, i)));
        return arr;
    }
    if (mdt_str_eq(key, "kind"))
        return json_string(env->cfg.unverified_kind);
    if (mdt_str_eq(key, "risk_tier"))
        return json_string(env->cfg.unverified_risk_tier);
    if (mdt_str_eq(key, "max_delegation_depth"))
        return json_integer(env->cfg.unverified_max_delegation_depth);
    if (mdt_str_eq(key, "access_token_ttl"))
        return json_integer(env->cfg.access_token_ttl);
    return NULL;
}

/* What an unverified client that asks for nothing (or is reduced) is given
 * of member key (new reference; NULL: the member is left out). */
static json_t *unverified_default(const mdt_env *env, const char *key)
{
    json_t *v;

    if (mdt_str_eq(key, "access_token_ttl"))
        return NULL;
    v = mdt_str_eq(key, "resources") ? csv_array(env->cfg.unverified_resources)
                                     : unverified_allowed(env, key, false);
    if (json_is_array(v) && json_array_size(v) == 0) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* The bound an initial access token's policy sets on member key; NULL when
 * the policy says nothing of it. kinds and owner are checked (and the owner
 * forced) by the policy decision itself: *covered says so. */
static json_t *policy_bound(json_t *policy, const char *key, bool *covered)
{
    *covered = (mdt_str_eq(key, "kind") && json_object_get(policy, "kinds")) ||
               (mdt_str_eq(key, "owner") && json_object_get(policy, "owner"));
    return *covered ? NULL : json_object_get(policy, key);
}

typedef struct {
    json_t *statement;   /* the signed claims; NULL */
    json_t *policy;      /* the initial access token's policy; NULL */
    json_t *current;     /* the stored metadata of the client updated; NULL */
    bool granted;        /* ... which is active: what it holds was granted */
    bool consented;
    bool reduce;
} priv_ctx;

/* Decides one member of in: kept, given the unverified value, or an
 * excess (*excess names it, or the member is reduced). */
static mdt_rc privileged_one(const mdt_env *env, const mdt_client_privileged *f, json_t *in,
                             const priv_ctx *pc, mdt_arena *a, const char **excess,
                             bool *reduced, mdt_err *err)
{
    json_t *asked = json_object_get(in, f->key), *bound, *allowed;
    json_t *cur = pc->current ? json_object_get(pc->current, f->key) : NULL;
    bool covered, within;

    if (json_is_null(asked))
        asked = NULL;
    if (f->order == MDT_PRIV_ADMIN_ONLY) {
        if (asked && !(cur && json_equal(asked, cur)))
            return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                             "a member that only an admin may set was asked for",
                             "%s is set by an admin only", f->key);
        return MDT_OK;
    }
    if (json_object_get(pc->statement, f->key))
        return MDT_OK; /* signed by a trusted publisher */
    if ((bound = policy_bound(pc->policy, f->key, &covered)) || covered) {
        if (covered || mdt_client_privilege_within(f, asked, bound))
            return MDT_OK;
        return mdt_failf(err, MDT_ERR_INVALID_CLIENT_METADATA,
                         "a privileged member is outside the initial access token's policy",
                         "%s outside the initial access token's policy", f->key);
    }
    if (asked && pc->granted && cur && mdt_client_privilege_within(f, asked, cur))
        return MDT_OK; /* kept from what was approved */
    allowed = unverified_allowed(env, f->key, pc->consented);
    within = asked && mdt_client_privilege_within(f, asked, allowed);
    json_decref(allowed);
    if (within)
        return MDT_OK;
    if (asked && !pc->reduce) {
        if (!*excess && !(*excess = mdt_arena_printf(a, "asks for %s beyond what unverified "
                                                        "clients get", f->key)))
            return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        return MDT_OK;
    }
    *reduced |= asked != NULL;
    if (!(allowed = unverified_default(env, f->key))) {
        json_object_del(in, f->key);
        return MDT_OK;
    }
    if (json_object_set_new(in, f->key, allowed) != 0)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    return MDT_OK;
}

/* The privileged members of the request in (statement applied), before
 * validation; the rules get the excess, or the reduction. */
static mdt_rc privileged(const mdt_env *env, json_t *in, const mdt_reg_ctx *reg,
                         const mdt_client *cur, const mdt_reg_ask *ask, mdt_arena *a,
                         mdt_reg_rules *r, mdt_err *err)
{
    priv_ctx pc = {.granted = cur && status_of(cur->status) == MDT_CLIENT_ACTIVE,
                   .consented = consented_only(ask), .reduce = r->reduce};
    mdt_rc rc = MDT_OK;

    pc.statement = reg->statement ? json_loads(reg->statement, 0, NULL) : NULL;
    pc.policy = reg->iat_policy ? json_loads(reg->iat_policy, 0, NULL) : NULL;
    pc.current = cur ? json_loads(cur->metadata, 0, NULL) : NULL;
    for (size_t i = 0; rc == MDT_OK && i < mdt_client_nprivileged; i++)
        rc = privileged_one(env, &mdt_client_privileged_members[i], in, &pc, a, &r->excess,
                            &r->privileged_reduced, err);
    json_decref(pc.statement);
    json_decref(pc.policy);
    json_decref(pc.current);
    return rc;
}

/* Everything a registration or an update decides before it writes. */
static mdt_rc prepare(mdt_env *env, mdt_ctx *ctx, const char *json, size_t len,
                      const mdt_reg_ctx *reg, const mdt_client *cur, mdt_arena *a, reg_plan *plan,
                      mdt_err *err)
{
    json_t *in = NULL;
    mdt_reg_ask ask;
    mdt_reg_rules rules;
    mdt_reg_policy pol;
    mdt_rc rc;

    memset(plan, 0, sizeof(*plan));
    if ((rc = parse_obj(json, len, &in, err)) || (rc = apply_statement(in, reg->statement, err)) ||
        (rc = validate(env, in, a, &plan->m, err)) || (rc = gather_ask(plan->m, a, &ask, err)) ||
        (rc = make_rules(env, ctx, reg, cur, &ask, a, &rules, &pol, err)) ||
        (rc = privileged(env, in, reg, cur, &ask, a, &rules, err)))
        goto out;
    json_decref(plan->m); /* again, with the privileged members decided */
    plan->m = NULL;
    if ((rc = validate(env, in, a, &plan->m, err)) ||
        (rc = registration_checks(env, plan->m, reg, err)) ||
        (rc = gather_ask(plan->m, a, &ask, err)) ||
        (rc = approval_scopes(env, &ask, a, &rules, err)) ||
        (rc = mdt_registration_decide(&rules, &ask, a, &plan->d, err)))
        goto out;
    plan->asked_scope = mdt_arena_strdup(a, json_string_value(json_object_get(plan->m, "scope")));
    if ((rc = apply_decision(plan->m, &plan->d, err)) == MDT_OK) /* the policy's own scopes too */
        rc = admin_scope_refused(json_string_value(json_object_get(plan->m, "scope")), err);
out:
    json_decref(in);
    if (rc != MDT_OK) {
        json_decref(plan->m);
        plan->m = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------------
 * Writing.
 * --------------------------------------------------------------------- */

static const char *dump_in(json_t *v, mdt_arena *a)
{
    const char *out = NULL;

    if (v && mdt_iga__dump(v, a, &out, NULL) != MDT_OK)
        out = NULL;
    json_decref(v);
    return out;
}

/* The audit data of a registration or an update. */
static const char *event_data(const mdt_reg_ctx *reg, const reg_plan *plan, mdt_arena *a)
{
    return dump_in(json_pack("{s:s?, s:s?, s:s?, s:s?, s:s, s:b, s:s?}", "origin", reg->origin,
                             "source", reg->source, "iat_id", reg->iat_id, "vouched_by",
                             reg->vouched_by, "status", plan_status(plan), "reduced",
                             plan->d.reduced, "policy_reason", plan->d.reason),
                   a);
}

static mdt_rc pending_request(mdt_env *env, mdt_ctx *ctx, const char *client_id,
                              const reg_plan *plan, mdt_arena *a, mdt_err *err)
{
    char hash[MDT_REG_HASH_LEN + 1];
    mdt_request_rec r = {.type = REG_REQUEST_TYPE,
                         .client_id = client_id,
                         .scope = plan->asked_scope,
                         .metadata_hash = hash};
    const char *id;
    mdt_rc rc;

    if (!metadata_hash(plan->m, hash))
        return nomem(err);
    /* an approval approves exactly this metadata: earlier requests are closed */
    if ((rc = mdt_request_supersede(env, ctx, client_id, REG_REQUEST_TYPE, a, err)) != MDT_OK)
        return rc;
    return mdt_request_create(env, ctx, &r, a, &id, err);
}

/* Adds registration_access_token (when rat) and registration_client_uri to
 * the RFC 7591 document *doc. */
static mdt_rc add_registration(mdt_env *env, const char *client_id, const char *rat,
                               mdt_arena *a, const char **doc, mdt_err *err)
{
    json_t *o = json_loads(*doc, 0, NULL);
    const char *uri = mdt_arena_printf(a, "%s/register/%s", env->cfg.issuer, client_id);
    bool ok = json_is_object(o) && uri &&
              json_object_set_new(o, "registration_client_uri", json_string(uri)) == 0 &&
              (!rat || json_object_set_new(o, "registration_access_token", json_string(rat)) == 0);
    mdt_rc rc = ok ? mdt_iga__dump(o, a, doc, err) : nomem(err);

    json_decref(o);
    return rc;
}

/* A fresh registration access token and its credential row. */
static mdt_rc new_rat(mdt_env *env, mdt_ctx *ctx, const char *client_id, mdt_arena *a,
                      mdt_cred_rec *cred, char rat[MDT_SECRET_LEN + 1], mdt_err *err)
{
    mdt_rc rc;

    memset(cred, 0, sizeof(*cred));
    if ((rc = mdt_random_id(&env->rng, "cred_", MDT_CRED_ID_BYTES, a, &cred->id, err)) ||
        (rc = mdt_secret_generate(&env->rng, rat, err)))
        return rc;
    mdt_secret_hash(rat, MDT_SECRET_LEN, cred->hash);
    cred->client_id = client_id;
    cred->type = mdt_cred_type_name(MDT_CRED_REGISTRATION);
    cred->name = "";
    cred->created_at = ctx->now;
    return MDT_OK;
}

/* Creates the client of plan (with a registration access token when rat). */
static mdt_rc create_client(mdt_env *env, mdt_ctx *ctx, const mdt_reg_ctx *reg,
                            const char *client_id, const reg_plan *plan, char *rat, mdt_arena *a,
                            const char **doc, mdt_err *err)
{
    mdt_cred_rec cred;
    mdt_client_spec spec = {.client_id = client_id,
                            .status = plan_status(plan),
                            .event = "client.registered",
                            .event_data = event_data(reg, plan, a)};
    const char *meta = NULL;
    mdt_rc rc;

    spec.server_meta = dump_in(json_pack("{s:s, s:s?, s:s?}", "origin", reg->origin, "vouched_by",
                                         reg->vouched_by, "iat_id", reg->iat_id),
                               a);
    if (!spec.server_meta || !spec.event_data || mdt_iga__dump(plan->m, a, &meta, err) != MDT_OK)
        return nomem(err);
    if (rat) {
        if ((rc = new_rat(env, ctx, client_id, a, &cred, rat, err)) != MDT_OK)
            return rc;
        spec.extra = &cred;
        spec.nextra = 1;
    }
    if ((rc = mdt_client_create_with(env, ctx, meta, strlen(meta), &spec, a, doc, err)) != MDT_OK)
        return rc;
    return plan->d.pending ? pending_request(env, ctx, client_id, plan, a, err) : MDT_OK;
}

/* A publisher whose entry says single_instance allows one client per
 * software_id (other_than: the client being updated, or NULL). */
static mdt_rc single_instance(mdt_env *env, const mdt_reg_ctx *reg, const reg_plan *plan,
                              const char *other_than, mdt_arena *a, mdt_err *err)
{
    const char *sid = json_string_value(json_object_get(plan->m, "software_id"));
    mdt_client_rec *list = NULL;
    size_t n = 0;
    mdt_rc rc;

    if (!reg->vouched_by || !reg->single_instance || !sid)
        return MDT_OK;
    if ((rc = mdt_store_client_list(env->store, a, &list, &n, err)) != MDT_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        json_t *m;
        bool same;
        if (mdt_str_eq(list[i].client_id, other_than))
            continue;
        m = json_loads(list[i].metadata, 0, NULL);
        same = mdt_str_eq(json_string_value(json_object_get(m, "software_id")), sid) &&
               mdt_str_eq(json_string_value(json_object_get(m, "vouched_by")), reg->vouched_by);
        json_decref(m);
        if (same)
            return mdt_failf(err, MDT_ERR_INVALID_SOFTWARE_STATEMENT,
                             "the publisher allows one registered instance of this software",
                             "software_id %.100s of %.100s is registered as %.64s", sid,
                             reg->vouched_by, list[i].client_id);
    }
    return MDT_OK;
}

mdt_rc mdt_registration_create(mdt_env *env, mdt_ctx *caller, const char *json, size_t len,
                               const mdt_reg_ctx *reg, mdt_arena *a, const char **response_json,
                               mdt_err *err)
{
    mdt_ctx as_reg = mdt_ctx_as(caller, REG_ACTOR), *ctx = &as_reg; /* acts on its own authority */
    char rat[MDT_SECRET_LEN + 1] = "";
    const char *client_id = NULL;
    mdt_iat_rec iat;
    reg_plan plan;
    mdt_rc rc;

    *response_json = NULL;
    if ((rc = prepare(env, ctx, json, len, reg, NULL, a, &plan, err)) != MDT_OK)
        return refuse(ctx, reg, NULL, rc, err);
    if ((rc = single_instance(env, reg, &plan, NULL, a, err)) != MDT_OK) {
        rc = refuse(ctx, reg, NULL, rc, err);
        goto out;
    }
    if (reg->iat_id && (rc = mdt_iat_consume(env, reg->iat_id, ctx->now, a, &iat, err)) != MDT_OK) {
        rc = refuse(ctx, reg, NULL, rc, err);
        goto out;
    }
    if ((rc = mdt_random_id(&env->rng, "mdt_", MDT_CLIENT_ID_BYTES, a, &client_id, err)) ||
        (rc = create_client(env, ctx, reg, client_id, &plan, rat, a, response_json, err)))
        goto out;
    rc = add_registration(env, client_id, rat, a, response_json, err);
out:
    mdt_wipe(rat, sizeof(rat));
    json_decref(plan.m);
    return rc;
}

/* ---------------------------------------------------------------------
 * RFC 7592.
 * --------------------------------------------------------------------- */

/* Checks the registration access token of client_id (every registration
 * credential compared, no early exit). */
static mdt_rc rat_check(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *rat,
                        mdt_arena *a, mdt_err *err)
{
    uint8_t h[MDT_SECRET_HASH_LEN];
    mdt_cred_rec *creds = NULL;
    size_t n = 0;
    bool hit = false;
    mdt_rc rc;

    if (!rat || strlen(rat) != MDT_SECRET_LEN || !client_id || !*client_id)
        return mdt_failf(err, MDT_ERR_INVALID_TOKEN, BAD_RAT, "registration access token missing "
                                                               "or malformed");
    rc = mdt_store_cred_list(env->store, client_id, a, &creds, &n, err);
    if (rc != MDT_OK)
        return rc;
    mdt_secret_hash(rat, MDT_SECRET_LEN, h);
    for (size_t i = 0; i < n; i++) {
        bool eq = mdt_ct_eq(h, sizeof(h), creds[i].hash, sizeof(creds[i].hash));
        hit |= eq && mdt_cred_type_from_name(creds[i].type) == MDT_CRED_REGISTRATION &&
               mdt_cred_live(&creds[i], ctx->now);
    }
    mdt_wipe(h, sizeof(h));
    if (!hit)
        return mdt_failf(err, MDT_ERR_INVALID_TOKEN, BAD_RAT,
                         "wrong registration access token for %.64s (or unknown client)",
                         client_id);
    return MDT_OK;
}

mdt_rc mdt_registration_read(mdt_env *env, mdt_ctx *ctx, const char *client_id, const char *rat,
                             mdt_arena *a, const char **response_json, mdt_err *err)
{
    mdt_rc rc;

    *response_json = NULL;
    if ((rc = rat_check(env, ctx, client_id, rat, a, err)) ||
        (rc = mdt_client_doc_json(env, ctx, client_id, a, response_json, err)))
        return rc;
    return add_registration(env, client_id, NULL, a, response_json, err);
}

mdt_rc mdt_registration_delete(mdt_env *env, mdt_ctx *caller, const char *client_id,
                               const char *rat, mdt_err *err)
{
    mdt_ctx as_reg = mdt_ctx_as(caller, REG_ACTOR), *ctx = &as_reg; /* acts on its own authority */
    mdt_arena a;
    mdt_rc rc;

    mdt_arena_init(&a, 2048);
    rc = rat_check(env, ctx, client_id, rat, &a, err);
    mdt_arena_free(&a);
    return rc != MDT_OK ? rc : mdt_client_delete(env, ctx, client_id, err);
}

/* RFC 7592 §2.2: the body names the client it updates. */
static mdt_rc same_client(const char *json, size_t len, const char *client_id, mdt_err *err)
{
    json_t *o = len <= MDT_CLIENT_METADATA_MAX ? json_loadb(json, len, 0, NULL) : NULL;
    bool ok = mdt_str_eq(json_string_value(json_object_get(o, "client_id")), client_id);

    json_decref(o);
    if (!o)
        return mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                        "client metadata must be a JSON object");
    return ok ? MDT_OK
              : mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                         "client_id must be present and equal to the client's");
}

/* The context of an update: the origin and token the client registered
 * with (its policy still applies), the statement of this request. */
static mdt_rc update_ctx(mdt_env *env, const mdt_client *cur, const mdt_reg_ctx *in,
                         mdt_arena *a, mdt_reg_ctx *out, mdt_err *err)
{
    json_t *m = json_loads(cur->metadata, 0, NULL);
    const char *iat_id = mdt_arena_strdup(a, json_string_value(json_object_get(m, "iat_id")));
    mdt_iat_rec iat;
    mdt_rc rc = MDT_OK;

    json_decref(m);
    *out = *in;
    out->origin = cur->origin ? cur->origin : "dcr";
    out->iat_id = iat_id;
    out->iat_policy = NULL;
    if (iat_id && (rc = mdt_store_iat_get(env->store, iat_id, a, &iat, err)) == MDT_OK)
        out->iat_policy = iat.policy[0] ? iat.policy : NULL;
    return rc == MDT_ERR_NOT_FOUND ? MDT_OK : rc;
}

/* An update's new status: a suspended (denied) client stays so. */
static const char *update_status(const mdt_client *cur, const reg_plan *plan)
{
    mdt_client_status st = status_of(cur->status);

    if (st == MDT_CLIENT_SUSPENDED || st == MDT_CLIENT_EXPIRED)
        return NULL;
    return mdt_client_status_name(plan->d.pending ? MDT_CLIENT_PENDING : MDT_CLIENT_ACTIVE);
}

static mdt_rc apply_update(mdt_env *env, mdt_ctx *ctx, const mdt_client *cur,
                           const mdt_reg_ctx *reg, const reg_plan *plan, mdt_arena *a,
                           const char **doc, mdt_err *err)
{
    mdt_client_spec spec = {.status = update_status(cur, plan),
                            .replace = true,
                            .event_data = event_data(reg, plan, a)};
    const char *meta = NULL;
    bool changed;
    mdt_rc rc;

    spec.server_meta = dump_in(json_pack("{s:s?}", "vouched_by", reg->vouched_by), a);
    if (spec.server_meta && !reg->vouched_by)
        spec.server_meta = "{\"vouched_by\":null}";
    if (!spec.server_meta || !spec.event_data || mdt_iga__dump(plan->m, a, &meta, err) != MDT_OK)
        return nomem(err);
    changed = !unchanged(cur, plan);
    rc = mdt_client_update_with(env, ctx, cur->client_id, meta, strlen(meta), &spec, a, doc, err);
    if (rc != MDT_OK)
        return rc;
    /* a pending client that changes what it asks for re-opens its request,
     * showing the new metadata; one that no longer needs approval closes it */
    if (status_of(spec.status) == MDT_CLIENT_PENDING &&
        (changed || status_of(cur->status) != MDT_CLIENT_PENDING))
        rc = pending_request(env, ctx, cur->client_id, plan, a, err);
    else if (status_of(cur->status) == MDT_CLIENT_PENDING &&
             status_of(spec.status) != MDT_CLIENT_PENDING)
        rc = mdt_request_supersede(env, ctx, cur->client_id, REG_REQUEST_TYPE, a, err);
    return rc;
}

mdt_rc mdt_registration_update(mdt_env *env, mdt_ctx *caller, const char *client_id,
                               const char *rat, const char *json, size_t len,
                               const mdt_reg_ctx *reg, mdt_arena *a, const char **response_json,
                               mdt_err *err)
{
    mdt_ctx as_reg = mdt_ctx_as(caller, REG_ACTOR), *ctx = &as_reg; /* acts on its own authority */
    mdt_client cur;
    mdt_reg_ctx uctx;
    reg_plan plan = {0};
    mdt_rc rc;

    *response_json = NULL;
    if ((rc = rat_check(env, ctx, client_id, rat, a, err)) ||
        (rc = mdt_client_load(env, client_id, ctx->now, a, &cur, err)) ||
        (rc = update_ctx(env, &cur, reg, a, &uctx, err)))
        return rc;
    if ((rc = same_client(json, len, client_id, err)) ||
        (rc = prepare(env, ctx, json, len, &uctx, &cur, a, &plan, err)) ||
        (rc = single_instance(env, &uctx, &plan, client_id, a, err))) {
        json_decref(plan.m);
        return refuse(ctx, &uctx, client_id, rc, err);
    }
    rc = apply_update(env, ctx, &cur, &uctx, &plan, a, response_json, err);
    if (rc == MDT_OK)
        rc = add_registration(env, client_id, NULL, a, response_json, err);
    json_decref(plan.m);
    return rc;
}

/* ---------------------------------------------------------------------
 * Client ID metadata documents.
 * --------------------------------------------------------------------- */

mdt_rc mdt_registration_upsert_document(mdt_env *env, mdt_ctx *caller, const char *client_id,
                                        const char *json, size_t len, const mdt_reg_ctx *reg,
                                        mdt_arena *a, mdt_err *err)
{
    mdt_ctx as_reg = mdt_ctx_as(caller, REG_ACTOR), *ctx = &as_reg; /* acts on its own authority */
    mdt_client cur;
    reg_plan plan = {0};
    const char *doc = NULL;
    mdt_rc rc = mdt_client_load(env, client_id, ctx->now, a, &cur, err);

    if (rc == MDT_ERR_NOT_FOUND) {
        mdt_err_clear(err);
        if ((rc = prepare(env, ctx, json, len, reg, NULL, a, &plan, err)) != MDT_OK)
            return refuse(ctx, reg, client_id, rc, err);
        rc = create_client(env, ctx, reg, client_id, &plan, NULL, a, &doc, err);
    } else if (rc == MDT_OK && !mdt_str_eq(cur.origin, "cimd")) {
        rc = refuse(ctx, reg, client_id,
                    mdt_fail(err, MDT_ERR_INVALID_CLIENT_METADATA,
                             "client_id names a client that was not registered from a document"),
                    err);
    } else if (rc == MDT_OK) {
        if ((rc = prepare(env, ctx, json, len, reg, &cur, a, &plan, err)) != MDT_OK)
            return refuse(ctx, reg, client_id, rc, err);
        if (!unchanged(&cur, &plan))
            rc = apply_update(env, ctx, &cur, reg, &plan, a, &doc, err);
    }
    json_decref(plan.m);
    return rc;
}

/* ---------------------------------------------------------------------
 * Initial access tokens, rate limits, approvals.
 * --------------------------------------------------------------------- */

mdt_rc mdt_registration_authorize(mdt_env *env, const char *token, int64_t now, mdt_arena *a,
                                  mdt_reg_ctx *reg, mdt_err *err)
{
    mdt_iat_rec iat;
    mdt_rc rc;

    reg->iat_id = reg->iat_policy = NULL;
    if (!token) {
        if (env->cfg.registration_open)
            return MDT_OK;
        return mdt_failf(err, MDT_ERR_INVALID_TOKEN, "an initial access token is required",
                         "no initial access token presented");
    }
    if ((rc = mdt_iat_check(env, token, now, a, &iat, err)) != MDT_OK)
        return rc;
    reg->iat_id = iat.id;
    reg->iat_policy = iat.policy[0] ? iat.policy : NULL;
    return MDT_OK;
}

static mdt_rc count(mdt_env *env, const char *kind, const char *key, int64_t limit,
                    int64_t window, bool *limited, mdt_err *err)
{
    char name[320];
    int64_t n;
    mdt_rc rc;

    snprintf(name, sizeof(name), "register:%s:%.256s", kind, key);
    if ((rc = mdt_store_rate_hit(env->store, name, window, &n, err)) == MDT_OK && n > limit)
        *limited = true;
    return rc;
}

mdt_rc mdt_registration_rate(mdt_env *env, const mdt_reg_ctx *reg, int64_t now, bool *limited,
                             int64_t *retry_after, mdt_err *err)
{
    int64_t window = now - now % MDT_REG_RATE_WINDOW;
    mdt_rc rc = MDT_OK;

    *limited = false;
    *retry_after = window + MDT_REG_RATE_WINDOW - now;
    if (reg->source)
        rc = count(env, "source", reg->source, env->cfg.registration_rate_per_source, window,
                   limited, err);
    if (rc == MDT_OK && reg->iat_id)
        rc = count(env, "iat", reg->iat_id, env->cfg.registration_rate_per_iat, window, limited,
                   err);
    return rc;
}

/* {"expires_at": now + for_secs} or {}. */
static const char *approval_input(int64_t now, int64_t for_secs, mdt_arena *a)
{
    char when[21];

    if (!for_secs)
        return "{}";
    mdt_time_format(now + for_secs, when);
    return mdt_arena_printf(a, "{\"expires_at\":\"%s\"}", when);
}

/* Whether a registration request may still be approved: the pending
 * client's metadata is the one the request showed (its metadata_hash).
 * MDT_ERR_CONFLICT when the client changed it since (a newer request shows
 * the new metadata). MDT_OK when the client is gone or no longer pending. */
static mdt_rc check_request(mdt_env *env, const mdt_request_rec *req, mdt_arena *a,
                            mdt_err *err)
{
    char hash[MDT_REG_HASH_LEN + 1];
    mdt_client_rec rec;
    json_t *m;
    bool ok;
    mdt_rc rc = mdt_store_client_get(env->store, req->client_id, a, &rec, err);

    if (rc == MDT_ERR_NOT_FOUND) { /* deleted meanwhile: nothing will be applied */
        mdt_err_clear(err);
        return MDT_OK;
    }
    if (rc != MDT_OK || status_of(rec.status) != MDT_CLIENT_PENDING)
        return rc;
    m = json_loads(rec.metadata, 0, NULL);
    ok = m && metadata_hash(m, hash);
    json_decref(m);
    if (!ok)
        return mdt_fail(err, MDT_ERR_INTERNAL, "stored client metadata unreadable");
    if (!req->metadata_hash || !mdt_str_eq(req->metadata_hash, hash))
        return mdt_failf(err, MDT_ERR_CONFLICT,
                         "the client changed its metadata since this request was made: decide "
                         "its newer request",
                         "request %.64s was made for other metadata of %.64s", req->id,
                         req->client_id);
    return MDT_OK;
}

/* The metadata a pending registration request shows (a new reference): the
 * client's metadata without server-assigned members, when its hash is the
 * one the request recorded; NULL otherwise (changed, gone, no longer
 * pending). */
static json_t *shown_metadata(mdt_env *env, const mdt_request_rec *req, mdt_arena *a)
{
    mdt_client_rec rec;
    json_t *m;

    if (!req->client_id || check_request(env, req, a, NULL) != MDT_OK ||
        mdt_store_client_get(env->store, req->client_id, a, &rec, NULL) != MDT_OK ||
        status_of(rec.status) != MDT_CLIENT_PENDING || !(m = json_loads(rec.metadata, 0, NULL)))
        return NULL;
    for (size_t i = 0; i < MDT_ARRAY_LEN(server_members); i++)
        json_object_del(m, server_members[i]);
    return m;
}

static mdt_rc approve(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *req, int64_t for_secs,
                      mdt_arena *a, mdt_err *err)
{
    int64_t now = ctx->now;
    char when[21];
    const char *in = approval_input(now, for_secs, a), *doc = NULL;
    mdt_client_spec spec = {.status = mdt_client_status_name(MDT_CLIENT_ACTIVE),
                            .event = "client.approved"};

    mdt_time_format(now, when);
    spec.server_meta = mdt_arena_printf(a, "{\"approved_at\":\"%s\"}", when);
    spec.event_data = mdt_arena_printf(a, "{\"request\":\"%s\"}", req->id);
    if (!in || !spec.server_meta || !spec.event_data)
        return nomem(err);
    return mdt_client_update_with(env, ctx, req->client_id, in, strlen(in), &spec, a, &doc, err);
}

/* Applies a decision: approved, the pending client becomes active (expiring
 * after for_secs when it is not 0); denied, it is suspended. A client that
 * is no longer pending is left as it is. */
static mdt_rc request_decided(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *req, bool approved,
                              int64_t for_secs, mdt_err *err)
{
    mdt_client_rec rec;
    mdt_arena a;
    mdt_rc rc;

    mdt_arena_init(&a, 4096);
    rc = mdt_store_client_get(env->store, req->client_id, &a, &rec, err);
    if (rc == MDT_ERR_NOT_FOUND) { /* deleted meanwhile: nothing to apply */
        mdt_err_clear(err);
        rc = MDT_OK;
    } else if (rc == MDT_OK && status_of(rec.status) == MDT_CLIENT_PENDING) {
        if (approved && (rc = check_request(env, req, &a, err)) != MDT_OK)
            goto out;
        rc = approved ? approve(env, ctx, req, for_secs, &a, err)
                      : mdt_client_set_status(env, ctx, req->client_id, "suspended", err);
    }
out:
    mdt_arena_free(&a);
    return rc;
}

/* ---------------------------------------------------------------------
 * The approval request of a pending registration (internal.h).
 * --------------------------------------------------------------------- */

/* A pending registration shows the metadata its approval approves. */
static void registration_describe(mdt_env *env, const mdt_request_rec *r, mdt_arena *a,
                                  json_t *doc)
{
    json_t *m = shown_metadata(env, r, a);

    json_object_set_new(doc, "metadata", m ? m : json_null());
}

static mdt_rc registration_approved(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r,
                                    int64_t for_secs, mdt_err *err)
{
    return request_decided(env, ctx, r, true, for_secs, err);
}

static mdt_rc registration_denied(mdt_env *env, mdt_ctx *ctx, const mdt_request_rec *r,
                                  mdt_err *err)
{
    return request_decided(env, ctx, r, false, 0, err);
}

const mdt_request_type mdt_iga__request_registration = {
    .name = REG_REQUEST_TYPE,
    /* a pending registration names its owner itself: that owner is what is
     * to be approved, not who approves */
    .owner_may_decide = false,
    .validate = check_request,
    .describe = registration_describe,
    .approved = registration_approved,
    .denied = registration_denied,
};
