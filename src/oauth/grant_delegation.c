/* RFC 8693 token exchange for delegation (SPEC §3.5): an agent exchanges a
 * person's token for a token to act for that person, and each hop can only
 * narrow.
 *
 *   grant_type=urn:ietf:params:oauth:grant-type:token-exchange
 *   subject_token=...&subject_token_type=urn:ietf:params:oauth:token-type:access_token
 *       (an active access token of this server, JWT or opaque)
 *     | subject_token_type=urn:ietf:params:oauth:token-type:jwt
 *       (a JWT of an issuer of [token_exchange] subject_issuers)
 *   [actor_token=...&actor_token_type=urn:ietf:params:oauth:token-type:access_token]
 *   [requested_token_type=urn:ietf:params:oauth:token-type:access_token]
 *   [resource=... | audience=...] [scope=...] [impersonation=true]
 *
 * The client authenticates as usual and must have registered the grant
 * (its registry row). The actor is that client; an actor_token, when
 * given, must be an active access token of this server issued to it or
 * naming it. The token: sub of the subject token; act = {"sub": the
 * client, "act": the subject token's act}; scope ⊆ the subject token's ∩
 * the client's entitlements (invalid_scope); audience one of the client's
 * resources (invalid_target); exp ≤ the subject token's. Refused with
 * invalid_request: a chain with more actors than the max_delegation_depth
 * of the acting client or of any client earlier in the chain (the most
 * restrictive wins), an actor the subject token's may_act does not name,
 * impersonation (a token without act) by a client not listed in
 * [token_exchange] impersonation. An inactive or untrusted subject token is
 * invalid_grant. Revocation follows the chain (lineage and sid, see
 * oauth/delegation.h and mdt_token_inspect). */
#include <string.h>

#include "core/words.h"
#include "oauth/assertion.h"
#include "oauth/delegation.h"
#include "oauth/grants.h"
#include "oauth/jwks_cache.h"
#include "oauth/trust.h"

/* ------------------------------------------------------------ pure part */

size_t mdt_delegation_depth(json_t *act)
{
    size_t n = 0;

    while (json_is_object(act) && n <= MDT_DELEGATION_DEPTH_MAX) {
        n++;
        act = json_object_get(act, "act");
    }
    return n;
}

bool mdt_delegation_depth_ok(size_t depth, const int64_t *limits, size_t nlimits)
{
    if (depth > MDT_DELEGATION_DEPTH_MAX)
        return false;
    for (size_t i = 0; i < nlimits; i++)
        if (limits[i] < 0 || depth > (uint64_t)limits[i])
            return false;
    return true;
}

bool mdt_delegation_may_act(json_t *may_act, const char *client_id)
{
    const char *sub, *cid;

    if (!may_act)
        return true;
    if (!json_is_object(may_act) || !client_id)
        return false;
    sub = json_string_value(json_object_get(may_act, "sub"));
    cid = json_string_value(json_object_get(may_act, "client_id"));
    return mdt_str_eq(sub, client_id) || mdt_str_eq(cid, client_id);
}

mdt_rc mdt_delegation_act(mdt_arena *a, const char *actor, json_t *prev, const char **out,
                          mdt_err *err)
{
    json_t *o = json_object();
    char *text = NULL;

    *out = NULL;
    if (o && json_object_set_new(o, "sub", json_string(actor)) == 0 &&
        (!prev || json_object_set(o, "act", prev) == 0))
        text = json_dumps(o, JSON_COMPACT);
    if (text)
        *out = mdt_arena_strdup(a, text);
    free(text);
    json_decref(o);
    return *out ? MDT_OK : mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
}

