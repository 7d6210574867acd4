/* RFC 7523 §2.1: the JWT bearer grant
 * (grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion=JWT).
 *
 * The assertion comes from an issuer trusted in the [jwt_bearer] issuers
 * file (SPIFFE, Kubernetes, an enterprise IdP) and is signed by its keys;
 * aud names the issuer's configured audience (default: this server's
 * issuer, for which the token endpoint URL is accepted too); exp is
 * required and at most the issuer's max_lifetime away; jti is required and
 * used once unless the issuer says single_use false. The first claim rule
 * that matches gives the token's subject (subject_prefix + the subject
 * claim) and the most it may carry: the rule's scopes that the requesting
 * client is also entitled to. The requesting client authenticates as usual
 * and must be registered for the grant type (token.c checks that); a client
 * registered for certificate-bound tokens gets one bound to the request's
 * client certificate, or is refused without one (RFC 8705 §3).
 *
 * An issuer marked "id_jag" is an enterprise IdP whose assertions are
 * Identity Assertion JWT Authorization Grants (oauth/id_jag.h): each must
 * have typ oauth-id-jag+jwt (and an ID-JAG from any other issuer is
 * refused), name the requesting client in its client_id claim, and is used
 * once; the token carries the ID-JAG's auth_time and at most its scope (∩ the rule's ∩ the
 * client's entitlements), for the resource it names, and is refused for a
 * disabled local user. */
#include <string.h>

#include "oauth/assertion.h"
#include "core/words.h"
#include "oauth/grants.h"
#include "oauth/id_jag.h"
#include "oauth/jwks_cache.h"
#include "oauth/trust.h"

static mdt_rc refused(mdt_err *err, const char *what, const mdt_err *why)
{
    return mdt_failf(err, MDT_ERR_INVALID_GRANT, "invalid assertion", "%s%s", what,
                     why ? mdt_err_text(why) : "");
}

/* The rule's scopes the client is entitled to (and that ceiling lists, a
 * space-separated list; NULL: no ceiling), narrowed to the request. */
static mdt_rc rule_scope(mdt_arena *a, const mdt_client *c, const mdt_trust_rule *r,
                         const char *ceiling, const char *requested, const char **granted,
                         mdt_err *err)
{
    mdt_client allowed = *c;
    const char **s = mdt_arena_alloc(a, (r->nscopes + 1) * sizeof(*s));
    size_t n = 0;

    if (!s)
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->nscopes; i++)
        if (mdt_client_has_scope(c, r->scopes[i]) &&
            (!ceiling || mdt_words_has(ceiling, r->scopes[i])))
            s[n++] = r->scopes[i];
    allowed.scopes = s;
    allowed.nscopes = n;
    return mdt_scope_narrow(a, &allowed, requested, granted, err);
}

/* Claims, signature and rule: the subject and the rule that matched. */
static mdt_rc admit(mdt_env *env, mdt_req *req, const mdt_assertion *a,
                     const mdt_trusted_issuer *ti, const mdt_trust_rule **rule,
                     const char **subject, mdt_err *err)
{
    const char *aud[2] = {ti->audience, mdt_arena_printf(req->arena, "%s/token", env->cfg.issuer)};
    mdt_assertion_rules rules = {.iss = ti->issuer, .aud = aud,
                                 .naud = mdt_str_eq(ti->audience, env->cfg.issuer) ? 2 : 1,
                                 .max_lifetime = ti->max_lifetime, .require_jti = ti->single_use};
    mdt_key_source src = {.uri = ti->jwks_uri, .fixed = ti->keys, .wait = req->waiter};
    uint8_t thumb[32];
    mdt_err why = {0};
    mdt_rc rc;

    if (!aud[1])
        return mdt_fail(err, MDT_ERR_NOMEM, "out of memory");
    if (mdt_assertion_check(a, &rules, req->now, &why) != MDT_OK)
        return refused(err, "", &why);
    rc = mdt_jwks_verify(env->jwks, a, &src, req->now, thumb, &why);
    if (rc == MDT_ERR_VERIFY)
        return refused(err, "", &why);
    if (rc != MDT_OK) {
        if (err)
            *err = why;
        return rc;
    }
    rc = mdt_trust_match_rule(ti, a->claims, req->arena, rule, subject, &why);
    if (rc == MDT_ERR_NOT_FOUND || rc == MDT_ERR_VERIFY)
        return refused(err, rc == MDT_ERR_NOT_FOUND ? "no claim rule matches" : "",
                       rc == MDT_ERR_NOT_FOUND ? NULL : &why);
    return rc;
}

static mdt_rc mint(mdt_env *env, mdt_req *req, const mdt_client_authn *who, mdt_grant *g,
                   mdt_grant_result *out, mdt_err *err)
{
    const mdt_client *c = &who->client;
    int64_t ttl = c->access_token_ttl ? c->access_token_ttl : env->cfg.access_token_ttl;

    mdt_token_times(g, c, req->now, ttl, 0);
    out->scope = g->scope;
    out->subject = g->sub;
    g->cnf_jkt = who->dpop_jkt; /* RFC 9449 §5: bound to the proof's key */
    return mdt_token_mint(env, req->arena, g, &out->token, err);
}