mdt_rc mdt_delegation_scope(mdt_arena *a, const char *subject_scope, const mdt_client *actor,
                            const char *requested, const char **granted, mdt_err *err)
{
    mdt_client both = *actor;
    size_t n = 0;
    const char **s = mdt_arena_alloc(a, (actor->nscopes + 1) * sizeof(*s));
    mdt_rc rc;

    if (!s)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < actor->nscopes; i++)
        if (mdt_words_has(subject_scope, actor->scopes[i]))
            s[n++] = actor->scopes[i];
    both.scopes = s;
    both.nscopes = n;
    if ((rc = mdt_scope_narrow(a, &both, requested, granted, err)) != MDT_OK) {
        if (rc == MDT_ERR_INVALID_SCOPE && err && err->msg &&
            mdt_str_eq(err->msg, "a requested scope is not granted to this client")) {
            mdt_err why = *err;
            return mdt_failf(err, MDT_ERR_INVALID_SCOPE,
                             "a requested scope is beyond the subject token's scope or the "
                             "client's entitlements",
                             "%s", why.detail);
        }
        return rc;
    }
    if (!**granted)
        return mdt_fail(err, MDT_ERR_INVALID_SCOPE,
                        "the subject token and the client have no scope in common");
    return MDT_OK;
}

mdt_rc mdt_delegation_lineage(mdt_arena *a, const char *subject_jti, const char *subject_client,
                              json_t *subject_lineage, const char **out, mdt_err *err)
{
    json_t *o = json_object(), *jtis = json_array(), *prev, *v;
    const char *origin = json_string_value(json_object_get(subject_lineage, "client_id"));
    char *text = NULL;
    size_t i;
    mdt_rc rc = MDT_OK;

    *out = NULL;
    if (!o || !jtis) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (subject_jti)
        json_array_append_new(jtis, json_string(subject_jti));
    prev = json_object_get(subject_lineage, "jti");
    json_array_foreach(prev, i, v)
        if (json_is_string(v))
            json_array_append(jtis, v);
    if (json_array_size(jtis) > MDT_DELEGATION_LINEAGE_MAX) {
        rc = mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                      "the subject token was derived from too many tokens");
        goto out;
    }
    if (!origin)
        origin = subject_client;
    if (!json_array_size(jtis) && !origin)
        goto out; /* a foreign token without jti: nothing of ours to follow */
    if (json_object_set(o, "jti", jtis) != 0 ||
        (origin && json_object_set_new(o, "client_id", json_string(origin)) != 0) ||
        !(text = json_dumps(o, JSON_COMPACT)) || !(*out = mdt_arena_strdup(a, text)))
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
out:
    free(text);
    json_decref(jtis);
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------ the grant */

/* What the exchange needs to know of the subject token. */
typedef struct {
    const char *sub;       /* the person (or the client acting for itself) */
    const char *scope;     /* its scope ("" when none) */
    int64_t exp;
    int64_t auth_time;     /* 0 when none */
    const char *jti;       /* NULL for a foreign token without one */
    const char *client_id; /* ours: the client it was issued to; foreign: NULL */
    const char *sid;       /* the web session it depends on; NULL */
    json_t *act, *may_act, *lineage; /* borrowed from claims; NULL when absent */
    json_t *claims;        /* owned */
} subject_info;

static mdt_rc grant_refused(mdt_err *err, const char *why)
{
    return mdt_failf(err, MDT_ERR_INVALID_GRANT, "the subject token is not valid", "%s", why);
}

static void subject_from_claims(subject_info *s)
{
    json_t *c = s->claims;

    s->sub = json_string_value(json_object_get(c, "sub"));
    s->scope = json_string_value(json_object_get(c, "scope"));
    if (!s->scope)
        s->scope = "";
    s->exp = (int64_t)json_integer_value(json_object_get(c, "exp"));
    s->auth_time = (int64_t)json_integer_value(json_object_get(c, "auth_time"));
    s->jti = json_string_value(json_object_get(c, "jti"));
    s->act = json_object_get(c, "act");
    s->may_act = json_object_get(c, "may_act");
}

/* An access token of this server: active, and read as it is. */
static mdt_rc subject_ours(mdt_env *env, mdt_req *req, const char *token, subject_info *s,
                           mdt_err *err)
{
    mdt_token_info ti;
    mdt_err why = {0};
    mdt_rc rc = mdt_token_inspect(env, req->arena, token, req->now, &ti, &why);

    if (rc == MDT_ERR_INVALID_TOKEN) {
        mdt_token_info_clear(&ti);
        return grant_refused(err, mdt_err_audit_text(&why));
    }
    if (rc != MDT_OK) {
        mdt_token_info_clear(&ti);
        *err = why;
        return rc;
    }
    s->claims = ti.claims; /* ownership moves */
    subject_from_claims(s);
    s->client_id = ti.client_id;
    s->sid = json_string_value(json_object_get(s->claims, "sid"));
    s->lineage = json_object_get(s->claims, "lineage");
    if (!s->sub)
        return grant_refused(err, "subject token without sub");
    return MDT_OK;
}

/* The trusted issuer's rule's scopes, within the JWT's scope claim when it
 * has one. */
static const char *foreign_scope(mdt_arena *a, const mdt_trust_rule *r, const char *claimed)
{
    const char *out = "";

    for (size_t i = 0; out && i < r->nscopes; i++)
        if (!claimed || mdt_words_has(claimed, r->scopes[i]))
            out = mdt_arena_printf(a, "%s%s%s", out, *out ? " " : "", r->scopes[i]);
    return out;
}

/* A JWT of an issuer of [token_exchange] subject_issuers: signed by its
 * keys, for its audience, not expired, matched by a claim rule (which gives
 * the person and the most scope). Its jti is spent by the caller. */