/* An ID-JAG's own rules: from an issuer trusted for them, for this client,
 * for a subject that is not a disabled user here;
 * *scope (the most the token may carry; NULL: no limit) and *resource (the
 * one the token is for; the request may only repeat it). Not an ID-JAG:
 * nothing to do, unless the issuer issues only ID-JAGs. */
static mdt_rc id_jag(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                     const mdt_assertion *a, const mdt_trusted_issuer *ti, const char *subject,
                     const char **scope, const char **resource, mdt_err *err)
{
    const char *asked = mdt_req_form(req, "resource");
    bool jag = mdt_id_jag_typ(mdt_jws_typ(a->jws));
    mdt_err why = {0};
    mdt_rc rc;

    *scope = NULL;
    *resource = asked;
    if (jag != ti->id_jag)
        return mdt_failf(err, MDT_ERR_INVALID_GRANT, "invalid assertion", "%s",
                         jag ? "the issuer is not trusted for ID-JAGs"
                             : "the issuer's assertions must be ID-JAGs (typ " MDT_ID_JAG_TYP ")");
    if (!jag)
        return MDT_OK;
    if (mdt_id_jag_accept_claims(a->claims, who->client.client_id, scope, resource, &why) != MDT_OK)
        return refused(err, "", &why);
    if (!*resource)
        *resource = asked;
    else if (asked && !mdt_str_eq(asked, *resource))
        return mdt_failf(err, MDT_ERR_INVALID_TARGET,
                         "the resource is not the one the ID-JAG names",
                         "resource '%.120s' asked, the ID-JAG names '%.120s'", asked, *resource);
    rc = mdt_token_user_check(env, req->arena, subject, who->client.client_id, &why);
    if (rc == MDT_ERR_INVALID_TOKEN)
        return mdt_failf(err, MDT_ERR_INVALID_GRANT, "invalid assertion", "the user is disabled");
    if (rc != MDT_OK && err)
        *err = why;
    return rc;
}

mdt_rc mdt_grant_jwt_bearer(mdt_env *env, mdt_req *req, const mdt_client_authn *who,
                            mdt_grant_result *out, mdt_err *err)
{
    const char *jwt = mdt_req_form(req, "assertion");
    const mdt_trusted_issuer *ti;
    const mdt_trust_rule *rule = NULL;
    const char *ceiling = NULL, *resource = NULL;
    mdt_grant g = {.client = &who->client, .auth_method = who->method};
    mdt_assertion a;
    mdt_err why = {0};
    mdt_rc rc;

    if (!jwt || !*jwt)
        return mdt_fail(err, MDT_ERR_INVALID_REQUEST, "assertion is required");
    if (mdt_assertion_parse(jwt, strlen(jwt), &a, &why) != MDT_OK)
        return refused(err, "malformed assertion: ", &why);
    if (!(ti = mdt_trust_find(env->trust, MDT_TRUST_JWT_BEARER, a.iss))) {
        rc = mdt_failf(err, MDT_ERR_INVALID_GRANT, "invalid assertion",
                       "assertion issuer '%.80s' is not trusted", a.iss ? a.iss : "");
        goto out;
    }
    if ((rc = admit(env, req, &a, ti, &rule, &g.sub, err)) != MDT_OK ||
        (rc = id_jag(env, req, who, &a, ti, g.sub, &ceiling, &resource, err)) != MDT_OK)
        goto out;
    if (ti->id_jag) /* when the person signed in at the IdP, as the IdP says */
        g.auth_time = mdt_id_jag_auth_time(a.claims, req->now);
    rc = rule_scope(req->arena, &who->client, rule, ceiling, mdt_req_form(req, "scope"), &g.scope,
                    err);
    if ((rc = mdt_scope_refusal(env, req->arena, &who->client, mdt_req_form(req, "scope"), rc,
                                err)) != MDT_OK ||
        (rc = mdt_client_cert_binding(env, req, who, &g.cnf_x5t, err)) != MDT_OK ||
        (rc = mdt_resource_select(req->arena, &who->client, env->cfg.issuer, resource, &g.aud,
                                  &g.naud, err)) != MDT_OK ||
        (rc = mdt_scope_policy(env, req, who,
                               &(mdt_policy_ask){.user = mdt_str_eq(g.sub, who->client.client_id)
                                                             ? NULL
                                                             : g.sub,
                                                 .aud = g.aud, .naud = g.naud},
                               &g.scope, out, err)) != MDT_OK)
        goto out; /* before the jti is spent: a refused request can be sent again */
    if (ti->single_use) {
        rc = mdt_store_jti_use(env->store, ti->issuer, a.jti, a.exp + MDT_ASSERTION_LEEWAY,
                               req->now, err);
        if (rc == MDT_ERR_CONFLICT)
            rc = mdt_failf(err, MDT_ERR_INVALID_GRANT, "invalid assertion", "replayed jti");
        if (rc != MDT_OK)
            goto out;
    }
    rc = mint(env, req, who, &g, out, err);
out:
    mdt_assertion_clear(&a);
    return rc;
}