static mdt_rc subject_foreign(mdt_env *env, mdt_req *req, const char *token, mdt_assertion *as,
                              const mdt_trusted_issuer **tip, subject_info *s, mdt_err *err)
{
    const mdt_trusted_issuer *ti;
    const mdt_trust_rule *rule = NULL;
    const char *aud[2];
    json_t *scope;
    mdt_assertion_rules rules;
    mdt_key_source src;
    uint8_t thumb[32];
    mdt_err why = {0};
    mdt_rc rc;

    if (mdt_assertion_parse(token, strlen(token), as, &why) != MDT_OK)
        return grant_refused(err, "malformed subject JWT");
    if (!(*tip = ti = mdt_trust_find(env->trust, MDT_TRUST_TOKEN_EXCHANGE, as->iss)))
        return mdt_failf(err, MDT_ERR_INVALID_GRANT, "the subject token is not valid",
                         "subject JWT issuer '%.80s' is not trusted", as->iss ? as->iss : "");
    aud[0] = ti->audience;
    aud[1] = mdt_arena_printf(req->arena, "%s/token", env->cfg.issuer);
    rules = (mdt_assertion_rules){.iss = ti->issuer, .aud = aud,
                                  .naud = mdt_str_eq(ti->audience, env->cfg.issuer) ? 2 : 1,
                                  .max_lifetime = ti->max_lifetime, .require_jti = ti->single_use};
    src = (mdt_key_source){.uri = ti->jwks_uri, .fixed = ti->keys, .wait = req->waiter};
    if (!aud[1])
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (mdt_assertion_check(as, &rules, req->now, &why) != MDT_OK)
        return grant_refused(err, mdt_err_audit_text(&why));
    rc = mdt_jwks_verify(env->jwks, as, &src, req->now, thumb, &why);
    if (rc == MDT_ERR_VERIFY)
        return grant_refused(err, mdt_err_audit_text(&why));
    if (rc != MDT_OK) {
        *err = why;
        return rc;
    }
    rc = mdt_trust_match_rule(ti, as->claims, req->arena, &rule, &s->sub, &why);
    if (rc == MDT_ERR_NOT_FOUND || rc == MDT_ERR_VERIFY)
        return grant_refused(err, rc == MDT_ERR_NOT_FOUND ? "no claim rule matches"
                                                          : mdt_err_audit_text(&why));
    if (rc != MDT_OK) {
        *err = why;
        return rc;
    }
    s->claims = json_incref(as->claims);
    s->exp = as->exp;
    s->jti = as->jti;
    s->auth_time = (int64_t)json_integer_value(json_object_get(as->claims, "auth_time"));
    s->may_act = json_object_get(as->claims, "may_act");
    if (json_object_get(as->claims, "act"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "a subject JWT of another issuer that is itself delegated (act) is not "
                        "accepted");
    scope = json_object_get(as->claims, "scope");
    if (scope && !json_is_string(scope))
        return grant_refused(err, "the subject JWT's scope is not a string");
    if (!(s->scope = foreign_scope(req->arena, rule, json_string_value(scope))))
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    /* a person of this server named by another issuer must still be active */
    rc = mdt_token_user_check(env, req->arena, s->sub, NULL, &why);
    if (rc == MDT_ERR_INVALID_TOKEN)
        return grant_refused(err, mdt_err_audit_text(&why));
    if (rc != MDT_OK)
        *err = why;
    return rc;
}

static mdt_rc check_params(const mdt_req *req, mdt_err *err)
{
    const char *rtt = mdt_req_form(req, "requested_token_type");
    const char *at = mdt_req_form(req, "actor_token"), *att = mdt_req_form(req, "actor_token_type");
    const char *imp = mdt_req_form(req, "impersonation");

    if (rtt && !mdt_str_eq(rtt, MDT_TOKEN_TYPE_ACCESS_TOKEN))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "requested_token_type must be urn:ietf:params:oauth:token-type:access_token");
    if (!mdt_req_form(req, "subject_token") || !*mdt_req_form(req, "subject_token"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "subject_token is required");
    if (at && !att)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "actor_token_type is required with actor_token");
    if (att && !at)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "actor_token_type without actor_token");
    if (att && !mdt_str_eq(att, MDT_TOKEN_TYPE_ACCESS_TOKEN))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                        "actor_token_type must be urn:ietf:params:oauth:token-type:access_token");
    if (mdt_req_form(req, "audience") && mdt_req_form(req, "resource"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "use resource or audience, not both");
    if (imp && !mdt_str_eq(imp, "true") && !mdt_str_eq(imp, "false"))
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "impersonation must be true or false");
    return MDT_OK;
}

/* The actor token proves the acting client: one of ours, active, issued to
 * the client or naming it. */
static mdt_rc check_actor(mdt_env *env, mdt_req *req, const mdt_client *c, mdt_err *err)
{
    const char *tok = mdt_req_form(req, "actor_token");
    mdt_token_info ti;
    mdt_err why = {0};
    mdt_rc rc;

    if (!tok)
        return MDT_OK;
    rc = mdt_token_inspect(env, req->arena, tok, req->now, &ti, &why);
    if (rc == MDT_ERR_INVALID_TOKEN)
        rc = mdt_failf(err, MDT_ERR_INVALID_REQUEST, "the actor token is not valid", "%s",
                       mdt_err_audit_text(&why));
    else if (rc != MDT_OK)
        *err = why;
    else if (!mdt_str_eq(ti.client_id, c->client_id) &&
             !mdt_str_eq(json_string_value(json_object_get(ti.claims, "sub")), c->client_id))
        rc = mdt_failf(err, MDT_ERR_INVALID_REQUEST, "the actor token is not the client's",
                       "actor token of %.64s", ti.client_id);
    mdt_token_info_clear(&ti);
    return rc;
}

/* Whether client_id is in the comma-separated list. */
static bool in_list(const char *list, const char *client_id)
{
    size_t want = strlen(client_id);

    for (const char *p = list; p && *p;) {
        size_t n;
        while (*p == ' ' || *p == ',')
            p++;
        n = strcspn(p, ",");
        while (n && p[n - 1] == ' ')
            n--;
        if (n && n == want && memcmp(p, client_id, n) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* The act of the new token, and the depth limits of the chain. */
static mdt_rc chain(mdt_env *env, mdt_req *req, const mdt_client *c, const subject_info *s,
                    bool impersonate, const char **act, mdt_err *err)
{
    int64_t limits[MDT_DELEGATION_DEPTH_MAX + 1];
    size_t n = 0, depth;
    json_t *link = s->act;

    if (!mdt_delegation_may_act(s->may_act, c->client_id))
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST,
                         "the subject token does not allow this client to act (may_act)",
                         "%.64s not in may_act", c->client_id);
    if (impersonate) {
        if (!in_list(env->cfg.token_exchange_impersonation, c->client_id))
            return mdt_failf(err, MDT_ERR_INVALID_REQUEST,
                             "impersonation is not allowed for this client",
                             "%.64s may not impersonate", c->client_id);
        if (s->act)
            return mdt_fail(err, MDT_ERR_INVALID_REQUEST,
                            "a delegated token (with act) cannot be exchanged by impersonation");
        *act = NULL;
        return MDT_OK;
    }
    depth = mdt_delegation_depth(s->act) + 1;
    limits[n++] = c->max_delegation_depth;
    for (; json_is_object(link) && n < MDT_ARRAY_LEN(limits); link = json_object_get(link, "act")) {
        const char *id = json_string_value(json_object_get(link, "sub"));
        mdt_client prev;
        mdt_rc rc = id ? mdt_client_load(env, id, req->now, req->arena, &prev, err) : MDT_OK;
        if (rc == MDT_ERR_NOT_FOUND)
            return grant_refused(err, "a client of the chain is gone");
        if (rc != MDT_OK)
            return rc;
        if (id)
            limits[n++] = prev.max_delegation_depth;
    }
    if (!mdt_delegation_depth_ok(depth, limits, n))
        return mdt_failf(err, MDT_ERR_INVALID_REQUEST,
                         "the delegation chain would be longer than max_delegation_depth allows",
                         "depth %zu", depth);
    return mdt_delegation_act(req->arena, c->client_id, s->act, act, err);
}

/* The audit data of the exchange: the subject token's type and jti, and
 * the chain (never a token). */
static const char *audit_of(mdt_arena *a, const char *type, const subject_info *s,
                            const char *act, bool impersonate)
{
    json_t *o = json_object();
    const char *out = NULL;
    char *text;

    if (!o)
        return NULL;
    json_object_set_new(o, "subject_token_type", json_string(type));
    if (s->jti)
        json_object_set_new(o, "subject_jti", json_string(s->jti));
    if (s->client_id)
        json_object_set_new(o, "subject_client_id", json_string(s->client_id));
    if (act)
        json_object_set_new(o, "act", json_loads(act, 0, NULL));
    else if (s->act)
        json_object_set(o, "subject_act", s->act);
    if (impersonate)
        json_object_set_new(o, "impersonation", json_true());
    if ((text = json_dumps(o, JSON_COMPACT))) {
        size_t len = strlen(text);
        out = len > 2 ? mdt_arena_strndup(a, text + 1, len - 2) : NULL; /* members only */
        free(text);
    }
    json_decref(o);
    return out;
}

static mdt_rc exchange(mdt_env *env, mdt_req *req, const mdt_client_authn *who, const char *type,
                       mdt_grant_result *out, mdt_err *err)
{
    const mdt_client *c = &who->client;
    const char *token = mdt_req_form(req, "subject_token");
    const char *resource = mdt_req_form(req, "resource");
    bool impersonate = mdt_str_eq(mdt_req_form(req, "impersonation"), "true");
    int64_t ttl = c->access_token_ttl ? c->access_token_ttl : env->cfg.access_token_ttl;
    mdt_grant g = {.client = c, .auth_method = who->method};
    const mdt_trusted_issuer *ti = NULL;
    subject_info s = {0};
    mdt_assertion as = {0};
    mdt_rc rc;

    if (!resource)
        resource = mdt_req_form(req, "audience");
    if ((rc = check_params(req, err)) != MDT_OK)
        goto out;
    rc = mdt_str_eq(type, MDT_TOKEN_TYPE_JWT) ? subject_foreign(env, req, token, &as, &ti, &s, err)
                                              : subject_ours(env, req, token, &s, err);
    out->audit = audit_of(req->arena, type, &s, NULL, impersonate);
    if (rc != MDT_OK || (rc = check_actor(env, req, c, err)) != MDT_OK ||
        (rc = chain(env, req, c, &s, impersonate, &g.act, err)) != MDT_OK)
        goto out;
    out->audit = audit_of(req->arena, type, &s, g.act, impersonate);
    rc = mdt_delegation_scope(req->arena, s.scope, c, mdt_req_form(req, "scope"), &g.scope, err);
    if ((rc = mdt_scope_refusal(env, req->arena, c, mdt_req_form(req, "scope"), rc, err)) !=
            MDT_OK ||
        (rc = mdt_resource_select(req->arena, c, env->cfg.issuer, resource, &g.aud, &g.naud,
                                  err)) != MDT_OK ||
        (rc = mdt_client_cert_binding(env, req, who, &g.cnf_x5t, err)) != MDT_OK ||
        (rc = mdt_delegation_lineage(req->arena, s.client_id ? s.jti : NULL, s.client_id,
                                     s.lineage, &g.lineage, err)) != MDT_OK ||
        (rc = mdt_scope_policy(
             env, req, who,
             &(mdt_policy_ask){.user = s.client_id && mdt_str_eq(s.sub, s.client_id) ? NULL : s.sub,
                               .delegation_depth =
                                   g.act ? (int64_t)mdt_delegation_depth(s.act) + 1 : 0,
                               .aud = g.aud, .naud = g.naud},
             &g.scope, out, err)) != MDT_OK)
        goto out;
    g.sub = s.sub;
    g.sid = s.sid;
    g.auth_time = s.auth_time;
    mdt_token_times(&g, c, req->now, ttl, s.exp);
    if (g.exp <= req->now) {
        rc = grant_refused(err, "the subject token expires now");
        goto out;
    }
    if (ti && ti->single_use) { /* last: a refused request can be sent again */
        rc = mdt_store_jti_use(env->store, ti->issuer, as.jti, as.exp + MDT_ASSERTION_LEEWAY,
                               req->now, err);
        if (rc == MDT_ERR_CONFLICT)
            rc = grant_refused(err, "replayed subject JWT");
        if (rc != MDT_OK)
            goto out;
    }
    out->scope = g.scope;
    /* the subject's claims are freed below: the result keeps a copy */
    if (!(out->subject = mdt_arena_strdup(req->arena, g.sub))) {
        rc = mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
        goto out;
    }
    out->issued_token_type = MDT_TOKEN_TYPE_ACCESS_TOKEN;
    g.cnf_jkt = who->dpop_jkt; /* RFC 9449 §5: bound to the proof's key */
    rc = mdt_token_mint(env, req->arena, &g, &out->token, err);
out:
    if (s.claims)
        json_decref(s.claims);
    mdt_assertion_clear(&as);
    return rc;
}

mdt_rc mdt_exchange_delegation(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                               mdt_grant_result *out, mdt_err *err)
{
    return exchange(env, req, who, MDT_TOKEN_TYPE_ACCESS_TOKEN, out, err);
}

mdt_rc mdt_exchange_delegation_jwt(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                                   mdt_grant_result *out, mdt_err *err)
{
    return exchange(env, req, who, MDT_TOKEN_TYPE_JWT, out, err);
}
